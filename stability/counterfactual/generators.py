"""Counterfactual generators: closest counterfactual, Wachter, T-Rex:I and T-Rex:NN.

Every generator takes a model ``m(x) = P(y=1|x)`` (a torch module; gradients are needed), the
rejected queries ``X`` (n, d), and returns a :class:`CounterfactualResult`: an (n, d) array with
a **NaN row for every failure** and a per-row ``status`` saying why, the validity under m, the
Stability R-hat of the output (sigma is a standard deviation), the number of steps, and the
wall time. Batched over queries: one forward/backward pass per step for all rows.

- :func:`closest_counterfactual`: min cost_p(x' - x) s.t. m(x') >= 0.5 in a box, by the
  elastic-net-attack scheme (hinge on the logit plus cost, Adam, binary search on the hinge
  weight per row), p in {1, 2}; the base counterfactual of T-Rex:I.
- :func:`wachter`: Wachter et al. (2017): lambda (m(x') - target)^2 + ||(x' - x)/scale||_1 with
  lambda raised until valid.
- :func:`trex`: T-Rex:I as in the authors' code (Algorithm 1 of [1]): from the base counterfactual,
  ascend R-hat by normalised gradient steps, project onto the L2 ball of ``radius`` around the
  base and onto the box, keep an iterate only while m(x') >= 0.5, stop when R-hat >= tau or
  after ``max_iter`` steps (the authors' ``--max_steps``).
- :func:`trex_nn`: T-Rex:NN: the nearest training point predicted 1 with R-hat > tau, else the
  nearest one predicted 1.

References
----------
.. [1] Hamman et al., ICML 2023 (arXiv:2305.11997), Algorithm 1 (T-Rex) [code: authors'
   ``consistency/attack_utils.py``, read for the algorithm only].
.. [2] S. Wachter, B. Mittelstadt, C. Russell, "Counterfactual explanations without opening
   the black box", Harvard J. Law & Tech. 2017.
.. [3] P.-Y. Chen et al., "EAD: Elastic-net attacks to deep neural networks", AAAI 2018.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stability.counterfactual._batched import (
    AffineSplit,
    chunk_rows,
    per_row_seeds,
    row_generators,
    value_and_grad,
)
from stability.counterfactual._checks import as_queries, box_arrays, check_norm, check_rng_seed
from stability.counterfactual.measure import counterfactual_stability
from stability.counterfactual.models import _ProbabilityModel
from theory.checks import (
    as_float_array,
    check_bool,
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_probability,
    check_real,
)

__all__ = ["CounterfactualResult", "closest_counterfactual", "trex", "trex_nn", "wachter"]

_EPS = 1e-15


@dataclass(frozen=True)
class CounterfactualResult:
    """Counterfactuals of n queries, with NaN rows for failures and a status per row.

    Attributes
    ----------
    method : str
    counterfactuals : (n, d) float64, NaN rows where no counterfactual was found.
    valid : (n,) bool, m(x') >= 0.5 (False for NaN rows).
    stability : (n,) float64, R-hat of the output (NaN where not computed or no output).
    steps : (n,) int, iterations the row used.
    status : tuple of n str, e.g. "tau reached", "max steps", "boundary", "not found".
    seconds : float, wall time of the whole call.

    Notes
    -----
    A batch result: ``status`` holds one outcome per row (the per-row strings above, not an
    integer code), and the rest of the result vocabulary of iterative work is there for the
    whole batch as properties: ``success`` (every row has a valid counterfactual),
    ``message`` (the count of each row status) and ``nit`` (the most iterations a row used).
    """

    method: str
    counterfactuals: np.ndarray
    valid: np.ndarray
    stability: np.ndarray
    steps: np.ndarray
    status: tuple[str, ...]
    seconds: float

    def __post_init__(self) -> None:
        cf = as_float_array(
            "counterfactuals", self.counterfactuals, ndim=2, allow_empty=True, finite=False
        )
        n = len(cf)
        for name, value in (
            ("valid", self.valid),
            ("stability", self.stability),
            ("steps", self.steps),
        ):
            arr = np.asarray(value)
            if arr.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},); got shape {arr.shape}")
        if not isinstance(self.status, tuple) or len(self.status) != n:
            raise ValueError(f"status must be a tuple of {n} strings; got {self.status!r}")
        check_nonnegative("seconds", self.seconds)

    @property
    def found(self) -> np.ndarray:
        """(n,) bool: rows with a counterfactual."""
        return ~np.isnan(self.counterfactuals).any(axis=1)

    @property
    def success(self) -> bool:
        """Every row has a valid counterfactual."""
        return bool(np.all(self.valid))

    @property
    def nit(self) -> int:
        """The most iterations a row used (0 for an empty batch)."""
        return int(np.max(self.steps, initial=0))

    @property
    def message(self) -> str:
        """The count of each row status, e.g. ``"3 tau reached, 1 boundary"``."""
        kinds = {s: self.status.count(s) for s in sorted(set(self.status))}
        return ", ".join(f"{c} {s}" for s, c in kinds.items()) or "no rows"

    def summary(self) -> str:
        n = len(self.status)
        kinds = {s: self.status.count(s) for s in sorted(set(self.status))}
        r = self.stability[self.found]
        rs = f", mean R-hat {np.nanmean(r):.3f}" if r.size and np.isfinite(r).any() else ""
        return (
            f"{self.method}: {int(self.found.sum())}/{n} found, {int(self.valid.sum())} valid{rs}, "
            f"{1e3 * self.seconds / max(n, 1):.2f} ms/query; status {kinds}"
        )


def _logit(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(_EPS, 1 - _EPS)
    return torch.log(p) - torch.log1p(-p)


def _clip(x: torch.Tensor, box: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
    return x if box is None else torch.maximum(torch.minimum(x, box[1]), box[0])


def _tbox(box: Any, d: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    b = box_arrays(box, d)
    return None if b is None else (torch.from_numpy(b[0]), torch.from_numpy(b[1]))


def _cost(delta: torch.Tensor, norm: int) -> torch.Tensor:
    return delta.abs().sum(1) if norm == 1 else torch.linalg.vector_norm(delta, dim=1)


def _finish(
    method: str,
    pm: _ProbabilityModel,
    cf: np.ndarray,
    status: list[str],
    steps: np.ndarray,
    start: float,
    stability: np.ndarray | None = None,
) -> CounterfactualResult:
    """Validity of the found rows; rows that are invalid under m become NaN with a reason."""
    cf = cf.copy()
    found = ~np.isnan(cf).any(axis=1)
    valid = np.zeros(len(cf), dtype=bool)
    if found.any():
        with torch.no_grad():
            valid[found] = pm(torch.from_numpy(cf[found])).numpy() >= 0.5
    for i in np.flatnonzero(found & ~valid):
        cf[i] = np.nan
        status[i] = "invalid under m"
    stab = np.full(len(cf), np.nan) if stability is None else np.where(valid, stability, np.nan)
    return CounterfactualResult(
        method, cf, valid, stab, steps, tuple(status), time.perf_counter() - start
    )


def closest_counterfactual(
    model: Any,
    X: np.ndarray,
    *,
    norm: int = 1,
    box: tuple[Any, Any] | None = None,
    confidence: float = 0.05,
    steps: int = 100,
    search_steps: int = 5,
    lr: float = 0.01,
    c0: float = 1.0,
) -> CounterfactualResult:
    """The closest counterfactual: min ||x' - x||_p s.t. m(x') >= 0.5, lo <= x' <= hi.

    Minimises ``c * max(0, confidence - logit m(x')) + cost`` (cost ||delta||_1 for p = 1,
    ||delta||_2^2 for p = 2) with Adam, projecting onto the box after each step, for
    ``search_steps`` rounds of a per-row binary search on c (x10 while no valid iterate was
    seen, bisection after); the valid iterate of least cost is returned. Deterministic.

    Parameters
    ----------
    model : torch.nn.Module returning P(y=1|x).
    X : (n, d) queries.
    norm : 1 or 2, the cost.
    box : (lo, hi) or None; scalars or (d,) arrays.
    confidence : logit margin of the hinge (the elastic-net attack's kappa), >= 0.
    steps, search_steps, lr, c0 : optimiser settings.

    Returns
    -------
    CounterfactualResult
        ``status``: "found", "already valid" (x itself when m(x) >= 0.5) or "not found".
    """
    start = time.perf_counter()
    X = as_queries("X", X)
    norm = check_norm(norm)
    confidence = check_nonnegative("confidence", confidence)
    steps, search_steps = (
        check_positive_int("steps", steps),
        check_positive_int("search_steps", search_steps),
    )
    lr, c0 = check_positive("lr", lr), check_positive("c0", c0)
    pm = _ProbabilityModel(model)
    pm.require_gradients("closest_counterfactual")
    n, d = X.shape
    pm.expect("X", d)
    tb = _tbox(box, d)
    x0 = torch.from_numpy(X)
    best = np.full((n, d), np.nan)
    best_cost = np.full(n, np.inf)
    with torch.no_grad():
        already = pm(x0).numpy() >= 0.5
    best[already], best_cost[already] = X[already], 0.0
    c = torch.full((n,), c0, dtype=torch.float64)
    lo = torch.zeros(n, dtype=torch.float64)
    hi = torch.full((n,), torch.inf, dtype=torch.float64)
    start_pt = _clip(x0, tb)

    def record(xc: torch.Tensor, p: torch.Tensor, seen: np.ndarray) -> None:
        cost = _cost(xc - x0, norm).detach().numpy()
        ok = (p.detach().numpy() >= 0.5) & (cost < best_cost) & ~already
        best[ok], best_cost[ok] = xc.detach().numpy()[ok], cost[ok]
        seen |= p.detach().numpy() >= 0.5

    for _ in range(search_steps):
        delta = (start_pt - x0).clone().requires_grad_(True)
        opt = torch.optim.Adam([delta], lr=lr)
        seen = np.zeros(n, dtype=bool)
        for _ in range(steps):
            xc = x0 + delta
            p = pm(xc)
            record(xc, p, seen)
            hinge = torch.relu(confidence - _logit(p))
            pen = delta.abs().sum(1) if norm == 1 else (delta**2).sum(1)
            loss = (c * hinge + pen).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if tb is not None:
                with torch.no_grad():
                    delta.copy_(_clip(x0 + delta, tb) - x0)
        with torch.no_grad():
            xc = x0 + delta
            record(xc, pm(xc), seen)
        s = torch.from_numpy(seen)
        hi = torch.where(s, torch.minimum(hi, c), hi)
        lo = torch.where(s, lo, torch.maximum(lo, c))
        c = torch.where(torch.isinf(hi), c * 10.0, (lo + hi) / 2.0)
    status = [
        "already valid" if already[i] else ("found" if np.isfinite(best_cost[i]) else "not found")
        for i in range(n)
    ]
    return _finish("closest", pm, best, status, np.full(n, steps * search_steps), start)


def wachter(
    model: Any,
    X: np.ndarray,
    *,
    target: float = 0.6,
    lam: float = 0.1,
    scale: np.ndarray | None = None,
    box: tuple[Any, Any] | None = None,
    steps: int = 100,
    rounds: int = 8,
    lr: float = 0.01,
) -> CounterfactualResult:
    """Wachter et al. (2017): min lambda (m(x') - target)^2 + ||(x' - x)/scale||_1.

    lambda starts at ``lam`` and is multiplied by 10 for the rows that have no valid iterate
    after each round of ``steps`` Adam steps (the paper's "maximise over lambda"); the valid
    iterate of least weighted-L1 cost is returned. ``scale`` is the per-feature scale (the
    paper's median absolute deviation; default 1).
    """
    start = time.perf_counter()
    X = as_queries("X", X)
    n, d = X.shape
    target = check_real("target", target, lo=0.5, hi=1.0, lo_open=True)
    lam = check_positive("lam", lam)
    steps, rounds, lr = (
        check_positive_int("steps", steps),
        check_positive_int("rounds", rounds),
        check_positive("lr", lr),
    )
    sc = np.ones(d) if scale is None else as_float_array("scale", scale, shape=(d,))
    if np.any(sc <= 0):
        raise ValueError(f"scale must be a positive ({d},) array; got {scale!r}")
    pm = _ProbabilityModel(model)
    pm.require_gradients("wachter")
    pm.expect("X", d)
    tb = _tbox(box, d)
    x0, sct = torch.from_numpy(X), torch.from_numpy(sc)
    best, best_cost = np.full((n, d), np.nan), np.full(n, np.inf)
    lam_t = torch.full((n,), lam, dtype=torch.float64)
    delta = (_clip(x0, tb) - x0).requires_grad_(True)
    opt = torch.optim.Adam([delta], lr=lr)
    for _ in range(rounds):
        seen = np.zeros(n, dtype=bool)
        for _ in range(steps + 1):
            xc = x0 + delta
            p = pm(xc)
            cost = (delta / sct).abs().sum(1)
            with torch.no_grad():
                ok = (p >= 0.5).numpy()
                better = ok & (cost.numpy() < best_cost)
                best[better], best_cost[better] = xc.numpy()[better], cost.numpy()[better]
                seen |= ok
            loss = (lam_t * (p - target) ** 2 + cost).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if tb is not None:
                with torch.no_grad():
                    delta.copy_(_clip(x0 + delta, tb) - x0)
        lam_t = torch.where(torch.from_numpy(seen), lam_t, lam_t * 10.0)
    status = ["found" if np.isfinite(c) else "not found" for c in best_cost]
    return _finish("wachter", pm, best, status, np.full(n, steps * rounds), start)


def trex(
    model: Any,
    X: np.ndarray,
    *,
    base: np.ndarray | None = None,
    k: int = 1000,
    sigma: float = 0.05,
    tau: float = 0.75,
    step: float = 0.01,
    max_iter: int = 20,
    radius: float = 1.0,
    box: tuple[Any, Any] | None = None,
    norm: int = 1,
    seed: int | np.random.Generator | Sequence[int] | None = None,
    common_noise: bool = False,
) -> CounterfactualResult:
    """T-Rex:I: raise the Stability of a counterfactual by projected ascent (Algorithm 1 of [1]).

    While R-hat(x') < tau and fewer than ``max_iter`` steps were taken:
    x' <- Proj_box(Proj_{B_2(base, radius)}(x' + step * grad R-hat / ||grad R-hat||_2)), accepted
    only if m(x') >= 0.5 (otherwise the row stops at its last valid iterate, status
    "boundary"). R-hat uses k fresh samples per step, sigma the **standard deviation**
    (defaults: the authors' ``--sig 0.05``, ``--tau 0.75``, ``--max_steps 20`` (here
    ``max_iter``, the toolkit's name for an iteration limit), step 0.01, radius 1, k 1000).

    Parameters
    ----------
    model : torch.nn.Module returning P(y=1|x).
    X : (n, d) queries (rejected points).
    base : (n, d) base counterfactuals, NaN rows allowed; default
        :func:`closest_counterfactual` with ``norm`` and ``box``.
    seed : int, Generator, None, or a sequence of n ints
        Seeds the samples; the result is deterministic given the seed. Row i draws its k
        samples per step from its own stream: child i of ``SeedSequence(seed)`` for a scalar
        seed (``Generator.spawn`` children for a Generator), ``default_rng(seed[i])`` for a
        list/tuple/1-d array of n seeds. So a row's result never depends on the other rows of
        the batch (which ones are still active, where it sits), and
        ``trex(model, X[i:i+1], base=base[i:i+1], seed=[s[i]])`` reproduces row i of
        ``trex(model, X, base=base, seed=s)`` for per-row seeds ``s``.
    common_noise : bool
        Common random numbers: at each step every active row uses the same k samples, drawn
        from child 0 of the scalar ``seed`` (so row i's result equals the one-row call with the
        same ``seed``). Each row's R-hat estimate keeps its distribution; rows become
        correlated. Faster: one draw per step instead of one per row, and for a float64
        ``nn.Sequential`` starting with ``nn.Linear`` the first layer is applied to the samples
        once per step. Needs a scalar ``seed``.

    Returns
    -------
    CounterfactualResult
        ``stability``: R-hat of the output on the samples of its last evaluation; ``status``:
        "tau reached", "max steps", "boundary", "zero gradient", or "no base" (NaN row).
    """
    start = time.perf_counter()
    X = as_queries("X", X)
    n, d = X.shape
    k, max_iter = check_positive_int("k", k), check_int("max_iter", max_iter, lo=0)
    sigma, step, radius = (
        check_positive("sigma", sigma),
        check_positive("step", step),
        check_positive("radius", radius),
    )
    tau = check_probability("tau", tau)
    norm = check_norm(norm)
    common_noise = check_bool("common_noise", common_noise)
    seed = check_rng_seed(seed, n)
    pm = _ProbabilityModel(model)
    pm.require_gradients("trex")
    pm.expect("X", d)
    tb = _tbox(box, d)
    if base is None:
        base = closest_counterfactual(model, X, norm=norm, box=box).counterfactuals
    base = as_queries("base", base, d, allow_nan=True)
    if base.shape != X.shape:
        raise ValueError(f"base must have shape {X.shape}; got {base.shape}")
    if common_noise:
        if per_row_seeds(seed, n) is not None:
            raise ValueError("common_noise=True needs a single seed, not one seed per row")
        shared = row_generators(seed, 1)[0]
    else:
        gens = row_generators(seed, n)
    status = ["no base"] * n
    steps_used = np.zeros(n, dtype=np.int64)
    out = np.full((n, d), np.nan)
    stab = np.full(n, np.nan)
    rows = np.flatnonzero(~np.isnan(base).any(axis=1))
    if rows.size:
        b = torch.from_numpy(base[rows])
        with torch.no_grad():
            okb = (pm(b) >= 0.5).numpy()
        for i in rows[~okb]:
            status[i] = "base invalid"
        rows, b = rows[okb], b[okb]
    if rows.size:
        split = AffineSplit.of(pm) if common_noise else None
        buf = None if common_noise else np.empty((min(len(rows), chunk_rows(k)), k, d))
        x = b.clone()
        active = np.ones(len(rows), dtype=bool)
        r_last = np.full(len(rows), np.nan)
        st = ["max steps"] * len(rows)
        for t in range(max_iter + 1):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            if common_noise:
                noise = torch.from_numpy(shared.standard_normal((k, d)))
            else:
                owners = rows[idx]

                def noise(s: int, e: int, owners: np.ndarray = owners) -> torch.Tensor:
                    for j in range(s, e):  # row i's samples come from its own stream
                        gens[owners[j]].standard_normal(out=buf[j - s])
                    return torch.from_numpy(buf[: e - s])

            r, g = value_and_grad(pm, x[idx], noise, sigma, k, relaxed=True, split=split)
            r_np = r.numpy()
            r_last[idx] = r_np
            stop = r_np >= tau
            for j in idx[stop]:
                st[j] = "tau reached"
            gn = torch.linalg.vector_norm(g, dim=1)
            zero = (gn.numpy() == 0) & ~stop
            for j in idx[zero]:
                st[j] = "zero gradient"
            if t == max_iter:
                break
            go = ~stop & ~zero
            if not go.any():
                active[idx] = False
                break
            with torch.no_grad():
                gi = idx[go]
                prop = x[gi] + step * g[go] / gn[go, None]
                off = prop - b[gi]
                on = torch.linalg.vector_norm(off, dim=1, keepdim=True)
                prop = b[gi] + off * torch.clamp(radius / on.clamp_min(1e-300), max=1.0)
                prop = _clip(prop, tb)
                acc = (pm(prop) >= 0.5).numpy()
            moved = gi[acc]
            x[moved] = prop[acc]
            steps_used[rows[moved]] += 1
            for j in gi[~acc]:
                st[j] = "boundary"
            active[idx[~go]] = False
            active[gi[~acc]] = False
        out[rows] = x.numpy()
        stab[rows] = r_last
        for j, i in enumerate(rows):
            status[i] = st[j]
    return _finish("trex", pm, out, status, steps_used, start, stab)


def trex_nn(
    model: Any,
    X: np.ndarray,
    X_train: np.ndarray,
    *,
    k: int = 1000,
    sigma: float = 0.05,
    tau: float = 0.75,
    norm: int = 2,
    seed: int | np.random.Generator | None = None,
) -> CounterfactualResult:
    """T-Rex:NN: the nearest training point with m >= 0.5 and R-hat > tau (authors' ``main.py``).

    Falls back to the nearest training point predicted 1 (status "fallback nearest") when none
    passes; NaN rows (status "no candidate") when no training point is predicted 1. R-hat of
    the candidates is computed once (k samples of standard deviation ``sigma`` each).
    """
    start = time.perf_counter()
    X = as_queries("X", X)
    n, d = X.shape
    X_train = as_queries("X_train", X_train, d)
    tau = check_probability("tau", tau)
    norm = check_norm(norm)
    k, sigma = check_positive_int("k", k), check_positive("sigma", sigma)
    seed = check_rng_seed(seed)
    pm = _ProbabilityModel(model)
    pm.expect("X", d)
    with torch.no_grad():
        cand = X_train[pm(torch.from_numpy(X_train)).numpy() >= 0.5]
    out, stab = np.full((n, d), np.nan), np.full(n, np.nan)
    if len(cand) == 0:
        return _finish("trex-nn", pm, out, ["no candidate"] * n, np.zeros(n, int), start)
    r = counterfactual_stability(model, cand, k=k, sigma=sigma, relaxed=True, seed=seed)
    dist = np.linalg.norm(X[:, None, :] - cand[None], ord=norm, axis=2)
    passing = r > tau
    status = []
    for i in range(n):
        if passing.any():
            j = np.flatnonzero(passing)[np.argmin(dist[i, passing])]
            status.append("found")
        else:
            j = int(np.argmin(dist[i]))
            status.append("fallback nearest")
        out[i], stab[i] = cand[j], r[j]
    return _finish("trex-nn", pm, out, status, np.zeros(n, dtype=np.int64), start, stab)
