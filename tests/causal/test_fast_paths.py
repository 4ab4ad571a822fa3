"""The fast paths of :mod:`causal` compute what the plain paths compute: bit for bit, the
functional Adam of the neural fits and the adversary's fixed nodes (``propagate`` with ``do``);
up to the last bits, ICP's residual tests (batched along an axis, without scipy's wrapper)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import torch
from scipy import stats

from causal import baselines, invariant_causal_prediction
from causal._optim import Adam
from causal.baselines import _ols
from causal.generators import simulation_scm

torch.set_num_threads(1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_adam_matches_torch_adam_bit_for_bit(dtype):
    def net():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1), torch.nn.Linear(1, 1)
        ).to(dtype)

    x, y = torch.randn(64, 3, dtype=dtype), torch.randn(64, 1, dtype=dtype)
    ours, ref = net(), net()
    opt_ours, opt_ref = Adam(ours.parameters(), lr=0.05), torch.optim.Adam(ref.parameters(), 0.05)
    for step in range(40):
        for model, opt in ((ours, opt_ours), (ref, opt_ref)):
            opt.zero_grad()
            # the last layer gets no gradient on even steps: its state starts late, as in torch
            out = model(x) if step % 2 else model[2](model[1](model[0](x)))
            ((out - y) ** 2).mean().backward()
            opt.step()
        assert all(p.grad is None or p.grad.dtype == dtype for p in ours.parameters())
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(ours[3].weight, net()[3].weight)  # the late layer did move
    opt_ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())


@pytest.mark.parametrize("batch", [256, 3])
def test_icp_pvalues_are_scipys_tests(monkeypatch, batch):
    # the subsets' residuals are tested in batches (of 3: several, the last one short);
    # unequal environments, their rows interleaved
    monkeypatch.setattr(baselines, "ICP_BATCH", batch)
    rng = np.random.default_rng(3)
    env = rng.permutation(np.repeat(np.arange(4), [20, 25, 30, 25]))
    x = rng.normal(size=(100, 4))
    x[:, 2] += 2.0 * (env == 3)  # a shifted cause: the sets without it are rejected
    y = 1.5 * x[:, 0] + x[:, 2] + rng.normal(size=100) * (1 + 0.5 * (env == 2))
    res = invariant_causal_prediction(x, y, env)
    groups = [env == e for e in range(4)]
    assert len(res.pvalues) == 16
    for cols in itertools.chain.from_iterable(
        itertools.combinations(range(4), r) for r in range(5)
    ):
        res_y = y - _ols(x, y, cols).predict(x)  # ICP's residuals
        parts = [res_y[g] for g in groups]
        p = min(1.0, 2.0 * float(min(stats.f_oneway(*parts).pvalue, stats.levene(*parts).pvalue)))
        # equal up to the last bits: numpy's SIMD sums depend on each row's memory alignment
        assert res.pvalues[cols] == pytest.approx(p, rel=1e-12, abs=1e-300)
        assert (cols in res.accepted) == (p > 0.05)
    assert 0.0 < min(res.pvalues.values()) < 0.05 < max(res.pvalues.values())  # both kinds


def test_propagate_with_the_unreached_nodes_fixed_is_unchanged():
    scm = simulation_scm(1.0)
    gen = torch.Generator().manual_seed(0)
    noise = scm.noise(50, gen)
    g = {j: (lambda pa, j=j: pa.sum(1).tanh() * (2 if j == "X9" else -1)) for j in scm.mutable}
    reached = set(scm.mutable).union(*(nx.descendants(scm.graph, j) for j in scm.mutable))
    plain = scm.propagate(noise, interventions=g)
    fixed = {v: plain[v].clone() for v in scm.order if v not in reached}
    assert fixed and reached - set(scm.mutable)  # both kinds of nodes are exercised
    again = scm.propagate(noise, interventions=g, do=fixed)
    assert all(torch.equal(plain[v], again[v]) for v in scm.order)
