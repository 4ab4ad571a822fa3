"""Attacks: claims decision-boundary/deepfool-linear, gradient-vs-random and fgsm-vs-noise, and
attack postconditions (budgets respected, flips reported truthfully)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stability import instability_directions
from stability.decision_boundary import (
    carlini_wagner_l2,
    deepfool,
    fgsm,
    flip_distance,
    nesterov,
    pgd,
    random_directions,
)
from stability.decision_boundary.models import LinearPolicy
from stability.decision_boundary.strategies import linear_policies


def _min_distance(W, b, S):
    q = S @ W.T + b
    a = q.argmax(1)
    dist = np.full(len(S), np.inf)
    for k in range(W.shape[0]):
        w = np.linalg.norm(W[a] - W[k], axis=1)
        dk = np.where(a == k, np.inf, (q[np.arange(len(S)), a] - q[:, k]) / np.where(w > 0, w, 1))
        dist = np.minimum(dist, dk)
    return dist


@settings(max_examples=30, deadline=None)
@given(linear_policies(max_states=20))
def test_deepfool_exact_in_one_step_on_linear(inst):  # decision-boundary/deepfool-linear
    W, b, S = inst
    r = deepfool(LinearPolicy(W, b), S, max_iter=1, overshoot=0.02)
    assert r.flipped.all()
    np.testing.assert_allclose(r.l2, 1.02 * _min_distance(W, b, S), rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(linear_policies(max_states=20))
def test_deepfool_reaches_the_overshot_exact_distance_on_linear(inst):
    """Without a box every row flips in one step at (1 + overshoot) x the exact distance,
    whatever the overshoot and the step budget (the loop stops at the first flip)."""
    W, b, S = inst
    for overshoot in (0.02, 0.1):
        r = deepfool(LinearPolicy(W, b), S, overshoot=overshoot)
        assert r.flipped.all() and r.nit == 1 and r.success
        np.testing.assert_allclose(r.l2, (1 + overshoot) * _min_distance(W, b, S), rtol=1e-8)
        assert np.all(r.margin < 0)


def test_deepfool_with_a_box_crosses_where_per_step_overshoot_stalls():
    """Q_a - Q_o = 1.5 - x_1 - x_2 from (1, 0) in [0, 1]^2: x_1 sits on the face, so each
    step closes half the gap, x_2 = (1 - 2^-i) / 2 after i steps. Overshooting each step
    (x_2 <- x_2 + 1.02 r) closes 51% per step and never crosses (only float rounding could);
    the overshoot of the total, 1.02 x_2, crosses once 2^-i < 1 - 1/1.02, at i = 6."""
    pol = LinearPolicy(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([1.5, 0.0]))
    for dtype in (torch.float64, torch.float32):
        r = deepfool(pol.to(dtype), np.array([[1.0, 0.0]]), clip=(0.0, 1.0))
        assert r.flipped.all() and r.nit == 6
        np.testing.assert_allclose(r.l2, 1.02 * (1 - 2.0**-6) / 2, rtol=1e-6)
        np.testing.assert_allclose(r.margin, 0.5 - 1.02 * (1 - 2.0**-6) / 2, atol=1e-6)


def _box_best_gap(W: np.ndarray, b: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Binary linear policy on [0, 1]^d: the largest ``Q_other - Q_a*`` over the box."""
    a = (S @ W.T + b).argmax(1)
    dw, db = W[1 - a] - W[a], b[1 - a] - b[a]
    return np.clip(dw, 0, None).sum(1) + db


@settings(max_examples=30, deadline=None)
@given(linear_policies(min_actions=2, max_actions=2, max_states=20), st.integers(0, 2**31))
def test_deepfool_with_a_box_reports_flips_and_gaps_truthfully(inst, seed):
    """Clipped to [0, 1] with coordinates on the faces: results stay in the box, a row whose
    boundary misses the box never flips and reports a gap at least the box's best, and the
    flags agree with the margins and with the policy's actions."""
    W, b, _ = inst
    rng = np.random.default_rng(seed)
    S = rng.uniform(0, 1, (20, W.shape[1]))
    S = np.where(rng.random(S.shape) < 0.3, rng.integers(0, 2, S.shape), S)
    best = _box_best_gap(W, b, S)
    r = deepfool(LinearPolicy(W, b), S, clip=(0.0, 1.0))
    assert float(r.adversarial.min()) >= 0 and float(r.adversarial.max()) <= 1
    assert not r.flipped[best < 0].any()
    assert np.all(r.margin[best < 0] >= -best[best < 0] - 1e-12)
    assert np.all(r.margin[~r.flipped] >= 0) and np.all(r.margin[r.flipped] <= 0)
    with torch.no_grad():
        actions = LinearPolicy(W, b)(r.adversarial).argmax(1).numpy()
    np.testing.assert_array_equal(actions != r.clean_actions, r.flipped)


def test_deepfool_reports_the_gap_left_where_the_boundary_is_outside_the_box():
    """Q0 = x_0, Q1 = 5: in [0, 1]^2 action 1 always wins; DeepFool pushes x_0 to the face
    x_0 = 1 and reports the logit gap 5 - 1 = 4. Without the box it flips."""
    pol = LinearPolicy(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([0.0, 5.0]))
    S = np.array([[0.2, 0.5], [0.9, 0.0], [0.0, 1.0]])
    r = deepfool(pol, S, clip=(0.0, 1.0), max_iter=7)
    assert not r.flipped.any() and r.nit == 7 and not r.success and r.status == 1
    np.testing.assert_allclose(r.margin, 4.0, atol=1e-12)
    np.testing.assert_allclose(r.adversarial[:, 0].numpy(), 1.0)
    assert "logit gap left 4" in r.summary()
    free = deepfool(pol, S)
    assert free.flipped.all()
    np.testing.assert_allclose(free.l2, 1.02 * (5 - S[:, 0]), rtol=1e-12)


@settings(max_examples=20, deadline=None)
@given(linear_policies(min_actions=2, max_actions=2, max_states=10))
def test_gradient_direction_is_minimal_for_binary_linear(inst):  # gradient-vs-random, A = 2
    W, b, S = inst
    pol = LinearPolicy(W, b)
    D = instability_directions(pol, S, normalize=True, tol=0.0)
    ok = D.kept
    t = flip_distance(pol, S[ok], D.directions[ok], max_radius=1e3, n_bisect=50)
    np.testing.assert_allclose(t.distance, _min_distance(W, b, S)[ok], rtol=1e-7, atol=1e-9)
    assert (t.side == 1).all()  # ascent of J: the boundary lies along +v, never behind
    plus = flip_distance(pol, S[ok], D.directions[ok], max_radius=1e3, n_bisect=50, sign="+")
    np.testing.assert_array_equal(plus.distance, t.distance)
    minus = flip_distance(pol, S[ok], D.directions[ok], max_radius=1e3, sign="-")
    assert not minus.flipped.any()  # a linear binary policy never flips along -v


def test_flip_distance_searches_both_sides():
    """A boundary behind the state (along -u) is found by default and reported as side -1."""
    pol = LinearPolicy(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.zeros(2))  # boundary x0 = 0
    S = np.array([[0.5, 0.0], [2.0, 1.0], [-1.0, 0.0]])
    u = np.array([1.0, 0.0])
    r = flip_distance(pol, S, u, max_radius=10.0)
    np.testing.assert_allclose(r.distance, [0.5, 2.0, 1.0], rtol=1e-8)
    assert r.side.tolist() == [-1, -1, 1] and r.sign == "both"
    one = flip_distance(pol, S, u, max_radius=10.0, sign="+")
    assert np.isinf(one.distance[:2]).all() and one.flip_rate == pytest.approx(1 / 3)
    assert "1/3 states flipped" in one.summary()
    np.testing.assert_array_equal(np.asarray(r), r.distance)


def test_random_directions_need_much_larger_norms_at_d_100():  # gradient-vs-random, d >= 100
    rng = np.random.default_rng(0)
    d, A, N = 100, 4, 60
    W, b, S = rng.standard_normal((A, d)), rng.standard_normal(A), rng.standard_normal((N, d))
    pol = LinearPolicy(W, b)
    D = instability_directions(pol, S, normalize=True)
    adv = flip_distance(pol, S, D.directions, max_radius=1e3).distance
    rnd = np.concatenate(
        [
            flip_distance(pol, S, random_directions(N, (d,), seed=i), max_radius=1e3).distance
            for i in range(10)
        ]
    )
    assert np.median(rnd) / np.median(adv) >= 5


def test_fgsm_beats_sign_noise():  # decision-boundary/fgsm-vs-noise
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)
    ).double()
    S = torch.randn(300, 20, dtype=torch.float64)
    eps = 0.1
    r = fgsm(mlp, S, eps)
    noise = eps * torch.sign(torch.rand(S.shape, generator=torch.Generator().manual_seed(1)) - 0.5)
    with torch.no_grad():
        flips_noise = int((mlp(S + noise.double()).argmax(1) != mlp(S).argmax(1)).sum())
    assert r.flipped.sum() > flips_noise
    assert np.all(r.linf <= eps * (1 + 1e-12))


@pytest.mark.parametrize("attack", [pgd, nesterov])
def test_linf_attacks_respect_budget_and_box(attack):
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)
    ).double()
    S = torch.rand(50, 8, dtype=torch.float64)
    r = attack(mlp, S, 0.05, clip=(0.0, 1.0))
    assert np.all(r.linf <= 0.05 + 1e-12)
    assert float(r.adversarial.min()) >= 0 and float(r.adversarial.max()) <= 1
    with torch.no_grad():
        assert (
            mlp(r.adversarial).argmax(1).numpy() != r.clean_actions
        ).tolist() == r.flipped.tolist()
    assert r.flip_rate >= fgsm(mlp, S, 0.05, clip=(0, 1)).flip_rate - 0.1
    assert "flipped" in r.summary()


def test_cw_finds_near_minimal_perturbations_on_linear():
    rng = np.random.default_rng(2)
    W, b, S = rng.standard_normal((3, 5)), rng.standard_normal(3), rng.standard_normal((20, 5))
    r = carlini_wagner_l2(LinearPolicy(W, b), S, c=50.0, steps=300, lr=0.05)
    assert r.flipped.all()
    dmin = _min_distance(W, b, S)
    assert np.all(r.l2 >= dmin * (1 - 1e-9))
    assert np.median(r.l2 / dmin) < 1.2


def test_bad_inputs():
    pol = LinearPolicy(np.eye(3), np.zeros(3))
    S = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(ValueError, match="eps"):
        fgsm(pol, S, 0.0)
    with pytest.raises(ValueError, match="norm"):
        fgsm(pol, S, 0.1, norm="1")
    with pytest.raises(ValueError, match="clip"):
        pgd(pol, S, 0.1, clip=(1.0, 0.0))
    with pytest.raises(ValueError, match="max_iter"):
        deepfool(pol, S, max_iter=0)
    with pytest.raises(ValueError, match="c "):
        carlini_wagner_l2(pol, S, c=-1.0)
    with pytest.raises(ValueError, match="max_radius"):
        flip_distance(pol, S, S, max_radius=0)
    with pytest.raises(ValueError, match="directions"):
        flip_distance(pol, S, np.ones((4, 2)), max_radius=1.0)
    with pytest.raises(ValueError, match="non-zero"):
        flip_distance(pol, S, np.zeros(3), max_radius=1.0)
    with pytest.raises(ValueError, match="n "):
        random_directions(0, (3,))
