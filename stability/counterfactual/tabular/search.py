"""Several diverse, robust counterfactuals per row of a DataFrame (:func:`tabular_counterfactuals`).

For a query row x (encoded z0, :mod:`.space`) and a desired class c, a counterfactual is a
feasible row z (immutables of z0, ranges, integers, one category per categorical feature) that
the model predicts as c (argmax of its class probabilities). Its robustness is the Stability
measure of Hamman et al. [1] applied to m(z) = P(c | z):

    R_{k,sigma}(z) = (1/k) sum_i [ m(z_i) - gamma ||z_i - z||_2 ],   z_i = z + sigma xi_i,
    R-hat(z)       = (1/k) sum_i m(z_i) - (1/k) sum_i |m(z_i) - m(z)|,

xi_i standard normal in the encoded space (**sigma a standard deviation**), gamma the Lipschitz
constant of m there (given, or estimated by sampled finite differences: then labelled
``lipschitz_estimated``; an estimate is not a certificate). Using P(c | z) of a multiclass
model as the m of the binary definition is our [best reading] for multiclass targets.

The search, per query (seeded, deterministic):

1. **Candidates** (gradient-free, any model): random feasible rows around z0 (a random subset
   of the mutable features changed: numeric features by Gaussian steps of log-uniform size or
   uniformly in their range, categorical features to a random category, booleans flipped),
   the rows of ``data`` with the query's immutables, and, if too few are valid, uniform
   feasible rows. Every candidate is projected (:meth:`TabularSpace.project`).
2. **Shrinking** each valid candidate towards the query: bisection on the segment
   z0 -> z (projected), then greedy resets of single features to the query's value while the
   row stays valid. Both keep validity by construction (a step is kept only if valid).
3. **Diverse selection** by sequential exclusion, interleaved with step 4: the cheapest
   candidate first, then, in turn, the candidate minimising cost - ``diversity`` * (distance
   to the nearest counterfactual already finished) among those at distance >=
   ``min_distance`` from every finished one (the greedy max-min form of the diversity term
   of DiCE [2], which uses a determinantal point process instead; [best reading], the
   weights are parameters). Distances and costs: :meth:`TabularSpace.distance`.
4. **Robustness ascent** (T-Rex's idea, Algorithm 1 of [1]): while the measure (R-hat by
   default, as in T-Rex; ``measure="exact"`` for R) is below ``tau`` and fewer than
   ``max_iter`` steps were taken, propose moves (random directions of length ``step`` on the
   mutable numeric coordinates, the normalised gradient of R-hat for a torch model, +-1 unit
   of an integer feature, another category, a flipped boolean), project them, and keep the
   best proposal that is valid, within L2 ``radius`` of the selected candidate, at least
   ``min_distance`` from the counterfactuals already finished, and improves the measure
   (common random numbers: one noise draw per query for all proposals). Stops with status
   "tau reached", "no improvement" or "max steps".
5. **Report**: R and R-hat on a fresh, independent noise draw (the ascent's own draw would
   be optimistically biased), class probabilities and validity re-checked on the decoded
   rows (re-encoded), costs and the changed features.

References
----------
.. [1] F. Hamman, E. Noorani, S. Mishra, D. Magazzeni, S. Dutta, "Robust Counterfactual
   Explanations for Neural Networks With Probabilistic Guarantees", ICML 2023
   (arXiv:2305.11997): the Stability measure R_{k,sigma} (Sec. 3) and T-Rex (Algorithm 1).
.. [2] R. K. Mothilal, A. Sharma, C. Tan, "Explaining Machine Learning Classifiers through
   Diverse Counterfactual Explanations", FAT* 2020 (arXiv:1905.07697), Sec. 3 (diversity via
   a determinantal point process; feasibility constraints for immutable features).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from stability.counterfactual._checks import check_rng_seed
from stability.counterfactual.tabular.model import TabularModel, estimate_lipschitz
from stability.counterfactual.tabular.result import META, TabularCounterfactuals
from stability.counterfactual.tabular.space import TabularSpace
from theory.checks import (
    ArgumentTypeError,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_probability,
)

__all__ = ["tabular_counterfactuals"]

#: Bisection steps of the shrinking line search.
_BISECT = 8
#: Candidates kept for shrinking (the cheapest valid ones).
_SHRINK = 24
#: Random directions per ascent step (besides the discrete moves and the gradient).
_DIRECTIONS = 8

# ---------------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------------


class _Problem:
    """One call's fixed parts: space, model, desired column, noise level (private)."""

    def __init__(self, space: TabularSpace, tm: TabularModel, cls: int, sigma: float) -> None:
        self.space, self.tm, self.cls, self.sigma = space, tm, cls, sigma
        self.feats = [
            (f, sl)
            for f, sl in zip(space.features, space._slices(), strict=True)
            if not f.immutable
        ]
        numeric = np.zeros(space.dim, dtype=bool)
        for f, sl in self.feats:
            if f.kind == "continuous" or f.kind == "integer":
                numeric[sl] = True
        self.numeric = numeric

    def valid(self, Z: np.ndarray) -> np.ndarray:
        if len(Z) == 0:
            return np.zeros(0, dtype=bool)
        return np.argmax(self.tm.proba(Z), axis=1) == self.cls

    def probe(
        self, Z: np.ndarray, xi: np.ndarray, gamma: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(valid, R, R-hat) of the rows of Z, samples Z + sigma xi (xi: (k, D)); one model call."""
        b, k = len(Z), len(xi)
        pts = (Z[:, None, :] + self.sigma * xi[None]).reshape(b * k, -1)
        P = self.tm.proba(np.vstack([Z, pts]))
        valid = np.argmax(P[:b], axis=1) == self.cls
        m0, ms = P[:b, self.cls], P[b:, self.cls].reshape(b, k)
        mean = ms.mean(axis=1)
        r_hat = mean - np.abs(ms - m0[:, None]).mean(axis=1)
        r = mean - gamma * self.sigma * np.linalg.norm(xi, axis=1).mean()
        return valid, r, r_hat

    def grad_r_hat(self, z: np.ndarray, xi: np.ndarray) -> np.ndarray:
        """Gradient of R-hat at z (torch modules on the encoded space)."""
        zt = torch.from_numpy(z[None].copy()).requires_grad_(True)
        with torch.enable_grad():
            pts = zt + self.sigma * torch.from_numpy(xi)
            ms = self.tm.proba_t(pts)[:, self.cls]
            m0 = self.tm.proba_t(zt)[:, self.cls]
            r = ms.mean() - (ms - m0).abs().mean()
            (g,) = torch.autograd.grad(r, zt)
        return g.to(torch.float64).numpy()[0]

    # ---- step 1: candidates ----------------------------------------------------------------

    def candidates(self, z0: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
        F = len(self.feats)
        Z = np.repeat(z0[None], m, axis=0)
        if F == 0:
            return Z
        sparse = rng.random(m) < 0.5
        nchg = np.where(sparse, np.minimum(F, rng.integers(1, 4, m)), rng.integers(1, F + 1, m))
        chg = np.argsort(rng.random((m, F)), axis=1) < nchg[:, None]
        for j, (f, sl) in enumerate(self.feats):
            rows = np.flatnonzero(chg[:, j])
            if rows.size == 0:
                continue
            if f.kind == "categorical":
                hot = np.zeros((rows.size, f.width))
                hot[np.arange(rows.size), rng.integers(0, f.width, rows.size)] = 1.0
                Z[rows, sl] = hot
            elif f.kind == "boolean":
                Z[rows, sl.start] = 1.0 - z0[sl.start]
            else:
                size = np.exp(rng.uniform(np.log(0.02), 0.0, rows.size))
                step = z0[sl.start] + size * rng.standard_normal(rows.size)
                uni = rng.random(rows.size) < 0.3
                Z[rows, sl.start] = np.where(uni, rng.random(rows.size), step)
        return self.space.project(Z, z0)

    def uniform(self, z0: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
        Z = rng.random((m, self.space.dim))
        return self.space.project(Z, z0)

    # ---- step 2: shrinking -----------------------------------------------------------------

    def shrink(self, z0: np.ndarray, C: np.ndarray) -> np.ndarray:
        sp = self.space
        lo, hi = np.zeros(len(C)), np.ones(len(C))
        for _ in range(_BISECT):
            mid = (lo + hi) / 2
            ok = self.valid(sp.project(z0 + mid[:, None] * (C - z0), z0))
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
        C = sp.project(z0 + hi[:, None] * (C - z0), z0)
        ok = self.valid(C)  # hi was valid when set; re-check (projection of t = 1 is C)
        C = C[ok]
        for _ in range(len(self.feats)):
            trials, owner, gain = [], [], []
            cost = sp.distance(z0, C)
            for i, c in enumerate(C):
                for _f, sl in self.feats:
                    if np.array_equal(c[sl], z0[sl]):
                        continue
                    t = c.copy()
                    t[sl] = z0[sl]
                    trials.append(t)
                    owner.append(i)
                    gain.append(cost[i] - float(sp.distance(z0, t)))
            if not trials:
                break
            T = np.array(trials)
            owner_a, gain_a = np.array(owner), np.array(gain)
            ok = self.valid(T)
            moved = False
            for i in range(len(C)):
                sel = np.flatnonzero((owner_a == i) & ok)
                if sel.size:
                    C[i] = T[sel[np.argmax(gain_a[sel])]]
                    moved = True
            if not moved:
                break
        # coordinate-wise bisection towards the query, all numeric features at once (each
        # trial moves one feature of one candidate); then all moves together if that is
        # valid, else the single move of largest saving
        num = [sl.start for _f, sl in self.feats if self.numeric[sl.start]]
        if num and len(C):
            m, f_ = len(C), len(num)
            lo, hi = np.zeros((m, f_)), np.ones((m, f_))
            jj = np.array(num)

            def moved(t: np.ndarray) -> np.ndarray:
                T = np.repeat(C[:, None, :], f_, axis=1)
                idx = np.arange(f_)
                T[:, idx, jj] = z0[jj] + t * (C[:, jj] - z0[jj])
                return sp.project(T.reshape(m * f_, -1), z0)

            for _ in range(_BISECT):
                mid = (lo + hi) / 2
                ok = self.valid(moved(mid)).reshape(m, f_)
                hi = np.where(ok, mid, hi)
                lo = np.where(ok, lo, mid)
            single = moved(hi)
            together = C.copy()
            together[:, jj] = z0[jj] + hi * (C[:, jj] - z0[jj])
            together = sp.project(together, z0)
            ok = self.valid(np.vstack([together, single]))
            ok_t, ok_s = ok[:m], ok[m:].reshape(m, f_)
            save = np.where(
                ok_s, sp.distance(z0, C)[:, None] - sp.distance(z0, single).reshape(m, f_), -np.inf
            )
            for i in range(m):
                if ok_t[i]:
                    C[i] = together[i]
                elif np.isfinite(save[i]).any():
                    C[i] = single.reshape(m, f_, -1)[i, int(np.argmax(save[i]))]
        return C

    # ---- step 3: diverse selection ---------------------------------------------------------

    def select_next(
        self,
        z0: np.ndarray,
        C: np.ndarray,
        done: list[np.ndarray],
        min_distance: float,
        diversity: float,
    ) -> np.ndarray | None:
        """The next candidate of the sequential exclusion (None when none is eligible)."""
        if len(C) == 0:
            return None
        score = self.space.distance(z0, C)
        if done:
            dmin = np.min(self.space.distance(C[:, None, :], np.array(done)[None]), axis=1)
            ok = dmin >= max(min_distance, 1e-12)
            score = np.where(ok, score - diversity * dmin, np.inf)
        if not np.isfinite(score).any():
            return None
        return C[int(np.argmin(score))].copy()

    # ---- step 4: robustness ascent ---------------------------------------------------------

    def ascend(
        self,
        z0: np.ndarray,
        start: np.ndarray,
        done: list[np.ndarray],
        xi: np.ndarray,
        rng: np.random.Generator,
        *,
        gamma: float,
        tau: float,
        use_exact: bool,
        step: float,
        radius: float,
        max_iter: int,
        min_distance: float,
    ) -> tuple[np.ndarray, str, int]:
        sp = self.space
        z = start.copy()
        _, r, rh = self.probe(z[None], xi, gamma)
        cur = float((r if use_exact else rh)[0])
        for it in range(max_iter + 1):
            if cur >= tau:
                return z, "tau reached", it
            if it == max_iter:
                break
            props = []
            num = np.flatnonzero(self.numeric)
            if num.size:
                dirs = rng.standard_normal((_DIRECTIONS, num.size))
                dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
                scale = step * rng.choice([1.0, 2.0, 4.0], _DIRECTIONS)
                P = np.repeat(z[None], _DIRECTIONS, axis=0)
                P[:, num] += scale[:, None] * dirs
                props.append(P)
                if self.tm.differentiable:
                    g = self.grad_r_hat(z, xi)[num]
                    gn = np.linalg.norm(g)
                    if gn > 0:
                        G = np.repeat(z[None], 3, axis=0)
                        G[:, num] += np.array([1.0, 2.0, 4.0])[:, None] * step * g / gn
                        props.append(G)
            for f, sl in self.feats:
                if f.kind == "integer":
                    for s in (-1.0, 1.0):
                        t = z.copy()
                        t[sl] += s / f.span
                        props.append(t[None])
                elif f.kind == "boolean":
                    t = z.copy()
                    t[sl] = 1.0 - t[sl]
                    props.append(t[None])
                elif f.kind == "categorical":
                    t = z.copy()
                    hot = np.zeros(f.width)
                    hot[rng.integers(0, f.width)] = 1.0
                    t[sl] = hot
                    props.append(t[None])
            P = sp.project(np.vstack(props), z0)
            keep = ~np.all(P == z, axis=1)
            keep &= np.linalg.norm(P - start, axis=1) <= radius
            if done:
                dmin = np.min(sp.distance(P[:, None, :], np.array(done)[None]), axis=1)
                keep &= dmin >= min_distance
            P = P[keep]
            if len(P) == 0:
                return z, "no improvement", it
            ok, r, rh = self.probe(P, xi, gamma)
            vals = np.where(ok, r if use_exact else rh, -np.inf)
            best = int(np.argmax(vals))
            if vals[best] <= cur:
                return z, "no improvement", it
            z, cur = P[best], float(vals[best])
        return z, "max steps", max_iter


def _prefers(model: Any) -> str:
    return "random search + gradient" if model.differentiable else "random search"


def tabular_counterfactuals(
    model: Any,
    space: TabularSpace,
    queries: pd.DataFrame,
    desired: Any,
    *,
    n: int = 3,
    k: int = 200,
    sigma: float = 0.05,
    tau: float = 0.75,
    measure: str = "relaxed",
    lipschitz: float | str = "estimate",
    data: pd.DataFrame | None = None,
    candidates: int = 1000,
    min_distance: float = 0.1,
    diversity: float = 0.5,
    step: float = 0.05,
    radius: float = 1.0,
    max_iter: int = 20,
    classes: Any = None,
    model_input: str | None = None,
    output: str | None = None,
    seed: int | np.random.Generator | None = 0,
) -> TabularCounterfactuals:
    """``n`` diverse, robust counterfactuals of each query row, for the class ``desired``.

    The algorithm is in the module docstring (candidates, shrinking, diverse selection,
    T-Rex-style ascent of the Stability measure, report).

    Parameters
    ----------
    model : classifier
        A scikit-learn classifier or pipeline with ``predict_proba`` and ``classes_`` fitted
        on the user's frame; a torch module or a callable on the encoded rows
        (``space.encode``); or a callable on frames (``model_input="frame"``). See
        :mod:`stability.counterfactual.tabular.model`.
    space : TabularSpace
        The features (types, ranges, immutables).
    queries : pandas.DataFrame
        Rows to explain, in the space's columns (any order). No NaN; categories known.
    desired : class label
        One of the model's classes (``model.classes_``, or ``classes``, or 0..C-1).
    n : int
        Counterfactuals per query (fewer when fewer diverse feasible ones are found).
    k, sigma : int, float
        Samples and **standard deviation** (encoded units: a fraction of each numeric range)
        of the Stability measure.
    tau : float in [0, 1]
        Target of the ascent: stop once the measure reaches tau (T-Rex's tau).
    measure : "relaxed" or "exact"
        Which measure the ascent raises to tau: R-hat (as T-Rex's code; default) or R with
        gamma = ``lipschitz``. Both are reported.
    lipschitz : float >= 0 or "estimate"
        gamma of R (Lipschitz constant of P(desired | z) in the encoded space, L2). "estimate":
        sampled finite differences at scale sigma on the queries and uniform feasible rows
        (a lower estimate, labelled ``lipschitz_estimated=True``; R then carries no guarantee).
    data : pandas.DataFrame, optional
        Reference rows (e.g. the training data) added to the candidates with the query's
        immutable values.
    candidates : int
        Random candidates per query.
    min_distance, diversity : float
        Counterfactuals of one query are at least ``min_distance`` apart
        (:meth:`TabularSpace.distance`), kept through the ascent; ``diversity`` weighs the
        distance to the nearest chosen one against the cost in the greedy selection.
    step, radius, max_iter : float, float, int
        Ascent step (encoded L2), the L2 ball around the selected candidate the ascent stays
        in (T-Rex's projection radius), and its step limit.
    classes, model_input, output :
        Model options (:mod:`stability.counterfactual.tabular.model`).
    seed : int, Generator or None
        Seeds everything; the result is a function of the seed.

    Returns
    -------
    TabularCounterfactuals

    Raises
    ------
    ValueError
        Unknown or missing columns, a category outside its categories or NaN in ``queries``;
        ``desired`` not among the model's classes; a model whose output is not class
        probabilities; out-of-range settings.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> df = pd.DataFrame({"age": [20, 50, 30, 40], "income": [1.0, 2.0, 3.0, 4.0]})
    >>> clf = LogisticRegression(C=100.0).fit(df, ["no", "no", "yes", "yes"])
    >>> space = TabularSpace.from_frame(df, immutable=["age"])
    >>> res = tabular_counterfactuals(clf, space, df.iloc[:1], "yes", n=2, k=50, seed=0)
    >>> bool(res.frame["cf_valid"].all()), set(res.frame["age"])
    (True, {20})
    """
    start = time.perf_counter()
    if not isinstance(space, TabularSpace):
        raise ArgumentTypeError(f"space must be a TabularSpace; got {type(space).__name__}")
    queries = space.check_frame(queries, "queries")
    n = check_positive_int("n", n)
    k = check_positive_int("k", k)
    sigma = check_positive("sigma", sigma)
    tau = check_probability("tau", tau)
    measure = check_choice("measure", measure, ("relaxed", "exact"))
    candidates = check_positive_int("candidates", candidates)
    min_distance = check_nonnegative("min_distance", min_distance)
    diversity = check_nonnegative("diversity", diversity)
    step = check_positive("step", step)
    radius = check_positive("radius", radius)
    max_iter = check_int("max_iter", max_iter, lo=0)
    seed = check_rng_seed(seed)
    if isinstance(lipschitz, str):
        check_choice("lipschitz", lipschitz, ("estimate",))
        gamma = None
    else:
        gamma = check_nonnegative("lipschitz", lipschitz)
    Zd = None
    if data is not None:
        Zd = space.encode(space.check_frame(data, "data"))
    tm = TabularModel(model, space, classes=classes, model_input=model_input, output=output)
    cls = tm.class_index(desired)
    clash = [c for c in space.columns if c in META or str(c).startswith("p[")]
    if clash:
        raise ValueError(f"queries has columns {clash} that clash with the result's columns")
    Z0 = space.encode(queries)
    pb = _Problem(space, tm, cls, sigma)
    root = np.random.SeedSequence(seed) if not isinstance(seed, np.random.Generator) else None
    if root is None:
        streams = seed.spawn(len(Z0) + 1)
    else:
        streams = [np.random.default_rng(s) for s in root.spawn(len(Z0) + 1)]
    estimated = gamma is None
    if estimated:
        pts = np.vstack([Z0, pb.uniform(Z0[0], 64, streams[0])])
        gamma = estimate_lipschitz(tm, pts, cls, sigma=sigma, rng=streams[0])
    use_exact = measure == "exact"
    pred0 = np.argmax(tm.proba(Z0), axis=1)
    rows: list[dict] = []
    status: list[str] = []
    pairwise: dict = {}
    for qi, (label, z0) in enumerate(zip(queries.index, Z0, strict=True)):
        rng = streams[qi + 1]
        if pred0[qi] == cls:
            status.append("already desired")
            continue
        C = pb.candidates(z0, candidates, rng)
        if Zd is not None:
            C = np.vstack([C, space.project(Zd, z0)])
        C = C[pb.valid(C)]
        if len(C) < n:
            U = pb.uniform(z0, candidates, rng)
            C = np.vstack([C, U[pb.valid(U)]])
        if len(C) == 0:
            status.append("not found")
            continue
        cost = space.distance(z0, C)
        C = C[np.argsort(cost, kind="stable")[:_SHRINK]]
        C = pb.shrink(z0, C)
        C = np.unique(np.round(C, 12), axis=0)
        xi = rng.standard_normal((k, space.dim))
        done: list[np.ndarray] = []
        st: list[str] = []
        while len(done) < n:
            c = pb.select_next(z0, C, done, min_distance, diversity)
            if c is None:
                break
            z, s, _ = pb.ascend(
                z0,
                c,
                done,
                xi,
                rng,
                gamma=gamma,
                tau=tau,
                use_exact=use_exact,
                step=step,
                radius=radius,
                max_iter=max_iter,
                min_distance=min_distance,
            )
            done.append(z)
            st.append(s)
        # step 5: report on the decoded rows, R on a fresh draw
        out = space.decode(space.project(np.array(done), z0))
        Zf = space.encode(out)
        P = tm.proba(Zf)
        _, r, rh = pb.probe(Zf, rng.standard_normal((k, space.dim)), gamma)
        D = space.distance(Zf[:, None, :], Zf[None])
        pairwise[label] = D
        Dm = D + np.diag(np.full(len(Zf), np.inf))
        for j in range(len(Zf)):
            ch = space.changes(z0, Zf[j])
            row = {c: out[c].iloc[j] for c in space.columns}
            row.update(
                cf_query=label,
                cf_rank=j,
                cf_valid=bool(np.argmax(P[j]) == cls),
                cf_R=float(r[j]),
                cf_R_hat=float(rh[j]),
                cf_cost=float(space.distance(z0, Zf[j])),
                cf_n_changed=len(ch),
                cf_changes="; ".join(f"{c}: {_fmt(a)} -> {_fmt(b)}" for c, a, b in ch),
                cf_min_distance=float(Dm[j].min()) if len(Zf) > 1 else float("nan"),
                cf_status=st[j],
            )
            for ci, lab in enumerate(tm.classes):
                row[f"p[{lab}]"] = float(P[j, ci])
            rows.append(row)
        status.append("found" if len(done) == n else "found fewer")
    frame = _frame(rows, space, queries, tm.classes)
    res = TabularCounterfactuals(
        frame=frame,
        queries=queries,
        status=pd.Series(status if len(status) else [], index=queries.index, dtype=object),
        desired=desired,
        n=n,
        k=k,
        sigma=sigma,
        tau=tau,
        measure=measure,
        lipschitz=float(gamma),
        lipschitz_estimated=estimated,
        min_distance=min_distance,
        diversity=diversity,
        method=_prefers(tm),
        seconds=time.perf_counter() - start,
        pairwise_distances=pairwise,
    )
    return res


def _fmt(v: Any) -> str:
    """A value of a changes string: numbers to 6 significant digits, others by repr."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return f"{v:.6g}"
    return repr(v)


def _frame(
    rows: list[dict], space: TabularSpace, queries: pd.DataFrame, classes: list
) -> pd.DataFrame:
    cols = [*space.columns, *META[:2], *(f"p[{c}]" for c in classes), *META[2:]]
    if not rows:
        empty = {c: pd.Series([], dtype=queries[c].dtype) for c in space.columns}
        frame = pd.DataFrame(empty)
        for c in cols[len(space.columns) :]:
            frame[c] = pd.Series([], dtype=object)
        return frame[cols]
    frame = pd.DataFrame(rows, columns=cols)
    for c in space.columns:
        frame[c] = frame[c].astype(queries[c].dtype)
    return frame
