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
  program in :func:`roar_worst_logit_lp`; the outer problem is then convex and solved exactly
  (closed form for the L1 cost, a one-dimensional root for L2), with a certified gap.
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
from scipy.special import expit
from scipy.stats import norm as normal
from torch import nn

from stability.counterfactual._checks import as_queries, check_rng_seed
from stability.counterfactual.generators import (
    CounterfactualResult,
    _bounds,
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
    check_choice,
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


def _roar_s(w: np.ndarray, b: float, dm: float, y: np.ndarray) -> np.ndarray:
    """s(y) = -(worst-case logit) = -(w.y + b) + delta_max (||y||_1 + 1), per row of y."""
    return -(y @ w + b) + dm * (np.abs(y).sum(-1) + 1.0)


def _roar_objective(
    w: np.ndarray, b: float, dm: float, lam: float, norm: int, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """ROAR's outer objective softplus(s(y)) + lam ||y - x||_p (per row)."""
    d = y - x
    cost = np.abs(d).sum(-1) if norm == 1 else np.linalg.norm(d, axis=-1)
    return np.logaddexp(0.0, _roar_s(w, b, dm, y)) + lam * cost


def _roar_l1(
    w: np.ndarray, b: float, dm: float, lam: float, x: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, int]:
    """Exact minimiser of softplus(s(y)) + lam ||y - x||_1 over the box (s as in _roar_s).

    For y in the box, ||y - x||_1 = ||c - x||_1 + ||y - c||_1 with c = clip(x). The least
    s reachable within a budget r of ||y - c||_1, S(r), is a separable piecewise-linear
    knapsack: moving coordinate j by one unit in direction sg changes s at the rate
    -w_j sg - dm while y_j heads towards 0 and -w_j sg + dm after (or away from 0), so the
    segments of negative rate, taken in increasing order of rate, trace S exactly (rates
    of one coordinate increase, and a coordinate has negative rates in one direction at
    most). Then min F = min_r softplus(S(r)) + lam r, convex in r; on a segment of rate rho
    its derivative sigmoid(S) rho + lam vanishes at S* = logit(-lam / rho). Returns (y, the
    number of segments used).
    """
    c = np.clip(x, lo, hi)
    segs = []  # (rate, order, j, direction, length, end point)
    for j in range(len(c)):
        for sg in (1.0, -1.0):
            bound = hi[j] if sg > 0 else lo[j]
            room = (bound - c[j]) * sg
            if room <= 0:
                continue
            if c[j] * sg < 0:  # towards 0 first, then away from it
                first = min(-c[j] * sg, room)
                segs.append((-w[j] * sg - dm, 0, j, sg, first, 0.0 if first < room else bound))
                if room > first:
                    segs.append((-w[j] * sg + dm, 1, j, sg, room - first, bound))
            else:
                segs.append((-w[j] * sg + dm, 0, j, sg, room, bound))
    segs = sorted(seg for seg in segs if seg[0] < 0)
    y, S, used = c.copy(), float(_roar_s(w, b, dm, c)), 0
    for rate, _, j, sg, length, end in segs:
        if expit(S) * rate + lam >= 0:  # F stops decreasing before this segment
            break
        used += 1
        S_end = S + rate * length
        if expit(S_end) * rate + lam >= 0:  # the minimum is inside this segment
            S_star = float(np.log(lam) - np.log(-rate - lam))  # logit(-lam / rate)
            y[j] += sg * min(length, (S - S_star) / -rate)
            break
        y[j], S = end, S_end
    return y, used


def _roar_l2(
    w: np.ndarray, b: float, dm: float, lam: float, x: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, int]:
    """Minimiser of softplus(s(y)) + lam ||y - x||_2 over the box, by a root in one variable.

    For mu > 0 let y(mu) = argmin_box s(y) + mu ||y - x||^2 / 2: separable, so
    y(mu) = clip(soft(x + w / mu, dm / mu)) (soft-thresholding, then the box). A y != x is
    optimal iff 0 lies in theta ds(y) + lam (y - x) / ||y - x|| + N_box(y) with
    theta = sigmoid(s(y)), i.e. iff y = y(mu) with h(mu) = mu theta ||y(mu) - x|| - lam = 0
    (the KKT conditions of both problems coincide; F is convex, so any root gives the
    minimum). h -> -lam as mu -> 0; if h stays < 0 as mu grows, clip(x) is optimal. The root
    is bracketed in log mu and bisected to machine precision. Returns (y, bisection steps).
    """
    c = np.clip(x, lo, hi)

    def y_of(log_mu: float) -> np.ndarray:
        mu = np.exp(log_mu)
        v = x + w / mu
        return np.clip(np.sign(v) * np.maximum(np.abs(v) - dm / mu, 0.0), lo, hi)

    def h(log_mu: float) -> float:
        y = y_of(log_mu)
        th = float(expit(_roar_s(w, b, dm, y)))
        return float(np.exp(log_mu) * th * np.linalg.norm(y - x) - lam)

    t_lo, t_hi = 0.0, 0.0
    while h(t_lo) >= 0 and t_lo > -300.0:
        t_lo -= 8.0
    while h(t_hi) < 0:
        t_hi += 8.0
        if t_hi > 700.0:
            return c, 0
    it = 0
    while it < 200 and t_hi - t_lo > 4e-16 * max(1.0, abs(t_lo)):
        mid = 0.5 * (t_lo + t_hi)
        if h(mid) < 0:
            t_lo = mid
        else:
            t_hi = mid
        it += 1
    ends = np.stack([y_of(t_lo), y_of(t_hi)])
    f = _roar_objective(w, b, dm, lam, 2, x, ends)
    return ends[int(np.argmin(f))], it


def _snap(y: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """y with coordinates within 1e-12 (relative) of a kink of ROAR's objective (0, x_j, a
    box bound) moved onto it."""
    tol = 1e-12 * (1.0 + np.abs(x).max() + np.abs(y).max())
    out = y.copy()
    for kink in (np.zeros_like(y), x, lo, hi):
        near = np.abs(out - kink) <= tol
        out[near] = kink[near]
    return np.clip(out, lo, hi)


def _roar_certificate(
    w: np.ndarray,
    b: float,
    dm: float,
    lam: float,
    norm: int,
    x: np.ndarray,
    y: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> float:
    """A certified bound on F(y) - min F over the box (F the objective of _roar_objective).

    F is convex; for g in its subdifferential at y and n in the normal cone of the box,
    F(y*) >= F(y) + (g + n).(y* - y) >= F(y) - ||g + n||_dual ||y* - y||_p. The least
    ||g + n|| is found coordinate by coordinate (each subdifferential term is an interval:
    softplus'(s) (-w_j + dm d|y_j|) + lam d|y_j - x_j| plus the normal cone; for p = 2 at
    y = x the cost adds the ball of radius lam). ||y* - y||_p <= ||y - x||_p + F(c) / lam,
    since lam ||y* - x||_p <= F(y*) <= F(c) with c = clip(x) in the box.
    """
    th = float(expit(_roar_s(w, b, dm, y)))
    a = th * dm
    lo_g = -th * w + np.where(y > 0, a, -a)
    hi_g = -th * w + np.where(y < 0, -a, a)
    r = y - x
    nr = float(np.linalg.norm(r))
    if norm == 1:
        lo_g = lo_g + np.where(r == 0, -lam, lam * np.sign(r))
        hi_g = hi_g + np.where(r == 0, lam, lam * np.sign(r))
    elif nr > 0:
        lo_g, hi_g = lo_g + lam * r / nr, hi_g + lam * r / nr
    lo_g = np.where(y <= lo, -np.inf, lo_g)
    hi_g = np.where(y >= hi, np.inf, hi_g)
    g = np.where(lo_g > 0, lo_g, np.where(hi_g < 0, hi_g, 0.0))
    if norm == 1:
        size = float(np.abs(g).max(initial=0.0))
    else:
        size = float(np.linalg.norm(g)) - (lam if nr == 0 else 0.0)
    c = np.clip(x, lo, hi)
    reach = float(np.abs(r).sum() if norm == 1 else nr)
    reach += float(_roar_objective(w, b, dm, lam, norm, x, c)) / lam
    return max(size, 0.0) * reach


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
    solver: str = "exact",
) -> CounterfactualResult:
    """ROAR (Upadhyay et al., NeurIPS 2021, Eq. (4)-(6)) for a logistic model, solved exactly.

    min_x' max_{||(dw, db)||_inf <= delta_max} BCE(sigmoid((w + dw).x' + b + db), 1) +
    lam ||x' - x||_p over the box. The inner maximum is in closed form
    (:func:`roar_worst_logit`), which leaves the convex problem
    min_x' F(x') = softplus(-worst_logit(x')) + lam ||x' - x||_p.

    ``solver="exact"`` (default) solves it: for p = 1 in closed form (a knapsack over
    coordinate segments and a one-dimensional convex minimisation, see the Notes); for p = 2
    by bisection on the one multiplier of its KKT conditions (the minimiser of
    s(x') + mu ||x' - x||^2 / 2 is a soft-thresholding in closed form). ``solver="adam"`` runs ``steps`` Adam
    steps of size ``lr`` on F instead (the descent of the authors' implementation; it stops
    short of the optimum). Either way ``optimality_gap`` holds a certified upper bound on
    F(x') - min F.

    Parameters
    ----------
    model : nn.Sequential(Linear(d, 1), Sigmoid()) or a (w, b) pair.
    X : (n, d) queries.
    delta_max : bound on ||(dw, db)||_inf (CARLA's default is 0.001; ours 0.1 on [0,1] data).
    lam : cost weight.
    norm : 1 or 2, the cost.
    steps, lr : Adam's settings (``solver="adam"`` only).
    box : (lo, hi) or None; scalars or (d,) arrays.
    solver : "exact" or "adam".

    Returns
    -------
    CounterfactualResult
        ``status``: "robust" (worst-case logit >= 0, i.e. valid for every model in the
        delta_max box) or "valid, not robust"; ``stability`` holds the worst-case logit;
        ``optimality_gap``: the certified bound on F(x') - min F (absolute; about 1e-12 or
        less for ``solver="exact"``; for ``"adam"``, F(x') - F(exact) plus the exact
        solution's bound); ``steps``: segments used (p = 1), bisection steps (p = 2) or Adam
        steps.

    Notes
    -----
    The certificate: F is convex, so for a subgradient g at x' and a normal n of the box,
    F(x') - min F <= ||g + n||_dual (||x' - x||_p + F(clip(x)) / lam) (the optimum lies
    within F(clip(x)) / lam of x); the least ||g + n|| is found coordinate by coordinate.
    For p = 1 the exact solution follows the least reachable s(x') = -worst_logit(x') as a
    function of the budget r = ||x' - clip(x)||_1, piecewise linear with increasing slopes,
    and minimises softplus(S(r)) + lam r in closed form on the segment where its derivative
    changes sign.
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
    solver = check_choice("solver", solver, ("exact", "adam"))
    lo, hi = _bounds(box, d)
    pm = _ProbabilityModel(model if isinstance(model, nn.Module) else _as_logistic(w, b))
    exact, used = np.empty((n, d)), np.zeros(n, dtype=np.int64)
    for i, x in enumerate(X):
        y, used[i] = (_roar_l1 if norm == 1 else _roar_l2)(w, b, dm, lam, x, lo, hi)
        y_snap = _snap(y, x, lo, hi)
        f = _roar_objective(w, b, dm, lam, norm, x, np.stack([y, y_snap]))
        exact[i] = y_snap if f[1] <= f[0] else y
    gap = np.array(
        [
            _roar_certificate(w, b, dm, lam, norm, x, y, lo, hi)
            for x, y in zip(X, exact, strict=True)
        ]
    )
    if solver == "exact":
        cf = exact
    else:
        cf = _roar_adam(w, b, dm, lam, norm, X, _tbox(box, d), steps, lr)
        gap = gap + np.maximum(
            _roar_objective(w, b, dm, lam, norm, X, cf)
            - _roar_objective(w, b, dm, lam, norm, X, exact),
            0.0,
        )
        used[:] = steps
    wl = roar_worst_logit(w, b, cf, dm)
    status = ["robust" if v >= 0 else "valid, not robust" for v in wl]
    return _finish("roar", pm, cf, status, used, start, wl, gap)


def _roar_adam(
    w: np.ndarray,
    b: float,
    dm: float,
    lam: float,
    norm: int,
    X: np.ndarray,
    tb: tuple[torch.Tensor, torch.Tensor] | None,
    steps: int,
    lr: float,
) -> np.ndarray:
    """``steps`` Adam steps on ROAR's outer objective from clip(x), projected onto the box."""
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
    return x.detach().numpy().copy()


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
