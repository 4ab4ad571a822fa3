"""Tests of :mod:`theory.symbolic`: the bounds as sympy expressions, the softmax Jacobian.

Every expression of ``BOUNDS`` must agree with its numeric twin in :mod:`theory.bounds` at random
points, and the symbolic Jacobian must simplify to ``(diag p - p p^T) / alpha``.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from theory import bounds as nb
from theory import local_softmax_constant
from theory.symbolic import (
    BOUNDS,
    SYMBOLS,
    softmax_inf_to_one_norm,
    softmax_jacobian_symbolic,
    softmax_symbolic,
)

#: BOUNDS key -> (numeric function, the symbols passed to it in order).
NUMERIC = {
    "prop-2.4": (nb.q_lipschitz_bound, ("delta", "gamma")),
    "prop-4.7": (nb.soft_policy_tv_bound, ("delta", "alpha", "gamma")),
    "span-refinement": (nb.soft_policy_tv_span_bound, ("span", "alpha", "gamma")),
    "lemma-c.2": (nb.softmax_tv_bound, ("delta", "alpha")),
    "greedy-radius": (nb.greedy_stability_radius, ("g", "gamma")),
    "soft-hard-gap": (nb.soft_hard_value_gap_bound, ("alpha", "gamma", "n_actions")),
    "soft-regret": (nb.soft_policy_regret_bound, ("alpha", "gamma", "n_actions")),
    "prop-2.10": (nb.cliff_tv_jump, ("m",)),
    "prop-3.1": (nb.incomplete_reward_regret_lower_bound, ("advantage", "reach")),
}


def _random_point(rng: np.random.Generator) -> dict[str, float | int]:
    return {
        "delta": float(rng.uniform(0, 5)),
        "span": float(rng.uniform(0, 5)),
        "gamma": float(rng.uniform(0, 0.999)),
        "alpha": float(rng.uniform(1e-3, 5)),
        "g": float(rng.uniform(0, 5)),
        "m": int(rng.integers(2, 20)),
        "n_actions": int(rng.integers(1, 50)),
        "advantage": float(rng.uniform(0, 5)),
        "reach": float(rng.uniform(0, 1)),
    }


def test_every_symbolic_bound_has_a_numeric_twin():
    assert set(BOUNDS) == set(NUMERIC)
    for name, expr in BOUNDS.items():
        used = {s.name for s in expr.free_symbols}
        assert used <= set(NUMERIC[name][1]), name
        assert used <= set(SYMBOLS)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_symbolic_bound_agrees_with_numeric_at_random_points(name):
    func, args = NUMERIC[name]
    f = sp.lambdify([SYMBOLS[a] for a in args], BOUNDS[name], "math")
    rng = np.random.default_rng(sorted(BOUNDS).index(name))
    for _ in range(25):
        point = _random_point(rng)
        values = [point[a] for a in args]
        assert f(*values) == pytest.approx(func(*values), rel=1e-12, abs=1e-300)


def test_symbolic_prop_4_7_is_prop_2_4_over_two_alpha():
    s = SYMBOLS
    assert sp.simplify(BOUNDS["prop-4.7"] - BOUNDS["prop-2.4"] / (2 * s["alpha"])) == 0
    assert (
        sp.simplify(BOUNDS["span-refinement"].subs(s["span"], 2 * s["delta"]) - BOUNDS["prop-4.7"])
        == 0
    )
    assert sp.limit(BOUNDS["prop-2.10"], s["m"], sp.oo) == 1


@pytest.mark.parametrize("d", [2, 3])
def test_softmax_jacobian_symbolic_simplifies_to_diag_p_minus_ppT_over_alpha(d):
    _, p = softmax_symbolic(d)
    J = softmax_jacobian_symbolic(d)
    expected = (sp.diag(*p) - p * p.T) / SYMBOLS["alpha"]
    assert J.shape == (d, d)
    assert sp.simplify(J - expected) == sp.zeros(d, d)
    assert sp.simplify(sum(p) - 1) == 0


def test_softmax_symbolic_with_numeric_temperature():
    x, p = softmax_symbolic(2, tau=sp.Rational(1, 2))
    val = p.subs({x[0]: 0, x[1]: sp.log(3) / 2})
    assert sp.simplify(val - sp.Matrix([sp.Rational(1, 4), sp.Rational(3, 4)])) == sp.zeros(2, 1)


def test_softmax_inf_to_one_norm_two_actions_is_4_p0_p1_over_tau():
    q = sp.Symbol("q", positive=True)
    p = sp.Matrix([q, 1 - q])
    norm = softmax_inf_to_one_norm(p)
    for val in (sp.Rational(1, 2), sp.Rational(1, 5), sp.Rational(9, 10)):
        got = norm.subs({q: val, SYMBOLS["alpha"]: 2})
        assert sp.nsimplify(got) == 4 * val * (1 - val) / 2


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        ((sp.Rational(1, 6), sp.Rational(1, 3), sp.Rational(1, 2)), 1),  # subset {2} has 1/2
        ((sp.Rational(1, 10), sp.Rational(1, 5), sp.Rational(7, 10)), sp.Rational(21, 25)),
    ],
)
def test_softmax_inf_to_one_norm_exact_and_numeric_agree(p, expected):
    norm = softmax_inf_to_one_norm(sp.Matrix(p), tau=1)
    assert sp.simplify(norm - expected) == 0
    x = np.log(np.array([float(v) for v in p]))
    assert local_softmax_constant(x) == pytest.approx(float(expected), abs=1e-14)


@pytest.mark.parametrize("d", [0, -1, 2.0])
def test_softmax_symbolic_bad_size_raises(d):
    with pytest.raises(ValueError, match="d must be a positive integer"):
        softmax_symbolic(d)
