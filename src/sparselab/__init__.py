"""sparselab: sparsity in retrieval and in transformers."""
import os as _os

# Numba's parallel kernels (the packed N:M and block-sparse kernels, the bandwidth probe) run on
# its OpenMP threading layer, whose threads spin after every parallel region by default. In a
# process that also runs torch, those spinning threads take the CPU from torch's own work: on
# this 2-core machine, under load, one numba parallel call cut the greedy decoding of a tiny LM
# from ~1,040 to ~20 tokens/s for the rest of the process, dense and packed alike (with
# OMP_WAIT_POLICY=PASSIVE: ~980). Passive waiting is the default here unless the caller chose
# otherwise; it takes effect only if sparselab is imported before the OpenMP runtime loads
# (before torch or a numba parallel call), which is how the notebooks, the CLI and the
# benchmarks start.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
