"""Worst-case risk h* (claim ids causal-minimax/equal-risk, .../search-equals-brute-force,
.../condition-implies-optimal, .../bilinear-counterexample, .../neural-bilinear)."""

from __future__ import annotations

import itertools
import math
import warnings

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings

from causal import (
    DiscreteSCM,
    NeuralConfig,
    discrete_predictor,
    equivalence_classes,
    intervened_risk,
    worst_case_risk,
)
from causal.generators import bilinear_scm, bilinear_worst_case, random_binary_scm
from causal.strategies import binary_scms
from tests.causal._reference import brute_force_risk

torch.set_num_threads(1)


def _subsets(s):
    s = sorted(s)
    return [frozenset(c) for r in range(len(s) + 1) for c in itertools.combinations(s, r)]


def test_noisy_copy_has_closed_form_risk():
    # Y ~ Bern(1/2), X1 = Y flipped w.p. 0.1: f = P(Y=1|X1) in {0.1, 0.9}, risk 0.09
    scm = DiscreteSCM(
        nx.DiGraph([("Y", "X1")]), "Y", set(), {"Y": [0.5, 0.5], "X1": [[0.9, 0.1], [0.1, 0.9]]}
    )
    assert worst_case_risk(scm, {"X1"}).value == pytest.approx(0.09, abs=1e-12)
    assert worst_case_risk(scm, set()).value == pytest.approx(0.25, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(binary_scms(max_x=3, max_mutable=2))
def test_exact_risk_equals_brute_force(scm):
    for s in _subsets(scm.stable):
        assert worst_case_risk(scm, s).value == pytest.approx(brute_force_risk(scm, s), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(binary_scms(max_x=4))
def test_returned_maps_attain_the_value(scm):
    s = scm.stable
    r = worst_case_risk(scm, s)
    if r.maps:
        cpts = {j: (np.arange(2) == g[..., None]).astype(float) for j, g in r.maps.items()}
        assert intervened_risk(scm, s, cpts) == pytest.approx(r.value, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(binary_scms(max_x=4))
def test_stochastic_interventions_never_exceed_the_deterministic_max(scm):
    rng = np.random.default_rng(0)
    for s in _subsets(scm.stable)[:4]:
        h = worst_case_risk(scm, s).value
        for _ in range(10):
            repl = {j: rng.dirichlet(np.ones(2) * 0.3, scm.cpts[j].shape[:-1]) for j in scm.mutable}
            assert intervened_risk(scm, s, repl) <= h + 1e-12


@settings(max_examples=60, deadline=None)
@given(binary_scms(max_x=4))
def test_members_of_a_class_share_the_risk_and_search_equals_brute_force(scm):
    risks = {s: worst_case_risk(scm, s).value for s in _subsets(scm.stable)}
    classes = equivalence_classes(scm.graph, scm.target, scm.mutable)
    for c in classes.classes:
        vals = [risks[m] for m in c.members()]
        assert max(vals) - min(vals) <= 1e-9
    assert min(risks[r] for r in classes.representatives) == pytest.approx(
        min(risks.values()), abs=1e-12
    )


@settings(max_examples=80, deadline=None)
@given(binary_scms(max_x=4))
def test_condition_implies_whole_stable_set_optimal(scm):
    if scm.components.condition:
        whole = worst_case_risk(scm, scm.stable).value
        for s in _subsets(scm.stable):
            assert whole <= worst_case_risk(scm, s).value + 1e-9


def test_some_binary_scm_violating_the_condition_has_a_strictly_better_subset():
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(100):
        scm = random_binary_scm(rng)
        if scm.components.condition:
            continue
        whole = worst_case_risk(scm, scm.stable).value
        best = min(worst_case_risk(scm, s).value for s in _subsets(scm.stable))
        found += best < whole - 1e-9
    assert found >= 1


def test_empty_predictor_is_the_mean_when_x_m_is_not_an_ancestor_of_y():
    rng = np.random.default_rng(5)
    for _ in range(20):
        scm = random_binary_scm(rng)
        anc_y = nx.ancestors(scm.graph, "Y")
        if scm.mutable & anc_y:
            continue
        f = discrete_predictor(scm, set())
        ey = scm.target_values @ _marginal_y(scm)
        assert np.allclose(f, ey, atol=1e-12)


def _marginal_y(scm):
    # exact marginal of Y by the truncated factorisation with nothing intervened
    order = scm.order
    p = {}
    for x in itertools.product(*(range(scm.cards[v]) for v in order)):
        w = 1.0
        for i, v in enumerate(order):
            pa = tuple(x[order.index(u)] for u in scm.parents[v])
            w *= scm.cpts[v][pa][x[i]]
        y = x[order.index("Y")]
        p[y] = p.get(y, 0.0) + w
    return np.array([p[0], p[1]])


def test_bilinear_analytic_values():
    ref = bilinear_worst_case()
    assert ref["whole"] == pytest.approx(1.0786, abs=5e-5)
    # cross-check by a grid maximisation of R(y, m) over m^2 in [0, 50]
    y = np.linspace(-8, 8, 4001)
    m2 = np.linspace(0, 50, 5001)[:, None]
    r = ((y**2 + m2) / (m2 + 1) ** 2).max(0)
    grid = float(np.sum(r * np.exp(-(y**2) / 2) / math.sqrt(2 * math.pi)) * (y[1] - y[0]))
    assert grid == pytest.approx(ref["whole"], abs=1e-3)


def test_neural_adversary_reaches_the_bilinear_worst_case_with_the_exact_predictor():
    scm = bilinear_scm()

    def f(v):
        return v["M"] * v["X1"] / (v["M"] ** 2 + 1)

    cfg = NeuralConfig(n_samples=4000, adversary_steps=200)
    r = worst_case_risk(scm, {"X1"}, config=cfg, predictor=f, seed=0)
    ref = bilinear_worst_case()["whole"]
    assert r.success and r.method == "neural"
    assert 0.97 * ref <= r.value <= ref + 4 * r.stderr


def test_neural_estimator_on_the_bilinear_example():
    scm = bilinear_scm()
    ref = bilinear_worst_case()
    whole = worst_case_risk(scm, {"X1"}, seed=0)
    empty = worst_case_risk(scm, set(), seed=0)
    assert 0.95 * ref["whole"] <= whole.value <= ref["whole"] + 4 * whole.stderr
    assert abs(empty.value - 1.0) <= 4 * empty.stderr + 0.02
    assert empty.value < whole.value


def test_bad_subset_raises():
    with pytest.raises(ValueError, match="not stable nodes"):
        worst_case_risk(bilinear_scm(), {"M"})


def test_bad_scm_raises():
    with pytest.raises(ValueError, match="DiscreteSCM or ContinuousSCM"):
        worst_case_risk(nx.DiGraph(), set())


def test_max_maps_too_small_raises():
    scm = random_binary_scm(np.random.default_rng(1), n_mutable=(2, 2))
    if len(scm.mutable) < 2:
        pytest.skip("instance has one mutable node")
    with pytest.raises(ValueError, match="max_maps"):
        worst_case_risk(scm, set(), max_maps=1)


def test_config_ignored_for_discrete_warns():
    scm = random_binary_scm(np.random.default_rng(1))
    with pytest.warns(RuntimeWarning, match="ignored"):
        worst_case_risk(scm, set(), config=NeuralConfig())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        worst_case_risk(scm, set())


def test_bad_config_raises():
    with pytest.raises(ValueError, match="n_samples"):
        NeuralConfig(n_samples=0)
    with pytest.raises(ValueError, match="output_bound"):
        NeuralConfig(output_bound=-1.0)


def _bilinear_cfg():
    return NeuralConfig(n_samples=600, n_eval=600, predictor_steps=60, adversary_steps=10)


def test_mutable_values_set_the_do_law_and_adversary_scale():
    # M drawn from a wide law: the adversary's class c ± B s is centred and scaled on it
    from causal import fit_stable_predictor
    from causal.generators import bilinear_scm

    scm = bilinear_scm()
    wide = {"M": np.linspace(-6.0, 6.0, 200)}
    f = fit_stable_predictor(scm, {"X1"}, config=_bilinear_cfg(), mutable_values=wide)
    assert np.isfinite(f.train_mse)
    r = worst_case_risk(scm, {"X1"}, config=_bilinear_cfg(), mutable_values=wide, predictor=f)
    assert r.success and r.value > 0


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([1.0, 2.0], "mapping"),
        ({"X1": [1.0, 2.0]}, "exactly the mutable"),
        ({"M": [1.0]}, "1-D array"),
        ({"M": [1.0, np.nan]}, "1-D array"),
    ],
)
def test_bad_mutable_values_raise(values, match):
    from causal.generators import bilinear_scm

    with pytest.raises(ValueError, match=match):
        worst_case_risk(bilinear_scm(), {"X1"}, config=_bilinear_cfg(), mutable_values=values)


def test_unequal_mutable_values_raise():
    import networkx as nx

    from causal import ContinuousSCM, Mechanism

    g = nx.DiGraph([("Y", "A"), ("Y", "B"), ("A", "X1")])
    zero = Mechanism((), lambda pa: torch.zeros(pa.shape[0], dtype=torch.float64), 1.0)
    mech = {
        "Y": zero,
        "A": Mechanism(("Y",), lambda pa: pa[:, 0], 1.0),
        "B": Mechanism(("Y",), lambda pa: pa[:, 0], 1.0),
        "X1": Mechanism(("A",), lambda pa: pa[:, 0], 1.0),
    }
    scm = ContinuousSCM(g, "Y", {"A", "B"}, mech)
    with pytest.raises(ValueError, match="equal lengths"):
        worst_case_risk(scm, {"X1"}, mutable_values={"A": [1.0, 2.0], "B": [1.0, 2.0, 3.0]})


def test_neural_fits_leave_torch_global_generator_alone_and_are_reproducible():
    from causal import fit_stable_predictor

    scm = bilinear_scm()
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    f1 = fit_stable_predictor(scm, {"X1"}, config=_bilinear_cfg(), seed=3)
    r1 = worst_case_risk(scm, {"X1"}, config=_bilinear_cfg(), seed=3, predictor=f1)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(999)  # another global state: same seeded answers
    f2 = fit_stable_predictor(scm, {"X1"}, config=_bilinear_cfg(), seed=3)
    r2 = worst_case_risk(scm, {"X1"}, config=_bilinear_cfg(), seed=3, predictor=f2)
    assert f1.train_mse == f2.train_mse and r1.value == r2.value


def test_non_finite_neural_estimate_is_reported_and_warned():
    def nan_predictor(values):
        return values["M"] * math.nan  # depends on the adversary, NaN everywhere

    with pytest.warns(RuntimeWarning, match="not finite"):
        r = worst_case_risk(bilinear_scm(), {"X1"}, config=_bilinear_cfg(), predictor=nan_predictor)
    assert not r.success and r.status == 2 and "non-finite" in r.message
