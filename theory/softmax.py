"""The softmax map and its Lipschitz constants (Xu 2025, Lemma C.2).

``softmax(x / tau)`` has Jacobian ``J = (diag p - p p^T) / tau``. Lemma C.2: for all x, y,
``||softmax(x/tau) - softmax(y/tau)||_1 <= ||x - y||_inf / tau``, so ``d_TV <= ||x - y||_inf / (2 tau)``.
The bound is tight only in the supremum: the local constant is
``||J||_{inf->1} = (4 / tau) max_{S ⊆ A} p(S)(1 - p(S))`` [derived, checked], which equals ``1/tau``
exactly where some set of actions has probability ½ (e.g. two tied actions).
Softmax is also shift invariant, and ``||diag p - p p^T||_2 <= ½``.

References
----------
.. [1] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025, Lemma C.2.
.. [2] B. Gao, L. Pavel, "On the Properties of the Softmax Function", arXiv:1704.00805, 2017.
"""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array, check_positive

__all__ = ["jacobian_inf_to_one_norm", "local_softmax_constant", "softmax", "softmax_jacobian"]

#: Largest action count for the exact subset search of :func:`local_softmax_constant`.
MAX_SUBSET_ACTIONS = 22


def softmax(x: np.ndarray, tau: float = 1.0) -> np.ndarray:
    """``softmax(x / tau)`` over the last axis, with max-subtraction.

    Examples
    --------
    >>> softmax([0.0, 0.0])
    array([0.5, 0.5])
    """
    x = as_float_array("x", x)
    tau = check_positive("tau", tau)
    z = x / tau
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_jacobian(x: np.ndarray, tau: float = 1.0) -> np.ndarray:
    """Jacobian ``(diag p - p p^T) / tau`` of ``x -> softmax(x / tau)`` at a vector ``x`` of shape (d,)."""
    x = as_float_array("x", x, ndim=1)
    p = softmax(x, tau)
    return (np.diag(p) - np.outer(p, p)) / tau


def local_softmax_constant(x: np.ndarray, tau: float = 1.0) -> float:
    """Local l_inf -> l_1 Lipschitz constant of softmax at ``x``: ``(4/tau) max_S p(S)(1 - p(S))``.

    Exact, by enumerating the ``2^d`` subset sums (``d <= 22``). Always ``<= 1/tau``
    (Lemma C.2) and equal to ``1/tau`` at two tied logits [derived, checked].

    Examples
    --------
    >>> local_softmax_constant([0.0, 0.0], tau=0.5)
    2.0
    """
    x = as_float_array("x", x, ndim=1)
    tau = check_positive("tau", tau)
    if not (1 <= x.size <= MAX_SUBSET_ACTIONS):
        raise ValueError(f"x must have 1 to {MAX_SUBSET_ACTIONS} entries; got {x.size}")
    p = softmax(x, tau)
    sums = np.zeros(1)
    for pi in p:
        sums = np.concatenate([sums, sums + pi])
    return float(4.0 / tau * np.max(sums * (1.0 - sums)))


def jacobian_inf_to_one_norm(x: np.ndarray, tau: float = 1.0) -> float:
    """``||J||_{inf->1} = max_{v in {-1, 1}^d} ||J v||_1`` by brute force over sign vectors.

    An independent reference for :func:`local_softmax_constant` (``O(2^d d^2)``; ``d <= 22``).
    """
    x = as_float_array("x", x, ndim=1)
    d = x.size
    if not (1 <= d <= MAX_SUBSET_ACTIONS):
        raise ValueError(f"x must have 1 to {MAX_SUBSET_ACTIONS} entries; got {d}")
    J = softmax_jacobian(x, tau)
    signs = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1) * 2.0 - 1.0
    return float(np.max(np.abs(signs @ J.T).sum(axis=1)))
