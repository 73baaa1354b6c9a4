"""What every study module shares: a Config built from notebook parameters, validated.

Whichever way a notebook runs (`sparselab report run`, plain `papermill -p/-y`, JupyterLab), its
first code cell calls `Config.from_params(globals())`, and that is where bad parameters stop:

- an unknown name fails with the closest known one suggested. `globals()` cannot tell a typo
  from any other global, so the names checked are those papermill injected: its injected cell
  (source starting `# Parameters`) is in IPython's input history `In`;
- a value of the wrong type fails naming the parameter, the expected type and the value;
- strings are parsed where the field wants something else (`-p normalize false`, `-p datasets
  scifact,nfcorpus` or `'[scifact, nfcorpus]'`, `-p cv_folds 5`), or rejected clearly;
- the kernel must import this checkout's `sparselab`: a kernel registered by another clone
  would otherwise run that clone's code without a word.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import yaml

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ParameterError(ValueError):
    """A notebook parameter that is unknown or has a value its Config field cannot take."""


class CheckoutMismatch(RuntimeError):
    """The kernel imports `sparselab` from another checkout than the notebook's."""


@dataclasses.dataclass
class StudyConfig:
    """Base of every study's `Config`; its fields are exactly the notebook's parameters.

    Subclasses are dataclasses whose defaults equal the smoke profile. Field values are checked
    against the annotations (and strings parsed) on construction.
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            setattr(self, f.name, coerce(self._where(), f.name, value, hints.get(f.name, Any)))

    @classmethod
    def _where(cls) -> str:
        return f"{cls.__module__}.Config"

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def check_names(cls, names: Sequence[str]) -> None:
        """Raise ParameterError for names that are not fields, suggesting the closest field."""
        known = cls.field_names()
        bad = [n for n in names if n not in known]
        if not bad:
            return
        parts = []
        for n in bad:
            close = difflib.get_close_matches(n, known, n=1, cutoff=0.6)
            parts.append(f"{n!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ParameterError(f"{cls._where()}: unknown parameter {', '.join(parts)}; "
                             f"known: {', '.join(known)}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """Build from a notebook's `globals()` (or any mapping holding at least every field).

        Inside a kernel it also checks the names papermill injected and the checkout.
        """
        if "get_ipython" in params or "_ih" in params:  # a live kernel's namespace
            check_checkout()
            injected = injected_names(params.get("_ih") or params.get("In") or [])
            if injected:
                cls.check_names(injected)
        names = cls.field_names()
        missing = [n for n in names if n not in params]
        if missing:
            raise ParameterError(f"{cls._where()}: parameters missing: {', '.join(missing)}")
        return cls(**{n: params[n] for n in names})

    @classmethod
    def from_overrides(cls, **overrides: Any) -> Self:
        """Defaults with some fields replaced; unknown names raise naming the parameter."""
        cls.check_names(list(overrides))
        return cls(**overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def injected_names(history: Sequence[str]) -> list[str]:
    """Names assigned by the last papermill-injected cell (`# Parameters`) in IPython's `In`."""
    for src in reversed(list(history)):
        if isinstance(src, str) and src.lstrip().startswith("# Parameters"):
            names = []
            for node in ast.parse(src).body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    return []


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(where: str, name: str, value: Any, tp: Any) -> Any:
    """`value` as field type `tp` (strings parsed); ParameterError naming name, type and value."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(where, name, value, arg)
            except ParameterError:
                continue
        raise _wrong(where, name, value, tp)
    base = origin or tp
    try:
        out = _PARSERS[base](value) if base in _PARSERS else value
    except (ValueError, TypeError, yaml.YAMLError):
        raise _wrong(where, name, value, tp) from None
    if isinstance(base, type) and not isinstance(out, base):
        raise _wrong(where, name, value, tp)
    if base is list and args:
        out = [coerce(where, f"{name}[{i}]", v, args[0]) for i, v in enumerate(out)]
    return out


def _wrong(where: str, name: str, value: Any, tp: Any) -> ParameterError:
    return ParameterError(f"{where}: parameter {name!r} expects {_type_name(tp)}, "
                          f"got {value!r} ({type(value).__name__})")


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise ValueError(v)


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return int(v.strip()) if isinstance(v, str) else v


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError(v)
    if isinstance(v, str):
        return float(v.strip())
    return float(v) if isinstance(v, int) else v


def _list(v: Any) -> list:
    """A list; a string is YAML (`[a, b]`) or comma-separated items (`a,b`, `1,3,5`)."""
    if isinstance(v, tuple):
        return list(v)
    if not isinstance(v, str):
        return v
    if v.strip().startswith("["):
        return yaml.safe_load(v)
    return [yaml.safe_load(item.strip()) for item in v.split(",") if item.strip()]


def _dict(v: Any) -> dict:
    return yaml.safe_load(v) if isinstance(v, str) else v


def _str(v: Any) -> str:
    return v


_PARSERS = {bool: _bool, int: _int, float: _float, list: _list, dict: _dict, str: _str}


def _checkout(start: Path) -> Path | None:
    """The sparselab checkout holding `start` (a folder whose pyproject.toml names it), or None."""
    for folder in (start, *start.parents):
        pp = folder / "pyproject.toml"
        if pp.is_file():
            try:
                text = pp.read_text(errors="replace")
            except OSError:
                return None
            return folder if 'name = "sparselab"' in text else None
    return None


def check_checkout(cwd: Path | None = None) -> None:
    """Fail when the notebook's folder (the kernel's cwd) lies in another checkout than the
    `sparselab` package this kernel imported (e.g. a kernel registered by another clone)."""
    import sparselab

    here = _checkout((cwd or Path.cwd()).resolve())
    pkg = _checkout(Path(sparselab.__file__).resolve().parent)
    if here is not None and pkg is not None and here != pkg:
        raise CheckoutMismatch(
            f"this notebook lies in the checkout {here}, but the kernel imports sparselab from "
            f"{Path(sparselab.__file__).parent}: select the kernel of this checkout "
            f"(`make lab` or `sparselab report run` from {here} use it)")
