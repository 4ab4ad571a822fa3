"""Shared by the sequence-policy tests: one torch thread per test, and a cheap closeness check."""

from __future__ import annotations

import pytest
import torch


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-9) -> None:
    """Elementwise |a - b| <= atol (torch.testing.assert_close costs seconds on first use)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.numel() == 0:
        return
    diff = (a.detach().double() - b.detach().double()).abs().max().item()
    assert diff <= atol, f"max |a - b| = {diff:.3g} > {atol}"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
