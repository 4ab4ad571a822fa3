"""Batched = looped: a row's result depends only on (seed, row), never on the batch around it.

Covers per-row seeds, common random numbers (``common_noise``), the first-layer shortcut of the
batched paths, and chunking, for both the Stability measure and T-Rex:I.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import stability.counterfactual._batched as batched
from stability.counterfactual import closest_counterfactual, counterfactual_stability, trex
from stability.counterfactual._batched import (
    AffineSplit,
    row_generators,
    stability_values,
    value_and_grad,
)
from stability.counterfactual.models import _ProbabilityModel
from stability.counterfactual.strategies import logistic_models, queries, tanh_mlps

FAST = settings(max_examples=20, deadline=None)
TOL = 1e-12
BOX = (0.0, 1.0)


def _dim(model: nn.Module) -> int:
    return next(m for m in model.modules() if isinstance(m, nn.Linear)).in_features


@FAST
@given(st.one_of(logistic_models(), tanh_mlps()), st.data(), st.booleans())
def test_stability_row_is_independent_of_the_batch(model, data, relaxed):
    X = data.draw(queries(d=_dim(model), max_rows=5))
    n = len(X)
    seeds = data.draw(st.lists(st.integers(0, 2**31), min_size=n, max_size=n))
    kw = dict(k=data.draw(st.integers(1, 40)), sigma=0.3, relaxed=relaxed)
    if not relaxed:
        kw["lipschitz"] = 2.0
    r = counterfactual_stability(model, X, seed=seeds, **kw)
    perm = data.draw(st.permutations(range(n)))
    rp = counterfactual_stability(model, X[perm], seed=[seeds[i] for i in perm], **kw)
    np.testing.assert_allclose(rp, r[perm], rtol=0, atol=TOL)
    for i in range(n):
        alone = counterfactual_stability(model, X[i : i + 1], seed=seeds[i : i + 1], **kw)
        scalar = counterfactual_stability(model, X[i : i + 1], seed=seeds[i], **kw)
        assert abs(alone[0] - r[i]) <= TOL and abs(scalar[0] - r[i]) <= TOL
    # a scalar seed: row i is block i of one stream, so dropping later rows changes nothing
    s = data.draw(st.integers(0, 2**31))
    full = counterfactual_stability(model, X, seed=s, **kw)
    head = counterfactual_stability(model, X[: max(1, n - 1)], seed=s, **kw)
    np.testing.assert_allclose(head, full[: len(head)], rtol=0, atol=TOL)


@FAST
@given(st.one_of(logistic_models(), tanh_mlps()), st.data(), st.booleans())
def test_common_noise_equals_the_one_row_call_with_the_same_seed(model, data, relaxed):
    X = data.draw(queries(d=_dim(model), max_rows=5))
    s = data.draw(st.integers(0, 2**31))
    kw = dict(k=data.draw(st.integers(1, 40)), sigma=0.3, relaxed=relaxed, seed=s)
    if not relaxed:
        kw["lipschitz"] = 1.5
    crn = counterfactual_stability(model, X, common_noise=True, **kw)
    for i in range(len(X)):
        assert abs(counterfactual_stability(model, X[i : i + 1], **kw)[0] - crn[i]) <= TOL
    # the same through a numpy callable (no first-layer shortcut)
    f = lambda Z: model(torch.from_numpy(Z)).detach().numpy()[:, 0]  # noqa: E731
    np.testing.assert_allclose(
        counterfactual_stability(f, X, common_noise=True, **kw), crn, rtol=0, atol=TOL
    )


@FAST
@given(tanh_mlps(), st.data(), st.booleans())
def test_affine_split_matches_the_plain_model_with_gradients(model, data, relaxed):
    d = _dim(model)
    X = torch.from_numpy(data.draw(queries(d=d, max_rows=4)))
    xi = torch.from_numpy(np.random.default_rng(data.draw(st.integers(0, 99))).normal(size=(7, d)))
    pm = _ProbabilityModel(model)
    split = AffineSplit.of(pm)
    assert split is not None
    gamma = None if relaxed else torch.full((len(X),), 1.3, dtype=torch.float64)
    kw = dict(relaxed=relaxed, gamma=gamma)
    v0, g0 = value_and_grad(pm, X, xi, 0.2, 7, **kw)
    v1, g1 = value_and_grad(pm, X, xi, 0.2, 7, split=split, **kw)
    np.testing.assert_allclose(v1.numpy(), v0.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(g1.numpy(), g0.numpy(), rtol=0, atol=1e-10)
    # shared samples = the same samples repeated per row through the per-row core
    full = xi[None].expand(len(X), -1, -1).contiguous()
    v2 = stability_values(pm, X, full, 0.2, gamma, relaxed).detach()
    np.testing.assert_allclose(v2.numpy(), v0.numpy(), rtol=0, atol=TOL)


def test_affine_split_applies_only_to_float64_linear_first_modules():
    assert AffineSplit.of(_ProbabilityModel(nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()))) is None
    nested = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.Tanh()), nn.Linear(3, 1), nn.Sigmoid())
    assert AffineSplit.of(_ProbabilityModel(nested.double())) is not None
    assert AffineSplit.of(_ProbabilityModel(nn.Sequential(nn.Tanh(), nn.Sigmoid()))) is None
    assert AffineSplit.of(_ProbabilityModel(lambda X: np.full(len(X), 0.5))) is None


def test_value_and_grad_does_not_depend_on_the_chunk_size(moons_task, monkeypatch):
    _, model, q = moons_task
    pm = _ProbabilityModel(model)
    X = torch.from_numpy(np.array(q))
    xi = torch.from_numpy(np.random.default_rng(0).normal(size=(len(q), 30, q.shape[1])))
    v0, g0 = value_and_grad(pm, X, xi, 0.1, 30)
    monkeypatch.setattr(batched, "CHUNK_POINTS", 70)  # two rows per chunk
    v1, g1 = value_and_grad(pm, X, xi, 0.1, 30)
    np.testing.assert_allclose(v1.numpy(), v0.numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(g1.numpy(), g0.numpy(), rtol=0, atol=TOL)
    # against one autograd pass over all rows
    xa = X.clone().requires_grad_(True)
    r = batched._stability_core(pm, xa, xi, 0.1, None, True)
    (g,) = torch.autograd.grad(r.sum(), xa)
    np.testing.assert_allclose(g0.numpy(), g.numpy(), rtol=0, atol=TOL)


def test_row_generators_depend_only_on_seed_and_row():
    a = [g.standard_normal(3) for g in row_generators(5, 4)]
    b = [g.standard_normal(3) for g in row_generators(5, 2)]
    np.testing.assert_array_equal(a[:2], b)
    c = [g.standard_normal(3) for g in row_generators([7, 8], 2)]
    np.testing.assert_array_equal(c[1], np.random.default_rng(8).standard_normal(3))
    ss = np.random.SeedSequence(5)
    np.testing.assert_array_equal(  # a SeedSequence is not advanced: same streams twice
        row_generators(ss, 2)[1].standard_normal(3), row_generators(ss, 2)[1].standard_normal(3)
    )


@pytest.fixture(scope="module")
def trex_setup(moons_task):
    _, model, q = moons_task
    q = np.array(q[:6])
    base = closest_counterfactual(model, q, box=BOX).counterfactuals
    return model, q, base, dict(k=60, sigma=0.05, tau=0.7, step=0.05, max_iter=8, box=BOX)


def _same_row(one, res, i):
    """The one-row result ``one`` equals row i of ``res``."""
    np.testing.assert_allclose(one.counterfactuals[0], res.counterfactuals[i], rtol=0, atol=TOL)
    assert abs(one.stability[0] - res.stability[i]) <= TOL
    assert one.status[0] == res.status[i] and one.steps[0] == res.steps[i]


def test_trex_row_is_independent_of_the_batch(trex_setup):
    model, q, base, kw = trex_setup
    seeds = [11, 12, 13, 14, 15, 16]
    res = trex(model, q, base=base, seed=seeds, **kw)
    assert len(set(res.steps)) > 1  # rows leave the active set at different steps
    for i in range(len(q)):
        _same_row(
            trex(model, q[i : i + 1], base=base[i : i + 1], seed=seeds[i : i + 1], **kw), res, i
        )
    perm = [5, 3, 1, 0, 2, 4]
    rp = trex(model, q[perm], base=base[perm], seed=[seeds[i] for i in perm], **kw)
    np.testing.assert_allclose(rp.counterfactuals, res.counterfactuals[perm], rtol=0, atol=TOL)
    # a scalar seed: row i's stream is child i, so dropping later rows changes nothing
    full = trex(model, q, base=base, seed=3, **kw)
    head = trex(model, q[:4], base=base[:4], seed=3, **kw)
    np.testing.assert_allclose(head.counterfactuals, full.counterfactuals[:4], rtol=0, atol=TOL)
    assert head.status == full.status[:4]


def test_trex_common_noise_equals_the_one_row_call(trex_setup):
    model, q, base, kw = trex_setup
    crn = trex(model, q, base=base, seed=9, common_noise=True, **kw)
    assert crn.found.all()
    for i in range(len(q)):
        _same_row(trex(model, q[i : i + 1], base=base[i : i + 1], seed=9, **kw), crn, i)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda m, q: counterfactual_stability(
                m, q, k=5, sigma=0.1, relaxed=True, seed=[1] * len(q), common_noise=True
            ),
            "common_noise=True needs a single seed",
        ),
        (
            lambda m, q: counterfactual_stability(m, q, k=5, sigma=0.1, relaxed=True, seed=[1]),
            "seed given per row must have one entry per row",
        ),
        (
            lambda m, q: trex(m, q, k=5, max_iter=1, seed=list(range(len(q))), common_noise=True),
            "common_noise=True needs a single seed",
        ),
        (
            lambda m, q: trex(m, q, k=5, max_iter=1, seed=[1, 2]),
            "seed given per row must have one entry per row",
        ),
    ],
)
def test_seed_bad_input(moons_task, call, match):
    _, model, q = moons_task
    with pytest.raises(ValueError, match=match):
        call(model, q)
