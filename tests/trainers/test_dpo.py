"""DPO: its defaults converge to the empirical optimum, exact Bradley-Terry counts give the
closed form ``pi_ref exp(r/beta)/Z`` (Rafailov et al. 2023, §4), and the learning-rate schedules.

The convergence tolerance follows from the measured convergence of the defaults (full-batch
Adam, peak rate 0.2 decayed linearly to 0 over 500 steps): on random tabular tasks the max TV
to the empirical optimum was at most 1.1e-3 (the module docstring of :mod:`trainers.dpo`; on
the tasks below 1.4e-6 to 4.1e-6), so ``DPO_TOL = 5e-3`` leaves a factor 4 for other seeds,
while the former defaults (minibatches of 64 at a constant 0.05 for 300 steps) missed it by
0.01-0.35 (0.09 and 0.16 below).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from trainers.dpo import LR_SCHEDULES, DPOConfig, _lr_factor, preference_pairs, train_dpo
from trainers.tasks import ContextualBandit

#: Max TV to the optimum that the default DPOConfig must reach (measured: <= 1.1e-3).
DPO_TOL = 5e-3


def _tv(p: np.ndarray, q: np.ndarray) -> float:
    return float(0.5 * np.abs(p - q).sum(-1).max())


def _empirical_optimum(task: ContextualBandit, pairs, beta: float) -> np.ndarray:
    """Independent reference: the minimiser of the empirical DPO loss over a logit table by
    L-BFGS in float64 (the loss is convex in the table)."""
    c, w, lo = pairs
    C, A = task.rewards.shape
    lref = np.log(task.reference)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        th = theta.reshape(C, A)
        m = beta * ((th[c, w] - lref[c, w]) - (th[c, lo] - lref[c, lo]))
        s = -beta / (1.0 + np.exp(m)) / len(c)
        g = np.zeros((C, A))
        np.add.at(g, (c, w), s)
        np.add.at(g, (c, lo), -s)
        return float(np.logaddexp(0.0, -m).mean()), g.ravel()

    res = minimize(loss, np.zeros(C * A), jac=True, method="L-BFGS-B", options={"gtol": 1e-12})
    assert res.success, res.message
    th = res.x.reshape(C, A)
    p = np.exp(th - th.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def _exact_bradley_terry_pairs(weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs whose counts are exactly Bradley-Terry with rewards ``log w``: for each context
    and arms a < b, ``w_a`` pairs where a wins and ``w_b`` where b wins, since
    ``sigma(log w_a - log w_b) = w_a / (w_a + w_b)``. Their empirical optimum is the closed form."""
    rows = []
    C, A = weights.shape
    for c in range(C):
        for a in range(A):
            for b in range(a + 1, A):
                rows += [(c, a, b)] * int(weights[c, a]) + [(c, b, a)] * int(weights[c, b])
    return tuple(np.array(col) for col in zip(*rows, strict=True))


@pytest.fixture(scope="module")
def task() -> ContextualBandit:
    rng = np.random.default_rng(7)
    return ContextualBandit.tabular(rng.uniform(0, 2, (3, 4)), rng.dirichlet(np.ones(4), 3))


@pytest.mark.parametrize(("beta", "hidden"), [(0.1, 0), (1.0, 16)])
def test_defaults_converge_to_the_empirical_optimum(task, beta, hidden):
    pairs = preference_pairs(task, 3000, np.random.default_rng(1))
    res = train_dpo(task, pairs, DPOConfig(beta=beta, hidden=hidden), progress=False)
    assert _tv(res.policy, _empirical_optimum(task, pairs, beta)) < DPO_TOL
    # the reported distance is the distance to the closed form of the task's rewards
    assert res.tv_to_optimum == pytest.approx(_tv(res.policy, task.closed_form(beta)), abs=1e-12)


def test_former_defaults_did_not_converge(task):
    """The failure the defaults fix: sampled minibatches at a constant rate stall far away."""
    pairs = preference_pairs(task, 3000, np.random.default_rng(1))
    old = DPOConfig(beta=0.1, steps=300, lr=0.05, batch_size=64, lr_schedule="constant")
    res = train_dpo(task, pairs, old, progress=False)
    assert _tv(res.policy, _empirical_optimum(task, pairs, 0.1)) > 2 * DPO_TOL


@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_exact_bradley_terry_counts_reach_the_closed_form(beta):
    """Exact construction: rewards log w with integer w and pairs in exact BT proportions."""
    weights = np.array([[1, 2, 4], [3, 1, 1], [1, 5, 2]])
    task = ContextualBandit.tabular(np.log(weights), np.array([0.5, 0.3, 0.2]))
    res = train_dpo(task, _exact_bradley_terry_pairs(weights), DPOConfig(beta=beta))
    assert res.tv_to_optimum < DPO_TOL
    assert "max TV" in res.summary()


def test_label_smoothing_has_no_closed_form_distance(task):
    pairs = preference_pairs(task, 200, np.random.default_rng(0))
    res = train_dpo(task, pairs, DPOConfig(label_smoothing=0.1, steps=5), progress=False)
    assert res.tv_to_optimum is None
    assert "n/a" in res.summary()


def test_minibatches_are_seeded(task):
    pairs = preference_pairs(task, 500, np.random.default_rng(0))
    cfg = DPOConfig(batch_size=32, steps=20)
    a, b = (train_dpo(task, pairs, cfg, seed=3, progress=False) for _ in range(2))
    np.testing.assert_array_equal(a.policy, b.policy)
    c = train_dpo(task, pairs, cfg, seed=4, progress=False)
    assert np.abs(a.policy - c.policy).max() > 1e-6


def test_full_batch_equals_every_pair_listed_once(task):
    """Counting distinct triples is exact: the same pairs in another order give the same run,
    and duplicating every pair changes nothing (the loss is a mean)."""
    c, w, lo = preference_pairs(task, 400, np.random.default_rng(0))
    perm = np.random.default_rng(1).permutation(len(c))
    cfg = DPOConfig(steps=30)
    a = train_dpo(task, (c, w, lo), cfg, progress=False)
    b = train_dpo(task, (c[perm], w[perm], lo[perm]), cfg, progress=False)
    d = train_dpo(task, (np.tile(c, 2), np.tile(w, 2), np.tile(lo, 2)), cfg, progress=False)
    np.testing.assert_allclose(a.policy, b.policy, atol=1e-7)
    np.testing.assert_allclose(a.policy, d.policy, atol=1e-7)


@pytest.mark.parametrize("schedule", LR_SCHEDULES)
def test_lr_schedules(task, schedule):
    T = 8
    f = [_lr_factor(schedule, t, T) for t in range(T)]
    assert f[0] == 1.0 and all(0 < v <= 1 for v in f)
    expected = {
        "linear": [1 - t / T for t in range(T)],
        "cosine": [(1 + math.cos(math.pi * t / T)) / 2 for t in range(T)],
        "constant": [1.0] * T,
    }[schedule]
    np.testing.assert_allclose(f, expected, atol=1e-15)
    if schedule != "constant":
        assert np.all(np.diff(f) < 0)  # strictly decaying
    pairs = preference_pairs(task, 100, np.random.default_rng(0))
    res = train_dpo(task, pairs, DPOConfig(steps=100, lr_schedule=schedule), progress=False)
    logged = [row["charts/lr"] for row in res.metrics]
    assert logged[0] == pytest.approx(0.2 * _lr_factor(schedule, 49, 100))


def test_bad_schedule_is_refused():
    with pytest.raises(ValueError, match=r"DPOConfig\.lr_schedule"):
        DPOConfig(lr_schedule="step")
    with pytest.raises(ValueError, match=r"DPOConfig\.batch_size"):
        DPOConfig(batch_size=0)
