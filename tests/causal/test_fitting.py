"""Fitting an additive-noise SCM to data (``causal.fitting``; claim causal-minimax/impc-ranking)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from causal import ContinuousSCM
from causal._optim import Adam
from causal.fitting import _Fitted, fit_continuous_scm

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


def _one_by_one(graph, data, hidden, steps, lr, seed):
    """The plain fit, node by node (each MLP initialised and trained on its own)."""
    out = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for v in graph.nodes:
            pa = sorted(graph.predecessors(v))
            if not pa:
                continue
            x = torch.as_tensor(np.column_stack([data[p] for p in pa]))
            y = torch.as_tensor(data[v])
            f = _Fitted(len(pa), hidden, x.mean(0), x.std(0).clamp_min(1e-12))
            opt = Adam(f.parameters(), lr=lr)  # torch.optim.Adam, bit for bit (test_fast_paths)
            for _ in range(steps):
                opt.zero_grad()
                ((f(x) - y) ** 2).mean().backward()
                opt.step()
            with torch.no_grad():
                out[v] = (f, float((y - f(x)).std()), x)
    return out


def test_stacked_fit_equals_one_by_one_fits():
    # parents of different numbers (X1: 2, M: 1, X2: 3; Y a root): padded first layers
    g = nx.DiGraph([("Y", "M"), ("M", "X1"), ("Y", "X1"), ("Y", "X2"), ("M", "X2"), ("X1", "X2")])
    d = _data(n=300, seed=4)
    d["X2"] = (
        np.sin(d["X1"]) + d["M"] * d["Y"] / 4 + 0.1 * np.random.default_rng(5).normal(size=300)
    )
    scm = fit_continuous_scm(g, "Y", {"M"}, d, hidden=5, steps=60, lr=0.05, seed=7)
    ref = _one_by_one(g, d, 5, 60, 0.05, 7)
    assert set(ref) == {"M", "X1", "X2"}
    for v, (f, noise, x) in ref.items():
        mech = scm.mechanisms[v]
        assert mech.parents == tuple(sorted(g.predecessors(v)))
        # float64 trajectories: equal up to summation order (about 1e-15 observed)
        assert mech.noise_std == pytest.approx(noise, rel=1e-9)
        with torch.no_grad():
            np.testing.assert_allclose(mech.fn(x).numpy(), f(x).numpy(), rtol=1e-9, atol=1e-12)
        for a, b in zip(mech.fn.parameters(), f.parameters(), strict=True):
            assert a.shape == b.shape and not a.requires_grad


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
