"""Bad parameters of study 04 fail here, naming the value, before any run trains.

Without these checks an unknown recipe or a pattern that does not fit a layer surfaces as a
traceback from a worker process minutes into the sweep (or, for N = M, as a "sparse" run that
is dense).
"""
from __future__ import annotations

from .config import Config

PATTERN_FIELDS = ("patterns", "iso_flops_patterns", "tune_pattern")


def _split(field: str, text: str, widths: dict[str, int], model: str) -> None:
    """A split setting: known, non-overlapping groups covering every N:M layer, N < M, and
    each group's M dividing its layers' input widths."""
    from ...sparsity.split import split_layers

    try:
        layers = split_layers(text, widths)
    except ValueError as err:
        raise ValueError(f"{field}: {err}") from None
    for name, (group, n, m) in layers.items():
        if widths[name] % m:
            raise ValueError(f"{field}: split setting {text!r}: {group}={n}:{m}: M = {m} does "
                             f"not divide the input width {widths[name]} of layer {name!r} of "
                             f"model {model!r}")


def _patterns(cfg: Config, field: str) -> list[str]:
    value = getattr(cfg, field)
    return [value] if isinstance(value, str) else list(value)


def _pattern(field: str, text) -> tuple[int, int]:
    from ...sparsity import parse_pattern

    try:
        n, m = parse_pattern(text)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{field}: {text!r} is not an N:M pattern such as '1:8' ({err})") \
            from None
    if n >= m:
        raise ValueError(f"{field}: pattern {text!r} has N = {n} >= M = {m}; N:M sparsity "
                         "needs N < M (dense runs are the recipe 'dense', not a pattern)")
    return n, m


def nm_input_widths(model: str) -> dict[str, int]:
    """{layer name: in_features} of every N:M projection of family member `model` (shapes
    only, built on the meta device)."""
    import torch

    from ...models.lm import CONFIGS, build_model
    from ...sparsity import make_recipe, nm_layers, nm_linear_factory
    from .pipeline import char_vocab_size

    if model not in CONFIGS:
        raise ValueError(f"model: unknown model {model!r}; known: {', '.join(CONFIGS.keys())}")
    with torch.device("meta"):
        net = build_model(model, nm_linear_factory(make_recipe("dense")),
                          vocab_size=char_vocab_size())
    return {name: layer.in_features for name, layer in nm_layers(net)}


def check_config(cfg: Config) -> None:
    """Raise `ValueError` naming the parameter and value when `cfg` cannot run.

    Checks: every recipe is registered; every pattern parses with N < M; M divides the input
    width of every N:M layer of `cfg.model`; a split setting ("ff=1:32,attn=1:8") names known
    layer groups that cover every N:M layer; the matched-FLOPs patterns are in the grid and the
    grid has SR-STE and the recipe they are matched to; seeds and steps are usable; the plateau
    check has dense runs to halve; every recipe has `tune_budget` configurations to try.
    """
    from ...sparsity import RECIPES, is_split
    from .pipeline import MATCHED

    unknown = [r for r in cfg.recipes if r not in RECIPES]
    if unknown:
        raise ValueError(f"recipes: unknown recipe {unknown[0]!r}; known: "
                         f"{', '.join(RECIPES.keys())}")
    if not cfg.recipes or len(set(cfg.recipes)) != len(cfg.recipes):
        raise ValueError(f"recipes: {cfg.recipes!r} must be non-empty without repeats")
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        raise ValueError(f"seeds: {cfg.seeds!r} must be non-empty without repeats")
    if len(set(cfg.claim_seeds)) != len(cfg.claim_seeds) or set(cfg.claim_seeds) & set(cfg.seeds):
        raise ValueError(f"claim_seeds: {cfg.claim_seeds!r} must not repeat or overlap seeds "
                         f"{cfg.seeds!r} (they add seeds to the claim cells)")
    from .pipeline import stage_specs

    stage_specs([], cfg.stages)  # an unknown `stages` raises, naming it
    if int(cfg.steps) < 1:
        raise ValueError(f"steps: {cfg.steps!r} must be >= 1")
    if cfg.plateau_check and (cfg.steps < 2 or "dense" not in cfg.recipes):
        raise ValueError(f"plateau_check: needs recipe 'dense' in recipes {cfg.recipes!r} and "
                         f"steps >= 2 (got {cfg.steps})")
    widths = nm_input_widths(cfg.model)
    for field in PATTERN_FIELDS:
        if field == "tune_pattern" and not cfg.tune_budget:
            continue
        for text in _patterns(cfg, field):
            if is_split(text):
                _split(field, text, widths, cfg.model)
                continue
            _, m = _pattern(field, text)
            bad = {name: w for name, w in widths.items() if w % m}
            if bad:
                name, w = next(iter(bad.items()))
                raise ValueError(f"{field}: pattern {text!r}: M = {m} does not divide the input "
                                 f"width {w} of layer {name!r} of model {cfg.model!r} "
                                 f"({len(bad)} of {len(widths)} N:M layers)")
    missing = [p for p in cfg.iso_flops_patterns if p not in cfg.patterns]
    if missing:
        raise ValueError(f"iso_flops_patterns: {missing[0]!r} is not in patterns "
                         f"{cfg.patterns!r} (SR-STE is matched to {MATCHED}'s run there)")
    need = [r for r in ("sr_ste", MATCHED) if r not in cfg.recipes]
    if cfg.iso_flops_patterns and need:
        raise ValueError(f"iso_flops_patterns {cfg.iso_flops_patterns!r} needs recipe "
                         f"{need[0]!r} in recipes {cfg.recipes!r}")
    if cfg.tune_budget:
        from .tuning import check_tuning

        check_tuning(cfg)
    if cfg.test_split:
        _check_test_split(cfg)


def _check_test_split(cfg: Config) -> None:
    """The final scores' windows must fit in each half of the held-out text."""
    from .pipeline import TEXT, char_splits

    splits = char_splits(TEXT, test=True)[0]
    need = cfg.val_windows * cfg.seq_len + 1
    for name in ("val", "test"):
        if len(splits[name]) < need:
            raise ValueError(f"val_windows: {cfg.val_windows} windows of {cfg.seq_len} "
                             f"characters need {need:,} characters, but the {name} split has "
                             f"{len(splits[name]):,} (test_split halves the held-out text)")
