"""Robust-recourse baselines: SNS, RobX, ROAR (linear models) and PROBE's invalidation rate.

- :func:`sns`: Stable Neighbor Search (Black, Wang & Fredrikson, ICLR 2022): from a base
  counterfactual x_c, ascend the path integral S(x') = (1/T) sum_{t=1..T} m((t/T) x') (zero
  baseline) by normalised steps inside the L2 ball of radius ``epsilon`` around x_c, keeping
  only valid iterates.
- :func:`robx_score` / :func:`robx`: RobX (Dutta et al., ICML 2022): counterfactual stability
  CS(x) = mean_i m(x_i) - std_i m(x_i), x_i ~ N(x, sigma^2 I) (sigma a standard deviation);
  keep the base if CS >= tau, else move along the segment to the nearest training point that
  passes, taking the first point on a grid of steps that passes.
- :func:`roar`: ROAR (Upadhyay, Joshi & Lakkaraju, NeurIPS 2021) for logistic models
  m(x) = sigmoid(w.x + b): min_x' max_{||(dw, db)||_inf <= delta_max} BCE(sigmoid((w+dw).x' +
  b + db), 1) + lam ||x' - x||_p. The inner maximum is in closed form,
  :func:`roar_worst_logit` = w.x' + b - delta_max (||x'||_1 + 1), checked against a linear
  program in :func:`roar_worst_logit_lp`; the outer problem is then convex (Adam).
- :func:`invalidation_rate` / :func:`invalidation_rate_mc`: PROBE (Pawelczyk et al., ICLR 2023):
  IR(x') = Pr_{eps ~ N(0, sigma^2 I)}(m(x' + eps) < 0.5) ~ 1 - Phi(logit m(x') /
  (sigma ||grad logit m(x')||)), exact for a linear logit.

References
----------
.. [1] E. Black, Z. Wang, M. Fredrikson, "Consistent Counterfactuals for Deep Models", ICLR 2022.
.. [2] S. Dutta et al., "Robust Counterfactual Explanations for Tree-Based Ensembles", ICML 2022.
.. [3] S. Upadhyay, S. Joshi, H. Lakkaraju, "Towards Robust and Reliable Algorithmic Recourse",
   NeurIPS 2021, Eq. (4)-(6).
.. [4] M. Pawelczyk et al., "Probabilistically Robust Recourse", ICLR 2023, Thm 2.
.. [5] Hamman et al., ICML 2023 (arXiv:2305.11997), Sec. 5 (the baselines compared with T-Rex).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from scipy.optimize import linprog
from scipy.stats import norm as normal
from torch import nn

from stability.counterfactual._checks import as_queries, check_rng_seed
from stability.counterfactual.generators import (
    CounterfactualResult,
    _clip,
    _finish,
    _logit,
    _tbox,
    check_norm,
    closest_counterfactual,
)
from stability.counterfactual.measure import _rng
from stability.counterfactual.models import _ProbabilityModel
from theory.checks import (
    ArgumentTypeError,
    ConvergenceError,
    as_float_array,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_probability,
    check_real,
)

__all__ = [
    "invalidation_rate",
    "invalidation_rate_mc",
    "roar",
    "roar_worst_logit",
    "roar_worst_logit_lp",
    "robx",
    "robx_score",
    "sns",
]


def _base(model: Any, X: np.ndarray, base: Any, norm: int, box: Any) -> np.ndarray:
    if base is None:
        return closest_counterfactual(model, X, norm=norm, box=box).counterfactuals
    base = as_queries("base", base, X.shape[1], allow_nan=True)
    if base.shape != X.shape:
        raise ValueError(f"base must have shape {X.shape}; got {base.shape}")
    return base


def sns(
    model: Any,
    X: np.ndarray,
    *,
    base: np.ndarray | None = None,
    epsilon: float = 0.2,
    steps: int = 100,
    step: float = 0.01,
    n_path: int = 20,
    box: tuple[Any, Any] | None = None,
    norm: int = 1,
) -> CounterfactualResult:
    """Stable Neighbor Search: raise the zero-baseline path integral of m near a base CF.

    Defaults follow the authors' SNS settings (epsilon 0.2, 100 iterations, step 0.01);
    ``n_path`` = T points on the path. Deterministic.
    """
    start = time.perf_counter()
    X = as_queries("X", X)
    n, d = X.shape
    epsilon, step = check_positive("epsilon", epsilon), check_positive("step", step)
    steps, n_path = check_positive_int("steps", steps), check_positive_int("n_path", n_path)
    norm = check_norm(norm)
    pm = _ProbabilityModel(model)
    pm.require_gradients("sns")
    pm.expect("X", d)
    tb = _tbox(box, d)
    b_np = _base(model, X, base, norm, box)
    out = np.full((n, d), np.nan)
    status = ["no base"] * n
    rows = np.flatnonzero(~np.isnan(b_np).any(axis=1))
    t_path = torch.arange(1, n_path + 1, dtype=torch.float64) / n_path
    if rows.size:
        b = torch.from_numpy(b_np[rows])
        x = b.clone()
        for _ in range(steps):
            xa = x.clone().requires_grad_(True)
            path = (t_path[None, :, None] * xa[:, None, :]).reshape(-1, d)
            s = pm(path).reshape(len(rows), n_path).mean(1)
            (g,) = torch.autograd.grad(s.sum(), xa)
            with torch.no_grad():
                gn = torch.linalg.vector_norm(g, dim=1, keepdim=True).clamp_min(1e-300)
                prop = x + step * g / gn
                off = prop - b
                on = torch.linalg.vector_norm(off, dim=1, keepdim=True).clamp_min(1e-300)
                prop = _clip(b + off * torch.clamp(epsilon / on, max=1.0), tb)
                acc = pm(prop) >= 0.5
                x[acc] = prop[acc]
        out[rows] = x.numpy()
        for i in rows:
            status[i] = "found"
    return _finish("sns", pm, out, status, np.full(n, steps), start)


def robx_score(
    model: Any, X: np.ndarray, *, k: int = 1000, sigma: float = 0.1, seed: Any = None
) -> np.ndarray:
    """RobX's counterfactual stability CS = mean_i m(x_i) - std_i m(x_i) (sigma: std of the noise).

    CS <= mean_i m(x_i), with equality iff all m(x_i) are equal; CS lies in [(1 - sqrt 2)/2, 1].
    """
    X = as_queries("X", X)
    k, sigma = check_positive_int("k", k), check_positive("sigma", sigma)
    pm = _ProbabilityModel(model)
    rng = _rng(seed)
    n, d = X.shape
    pm.expect("X", d)
    out = np.empty(n)
    rows = max(1, (1 << 18) // k)
    with torch.no_grad():
        for s in range(0, n, rows):
            xi = rng.standard_normal((min(rows, n - s), k, d))
            pts = torch.from_numpy((X[s : s + rows, None, :] + sigma * xi).reshape(-1, d))
            ms = pm(pts).numpy().reshape(-1, k)
            out[s : s + rows] = ms.mean(1) - ms.std(1)
    return out


def robx(
    model: Any,
    X: np.ndarray,
    X_train: np.ndarray,
    *,
    base: np.ndarray | None = None,
    k: int = 1000,
    sigma: float = 0.1,
    tau: float = 0.5,
    n_alpha: int = 20,
    box: tuple[Any, Any] | None = None,
    norm: int = 1,
    seed: int | None = None,
) -> CounterfactualResult:
    """RobX: accept the base CF if CS >= tau, else step toward the nearest passing training point.

    Steps alpha = 1/n_alpha, 2/n_alpha, ..., 1 along x_c + alpha (t - x_c), t the nearest training
    point (L2) with m(t) >= 0.5 and CS(t) >= tau; the first point with CS >= tau and m >= 0.5 is
    returned (status "moved"); "no candidate" if no training point passes. Each CS uses the
    same seeded samples, so the result is deterministic given ``seed``.
    """
    start = time.perf_counter()
    X = as_queries("X", X)
    n, d = X.shape
    X_train = as_queries("X_train", X_train, d)
    n_alpha = check_positive_int("n_alpha", n_alpha)
    tau = check_probability("tau", tau)
    k, sigma = check_positive_int("k", k), check_positive("sigma", sigma)
    seed = check_rng_seed(seed)
    pm = _ProbabilityModel(model)
    pm.expect("X", d)
    b_np = _base(model, X, base, check_norm(norm), box)
    seed = 0 if seed is None else seed

    def cs(P: np.ndarray) -> np.ndarray:
        return robx_score(model, P, k=k, sigma=sigma, seed=seed)

    out, stab = np.full((n, d), np.nan), np.full(n, np.nan)
    status = ["no base"] * n
    rows = np.flatnonzero(~np.isnan(b_np).any(axis=1))
    if rows.size == 0:
        return _finish("robx", pm, out, status, np.zeros(n, int), start)
    c_base = cs(b_np[rows])
    keep = c_base >= tau
    out[rows[keep]], stab[rows[keep]] = b_np[rows[keep]], c_base[keep]
    for i in rows[keep]:
        status[i] = "base passes"
    move = rows[~keep]
    with torch.no_grad():
        cand = X_train[pm(torch.from_numpy(X_train)).numpy() >= 0.5]
    if len(cand):
        cand = cand[cs(cand) >= tau]
    steps = np.zeros(n, dtype=np.int64)
    if move.size and len(cand) == 0:
        for i in move:
            status[i] = "no candidate"
    elif move.size:
        xc = b_np[move]
        t = cand[np.argmin(np.linalg.norm(xc[:, None] - cand[None], axis=2), axis=1)]
        pending = np.ones(move.size, dtype=bool)
        for a in np.arange(1, n_alpha + 1) / n_alpha:
            idx = np.flatnonzero(pending)
            if idx.size == 0:
                break
            p = xc[idx] + a * (t[idx] - xc[idx])
            c_p = cs(p)
            with torch.no_grad():
                ok = (pm(torch.from_numpy(p)).numpy() >= 0.5) & (c_p >= tau)
            out[move[idx[ok]]], stab[move[idx[ok]]] = p[ok], c_p[ok]
            for j in idx[ok]:
                status[move[j]] = "moved"
            steps[move[idx]] += 1
            pending[idx[ok]] = False
        for j in np.flatnonzero(pending):
            status[move[j]] = "not found"
    return _finish("robx", pm, out, status, steps, start, stab)


def _linear_parameters(model: Any) -> tuple[np.ndarray, float]:
    """(w, b) of a logistic model nn.Sequential(Linear(d, 1), Sigmoid()) or a (w, b) pair."""
    if isinstance(model, tuple) and len(model) == 2:
        w = as_float_array("model[0] (the weights w)", model[0], ndim=1)
        return w, check_real("model[1] (the bias b)", model[1])
    if (
        isinstance(model, nn.Sequential)
        and len(model) == 2
        and isinstance(model[0], nn.Linear)
        and model[0].out_features == 1
        and isinstance(model[1], nn.Sigmoid)
    ):
        lin = model[0]
        w = lin.weight.detach().to(torch.float64).numpy()[0].copy()
        b = 0.0 if lin.bias is None else float(lin.bias.detach()[0])
        return w, b
    raise ArgumentTypeError(
        "model: ROAR here needs a logistic model nn.Sequential(Linear(d, 1), Sigmoid()) or a (w, b) "
        f"pair; got {type(model).__name__}"
    )


def roar_worst_logit(w: np.ndarray, b: float, X: np.ndarray, delta_max: float) -> np.ndarray:
    """min over ||(dw, db)||_inf <= delta_max of (w + dw).x + b + db = w.x + b - delta_max(||x||_1 + 1).

    Derivation: the objective is linear in (dw, db), so the minimum over the l-inf box is at
    the vertex dw = -delta_max sign(x), db = -delta_max, which lowers the logit by
    delta_max (||x||_1 + 1) (the inner problem of ROAR, Upadhyay et al., NeurIPS 2021, used as
    a baseline by Hamman et al., ICML 2023, Sec. 5).
    """
    w = as_float_array("w", w, ndim=1)
    b = check_real("b", b)
    X = as_queries("X", X, len(w))
    dm = check_nonnegative("delta_max", delta_max)
    return X @ w + b - dm * (np.abs(X).sum(1) + 1.0)


def roar_worst_logit_lp(w: np.ndarray, b: float, x: np.ndarray, delta_max: float) -> float:
    """The same minimum by a linear program (scipy ``linprog``, HiGHS).

    Raises
    ------
    ConvergenceError
        If HiGHS does not report an optimal solution (:class:`theory.checks.ConvergenceError`,
        a ``RuntimeError``).
    """
    w = as_float_array("w", w, ndim=1)
    b = check_real("b", b)
    x = as_float_array("x", x, ndim=1)
    if x.shape != w.shape:
        raise ValueError(f"x must have shape {w.shape}; got {x.shape}")
    dm = check_nonnegative("delta_max", delta_max)
    c = np.append(x, 1.0)  # objective: dw . x + db
    res = linprog(c, bounds=[(-dm, dm)] * (len(w) + 1), method="highs")
    if res.status != 0:
        raise ConvergenceError(f"roar_worst_logit_lp: linprog failed: {res.message}")
    return float(w @ x + b + res.fun)


def roar(
    model: Any,
    X: np.ndarray,
    *,
    delta_max: float = 0.1,
    lam: float = 0.1,
    norm: int = 1,
    steps: int = 500,
    lr: float = 0.02,
    box: tuple[Any, Any] | None = None,
) -> CounterfactualResult:
    """ROAR for a logistic model: min softplus(-worst_logit(x')) + lam ||x' - x||_p (convex).

    Parameters
    ----------
    model : nn.Sequential(Linear(d, 1), Sigmoid()) or a (w, b) pair.
    delta_max : bound on ||(dw, db)||_inf (CARLA's default is 0.001; ours 0.1 on [0,1] data).
    lam : cost weight.

    Returns
    -------
    CounterfactualResult
        ``status``: "robust" (worst-case logit >= 0, i.e. valid for every model in the
        delta_max box) or "valid, not robust"; ``stability`` holds the worst-case logit.
    """
    start = time.perf_counter()
    X = as_queries("X", X)
    n, d = X.shape
    w, b = _linear_parameters(model)
    if w.shape != (d,):
        raise ValueError(f"X must have {w.shape[0]} columns (the model's inputs); got {d}")
    dm, lam = check_nonnegative("delta_max", delta_max), check_positive("lam", lam)
    norm = check_norm(norm)
    steps, lr = check_positive_int("steps", steps), check_positive("lr", lr)
    tb = _tbox(box, d)
    pm = _ProbabilityModel(model if isinstance(model, nn.Module) else _as_logistic(w, b))
    wt, x0 = torch.from_numpy(w), torch.from_numpy(X)
    x = _clip(x0, tb).clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        worst = x @ wt + b - dm * (x.abs().sum(1) + 1.0)
        cost = (
            (x - x0).abs().sum(1) if norm == 1 else torch.linalg.vector_norm(x - x0 + 1e-300, dim=1)
        )
        loss = (torch.nn.functional.softplus(-worst) + lam * cost).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if tb is not None:
            with torch.no_grad():
                x.copy_(_clip(x, tb))
    cf = x.detach().numpy().copy()
    wl = roar_worst_logit(w, b, cf, dm)
    status = ["robust" if v >= 0 else "valid, not robust" for v in wl]
    return _finish("roar", pm, cf, status, np.full(n, steps), start, wl)


def _as_logistic(w: np.ndarray, b: float) -> nn.Module:
    from stability.counterfactual.models import logistic_model

    return logistic_model(w, b)


def invalidation_rate(model: Any, X: np.ndarray, *, sigma: float) -> np.ndarray:
    """PROBE's closed-form invalidation rate 1 - Phi(logit m(x') / (sigma ||grad logit m(x')||)).

    Exact for a logistic model; a first-order approximation otherwise. ``sigma``: standard
    deviation of the implementation noise. A zero gradient gives 0 (valid) or 1 (invalid).
    """
    X = as_queries("X", X)
    sigma = check_positive("sigma", sigma)
    pm = _ProbabilityModel(model)
    pm.require_gradients("invalidation_rate")
    pm.expect("X", X.shape[1])
    xa = torch.from_numpy(X).clone().requires_grad_(True)
    lg = _logit(pm(xa))
    (g,) = torch.autograd.grad(lg.sum(), xa)
    gn = torch.linalg.vector_norm(g, dim=1).numpy()
    lg = lg.detach().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(gn > 0, lg / (sigma * gn), np.where(lg >= 0, np.inf, -np.inf))
    return 1.0 - normal.cdf(z)


def invalidation_rate_mc(
    model: Any, X: np.ndarray, *, sigma: float, n_samples: int = 10_000, seed: Any = None
) -> np.ndarray:
    """Monte Carlo estimate of Pr(m(x' + eps) < 0.5), eps ~ N(0, sigma^2 I) (sigma: std)."""
    X = as_queries("X", X)
    sigma, n_samples = check_positive("sigma", sigma), check_positive_int("n_samples", n_samples)
    pm = _ProbabilityModel(model)
    rng = _rng(seed)
    n, d = X.shape
    pm.expect("X", d)
    out = np.empty(n)
    with torch.no_grad():
        for i in range(n):
            pts = X[i] + sigma * rng.standard_normal((n_samples, d))
            out[i] = float((pm(torch.from_numpy(pts)) < 0.5).double().mean())
    return out
