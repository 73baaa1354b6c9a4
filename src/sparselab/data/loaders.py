"""`load_collection` and `load_text`: named datasets or user folders/files -> parsed data."""
from __future__ import annotations

import hashlib
from pathlib import Path

from .beir import beir_files, load_beir
from .collection import Collection
from .datasets import DATASETS, get_spec, resolve_dataset
from .io import DataError, read_bytes
from .smart import LAYOUTS, load_smart


def load_collection(name_or_path: str | Path) -> Collection:
    """Load a registered collection by name, or any BEIR-format folder by path.

    Args:
        name_or_path: a registered name (`scifact`, `nfcorpus`, `cranfield`, `cisi`, `adi`)
            or a folder with corpus.jsonl[.gz], queries.jsonl[.gz], qrels/<split>.tsv[.gz].

    Registered datasets are also checked against their registered sha256 (after parsing, so
    a malformed line is reported as such first).
    """
    key = str(name_or_path)
    if key in DATASETS:
        spec = get_spec(key)
        if spec.is_text:
            raise ValueError(f"dataset {key!r} is a text corpus; use load_text({key!r})")
        files = resolve_dataset(key)
        expected = {rel: f["sha256"] for rel, f in spec.files.items()}
        if spec.format == "beir":
            return check_nonempty(load_beir(files, key, expected))
        return check_nonempty(load_smart(files, key, _layout(key), expected))
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return check_nonempty(load_beir(beir_files(path), folder_label(path)))
    known = ", ".join(d for d in DATASETS if not get_spec(d).is_text)
    raise KeyError(f"{key!r} is neither a registered collection ({known}) nor a folder")


def folder_label(path: Path) -> str:
    """Name of a collection loaded by path: relative to the working directory, never absolute
    (reports show it), e.g. `data/mine` or `../other/mine`."""
    import os

    try:
        return os.path.relpath(path.resolve(), Path.cwd())
    except ValueError:  # another drive (Windows): the folder's own name
        return path.resolve().name


def check_nonempty(coll: Collection) -> Collection:
    """A collection without documents cannot be searched: say so, naming the file.

    (A split without judged queries is refused where it is searched or evaluated,
    `retrieval.search.check_judged`, since other splits may still be usable.)
    """
    if len(coll.docs) == 0:
        files = coll.meta.get("files", {})
        where = files.get("corpus.jsonl") or files.get("docs") or coll.name
        raise DataError(f"{where}: collection {coll.name!r} has no documents")
    return coll


def _layout(name: str) -> str:
    if name not in LAYOUTS:
        raise KeyError(f"no SMART file layout for {name!r}; known: {sorted(LAYOUTS)}")
    return name


def load_text(name_or_path: str | Path) -> str:
    """The full text of a registered text dataset (`tinyshakespeare`, `tinystories-sample`).

    Args:
        name_or_path: registered text dataset name, or a path to a UTF-8 .txt[.gz] file.
    """
    key = str(name_or_path)
    if key in DATASETS:
        spec = get_spec(key)
        if not spec.is_text:
            raise ValueError(f"dataset {key!r} is a collection; use load_collection({key!r})")
        (rel, info), = spec.files.items()
        path = resolve_dataset(key)[rel]
        data = read_bytes(path)
        got = hashlib.sha256(data).hexdigest()
        if got != info["sha256"]:
            raise DataError(f"{path}: sha256 {got} differs from the registered {info['sha256']}")
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            known = ", ".join(d for d in DATASETS if get_spec(d).is_text)
            raise KeyError(f"{key!r} is neither a registered text dataset ({known}) nor a file")
        data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 ({exc.reason})") from None
