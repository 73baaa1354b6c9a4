"""What every study module shares: a Config built from notebook parameters."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Self, TypeVar

C = TypeVar("C", bound="StudyConfig")


@dataclasses.dataclass
class StudyConfig:
    """Base of every study's `Config`; its fields are exactly the notebook's parameters.

    Subclasses are dataclasses whose defaults equal the smoke profile.
    """

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """Build from a mapping that holds at least every field (e.g. a notebook's `globals()`)."""
        names = cls.field_names()
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(f"{cls.__module__}.Config: parameters missing: {', '.join(missing)}")
        return cls(**{n: params[n] for n in names})

    @classmethod
    def from_overrides(cls, **overrides: Any) -> Self:
        """Defaults with some fields replaced; unknown names raise naming the parameter."""
        unknown = sorted(set(overrides) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"{cls.__module__}.Config: unknown parameter(s): {', '.join(unknown)}")
        return cls(**overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
