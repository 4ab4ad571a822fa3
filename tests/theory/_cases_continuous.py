"""Bad-input cases of :mod:`theory.continuous` (LQ tasks, Gaussian distances)."""

from __future__ import annotations

import numpy as np

from tests._audit import Case, bad, bad_method
from theory.continuous import (
    Gaussian,
    GaussianPolicy,
    gaussian_kl,
    gaussian_tv_1d,
    gaussian_tv_bound,
    lq_task,
    lyapunov_sum,
    soft_lq_policy,
    soft_lq_shift,
    soft_lq_value,
)

NAN = float("nan")
_T = lq_task(1.0, 1.0, 1.0, 1.0, gamma=0.9)
_G = Gaussian([0.0], [[1.0]])
_G2 = Gaussian([0.0, 0.0], np.eye(2))
_PI = soft_lq_policy(_T, 0.5)

EXEMPT = {
    "continuous.LQTask": "dataclass built and validated by lq_task",
    "continuous.LQShift": "result dataclass returned by soft_lq_shift; takes no user input",
    "continuous.GaussianPolicy": "result dataclass returned by soft_lq_policy",
}

CASES: list[Case] = [
    bad(lq_task, "A", "nan", NAN, 1.0, 1.0, 1.0),
    bad(lq_task, "A", "shape", np.zeros((2, 3)), 1.0, 1.0, 1.0),
    bad(lq_task, "A", "value", [[2.0, 0.0], [0.0, 0.5]], [[0.0], [1.0]], np.eye(2), 1.0),
    bad(lq_task, "B", "shape", 1.0, np.ones((2, 1)), 1.0, 1.0),
    bad(lq_task, "Q", "range", 1.0, 1.0, -1.0, 1.0),
    bad(lq_task, "Q", "value", np.eye(2), np.eye(2), [[1.0, 1.0], [0.0, 1.0]], np.eye(2)),
    bad(lq_task, "R", "range", 1.0, 1.0, 1.0, 0.0),
    bad(lq_task, "R", "inf", 1.0, 1.0, 1.0, np.inf),
    bad(lq_task, "gamma", "range", 1.0, 1.0, 1.0, 1.0, gamma=1.0),
    bad(lq_task, "gamma", "nan", 1.0, 1.0, 1.0, 1.0, gamma=NAN),
    bad(lq_task, "noise", "range", 1.0, 1.0, 1.0, 1.0, noise=-1.0),
    bad(soft_lq_policy, "task", "type", "task", 1.0),
    bad(soft_lq_policy, "alpha", "range", _T, 0.0),
    bad(soft_lq_policy, "alpha", "range", _T, -1.0),
    bad(soft_lq_policy, "alpha", "nan", _T, NAN),
    bad(soft_lq_value, "alpha", "range", _T, 0.0),
    bad(soft_lq_value, "task", "type", None, 1.0),
    bad(Gaussian, "mean", "nan", [NAN], [[1.0]]),
    bad(Gaussian, "cov", "range", [0.0], [[0.0]]),
    bad(Gaussian, "cov", "shape", [0.0], np.eye(2)),
    bad_method(Gaussian, "log_prob", "u", "shape", (([0.0], [[1.0]]), {}), np.zeros((2, 2))),
    bad_method(GaussianPolicy, "at", "x", "shape", ((_PI.K, _PI.offset, _PI.cov), {}), [1.0, 2.0]),
    bad(gaussian_kl, "p", "type", "p", _G),
    bad(gaussian_kl, "q", "value", _G, _G2),
    bad(gaussian_tv_bound, "q", "type", _G, None),
    bad(gaussian_tv_bound, "q", "value", _G, _G2),
    bad(gaussian_tv_1d, "p", "value", _G2, _G2),
    bad(gaussian_tv_1d, "q", "type", _G, 3.0),
    bad(lyapunov_sum, "K", "value", _T, [[-1.0]], [[1.0]]),  # closed loop 2: unstable
    bad(lyapunov_sum, "K", "shape", _T, [[0.0, 1.0]], [[1.0]]),
    bad(lyapunov_sum, "X", "nan", _T, [[0.5]], [[NAN]]),
    bad(soft_lq_shift, "dQ", "value", _T, [[-2.0]], 1.0, [[1.0]]),
    bad(soft_lq_shift, "alpha", "range", _T, [[0.5]], 0.0, [[1.0]]),
    bad(soft_lq_shift, "states", "shape", _T, [[0.5]], 1.0, [1.0, 2.0]),
    bad(soft_lq_shift, "task", "type", 1.0, [[0.5]], 1.0, [[1.0]]),
]
