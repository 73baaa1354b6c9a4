"""Shared fixtures of the unit tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module: tiny shapes, and no OpenMP contention on 2 cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
