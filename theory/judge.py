"""A judge proxy learned from preferences with Bradley-Terry (Sukovic & Radanovic, ICLR 2024).

The judge ``J_theta`` scores a decision ``a`` from *evidence*: a set ``E`` of revealed state
features with their values. Given two decisions it prefers ``a`` to ``b`` with the
Bradley-Terry probability

    P(a > b | E, x) = sigmoid(J(E, x, a) - J(E, x, b))                     (BT)

(Sukovic & Radanovic 2024, §4: the judge proxy trained on a preference dataset with a
Bradley-Terry formulation; Bradley & Terry 1952). The judge here is linear in the revealed
evidence [reconstructed: the paper's judge is a neural network over the evidence]:

    J(E, x, a) = sum_{j in E} w[a, j, x_j],       w of shape (K, d, 2),

so the preference is a logistic regression on the difference of one-hot evidence features.
Only differences ``w[a] - w[b]`` enter (BT); the fit fixes the gauge ``w[0] = 0``.

Preferences come from a hidden expert with weights ``w*`` (:mod:`theory.treatment`): a state
``x`` and an evidence set ``E`` of ``evidence_size`` features are drawn uniformly, two distinct
decisions uniformly, and the label is drawn from (BT) with ``w*`` and flipped with probability
``label_noise`` (``labels="probability"``: the expected label instead of a draw: infinite data).
Whether the expert labels from the revealed evidence (default) or from the full state
(``expert_sees="state"``) is a parameter [reconstructed].

The fit minimises the mean logistic loss plus ``l2/2 ||w||^2`` by Newton's method with
Armijo backtracking, to a gradient sup-norm ``tol`` (a convex problem: Newton converges
quadratically near the optimum). With ``l2 = 0`` on separable data the likelihood has no
maximiser: the gradient still falls below ``tol``, at weights that grow like ``log(1/tol)``;
keep ``l2 > 0`` (the default) for small or separable data.

References
----------
.. [1] A. Sukovic, G. Radanovic, "Reward Design for Justifiable Sequential Decision-Making",
   ICLR 2024, arXiv:2402.15826, §4 (the judge proxy and its Bradley-Terry training).
.. [2] R. A. Bradley, M. E. Terry, "Rank Analysis of Incomplete Block Designs: I. The Method
   of Paired Comparisons", Biometrika 39, 1952.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_real,
    check_rng,
)

__all__ = [
    "JudgeFit",
    "Preferences",
    "fit_bradley_terry_judge",
    "judge_scores",
    "preference_data",
]

LABELS = ("sampled", "probability")
EXPERT_SEES = ("evidence", "state")


def _check_weights(weights: object, name: str = "weights") -> np.ndarray:
    w = as_float_array(name, weights, ndim=3)
    if w.shape[2] != 2 or w.shape[0] < 2:
        raise ValueError(f"{name} must have shape (K >= 2, d, 2); got {w.shape}")
    return w


def _check_binary(name: str, value: object, d: int | None = None) -> np.ndarray:
    x = as_float_array(name, value, ndim=2)
    if not np.all((x == 0) | (x == 1)):
        bad = tuple(np.argwhere((x != 0) & (x != 1))[0])
        raise ValueError(f"{name} must hold 0/1 values; entry {bad} is {x[bad]}")
    if d is not None and x.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns (one per feature); got shape {x.shape}")
    return x.astype(np.int64)


def _check_actions(name: str, value: object, n: int, K: int | None) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "iu" or a.shape != (n,):
        raise ArgumentTypeError(
            f"{name} must be an integer array of shape ({n},); got {a.dtype} {a.shape}"
        )
    if a.size and K is None and a.min() < 0:
        raise ValueError(f"{name} must hold actions >= 0; got {a.min()}")
    if a.size and K is not None and (a.min() < 0 or a.max() >= K):
        raise ValueError(f"{name} must hold actions in [0, {K}); got range [{a.min()}, {a.max()}]")
    return a.astype(np.int64)


def _scores(w: np.ndarray, x: np.ndarray, e: np.ndarray, a: np.ndarray) -> np.ndarray:
    j = np.arange(x.shape[1])
    return np.sum(e * w[a[:, None], j[None, :], x], axis=1)


def judge_scores(
    weights: np.ndarray, features: np.ndarray, evidence: np.ndarray, actions: np.ndarray
) -> np.ndarray:
    """``J(E_i, x_i, a_i) = sum_{j in E_i} w[a_i, j, x_ij]`` for each row ``i``.

    Parameters
    ----------
    weights : array_like, shape (K, d, 2)
    features : array_like of 0/1, shape (n, d)
    evidence : array_like of 0/1 or bool, shape (n, d)
        ``evidence[i, j]``: feature ``j`` is revealed in row ``i``.
    actions : int array, shape (n,)

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> w = np.zeros((2, 2, 2)); w[1, 0, 1] = 3.0
    >>> judge_scores(w, [[1, 0], [1, 0]], [[1, 0], [0, 1]], np.array([1, 1])).tolist()
    [3.0, 0.0]
    """
    w = _check_weights(weights)
    x = _check_binary("features", features, w.shape[1])
    e = _check_binary("evidence", evidence, w.shape[1])
    if e.shape != x.shape:
        raise ValueError(f"evidence must have the shape of features {x.shape}; got {e.shape}")
    a = _check_actions("actions", actions, x.shape[0], w.shape[0])
    return _scores(w, x, e, a)


@dataclass(frozen=True)
class Preferences:
    """A preference dataset: row ``i`` compares decisions ``first[i]`` and ``second[i]`` for
    the symptom vector ``features[i]`` given the revealed ``evidence[i]``; ``label[i]`` in
    [0, 1] is (the probability) that ``first[i]`` is preferred."""

    features: np.ndarray
    evidence: np.ndarray
    first: np.ndarray
    second: np.ndarray
    label: np.ndarray

    def __post_init__(self) -> None:
        x = _check_binary("features", self.features)
        n, d = x.shape
        e = _check_binary("evidence", self.evidence, d)
        if e.shape != x.shape:
            raise ValueError(f"evidence must have the shape of features {x.shape}; got {e.shape}")
        first = _check_actions("first", self.first, n, None)
        second = _check_actions("second", self.second, n, None)
        if np.any(first == second):
            i = int(np.flatnonzero(first == second)[0])
            raise ValueError(f"first and second must differ; row {i} compares {first[i]} twice")
        y = as_float_array("label", self.label, shape=(n,))
        if np.any((y < 0) | (y > 1)):
            raise ValueError(f"label must be in [0, 1]; got range [{y.min()}, {y.max()}]")
        for name, arr in (("features", x), ("evidence", e), ("first", first), ("second", second)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        y.setflags(write=False)
        object.__setattr__(self, "label", y)

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def with_labels(self, label: np.ndarray) -> Preferences:
        """The same comparisons with other labels (e.g. a few flipped)."""
        return Preferences(self.features, self.evidence, self.first, self.second, label)


def preference_data(
    expert_weights: np.ndarray,
    features: np.ndarray,
    rng: np.random.Generator,
    *,
    n_pairs: int,
    evidence_size: int,
    label_noise: float = 0.0,
    labels: str = "sampled",
    expert_sees: str = "evidence",
) -> Preferences:
    """Draw Bradley-Terry preferences of a hidden expert (see the module docstring).

    Parameters
    ----------
    expert_weights : array_like, shape (K, d, 2)
        The expert's ``w*``.
    features : array_like of 0/1, shape (S, d)
        The symptom vectors to draw states from (uniformly).
    rng : numpy.random.Generator
    n_pairs : int
        Number of comparisons (>= 1).
    evidence_size : int
        Features revealed per comparison, in [1, d].
    label_noise : float in [0, 0.5], default 0
        Probability that a label is flipped.
    labels : {"sampled", "probability"}
        Draw 0/1 labels, or keep their expectation (infinite data).
    expert_sees : {"evidence", "state"}
        Whether the expert's score sums over the revealed features only or over all.

    Returns
    -------
    Preferences
    """
    w = _check_weights(expert_weights, "expert_weights")
    K, d, _ = w.shape
    X = _check_binary("features", features, d)
    rng = check_rng("rng", rng)
    n = check_positive_int("n_pairs", n_pairs)
    L = check_int("evidence_size", evidence_size, lo=1, hi=d)
    eps = check_real("label_noise", label_noise, lo=0.0, hi=0.5)
    check_choice("labels", labels, LABELS)
    check_choice("expert_sees", expert_sees, EXPERT_SEES)
    x = X[rng.integers(X.shape[0], size=n)]
    order = np.argsort(rng.random((n, d)), axis=1)
    e = np.zeros((n, d), dtype=np.int64)
    np.put_along_axis(e, order[:, :L], 1, axis=1)
    first = rng.integers(K, size=n)
    second = (first + rng.integers(1, K, size=n)) % K
    seen = e if expert_sees == "evidence" else np.ones_like(e)
    p = 1.0 / (1.0 + np.exp(-(_scores(w, x, seen, first) - _scores(w, x, seen, second))))
    p = (1.0 - eps) * p + eps * (1.0 - p)
    y = p if labels == "probability" else (rng.random(n) < p).astype(np.float64)
    return Preferences(x, e, first, second, y)


@dataclass(frozen=True)
class JudgeFit:
    """The fitted judge: ``weights`` (K, d, 2) with ``weights[0] = 0``, and how the fit ended."""

    weights: np.ndarray
    loss: float
    grad_norm: float
    success: bool
    status: int
    message: str
    nit: int

    def summary(self) -> str:
        return (
            f"JudgeFit(success={self.success}, loss={self.loss:.6g}, "
            f"|grad|_inf={self.grad_norm:.2g}, nit={self.nit})"
        )


def _design(prefs: Preferences, K: int) -> np.ndarray:
    """Rows ``phi(first) - phi(second)`` over the parameters ``w[1:]`` (gauge ``w[0] = 0``)."""
    n, d = prefs.features.shape
    phi = np.zeros((n, K, d, 2))
    rows, cols = np.arange(n)[:, None], np.arange(d)[None, :]
    phi[rows, prefs.first[:, None], cols, prefs.features] += prefs.evidence
    phi[rows, prefs.second[:, None], cols, prefs.features] -= prefs.evidence
    return phi[:, 1:].reshape(n, -1)


def _loss(X: np.ndarray, y: np.ndarray, theta: np.ndarray, l2: float) -> float:
    z = X @ theta
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * theta @ theta)


def fit_bradley_terry_judge(
    preferences: Preferences,
    n_actions: int,
    *,
    l2: float = 1e-4,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> JudgeFit:
    """Maximum-likelihood (ridge) Bradley-Terry fit of the linear judge (Newton's method).

    Minimises ``mean_i [log(1 + exp(z_i)) - y_i z_i] + l2/2 ||w||^2`` with
    ``z_i = J(E_i, x_i, first_i) - J(E_i, x_i, second_i)`` (BT) over ``w[1:]`` (``w[0] = 0``).

    Parameters
    ----------
    preferences : Preferences
        At least one comparison.
    n_actions : int
        ``K`` (at least 2, above every decision in the data).
    l2 : float, default 1e-4
        Ridge weight (0 allowed: the plain maximum-likelihood fit; the Newton step is then the
        least-squares one, leaving parameters the data never touch at 0).
    tol : float, default 1e-9
        Target sup norm of the gradient.
    max_iter : int, default 100

    Returns
    -------
    JudgeFit
        ``success`` False (with the reason) when ``tol`` was not reached within ``max_iter``
        or the line search found no descent.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w = np.zeros((2, 1, 2)); w[1, 0] = [-1.0, 1.0]
    >>> prefs = preference_data(w, [[0], [1]], rng, n_pairs=50, evidence_size=1,
    ...                         labels="probability")
    >>> fit = fit_bradley_terry_judge(prefs, 2, l2=0.0)
    >>> np.round(fit.weights[1, 0], 6).tolist(), fit.success
    ([-1.0, 1.0], True)
    """
    if not isinstance(preferences, Preferences):
        raise ArgumentTypeError(
            f"preferences must be a Preferences dataset; got {type(preferences).__name__}"
        )
    if len(preferences) == 0:
        raise ValueError("preferences must hold at least one comparison; got an empty dataset")
    K = check_int("n_actions", n_actions, lo=2)
    top = int(max(preferences.first.max(), preferences.second.max()))
    if top >= K:
        raise ValueError(f"n_actions must exceed every decision in preferences ({top}); got {K}")
    l2 = check_nonnegative("l2", l2)
    tol = check_positive("tol", tol)
    max_iter = check_positive_int("max_iter", max_iter)
    X, y = _design(preferences, K), preferences.label
    n, p = X.shape
    theta = np.zeros(p)
    loss = _loss(X, y, theta, l2)
    status, message, nit = 1, "iteration limit reached", 0
    for nit in range(1, max_iter + 1):
        s = 1.0 / (1.0 + np.exp(-(X @ theta)))
        grad = X.T @ (s - y) / n + l2 * theta
        if np.max(np.abs(grad)) <= tol:
            status, message, nit = 0, "gradient below tol", nit - 1
            break
        H = (X.T * (s * (1 - s))) @ X / n + l2 * np.eye(p)
        step = np.linalg.lstsq(H, -grad, rcond=None)[0]
        t, slope = 1.0, float(grad @ step)
        while True:  # Armijo backtracking
            new = _loss(X, y, theta + t * step, l2)
            if new <= loss + 1e-4 * t * slope or t < 1e-12:
                break
            t *= 0.5
        if t < 1e-12:
            status, message = 2, "line search failed (no descent: separable data with l2 = 0?)"
            break
        theta, loss = theta + t * step, new
    s = 1.0 / (1.0 + np.exp(-(X @ theta)))
    gnorm = float(np.max(np.abs(X.T @ (s - y) / n + l2 * theta)))
    if status != 0 and gnorm <= tol:
        status, message = 0, "gradient below tol"
    d = preferences.features.shape[1]
    weights = np.concatenate([np.zeros((1, d, 2)), theta.reshape(K - 1, d, 2)])
    weights.setflags(write=False)
    return JudgeFit(weights, loss, gnorm, status == 0, status, message, nit)
