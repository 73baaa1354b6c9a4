"""`get_or_build`: the one pattern studies use for an expensive input, and the modes.

The mode comes from `$SPARSELAB_ARTIFACTS` (set by the Makefile / `sparselab report run`):

* `use` (full profile's default) — load the committed artifact when present and valid;
  when absent build it and save it; when corrupted or made from another config raise
  `ArtifactError` naming it and its rebuild command (never used silently).
* `update` — like `use`, but a corrupted or stale artifact is rebuilt and replaced.
* `require` — read-only: load a valid artifact, raise for anything else (builds nothing).
* `fresh` — ignore `artifacts/`; build everything and save into `build/fresh/artifacts/`
  (own manifest), never touching the committed ones.
* `off` (smoke/CI and the default when unset) — build from nothing, write nothing.

In every mode the object returned has been through its format's bytes (e.g. fp16 weights),
so a report computes the same numbers whether the artifact was just built or read back.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .formats import codec
from .manifest import ArtifactError, ArtifactMissing
from .store import ArtifactStore

MODE_ENV = "SPARSELAB_ARTIFACTS"
MODES = ("use", "update", "require", "fresh", "off")
PROFILE_MODES = {"full": "use", "smoke": "off"}  # when $SPARSELAB_ARTIFACTS is unset
log = logging.getLogger(__name__)


def current_mode(explicit: str | None = None) -> str:
    """`explicit`, else `$SPARSELAB_ARTIFACTS`, else `off`; unknown values raise."""
    m = explicit or os.environ.get(MODE_ENV) or "off"
    if m not in MODES:
        raise ValueError(f"{MODE_ENV}={m!r}: use one of {', '.join(MODES)}")
    return m


def default_mode(profile: str) -> str:
    """The mode a report profile runs with when `$SPARSELAB_ARTIFACTS` is not set."""
    return os.environ.get(MODE_ENV) or PROFILE_MODES.get(profile, "off")


@contextlib.contextmanager
def artifact_mode(profile: str) -> Iterator[str]:
    """Set `$SPARSELAB_ARTIFACTS` for a report run of `profile` (unless already set) and
    restore it afterwards; the notebook's kernel inherits it."""
    before = os.environ.get(MODE_ENV)
    os.environ[MODE_ENV] = current_mode(default_mode(profile))
    try:
        yield os.environ[MODE_ENV]
    finally:
        if before is None:
            os.environ.pop(MODE_ENV, None)
        else:
            os.environ[MODE_ENV] = before


def fresh_root() -> Path:
    """Where `fresh` mode writes its artifacts (ignored build output)."""
    from ..paths import build_dir

    return build_dir() / "fresh" / "artifacts"


def store_for(mode: str, store: ArtifactStore | None = None) -> ArtifactStore | None:
    """The store a mode reads/writes (None for `off`)."""
    if mode == "off":
        return None
    if mode == "fresh":
        return ArtifactStore(fresh_root())
    return store or ArtifactStore(writable=mode != "require")


def get_or_build(name: str, config: Any, build_fn: Callable[[], Any], *, command: str,
                 kind: str = "json", version: int | str = 0, mode: str | None = None,
                 store: ArtifactStore | None = None, dtype: str = "fp16") -> Any:
    """The artifact `name` decoded as `kind`, loaded or built according to the mode.

    Args:
        name: slash-separated artifact name (the file is `<name><kind's suffix>`).
        config: everything that determines the result (fingerprinted; a dataclass or dict).
        build_fn: zero-argument function computing the object (for `checkpoint`: a
            state_dict or `(state_dict, meta)`; `table`: a DataFrame; `json`: an object).
        command: the command that rebuilds it (recorded; named in every error).
        kind: a key of `formats.CODECS`.
        version: code/protocol version, part of the fingerprint; bump it when the producing
            code changes what it computes.
        mode: overrides `$SPARSELAB_ARTIFACTS`.
        dtype: storage dtype of floating checkpoint tensors (fp16, bf16, fp32).
    """
    m = current_mode(mode)
    c = codec(kind)
    encode = functools.partial(c.encode, dtype=dtype) if kind == "checkpoint" else c.encode
    st = store_for(m, store)
    if st is not None and m in ("use", "update", "require"):
        try:
            path = st.load(name, config, version)
            log.info("artifact %s: loaded %s", name, path)
            return c.decode(path.read_bytes())
        except ArtifactMissing:
            if m == "require":
                raise
        except ArtifactError:
            if m != "update":
                raise
    t0 = time.perf_counter()
    data = encode(build_fn())
    wall = time.perf_counter() - t0
    if st is not None and st.writable:
        st.save(name, data, config, command, wall, version=version, kind=kind, suffix=c.suffix)
        log.info("artifact %s: built in %.1f s and saved under %s", name, wall, st.root)
    return c.decode(data)
