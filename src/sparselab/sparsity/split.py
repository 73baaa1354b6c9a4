"""Split N:M settings: a different pattern per layer group (feed-forward vs attention).

The paper's configurations sparsify feed-forward and attention projections differently (its
code's ViT configs: FF 1:32 with Q, K, V at 1:8, each location set separately; METHODS.md §3).
A split setting is spelled like a pattern, `"ff=1:32,attn=1:8"`: comma-separated
`<group>=<N:M>` entries over the groups of `LAYER_GROUPS`. Every N:M layer of a model must be
covered by exactly one entry; an unknown group, an overlap or an uncovered group fails naming
it. One recipe instance per group (same key, schedule and hyper-parameters) drives its layers;
`SplitRecipe` steps them together, so the training loop sees one recipe.
"""
from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from .mask import check_nm, format_pattern, parse_pattern

# layer group -> projection suffixes of `sparselab.models.lm.TinyLM` (`blocks.<i>.<suffix>`)
LAYER_GROUPS: dict[str, tuple[str, ...]] = {
    "ff": ("mlp.gate", "mlp.up", "mlp.down"),
    "attn": ("attn.q", "attn.k", "attn.v", "attn.o"),
    "qkv": ("attn.q", "attn.k", "attn.v"),
    "q": ("attn.q",),
    "k": ("attn.k",),
    "v": ("attn.v",),
    "o": ("attn.o",),
}


def is_split(pattern: str) -> bool:
    """True for a split setting (`"ff=1:32,attn=1:8"`), False for a uniform `"N:M"`."""
    return isinstance(pattern, str) and "=" in pattern


def parse_split(text: str) -> dict[str, tuple[int, int]]:
    """{group: (n, m)} of a split setting, in the order written.

    Raises ValueError naming an unknown group, a repeated or overlapping group, a bad pattern
    or N >= M.
    """
    if not is_split(text):
        raise ValueError(f"split setting {text!r}: expected '<group>=<N:M>,...' such as "
                         "'ff=1:32,attn=1:8'")
    out: dict[str, tuple[int, int]] = {}
    covered: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        group, sep, pat = (s.strip() for s in item.partition("="))
        if not sep or not group or not pat:
            raise ValueError(f"split setting {text!r}: entry {item!r} is not '<group>=<N:M>'")
        if group not in LAYER_GROUPS:
            raise ValueError(f"split setting {text!r}: unknown layer group {group!r}; known: "
                             f"{', '.join(LAYER_GROUPS)}")
        if group in out:
            raise ValueError(f"split setting {text!r}: layer group {group!r} is given twice")
        try:
            n, m = parse_pattern(pat)
        except (ValueError, TypeError) as err:
            raise ValueError(f"split setting {text!r}: {group}={pat} ({err})") from None
        if n >= m:
            raise ValueError(f"split setting {text!r}: {group}={pat} has N = {n} >= M = {m}")
        for suffix in LAYER_GROUPS[group]:
            if suffix in covered:
                raise ValueError(f"split setting {text!r}: layer group {group!r} overlaps "
                                 f"{covered[suffix]!r} (both cover {suffix})")
            covered[suffix] = group
        out[group] = (n, m)
    return out


def format_split(groups: dict[str, tuple[int, int]]) -> str:
    """The canonical spelling of a parsed split setting."""
    return ",".join(f"{g}={format_pattern(n, m)}" for g, (n, m) in groups.items())


def layer_group(name: str, groups: Iterable[str]) -> str | None:
    """Which of `groups` covers the layer called `name` (e.g. `blocks.0.attn.q`), or None."""
    for group in groups:
        if any(name == s or name.endswith("." + s) for s in LAYER_GROUPS[group]):
            return group
    return None


def split_layers(text: str, names: Iterable[str]) -> dict[str, tuple[str, int, int]]:
    """{layer name: (group, n, m)} for the N:M layers `names`; every layer must be covered.

    Raises ValueError naming the first uncovered layer and the groups that would cover it.
    """
    groups = parse_split(text)
    out = {}
    for name in names:
        group = layer_group(name, groups)
        if group is None:
            could = [g for g in LAYER_GROUPS if layer_group(name, [g])]
            raise ValueError(f"split setting {text!r} covers no group of layer {name!r} "
                             f"(add one of: {', '.join(could) or 'no known group'})")
        out[name] = (group, *groups[group])
    return out


class SplitRecipe:
    """One recipe per layer group, stepped together: what a training loop drives.

    Args:
        recipes: {group: Recipe}; all of one key and one schedule, so their phases agree.
        text: the split setting they were built from.
    """

    def __init__(self, recipes: dict, text: str):
        keys = {r.key for r in recipes.values()}
        if len(keys) != 1:
            raise ValueError(f"split setting {text!r}: one recipe key per setting, got {keys}")
        self.recipes, self.text = dict(recipes), text
        self.key = keys.pop()

    @property
    def pattern(self) -> str:
        return self.text

    def set_step(self, t: int, total: int) -> None:
        for r in self.recipes.values():
            r.set_step(t, total)

    @property
    def phase(self) -> str:
        return next(iter(self.recipes.values())).phase

    def apply(self, model: nn.Module) -> nn.Module:
        """Give every `NMLinear` of `model` its group's recipe (checking that M divides its
        input width); returns `model`."""
        from .layers import nm_layers

        layers = dict(nm_layers(model))
        for name, (group, n, m) in split_layers(self.text, layers).items():
            layer = layers[name]
            try:
                check_nm((layer.out_features, layer.in_features), n, m)
            except ValueError as err:
                raise ValueError(f"split setting {self.text!r}: {group}={n}:{m} does not fit "
                                 f"layer {name!r} ({err})") from None
            layer.recipe = self.recipes[group]
        return model

    def describe(self) -> str:
        return f"{self.key}[{self.text}]"


def make_split_recipe(key: str, text: str, **kwargs) -> SplitRecipe:
    """A `SplitRecipe` of recipe `key` (same keyword arguments for every group)."""
    from .recipes import make_recipe

    groups = parse_split(text)
    return SplitRecipe({g: make_recipe(key, (n, m), **kwargs) for g, (n, m) in groups.items()},
                       format_split(groups))


def split_sparsity(text: str, shapes: dict[str, tuple[int, int]]) -> float:
    """Fraction of the N:M layers' weights pruned by a split setting.

    Args:
        shapes: {layer name: (in_features, out_features)} of the N:M layers.
    """
    layers = split_layers(text, shapes)
    kept = sum(shapes[k][0] * shapes[k][1] * n / m for k, (_, n, m) in layers.items())
    total = sum(i * o for i, o in shapes.values())
    return 1 - kept / total
