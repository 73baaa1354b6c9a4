"""N:M structured sparsity: masks, training recipes, sparse layers, FLOPs, packed CPU kernel."""
from .flops import linear_step_flops, nm_dense_step_flops, nm_inference_flops, nm_step_flops
from .layers import MaskFlipTracker, NMLinear, nm_layers, nm_linear_factory
from .mask import format_pattern, nm_mask, nm_mask_reference, parse_pattern
from .recipes import RECIPES, Cost, Recipe, make_recipe
from .split import LAYER_GROUPS, SplitRecipe, is_split, make_split_recipe, parse_split

__all__ = [
    "LAYER_GROUPS",
    "RECIPES",
    "Cost",
    "MaskFlipTracker",
    "NMLinear",
    "Recipe",
    "SplitRecipe",
    "format_pattern",
    "is_split",
    "linear_step_flops",
    "make_recipe",
    "make_split_recipe",
    "nm_dense_step_flops",
    "nm_inference_flops",
    "nm_layers",
    "nm_linear_factory",
    "nm_mask",
    "nm_mask_reference",
    "nm_step_flops",
    "parse_pattern",
    "parse_split",
]
