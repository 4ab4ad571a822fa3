"""The probabilistic validity guarantee for counterfactuals with high Stability.

**Provable version** ([derived]; the proof is below). Let the changed model M be random and
independent of the samples, with Lip(M) <= gamma_M almost surely, Lip(m) <= gamma_m, and let R
be computed with gamma_x >= gamma_M. Put h = M - m and V = E_Z[h(x + Z)] with E_M V = 0 and Var_M V <= nu.
Then, for every 0 <= s < epsilon (s = 0 only when nu = 0),

    Pr(M(x) <= R_{k,sigma}(x, m) - epsilon)
        <= exp(-k (epsilon - s)^2 / (2 (gamma_M + gamma_m)^2 sigma^2)) + nu / (nu + s^2).

Proof: M(x) >= M(x_i) - gamma_x ||Z_i|| (key lemma), so M(x) - R >= D = mean_i h(x + Z_i);
given M, D is ((gamma_M + gamma_m)/sqrt(k))-Lipschitz in (Z_1..Z_k), so Gaussian concentration
bounds its lower tail around V; Cantelli bounds Pr(V <= -s). With gamma_M = gamma_m = gamma and
nu = 0 this is exp(-k epsilon^2 / (8 gamma^2 sigma^2)).

**Paper form** [reconstructed, low confidence]: exp(-k epsilon^2 / (C (gamma + gamma_x)^2 sigma^2))
with C = 8 (a parameter); it has no variance term. It is reported by
:func:`paper_guarantee_bound`, labelled, and is not what the toolkit claims.

Use: a counterfactual with R >= 0.5 + epsilon stays valid under M (M(x') >= 0.5) with
probability at least 1 - bound. sigma is a standard deviation.

References
----------
.. [1] F. Hamman, E. Noorani, S. Mishra, D. Magazzeni, S. Dutta, "Robust Counterfactual
   Explanations for Neural Networks With Probabilistic Guarantees", ICML 2023
   (arXiv:2305.11997), main theorem (shape [reconstructed]).
.. [2] S. Boucheron, G. Lugosi, P. Massart, *Concentration Inequalities*, Oxford 2013, Thm 5.6
   (Gaussian concentration for Lipschitz functions); Cantelli's inequality.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from theory.checks import check_nonnegative, check_positive, check_positive_int

__all__ = ["guarantee_bound", "paper_guarantee_bound", "sinusoid_variance"]


def _gauss_term(eps: float, k: int, sigma: float, lip: float) -> float:
    scale = lip * sigma
    if scale == 0.0:
        return 0.0 if eps > 0 else 1.0
    if eps > 1e150 * scale:
        return 0.0
    z = eps / scale
    return math.exp(-k * z * z / 2.0)


def guarantee_bound(
    epsilon: float,
    *,
    k: int,
    sigma: float,
    lipschitz_change: float,
    lipschitz_model: float | None = None,
    nu: float = 0.0,
    s: float | None = None,
) -> float:
    """Upper bound on Pr(M(x) <= R_{k,sigma}(x, m) - epsilon): the provable version ([derived]).

    Parameters
    ----------
    epsilon : float
        Margin, > 0.
    k : int
        Samples used in R.
    sigma : float
        Standard deviation of the samples.
    lipschitz_change : float
        gamma_M >= Lip(M) almost surely; R must have been computed with gamma_x >= gamma_M.
    lipschitz_model : float, optional
        gamma_m >= Lip(m); defaults to ``lipschitz_change`` (gamma_m = gamma_M = gamma).
    nu : float
        Bound on Var_M E_Z[M(x+Z) - m(x+Z)] (0 for a change with no spread on average).
    s : float, optional
        Split 0 < s < epsilon between the two terms; by default the minimising s (nu > 0) or 0.

    Returns
    -------
    float in [0, 1].

    Examples
    --------
    >>> round(guarantee_bound(0.05, k=200, sigma=0.1, lipschitz_change=2.25), 3)
    0.291
    """
    eps = check_positive("epsilon", epsilon)
    k = check_positive_int("k", k)
    sigma = check_positive("sigma", sigma)
    gm = check_nonnegative("lipschitz_change", lipschitz_change)
    gmm = gm if lipschitz_model is None else check_nonnegative("lipschitz_model", lipschitz_model)
    nu = check_nonnegative("nu", nu)
    lip = gm + gmm  # D is (gamma_M + gamma_m)/sqrt(k)-Lipschitz in (Z_1..Z_k)

    def total(split: float) -> float:
        cant = 0.0 if nu == 0.0 else nu / (nu + split**2)
        split = float(split)
        return min(1.0, _gauss_term(eps - split, k, sigma, lip) + cant)

    if s is not None:
        s = check_nonnegative("s", s)
        if not s < eps:
            raise ValueError(f"s must satisfy 0 <= s < epsilon = {eps}; got {s!r}")
        if nu > 0 and s == 0:
            raise ValueError("s must be > 0 when nu > 0")
        return total(s)
    if nu == 0.0:
        return total(0.0)
    res = minimize_scalar(
        total,
        bounds=(eps * 1e-9, eps * (1 - 1e-12)),
        method="bounded",
        options={"xatol": eps * 1e-10},
    )
    grid = np.linspace(eps * 1e-3, eps * (1 - 1e-3), 201)
    return float(min(res.fun, *(total(g) for g in grid)))


def paper_guarantee_bound(
    epsilon: float,
    *,
    k: int,
    sigma: float,
    lipschitz_change: float,
    lipschitz_x: float,
    constant: float = 8.0,
) -> float:
    """The paper's form exp(-k eps^2 / (C (gamma + gamma_x)^2 sigma^2)) [reconstructed, C = 8].

    Labelled "paper form": the constant and the exact assumptions are [reconstructed], not
    confirmed; the toolkit's claims use :func:`guarantee_bound`. ``sigma`` is the standard
    deviation.
    """
    eps = check_positive("epsilon", epsilon)
    k = check_positive_int("k", k)
    sigma = check_positive("sigma", sigma)
    g = check_nonnegative("lipschitz_change", lipschitz_change) + check_nonnegative(
        "lipschitz_x", lipschitz_x
    )
    c = check_positive("constant", constant)
    if g == 0.0:
        return 0.0
    return math.exp(-k * eps**2 / (c * g**2 * sigma**2))


def sinusoid_variance(amplitude: float, u_norm: float, sigma: float) -> float:
    """nu for the change M = m + a sin(u . x + phi), phi ~ U[0, 2pi): a^2 exp(-sigma^2 ||u||^2) / 2.

    V = E_Z[a sin(u.(x+Z) + phi)] = a exp(-sigma^2 ||u||^2 / 2) sin(u.x + phi) has mean 0 and
    exactly this variance over phi ([derived]).
    """
    a = check_nonnegative("amplitude", amplitude)
    u = check_nonnegative("u_norm", u_norm)
    sigma = check_positive("sigma", sigma)
    return a**2 * math.exp(-(sigma**2) * u**2) / 2.0
