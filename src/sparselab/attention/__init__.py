"""Training-free sparse attention methods behind one interface (see `base`)."""
from .base import DECODE, PREFILL, AttentionOutput, DecodeMethod, PrefillMethod, repeat_kv

__all__ = ["DECODE", "PREFILL", "AttentionOutput", "DecodeMethod", "PrefillMethod", "repeat_kv"]
