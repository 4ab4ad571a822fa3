"""The linear-Gaussian case in closed form (``causal.linear``; claim causal-minimax/linear-gaussian)."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from causal import equivalence_classes, worst_case_risk
from causal.linear import LinearGaussianSEM, random_linear_gaussian_sem

#: Y -> M (mutable) -> X1 <- Y: the smallest setting with a mutable child of Y in K.
G = nx.DiGraph([("Y", "M"), ("Y", "X1"), ("M", "X1")])


def _sem(a=2.0, b=-1.5, c=0.7) -> LinearGaussianSEM:
    return LinearGaussianSEM(G, "Y", {"M"}, {("Y", "X1"): a, ("M", "X1"): b, ("Y", "M"): c}, 1.0)


def _joint_reference(sem: LinearGaussianSEM, subset: frozenset) -> tuple[float, dict]:
    """Independent route: the joint covariance of all nodes under do(X_M ~ N(0, I)), built by
    propagating covariances in topological order, then a Gaussian regression of Y on
    (X_S', X_M) (its residual variance and coefficients)."""
    order = list(nx.topological_sort(sem.graph))
    idx = {v: i for i, v in enumerate(order)}
    n = len(order)
    # loadings on independent standard sources: one per node (mutable ones fixed to N(0, 1))
    load = np.zeros((n, n))
    for v in order:
        if v in sem.mutable:
            load[idx[v], idx[v]] = 1.0
            continue
        load[idx[v], idx[v]] = sem.noise_std[v]
        for u in sem.graph.predecessors(v):
            load[idx[v]] += sem.weights[(u, v)] * load[idx[u]]
    cov = load @ load.T
    cols = [idx[v] for v in sorted(subset)] + [idx[v] for v in sorted(sem.mutable)]
    y = idx[sem.target]
    beta = np.linalg.solve(cov[np.ix_(cols, cols)], cov[cols, y])
    names = sorted(subset) + sorted(sem.mutable)
    return float(cov[y, y] - cov[y, cols] @ beta), dict(zip(names, beta, strict=True))


def test_hand_computed_three_node_example():
    # under do(M = m): X1 = aY + bm + ε, so E[Y | x1, m] = a(x1 − bm)/(a² + 1) and the
    # residual variance is 1/(1 + a²), whatever M's mechanism is
    a, b = 2.0, -1.5
    r = _sem(a, b).worst_case_risk({"X1"})
    assert r.value == pytest.approx(1 / (1 + a * a), rel=1e-12)
    assert r.coef["X1"] == pytest.approx(a / (a * a + 1), rel=1e-12)
    assert r.coef["M"] == pytest.approx(-a * b / (a * a + 1), rel=1e-12)
    assert _sem(a, b).worst_case_risk(set()).value == pytest.approx(1.0)
    assert not _sem().components.condition  # Y -> X1 ∈ K: the search would run


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_x=st.integers(2, 5))
def test_closed_form_matches_the_joint_gaussian_regression(seed, n_x):
    sem = random_linear_gaussian_sem(np.random.default_rng(seed), n_x=n_x, violate_condition=False)
    for r in range(len(sem.stable) + 1):
        for s in itertools.combinations(sorted(sem.stable), r):
            got = sem.worst_case_risk(s)
            value, coef = _joint_reference(sem, frozenset(s))
            assert got.value == pytest.approx(value, rel=1e-9, abs=1e-12)
            assert got.coef == pytest.approx(coef, rel=1e-8, abs=1e-10)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_x=st.integers(2, 5))
def test_whole_stable_set_is_minimax_optimal_and_risk_never_grows_with_the_subset(seed, n_x):
    sem = random_linear_gaussian_sem(np.random.default_rng(seed), n_x=n_x)
    best, risks = sem.minimax_subset()
    assert risks[sem.stable] <= min(risks.values()) * (1 + 1e-12)
    assert risks[best] == pytest.approx(min(risks.values()), rel=1e-12)
    for a, b in itertools.product(risks, repeat=2):
        if a <= b:
            assert risks[b] <= risks[a] * (1 + 1e-12) + 1e-15


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_members_of_an_equivalence_class_share_the_closed_form_risk(seed):
    sem = random_linear_gaussian_sem(np.random.default_rng(seed), n_x=4)
    _, risks = sem.minimax_subset()
    for c in equivalence_classes(sem.graph, sem.target, sem.mutable).classes:
        vals = [risks[m] for m in c.members()]
        assert max(vals) == pytest.approx(min(vals), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_monte_carlo_risk_is_the_closed_form_under_nonlinear_interventions(seed):
    sem = random_linear_gaussian_sem(np.random.default_rng(seed))
    scm = sem.to_scm()
    whole = sem.worst_case_risk(sem.stable)

    def g(pa: torch.Tensor) -> torch.Tensor:
        return 5 * torch.tanh(pa.sum(1)) + 4 * torch.sin(3 * pa.sum(1))

    n = 100_000
    for kw in ({}, {"interventions": dict.fromkeys(sem.mutable, g)}):
        d = scm.sample(n, seed=seed + 10, **kw)
        loss = (d["Y"] - sum(c * d[v] for v, c in whole.coef.items())) ** 2
        se = loss.std() / math.sqrt(n)
        assert abs(loss.mean() - whole.value) <= 5 * se


def test_neural_estimate_is_close_to_the_closed_form():
    from causal import NeuralConfig

    sem = _sem()
    cfg = NeuralConfig(n_samples=2000, n_eval=4000, predictor_steps=300, adversary_steps=40)
    est = worst_case_risk(sem.to_scm(), {"X1"}, config=cfg, seed=0)
    closed = sem.worst_case_risk({"X1"}).value
    assert est.success
    assert closed - 4 * est.stderr <= est.value <= 1.25 * closed


def test_generator_violates_the_condition_and_is_reproducible():
    a = random_linear_gaussian_sem(np.random.default_rng(3))
    b = random_linear_gaussian_sem(np.random.default_rng(3))
    assert not a.components.condition
    assert sorted(a.graph.edges) == sorted(b.graph.edges) and a.weights == b.weights
    assert all(0.5 <= abs(w) <= 2.0 for w in a.weights.values())
    assert len(a.mutable) == 1 and a.graph.in_degree(next(iter(a.mutable))) >= 1


def test_bad_input_raises():
    with pytest.raises(ValueError, match="weights"):
        LinearGaussianSEM(G, "Y", {"M"}, {("Y", "X1"): 1.0}, 1.0)
    with pytest.raises(ValueError, match="noise_std"):
        LinearGaussianSEM(G, "Y", {"M"}, _sem().weights, 0.0)
    with pytest.raises(ValueError, match="subset"):
        _sem().worst_case_risk({"M"})
    with pytest.raises(ValueError, match="max_tries"):
        random_linear_gaussian_sem(np.random.default_rng(0), n_x=2, edge_prob=1e-9, max_tries=3)
