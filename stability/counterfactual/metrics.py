"""Metrics of counterfactuals: cost, validity, robust validity, LOF (1 neighbour), Stability, time.

Conventions (the authors' ``evaluate_counterfactuals``): validity is the fraction of
queries whose counterfactual has m(x') >= 0.5; a NaN row (a failure) counts as invalid.
Robust validity is the mean over the changed models M of the fraction of queries with
M(x') >= 0.5. LOF is sklearn's ``LocalOutlierFactor(n_neighbors=1, novelty=True).predict``,
re-implemented in numpy: +1 (inlier) or -1 (outlier, LOF > 1.5).

References
----------
.. [1] M. Breunig, H.-P. Kriegel, R. Ng, J. Sander, "LOF: Identifying Density-Based Local
   Outliers", SIGMOD 2000.
.. [2] Hamman et al., ICML 2023 (arXiv:2305.11997), experimental protocol (validity and robust
   validity over retrained models) as in the authors' ``evaluate_counterfactuals``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stability.counterfactual._checks import as_queries, check_norm, check_rng_seed
from stability.counterfactual.generators import CounterfactualResult
from stability.counterfactual.measure import counterfactual_stability
from stability.counterfactual.model_change import ModelFamily
from stability.counterfactual.models import predict_proba
from theory.checks import ArgumentTypeError, check_positive, check_positive_int

__all__ = ["cost", "evaluate", "lof_1nn", "robust_validity", "validity"]


def cost(X: np.ndarray, CF: np.ndarray, *, p: int = 1) -> float:
    """Mean ||x' - x||_p over the rows with a counterfactual (NaN if none)."""
    X = as_queries("X", X)
    CF = as_queries("CF", CF, X.shape[1], allow_nan=True)
    p = check_norm(p, "p")
    if CF.shape != X.shape:
        raise ValueError(f"CF must have shape {X.shape} (one row per query); got {CF.shape}")
    ok = ~np.isnan(CF).any(axis=1)
    if not ok.any():
        return float("nan")
    return float(np.linalg.norm(CF[ok] - X[ok], ord=p, axis=1).mean())


def validity(model: Any, CF: np.ndarray) -> float:
    """Fraction of rows with m(x') >= 0.5 (NaN rows count as invalid)."""
    CF = as_queries("CF", CF, allow_nan=True)
    return float(np.mean(np.nan_to_num(predict_proba(model, CF), nan=0.0) >= 0.5))


def robust_validity(family: ModelFamily | list | tuple, CF: np.ndarray) -> float:
    """Mean over the changed models of the fraction of rows with M(x') >= 0.5."""
    if isinstance(family, ModelFamily):
        models = family.models
    elif isinstance(family, list | tuple):
        models = tuple(family)
    else:
        raise ArgumentTypeError(
            f"family must be a ModelFamily or a list of models; got {type(family).__name__}"
        )
    if not models:
        raise ValueError("family must hold at least one model")
    return float(np.mean([validity(m, CF) for m in models]))


def lof_1nn(X_train: np.ndarray, CF: np.ndarray) -> np.ndarray:
    """+1 / -1 per row: LocalOutlierFactor(n_neighbors=1, novelty=True).predict in numpy.

    With one neighbour: kdist(o) = distance from training point o to its nearest other training
    point, lrd(p) = 1 / (reach-dist(p, nn(p)) + 1e-10) with reach-dist(p, o) = max(kdist(o),
    d(p, o)), LOF(q) = lrd(nn(q)) / lrd(q); outlier iff LOF > 1.5 (sklearn's offset for
    contamination="auto"). NaN rows give 0.
    """
    X_train = as_queries("X_train", X_train)
    CF = as_queries("CF", CF, X_train.shape[1], allow_nan=True)
    if len(X_train) < 2:
        raise ValueError(f"X_train needs at least 2 rows; got {len(X_train)}")
    dtt = np.linalg.norm(X_train[:, None] - X_train[None], axis=2)
    np.fill_diagonal(dtt, np.inf)
    nn_t = np.argmin(dtt, axis=1)
    kdist = dtt[np.arange(len(X_train)), nn_t]
    lrd_t = 1.0 / (np.maximum(kdist[nn_t], kdist) + 1e-10)
    out = np.zeros(len(CF))
    ok = ~np.isnan(CF).any(axis=1)
    if ok.any():
        dq = np.linalg.norm(CF[ok][:, None] - X_train[None], axis=2)
        nq = np.argmin(dq, axis=1)
        lrd_q = 1.0 / (np.maximum(kdist[nq], dq[np.arange(len(nq)), nq]) + 1e-10)
        lof = lrd_t[nq] / lrd_q
        out[ok] = np.where(lof > 1.5, -1.0, 1.0)
    return out


def evaluate(
    result: CounterfactualResult,
    X: np.ndarray,
    model: Any,
    family: ModelFamily,
    X_train: np.ndarray,
    *,
    k: int = 1000,
    sigma: float = 0.05,
    seed: int = 0,
) -> dict[str, float | str]:
    """One row of the comparison table: method, found, cost L1/L2, validity, robust validity,
    LOF (mean of +-1 over the found rows), mean R-hat (k samples of std ``sigma``), ms/query."""
    if not isinstance(result, CounterfactualResult):
        raise ArgumentTypeError(
            f"result must be a CounterfactualResult; got {type(result).__name__}"
        )
    if not isinstance(family, ModelFamily):
        raise ArgumentTypeError(f"family must be a ModelFamily; got {type(family).__name__}")
    k, sigma = check_positive_int("k", k), check_positive("sigma", sigma)
    seed = check_rng_seed(seed)
    cf = result.counterfactuals
    X = as_queries("X", X, cf.shape[1])
    if X.shape != cf.shape:
        raise ValueError(f"X must have shape {cf.shape} (the result's queries); got {X.shape}")
    X_train = as_queries("X_train", X_train, cf.shape[1])
    found = result.found
    lof = lof_1nn(X_train, cf)
    rhat = (
        counterfactual_stability(model, cf[found], k=k, sigma=sigma, relaxed=True, seed=seed)
        if found.any()
        else np.array([np.nan])
    )
    return {
        "method": result.method,
        "found": float(found.mean()),
        "cost_l1": cost(X, cf, p=1),
        "cost_l2": cost(X, cf, p=2),
        "validity": validity(model, cf),
        "robust_validity": robust_validity(family, cf),
        "lof": float(lof[found].mean()) if found.any() else float("nan"),
        "stability": float(np.mean(rhat)),
        "ms_per_query": 1e3 * result.seconds / max(len(cf), 1),
    }
