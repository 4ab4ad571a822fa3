"""The bounds of :mod:`theory.bounds` as sympy expressions, and the softmax Jacobian symbolically.

For notebooks (``sympy.latex(BOUNDS["prop-4.7"])``) and for tests that check closed forms
symbolically. Symbols: ``delta`` (``||dR||_inf``), ``span`` (``sp(dR)``), ``gamma``, ``alpha``
(temperature), ``g`` (action gap), ``m`` (tie size), ``n_actions``, ``advantage`` and
``reach`` (Prop 3.1's advantage and start probability of s0).

References
----------
.. [1] X. Xu, "The Policy Cliff", arXiv:2507.20150, 2025.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "BOUNDS",
    "SYMBOLS",
    "softmax_inf_to_one_norm",
    "softmax_jacobian_symbolic",
    "softmax_symbolic",
]

delta, span, alpha = sp.symbols("delta span alpha", nonnegative=True)
gamma = sp.Symbol("gamma", nonnegative=True)
g = sp.Symbol("g", nonnegative=True)
m, n_actions = sp.symbols("m n_actions", positive=True, integer=True)
advantage, reach = sp.symbols("advantage reach", nonnegative=True)

#: Symbols by name.
SYMBOLS: dict[str, sp.Symbol] = {
    "delta": delta,
    "span": span,
    "gamma": gamma,
    "alpha": alpha,
    "g": g,
    "m": m,
    "n_actions": n_actions,
    "advantage": advantage,
    "reach": reach,
}

#: Claim-id suffix -> bound expression (same formulas as :mod:`theory.bounds`).
BOUNDS: dict[str, sp.Expr] = {
    "prop-2.4": delta / (1 - gamma),
    "prop-4.7": delta / (2 * alpha * (1 - gamma)),
    "span-refinement": span / (4 * alpha * (1 - gamma)),
    "lemma-c.2": delta / (2 * alpha),
    "greedy-radius": (1 - gamma) * g / 2,
    "soft-hard-gap": gamma * alpha * sp.log(n_actions) / (1 - gamma),
    "soft-regret": alpha * sp.log(n_actions) / (1 - gamma),
    "prop-2.10": (m - 1) / m,
    "prop-3.1": reach * advantage,
}


def softmax_symbolic(d: int, tau: sp.Expr = alpha) -> tuple[sp.Matrix, sp.Matrix]:
    """Logits ``x_0..x_{d-1}`` and ``softmax(x / tau)`` as sympy column vectors."""
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be a positive integer; got {d!r}")
    x = sp.Matrix(sp.symbols(f"x0:{d}", real=True))
    e = x.applyfunc(lambda xi: sp.exp(xi / tau))
    return x, e / sum(e)


def softmax_jacobian_symbolic(d: int, tau: sp.Expr = alpha) -> sp.Matrix:
    """The Jacobian of ``softmax(x / tau)`` by symbolic differentiation (d x d)."""
    x, p = softmax_symbolic(d, tau)
    return p.jacobian(x)


def softmax_inf_to_one_norm(p: sp.Matrix, tau: sp.Expr = alpha) -> sp.Expr:
    """``||(diag p - p p^T)/tau||_{inf->1}``, the maximum of ``||J v||_1`` over sign vectors v.

    Exact for symbolic ``p`` of small length (``2^d`` sign vectors); equals
    ``(4/tau) max_S p(S)(1 - p(S))``. For ``d = 2``: ``4 p_0 p_1 / tau``.
    """
    p = sp.Matrix(p)
    d = p.shape[0]
    J = (sp.diag(*p) - p * p.T) / tau
    norms = []
    for k in range(2**d):
        v = sp.Matrix([1 if (k >> i) & 1 else -1 for i in range(d)])
        norms.append(sum(abs(e) for e in J * v))
    return sp.Max(*norms)
