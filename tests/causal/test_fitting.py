"""Fitting an additive-noise SCM to data (``causal.fitting``; claim causal-minimax/impc-ranking)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from causal import ContinuousSCM
from causal.fitting import fit_continuous_scm

torch.set_num_threads(1)
G = nx.DiGraph([("Y", "M"), ("M", "X1"), ("Y", "X1")])


def _data(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(1.0, 2.0, n)
    m = 0.5 * y + rng.normal(size=n)
    x1 = np.tanh(m) - y + 0.3 * rng.normal(size=n)
    return {"Y": y, "M": m, "X1": x1}


def test_recovers_mechanisms_and_noise():
    scm = fit_continuous_scm(G, "Y", {"M"}, _data(), steps=400)
    assert isinstance(scm, ContinuousSCM)
    assert scm.mechanisms["Y"].noise_std == pytest.approx(2.0, rel=0.05)
    assert scm.mechanisms["M"].noise_std == pytest.approx(1.0, rel=0.1)
    assert scm.mechanisms["X1"].noise_std == pytest.approx(0.3, rel=0.2)
    s = scm.sample(4000, seed=1)
    assert s["Y"].mean() == pytest.approx(1.0, abs=0.15)
    pa = torch.tensor([[0.0, 1.0], [2.0, -1.0]], dtype=torch.float64)  # columns (M, Y)
    want = np.tanh([0.0, 2.0]) - np.array([1.0, -1.0])
    np.testing.assert_allclose(scm.mechanisms["X1"].fn(pa).numpy(), want, atol=0.15)


def test_missing_node_raises():
    d = _data()
    del d["X1"]
    with pytest.raises(ValueError, match="lacks the nodes"):
        fit_continuous_scm(G, "Y", {"M"}, d)


def test_unequal_lengths_raise():
    d = _data()
    d["X1"] = d["X1"][:-1]
    with pytest.raises(ValueError, match="common length"):
        fit_continuous_scm(G, "Y", {"M"}, d)


def test_non_finite_raises():
    d = _data()
    d["M"] = d["M"].copy()
    d["M"][0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fit_continuous_scm(G, "Y", {"M"}, d)


def test_bad_sizes_and_setting_raise():
    with pytest.raises(ValueError, match="steps"):
        fit_continuous_scm(G, "Y", {"M"}, _data(), steps=0)
    with pytest.raises(ValueError, match="lr"):
        fit_continuous_scm(G, "Y", {"M"}, _data(), lr=-1.0)
    with pytest.raises(ValueError, match="mapping"):
        fit_continuous_scm(G, "Y", {"M"}, [1, 2])
    with pytest.raises(ValueError, match="mutable"):
        fit_continuous_scm(G, "Y", {"Y"}, _data())


def test_leaves_torch_global_generator_alone_and_is_reproducible():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a = fit_continuous_scm(G, "Y", {"M"}, _data(200), steps=20, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(8)
    b = fit_continuous_scm(G, "Y", {"M"}, _data(200), steps=20, seed=5)
    assert a.mechanisms["X1"].noise_std == b.mechanisms["X1"].noise_std
