"""Bad-input audit of :mod:`stability.decision_boundary`: every public name refuses bad input by name.

Each case feeds one kind of bad input (NaN, inf, wrong shape, empty, out of range, wrong type,
bad seed, unknown option, bad value) and asserts a ValueError/TypeError whose message names the
parameter. The silent results this audit was written against are tested at the end: states
dropped by the saturation filter without a word (now a RuntimeWarning with the counts, and the
kept count in the result), :func:`flip_distance` searching one side of each direction only (now
both sides by default, the side reported per state), and an invalid gridworld action ending in
an IndexError (now an error naming ``action``, as gymnasium's ``Discrete`` space would).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from stability.decision_boundary import (
    FrequentDirections,
    apply_shift,
    bootstrap_interval,
    carlini_wagner_l2,
    correlation_quotient,
    deepfool,
    fgsm,
    flip_distance,
    fourier_spread,
    instability_directions,
    instability_loss,
    linear_direction,
    nesterov,
    oscillation,
    pgd,
    principal_direction,
    random_directions,
    top_overlap,
)
from stability.decision_boundary.gridworld import (
    PixelGridworld,
    gridworld_policy,
    rollout_states,
)
from stability.decision_boundary.models import GridCNN, LinearPolicy, fit_q_policy
from stability.decision_boundary.shifts import (
    affine_warp,
    brightness_contrast,
    dct_compression,
    gaussian_blur,
    rotation,
)
from stability.decision_boundary.strategies import direction_sets, linear_policies
from tests._audit import Case, audit_ids, bad, bad_method

EXEMPT = {
    "SHIFTS": "constant table name -> shift function (each function is audited)",
    "AttackResult": "result dataclass returned by the attacks; takes no user input",
    "CorrelationQuotient": "result dataclass returned by correlation_quotient",
    "FlipDistance": "result dataclass returned by flip_distance",
    "FourierSpread": "result dataclass returned by fourier_spread",
    "InstabilityDirections": "result dataclass returned by instability_directions",
    "Oscillation": "result dataclass returned by oscillation",
    "PrincipalDirection": "result dataclass returned by principal_direction",
    "models.FitReport": "result dataclass returned by fit_q_policy",
}

NAN, INF = float("nan"), float("inf")
RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 4))
B = RNG.standard_normal(3)
S = RNG.standard_normal((5, 4))
POL = LinearPolicy(W, B)
V = RNG.standard_normal((6, 4))
IMG = RNG.random((2, 6, 6))
Q = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]], dtype=torch.float64)
ONE_ACTION = torch.nn.Linear(4, 1).double()
NAN_POLICY = LinearPolicy(np.full((3, 4), 1e308), np.zeros(3))  # overflows to inf on S
FD = ((4,), {"ell": 2})


def _nan_at(shape: tuple[int, ...]) -> np.ndarray:
    x = np.ones(shape)
    x.flat[1] = NAN
    return x


CASES: list[Case] = [
    # instability_directions
    bad(instability_directions, "policy", "type", "policy", S),
    bad(instability_directions, "policy", "value", ONE_ACTION, S),
    bad(instability_directions, "policy", "nan", NAN_POLICY, S * 10),
    bad(instability_directions, "states", "nan", POL, _nan_at((5, 4))),
    bad(instability_directions, "states", "inf", POL, np.full((5, 4), INF)),
    bad(instability_directions, "states", "empty", POL, np.zeros((0, 4))),
    bad(instability_directions, "states", "shape", POL, np.zeros(4)),
    bad(instability_directions, "states", "shape", POL, np.zeros((5, 7))),
    bad(instability_directions, "states", "type", POL, "states"),
    bad(instability_directions, "normalize", "type", POL, S, "yes"),
    bad(instability_directions, "tol", "range", POL, S, tol=-1.0),
    bad(instability_directions, "tol", "nan", POL, S, tol=NAN),
    bad(instability_directions, "batch_size", "range", POL, S, batch_size=0),
    bad(instability_directions, "batch_size", "type", POL, S, batch_size=1.5),
    # instability_loss
    bad(instability_loss, "q", "type", Q.numpy()),
    bad(instability_loss, "q", "shape", Q[0]),
    bad(instability_loss, "q", "shape", Q[:, :1]),
    bad(instability_loss, "q", "nan", torch.tensor([[NAN, 0.0]])),
    bad(instability_loss, "actions", "range", Q, torch.tensor([0, 3])),
    bad(instability_loss, "actions", "range", Q, torch.tensor([-1, 0])),
    bad(instability_loss, "actions", "shape", Q, torch.tensor([0])),
    bad(instability_loss, "actions", "type", Q, torch.tensor([0.0, 1.0])),
    bad(instability_loss, "actions", "type", Q, [0, 1]),
    # linear_direction
    bad(linear_direction, "W", "nan", _nan_at((3, 4)), B, S),
    bad(linear_direction, "W", "shape", np.zeros(4), B, S),
    bad(linear_direction, "W", "type", "W", B, S),
    bad(linear_direction, "b", "shape", W, np.zeros(2), S),
    bad(linear_direction, "b", "inf", W, np.array([INF, 0.0, 0.0]), S),
    bad(linear_direction, "states", "shape", W, B, np.zeros((5, 3))),
    bad(linear_direction, "states", "empty", W, B, np.zeros((0, 4))),
    # principal_direction
    bad(principal_direction, "directions", "nan", _nan_at((6, 4))),
    bad(principal_direction, "directions", "empty", np.zeros((0, 4))),
    bad(principal_direction, "directions", "shape", np.ones(4)),
    bad(principal_direction, "directions", "value", np.zeros((3, 4))),
    bad(principal_direction, "directions", "empty", []),
    bad(principal_direction, "directions", "shape", [np.ones((2, 4)), np.ones((2, 3))]),
    bad(principal_direction, "k", "range", V, 0),
    bad(principal_direction, "k", "type", V, 1.5),
    bad(principal_direction, "method", "option", V, method="qr"),
    bad(principal_direction, "normalize", "type", V, normalize=None),
    bad(principal_direction, "tol", "range", V, tol=0.0),
    bad(principal_direction, "max_iter", "range", V, max_iter=0),
    bad(principal_direction, "seed", "seed", V, seed=-1),
    bad(principal_direction, "seed", "seed", V, seed=1.5),
    bad(principal_direction, "method", "value", np.ones((2, 5000)), method="eigh"),
    # FrequentDirections
    bad(FrequentDirections, "d", "range", 0),
    bad(FrequentDirections, "d", "type", 2.5),
    bad(FrequentDirections, "ell", "range", 4, 0),
    bad(FrequentDirections, "normalize", "type", 4, normalize="no"),
    bad_method(FrequentDirections, "update", "chunk", "nan", FD, _nan_at((2, 4))),
    bad_method(FrequentDirections, "update", "chunk", "shape", FD, np.ones((2, 3))),
    bad_method(FrequentDirections, "update", "chunk", "shape", FD, np.ones(4)),
    bad_method(FrequentDirections, "update", "chunk", "type", FD, "chunk"),
    bad_method(FrequentDirections, "result", "k", "range", FD, 0),
    bad_method(FrequentDirections, "result", "shape", "value", FD, 1, (3, 3)),
    bad_method(FrequentDirections, "result", "shape", "type", FD, 1, "22"),
    # correlation_quotient
    bad(correlation_quotient, "G_shifted", "nan", _nan_at((4,)), V),
    bad(correlation_quotient, "G_shifted", "shape", np.ones(3), V),
    bad(correlation_quotient, "G_shifted", "value", np.zeros(4), V),
    bad(correlation_quotient, "G_shifted", "type", "G", V),
    bad(correlation_quotient, "directions_baseline", "inf", np.ones(4), np.full((2, 4), INF)),
    bad(correlation_quotient, "directions_baseline", "empty", np.ones(4), np.zeros((0, 4))),
    bad(correlation_quotient, "directions_baseline", "value", np.ones(4), np.zeros((3, 4))),
    bad(correlation_quotient, "definition", "option", np.ones(4), V, definition="cos"),
    bad(correlation_quotient, "normalize", "type", np.ones(4), V, normalize=1),
    # fourier_spread
    bad(fourier_spread, "G", "nan", _nan_at((4, 4))),
    bad(fourier_spread, "G", "shape", np.ones(4)),
    bad(fourier_spread, "G", "shape", np.ones((1, 1, 4, 4))),
    bad(fourier_spread, "G", "value", np.zeros((4, 4))),
    bad(fourier_spread, "G", "empty", np.zeros((0, 4))),
    bad(fourier_spread, "low", "range", np.ones((4, 4)), 0.0),
    bad(fourier_spread, "low", "nan", np.ones((4, 4)), NAN),
    # top_overlap
    bad(top_overlap, "G1", "nan", _nan_at((4,)), np.ones(4)),
    bad(top_overlap, "G2", "empty", np.ones(4), []),
    bad(top_overlap, "G1", "shape", np.ones(4), np.ones(5)),
    bad(top_overlap, "q", "range", np.ones(4), np.ones(4), 0.0),
    bad(top_overlap, "q", "range", np.ones(4), np.ones(4), 1.5),
    bad(top_overlap, "q", "nan", np.ones(4), np.ones(4), NAN),
    # oscillation
    bad(oscillation, "norms", "nan", [1.0, NAN]),
    bad(oscillation, "norms", "value", [1.0, -1.0]),
    bad(oscillation, "norms", "shape", [1.0]),
    bad(oscillation, "norms", "empty", []),
    bad(oscillation, "norms", "value", [0.0, 0.0]),
    bad(oscillation, "norms", "type", "norms"),
    # bootstrap_interval
    bad(bootstrap_interval, "values", "nan", [1.0, NAN]),
    bad(bootstrap_interval, "values", "empty", []),
    bad(bootstrap_interval, "stat", "type", [1.0, 2.0], "mean"),
    bad(bootstrap_interval, "stat", "nan", [1.0, 2.0], lambda v: NAN),
    bad(bootstrap_interval, "stat", "shape", [1.0, 2.0], lambda v: v),
    bad(bootstrap_interval, "level", "range", [1.0, 2.0], level=1.5),
    bad(bootstrap_interval, "level", "type", [1.0, 2.0], level="0.9"),
    bad(bootstrap_interval, "n_boot", "range", [1.0, 2.0], n_boot=0),
    bad(bootstrap_interval, "seed", "seed", [1.0, 2.0], seed=-1),
    bad(bootstrap_interval, "seed", "seed", [1.0, 2.0], seed=1.5),
    # shifts
    bad(apply_shift, "name", "option", "jpeg", IMG, 0.1),
    bad(apply_shift, "name", "type", ["blur"], IMG, 0.1),
    bad(apply_shift, "states", "nan", "blur", _nan_at((2, 6, 6)), 0.1),
    bad(apply_shift, "states", "shape", "blur", np.ones((6, 6)), 0.1),
    bad(apply_shift, "states", "shape", "blur", np.ones((1, 1, 1, 6, 6)), 0.1),
    bad(apply_shift, "strength", "nan", "rotation", IMG, NAN),
    bad(apply_shift, "strength", "type", "rotation", IMG, "10"),
    bad(brightness_contrast, "strength", "range", IMG, -1.0),
    bad(brightness_contrast, "strength", "type", IMG, True),
    bad(gaussian_blur, "strength", "range", IMG, -0.5),
    bad(gaussian_blur, "strength", "inf", IMG, INF),
    bad(rotation, "strength", "inf", IMG, INF),
    bad(dct_compression, "strength", "range", IMG, -0.1),
    bad(affine_warp, "strength", "range", IMG, 0.5),
    bad(affine_warp, "states", "empty", np.zeros((0, 6, 6)), 0.1),
    # fgsm
    bad(fgsm, "policy", "type", None, S, 0.1),
    bad(fgsm, "states", "nan", POL, _nan_at((5, 4)), 0.1),
    bad(fgsm, "states", "shape", POL, np.ones((5, 3)), 0.1),
    bad(fgsm, "eps", "range", POL, S, 0.0),
    bad(fgsm, "eps", "inf", POL, S, INF),
    bad(fgsm, "eps", "type", POL, S, "0.1"),
    bad(fgsm, "norm", "option", POL, S, 0.1, norm="1"),
    bad(fgsm, "clip", "range", POL, S, 0.1, clip=(1.0, 0.0)),
    bad(fgsm, "clip", "nan", POL, S, 0.1, clip=(NAN, 1.0)),
    bad(fgsm, "clip", "type", POL, S, 0.1, clip=5.0),
    bad(fgsm, "clip", "shape", POL, S, 0.1, clip=(0.0, 1.0, 2.0)),
    # pgd
    bad(pgd, "eps", "nan", POL, S, NAN),
    bad(pgd, "steps", "range", POL, S, 0.1, steps=0),
    bad(pgd, "steps", "type", POL, S, 0.1, steps=True),
    bad(pgd, "alpha", "range", POL, S, 0.1, alpha=-1.0),
    bad(pgd, "random_start", "type", POL, S, 0.1, random_start="yes"),
    bad(pgd, "seed", "seed", POL, S, 0.1, seed=-1),
    bad(pgd, "seed", "seed", POL, S, 0.1, seed=1.5),
    bad(pgd, "clip", "type", POL, S, 0.1, clip="01"),
    bad(pgd, "states", "empty", POL, np.zeros((0, 4)), 0.1),
    # nesterov
    bad(nesterov, "eps", "range", POL, S, -0.1),
    bad(nesterov, "steps", "type", POL, S, 0.1, steps=2.5),
    bad(nesterov, "mu", "range", POL, S, 0.1, mu=-1.0),
    bad(nesterov, "mu", "nan", POL, S, 0.1, mu=NAN),
    bad(nesterov, "clip", "inf", POL, S, 0.1, clip=(0.0, INF)),
    # deepfool
    bad(deepfool, "policy", "value", ONE_ACTION, S),
    bad(deepfool, "states", "inf", POL, np.full((5, 4), INF)),
    bad(deepfool, "max_iter", "range", POL, S, max_iter=0),
    bad(deepfool, "overshoot", "range", POL, S, overshoot=-0.1),
    bad(deepfool, "overshoot", "inf", POL, S, overshoot=INF),
    # carlini_wagner_l2
    bad(carlini_wagner_l2, "c", "range", POL, S, c=0.0),
    bad(carlini_wagner_l2, "kappa", "range", POL, S, kappa=-1.0),
    bad(carlini_wagner_l2, "steps", "range", POL, S, steps=0),
    bad(carlini_wagner_l2, "lr", "nan", POL, S, lr=NAN),
    bad(carlini_wagner_l2, "clip", "range", POL, S, clip=(0.0, 0.0)),
    bad(carlini_wagner_l2, "states", "shape", POL, np.ones(4)),
    # random_directions
    bad(random_directions, "n", "range", 0, (3,)),
    bad(random_directions, "n", "type", 2.5, (3,)),
    bad(random_directions, "shape", "range", 2, (0,)),
    bad(random_directions, "shape", "range", 2, (3, -1)),
    bad(random_directions, "shape", "type", 2, "33"),
    bad(random_directions, "shape", "type", 2, (2.5,)),
    bad(random_directions, "shape", "empty", 2, ()),
    bad(random_directions, "seed", "seed", 2, (3,), -1),
    bad(random_directions, "seed", "seed", 2, (3,), 1.5),
    # flip_distance
    bad(flip_distance, "max_radius", "range", POL, S, S, max_radius=0.0),
    bad(flip_distance, "max_radius", "inf", POL, S, S, max_radius=INF),
    bad(flip_distance, "max_radius", "nan", POL, S, S, max_radius=NAN),
    bad(flip_distance, "sign", "option", POL, S, S, max_radius=1.0, sign="positive"),
    bad(flip_distance, "n_grid", "range", POL, S, S, max_radius=1.0, n_grid=1),
    bad(flip_distance, "n_grid", "type", POL, S, S, max_radius=1.0, n_grid=2.5),
    bad(flip_distance, "n_bisect", "range", POL, S, S, max_radius=1.0, n_bisect=-1),
    bad(flip_distance, "batch_size", "range", POL, S, S, max_radius=1.0, batch_size=0),
    bad(flip_distance, "directions", "shape", POL, S, np.ones((5, 2)), max_radius=1.0),
    bad(flip_distance, "directions", "shape", POL, S, np.ones((3, 4)), max_radius=1.0),
    bad(flip_distance, "directions", "value", POL, S, np.zeros(4), max_radius=1.0),
    bad(flip_distance, "directions", "nan", POL, S, _nan_at((5, 4)), max_radius=1.0),
    bad(flip_distance, "directions", "type", POL, S, "up", max_radius=1.0),
    bad(flip_distance, "states", "nan", POL, _nan_at((5, 4)), S, max_radius=1.0),
    # the gridworld and the policies of the experiments (not in __all__, audited all the same)
    bad(PixelGridworld, "size", "range", 2),
    bad(PixelGridworld, "size", "type", 6.0),
    bad(PixelGridworld, "wall_density", "nan", 6, NAN),
    bad(PixelGridworld, "wall_density", "range", 6, 0.7),
    bad(PixelGridworld, "seed", "seed", 6, seed=1.5),
    bad(PixelGridworld, "seed", "seed", 6, seed=-3),
    bad(PixelGridworld, "gamma", "range", 6, gamma=1.0),
    bad(PixelGridworld, "gamma", "nan", 6, gamma=NAN),
    bad(PixelGridworld, "max_steps", "range", 6, max_steps=0),
    bad(PixelGridworld, "render_mode", "option", 6, render_mode="human"),
    bad_method(PixelGridworld, "step", "action", "range", ((6,), {}), 9),
    bad_method(PixelGridworld, "step", "action", "range", ((6,), {}), -1),
    bad_method(PixelGridworld, "step", "action", "type", ((6,), {}), 1.5),
    bad_method(PixelGridworld, "step", "action", "type", ((6,), {}), True),
    bad_method(PixelGridworld, "step", "action", "type", ((6,), {}), "up"),
    bad_method(PixelGridworld, "move", "action", "range", ((6,), {}), (0, 0), 4),
    bad_method(PixelGridworld, "move", "cell", "value", ((6,), {}), (9, 9), 0),
    bad_method(PixelGridworld, "move", "cell", "type", ((6,), {}), None, 0),
    bad(rollout_states, "policy", "type", "policy", PixelGridworld(6), 1, 0),
    bad(rollout_states, "env", "type", POL, "env", 1, 0),
    bad(rollout_states, "n_episodes", "range", POL, PixelGridworld(6), 0, 0),
    bad(rollout_states, "seed", "seed", POL, PixelGridworld(6), 1, -1),
    bad(LinearPolicy, "W", "nan", _nan_at((3, 4)), B),
    bad(LinearPolicy, "b", "shape", W, np.zeros(4)),
    bad(fit_q_policy, "observations", "shape", np.zeros((4, 1, 6)), np.zeros((4, 4))),
    bad(fit_q_policy, "observations", "shape", np.zeros((4, 1, 7, 7)), np.zeros((4, 4))),
    bad(fit_q_policy, "q_star", "shape", np.zeros((4, 1, 6, 6)), np.zeros((3, 4))),
    bad(fit_q_policy, "q_star", "nan", np.zeros((4, 1, 6, 6)), _nan_at((4, 4))),
    bad(fit_q_policy, "lr", "inf", np.zeros((4, 1, 6, 6)), np.ones((4, 4)), lr=INF),
    bad(fit_q_policy, "steps", "type", np.zeros((4, 1, 6, 6)), np.ones((4, 4)), steps=True),
    bad(fit_q_policy, "seed", "seed", np.zeros((4, 1, 6, 6)), np.ones((4, 4)), seed=1.5),
    bad(fit_q_policy, "robust", "type", np.zeros((4, 1, 6, 6)), np.ones((4, 4)), robust="yes"),
    bad(fit_q_policy, "pgd_steps", "range", np.zeros((4, 1, 6, 6)), np.ones((4, 4)), pgd_steps=0),
    bad(GridCNN, "side", "range", 2),
    bad(GridCNN, "side", "value", 7),
    bad(GridCNN, "side", "type", 6.0),
    bad(GridCNN, "n_actions", "range", 6, 1),
    bad(GridCNN, "n_actions", "type", 6, None),
    bad(GridCNN, "channels", "range", 6, 4, 0),
    # gridworld_policy: checked before the (cached) fit
    bad(gridworld_policy, "size", "range", 2),
    bad(gridworld_policy, "size", "type", 6.5),
    bad(gridworld_policy, "seed", "seed", 6, -1),
    bad(gridworld_policy, "seed", "seed", 6, True),
    bad(gridworld_policy, "maze_seed", "seed", 6, 0, maze_seed=1.5),
    bad(gridworld_policy, "robust", "type", 6, 0, "yes"),
    bad(gridworld_policy, "robust", "type", 6, 0, 1),
    # hypothesis strategies: sizes checked when the strategy is built, before any draw
    bad(linear_policies, "min_d", "range", min_d=0),
    bad(linear_policies, "max_d", "range", min_d=4, max_d=3),
    bad(linear_policies, "min_actions", "range", min_actions=1),
    bad(linear_policies, "max_actions", "range", min_actions=3, max_actions=2),
    bad(linear_policies, "max_states", "type", max_states=2.5),
    bad(linear_policies, "scale", "range", scale=0.0),
    bad(linear_policies, "scale", "nan", scale=NAN),
    bad(direction_sets, "max_n", "range", max_n=0),
    bad(direction_sets, "max_d", "type", max_d="8"),
]


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        case.check()


# ---------------------------------------------------------------------------------------------
# The silent results of the audit, now loud or correct
# ---------------------------------------------------------------------------------------------


def test_saturated_states_are_reported_not_dropped_silently():
    """A float32 GELU network saturates on large states: the drop is warned with its counts."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(), torch.nn.Linear(32, 3))
    X = np.random.default_rng(0).standard_normal((400, 8)) * np.where(
        np.arange(400)[:, None] % 2 == 0, 1.0, 1e4
    )
    with pytest.warns(RuntimeWarning, match=r"\d+ of 400 states dropped") as rec:
        r = instability_directions(net, X, normalize=True)
    assert 0 < r.n_dropped < 400 and r.n_kept == int(r.kept.sum())
    assert f"{r.n_dropped} of 400 states dropped" in str(rec[0].message)
    assert f"{r.n_kept} kept" in str(rec[0].message)
    assert f"{r.n_kept} kept" in r.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        instability_directions(net, X[:1] * 0 + 0.1)  # nothing dropped: no warning


def test_flip_distance_finds_a_boundary_behind_the_state():
    """+u never flips these states, -u flips all: both sides are searched by default."""
    pol = LinearPolicy(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.zeros(2))
    X = np.column_stack([np.linspace(0.1, 1.0, 10), np.zeros(10)])
    r = flip_distance(pol, X, np.array([1.0, 0.0]), max_radius=5.0)
    np.testing.assert_allclose(r.distance, X[:, 0], rtol=1e-8)
    assert (r.side == -1).all() and r.sign == "both" and r.max_radius == 5.0
    plus = flip_distance(pol, X, np.array([1.0, 0.0]), max_radius=5.0, sign="+")
    assert plus.flip_rate == 0.0 and (plus.side == 0).all()


def test_gridworld_invalid_action_names_action():
    env = PixelGridworld(6, seed=1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(9)
    with pytest.raises(TypeError, match="action"):
        env.step(True)
    obs, *_ = env.step(np.int64(1))  # numpy integers are valid actions
    assert obs.shape == (1, 18, 18)
