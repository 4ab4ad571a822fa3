"""The batched neural h* (fit_stable_predictors, worst_case_risks) equals the one-by-one calls
(fit_stable_predictor, worst_case_risk) within floating-point noise.

Tolerance: the networks compute in float32 and the stacked model sums in another order
(batched matrix products, zero-padded first layers), so values may differ by a few float32
rounding errors amplified over the Adam steps; the tests allow 1e-5 relative (observed: about
1e-7 on these instances and on the 45 representatives of the Sec. 6.1 protocol).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

import causal.risk as risk_mod
from causal import ContinuousSCM, DiscreteSCM, Mechanism, NeuralConfig
from causal.generators import bilinear_scm
from causal.risk import (
    fit_stable_predictor,
    fit_stable_predictors,
    worst_case_risk,
    worst_case_risks,
)

torch.set_num_threads(1)

RTOL = 1e-5
CFG = NeuralConfig(n_samples=240, n_eval=300, predictor_steps=45, adversary_steps=12)


def _zeros(pa):
    return torch.zeros(pa.shape[0], dtype=torch.float64)


def _root_mutable_scm() -> ContinuousSCM:
    """``M`` a mutable root (its adversary is a constant), ``X1 = tanh(M) + Y``, ``X2 = Y``."""
    g = nx.DiGraph([("M", "X1"), ("Y", "X1"), ("Y", "X2")])
    mech = {
        "Y": Mechanism((), _zeros, 1.0),
        "M": Mechanism((), _zeros, 1.0),
        "X1": Mechanism(("M", "Y"), lambda pa: torch.tanh(pa[:, 0]) + pa[:, 1], 0.5),
        "X2": Mechanism(("Y",), lambda pa: 0.8 * pa[:, 0], 0.5),
    }
    return ContinuousSCM(g, "Y", {"M"}, mech)


def _no_mutable_scm() -> ContinuousSCM:
    """No mutable node: the empty subset's predictor is a constant, no adversary."""
    g = nx.DiGraph([("Y", "X1")])
    mech = {"Y": Mechanism((), _zeros, 1.0), "X1": Mechanism(("Y",), lambda pa: pa[:, 0], 1.0)}
    return ContinuousSCM(g, "Y", set(), mech)


def _close(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=RTOL, abs=1e-12)


def _assert_risks_equal(one, many):
    assert len(one) == len(many)
    for a, b in zip(one, many, strict=True):
        assert a.subset == b.subset and a.method == b.method == "neural"
        assert _close(a.value, b.value), (a.value, b.value)
        assert _close(a.train_value, b.train_value), (a.train_value, b.train_value)
        assert _close(a.stderr, b.stderr), (a.stderr, b.stderr)
        assert (a.n_maps, a.success, a.message) == (b.n_maps, b.success, b.message)


@pytest.mark.parametrize(
    ("scm", "subsets", "seed"),
    [
        (bilinear_scm(), [set(), {"X1"}, {"X1"}], [3, 3, 7]),
        (_root_mutable_scm(), [{"X1", "X2"}, set(), {"X2"}, {"X1"}], 11),
        (_no_mutable_scm(), [set(), {"X1"}], [0, 5]),
    ],
)
def test_batched_fit_equals_one_by_one(scm, subsets, seed):
    seeds = seed if isinstance(seed, list) else [seed] * len(subsets)
    one = [
        fit_stable_predictor(scm, s, config=CFG, seed=sd)
        for s, sd in zip(subsets, seeds, strict=True)
    ]
    many = fit_stable_predictors(scm, subsets, config=CFG, seed=seed)
    x = scm.sample(100, seed=99)
    for a, b in zip(one, many, strict=True):
        assert a.columns == b.columns
        assert (a.net is None) == (b.net is None)
        assert _close(a.train_mse, b.train_mse)
        assert _close(a.constant, b.constant)
        np.testing.assert_allclose(b.predict(x), a.predict(x), rtol=0, atol=1e-5)
    # the networks are fitted: no subset is left at its (random) initialisation
    assert all(f.train_mse < 1.5 * np.var(x["Y"]) + 1 for f in many)


@pytest.mark.parametrize("restarts", [1, 2])
def test_batched_risk_equals_one_by_one(restarts):
    scm = _root_mutable_scm()
    cfg = NeuralConfig(
        n_samples=240, n_eval=300, predictor_steps=30, adversary_steps=10, restarts=restarts
    )
    subsets = [set(), {"X1"}, {"X2"}, {"X1", "X2"}]
    seeds = [1, 1, 2, 4]
    mv = {"M": np.linspace(-2.0, 2.0, 50)}
    before = torch.get_rng_state()
    many = worst_case_risks(scm, subsets, config=cfg, seed=seeds, mutable_values=mv)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's global state is kept
    one = [
        worst_case_risk(scm, s, config=cfg, seed=sd, mutable_values=mv)
        for s, sd in zip(subsets, seeds, strict=True)
    ]
    _assert_risks_equal(one, many)


def test_batched_risk_with_given_and_mixed_predictors_and_chunks(monkeypatch):
    scm = bilinear_scm()
    fs = fit_stable_predictors(scm, [set(), {"X1"}], config=CFG, seed=2)

    def analytic(v):  # f_{X1}(x1, m) = m x1 / (m^2 + 1): a plain callable, run on its slice
        return v["M"] * v["X1"] / (v["M"] ** 2 + 1)

    preds = [fs[0], analytic, fs[1], fs[1]]
    subsets = [set(), {"X1"}, {"X1"}, {"X1"}]
    one = [
        worst_case_risk(scm, s, config=CFG, seed=2, predictor=f)
        for s, f in zip(subsets, preds, strict=True)
    ]
    _assert_risks_equal(one, worst_case_risks(scm, subsets, config=CFG, seed=2, predictors=preds))
    # one run per stack (4 stacks) computes the same values
    monkeypatch.setattr(risk_mod, "STACK_ROWS", 1)
    _assert_risks_equal(one, worst_case_risks(scm, subsets, config=CFG, seed=2, predictors=preds))
    fs1 = fit_stable_predictors(scm, [set(), {"X1"}], config=CFG, seed=2)
    assert [_close(a.train_mse, b.train_mse) for a, b in zip(fs, fs1, strict=True)] == [True, True]


def test_no_mutable_node_and_empty_input():
    scm = _no_mutable_scm()
    subsets = [set(), {"X1"}]
    one = [worst_case_risk(scm, s, config=CFG, seed=4) for s in subsets]
    _assert_risks_equal(one, worst_case_risks(scm, subsets, config=CFG, seed=4))
    assert worst_case_risks(scm, [], config=CFG) == []
    assert fit_stable_predictors(scm, (), config=CFG) == []


def test_non_finite_predictor_is_reported_per_run():
    scm = bilinear_scm()

    def nan(v):
        return torch.full_like(v["M"], float("nan"))

    fs = fit_stable_predictors(scm, [{"X1"}], config=CFG, seed=0)
    with pytest.warns(RuntimeWarning, match=r"subsets\[1\].*not finite"):
        rs = worst_case_risks(scm, [{"X1"}, {"X1"}], config=CFG, predictors=[fs[0], nan])
    assert rs[0].success and np.isfinite(rs[0].value)
    assert not rs[1].success and rs[1].status == 2


def test_discrete_batch_equals_exact_one_by_one():
    g = nx.DiGraph([("Y", "M"), ("Y", "X1"), ("M", "X1")])
    cpts = {
        "Y": [0.5, 0.5],
        "M": [[0.8, 0.2], [0.3, 0.7]],
        "X1": [[[0.9, 0.1], [0.6, 0.4]], [[0.4, 0.6], [0.1, 0.9]]],
    }
    scm = DiscreteSCM(g, "Y", {"M"}, cpts)
    rs = worst_case_risks(scm, [set(), {"X1"}])
    assert [r.value for r in rs] == [worst_case_risk(scm, s).value for s in (set(), {"X1"})]
    with pytest.warns(RuntimeWarning, match="ignored"):
        worst_case_risks(scm, [set()], config=CFG)
