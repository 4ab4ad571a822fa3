"""Continuous actions: the entropy-regularized linear-quadratic (LQ) task in closed form.

The task (discrete time, state ``x`` in R^n, action ``u`` in R^m)::

    x' = A x + B u + w,   w ~ N(0, W),   r(x, u) = -(x'Qx + u'Ru),

and the entropy-regularized objective ``E[sum_t gamma^t (r_t + alpha H(pi(.|x_t)))]`` with the
differential entropy ``H``. Its optimum is a linear-Gaussian policy (:func:`soft_lq_policy`);
the distances between Gaussians (:func:`gaussian_kl`, :func:`gaussian_tv_bound`,
:func:`gaussian_tv_1d`) measure how far it moves when the reward moves
(:func:`soft_lq_shift`, the continuous analogue of Prop 4.7 of *The Policy Cliff*).

Derivation of the soft Riccati recursion [derived]
--------------------------------------------------
Guess ``V(x) = -x'Px - c``. The soft Q-function (Haarnoja et al. 2017, Eq. 2-3) is::

    Q(x, u) = r(x, u) + gamma E V(Ax + Bu + w)
            = -x'Qx - u'Ru - gamma (Ax + Bu)'P(Ax + Bu) - gamma tr(PW) - gamma c.

With ``M = R + gamma B'PB`` and ``K = gamma M^-1 B'PA``, completing the square in ``u``::

    Q(x, u) = -(u + Kx)' M (u + Kx) - x'(Q + gamma A'PA - gamma^2 A'PB M^-1 B'PA) x
              - gamma tr(PW) - gamma c.

The soft-optimal policy is ``pi(u|x) ∝ exp(Q(x, u) / alpha)``: a Gaussian with mean ``-Kx`` and
precision ``2M / alpha``, i.e. covariance **Sigma = (alpha / 2) M^-1** (the factor 1/2 comes
from the reward ``-(x'Qx + u'Ru)``; under the halved reward ``-(x'Qx + u'Ru)/2`` and
``V = -x'Px/2 - c`` it reads ``alpha M^-1``). The soft value
``V(x) = alpha log ∫ exp(Q(x, u) / alpha) du`` adds ``(alpha / 2) log det(pi alpha M^-1)``,
so matching the quadratic and constant terms gives::

    P = Q + gamma A'PA - gamma^2 A'PB (R + gamma B'PB)^-1 B'PA        (discounted Riccati)
    c = [gamma tr(PW) - (alpha / 2) log det(pi alpha M^-1)] / (1 - gamma).

``P`` and ``K`` do not depend on ``alpha`` (certainty equivalence); only ``Sigma`` and ``c`` do.
A solution with a finite value exists when ``(sqrt(gamma) A, sqrt(gamma) B)`` is stabilizable,
which :func:`lq_task` checks (Hautus test).

References
----------
.. [1] X. Xu, "The Policy Cliff: A Theoretical Analysis of Reward-Policy Maps in Large Language
   Models", arXiv:2507.20150, 2025, Prop 4.7 and Lemma C.2.
.. [2] T. Haarnoja, H. Tang, P. Abbeel, S. Levine, "Reinforcement Learning with Deep
   Energy-Based Policies", ICML 2017, Eq. (2)-(3) (soft Q and soft value).
.. [3] D. P. Bertsekas, *Dynamic Programming and Optimal Control*, Vol. I, 4th ed., Sec. 4.1
   (the discrete-time Riccati equation).
.. [4] A. B. Tsybakov, *Introduction to Nonparametric Estimation*, Springer 2009, Lemma 2.5
   (Pinsker) and Eq. (2.25) (Bretagnolle-Huber).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg as sla
from scipy.special import ndtr

from theory.checks import ArgumentTypeError, as_float_array, check_positive, check_real

__all__ = [
    "Gaussian",
    "GaussianPolicy",
    "LQShift",
    "LQTask",
    "gaussian_kl",
    "gaussian_tv_1d",
    "gaussian_tv_bound",
    "lq_task",
    "lyapunov_sum",
    "soft_lq_policy",
    "soft_lq_shift",
    "soft_lq_value",
]

_SYM_TOL = 1e-10


def _psd(name: str, mat: np.ndarray, *, definite: bool) -> None:
    if not np.allclose(mat, mat.T, atol=_SYM_TOL, rtol=0):
        raise ValueError(f"{name} must be symmetric; got {mat.tolist()}")
    low = float(np.linalg.eigvalsh(mat).min())
    if (definite and low <= 0) or (not definite and low < -_SYM_TOL):
        kind = "positive definite" if definite else "positive semidefinite"
        raise ValueError(f"{name} must be {kind}; its smallest eigenvalue is {low:.3g}")


def _square(name: str, value: object, n: int | None = None) -> np.ndarray:
    arr = np.atleast_2d(as_float_array(name, value))
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or (n is not None and arr.shape[0] != n):
        want = "square" if n is None else f"of shape ({n}, {n})"
        raise ValueError(f"{name} must be {want}; got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class LQTask:
    """A discounted linear-quadratic task: ``x' = Ax + Bu + w``, ``w ~ N(0, noise)``, reward
    ``-(x'Qx + u'Ru)``. Build it with :func:`lq_task` (which validates)."""

    A: np.ndarray
    B: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    gamma: float
    noise: np.ndarray

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    @property
    def m(self) -> int:
        return int(self.B.shape[1])

    def reward(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``-(x'Qx + u'Ru)`` for batches ``x`` (k, n) and ``u`` (k, m)."""
        x = as_float_array("x", x, shape=(None, self.n))
        u = as_float_array("u", u, shape=(x.shape[0], self.m))
        return -(np.einsum("ki,ij,kj->k", x, self.Q, x) + np.einsum("ki,ij,kj->k", u, self.R, u))

    def with_cost(self, Q: object | None = None, R: object | None = None) -> LQTask:
        """The same dynamics with another state cost ``Q`` and/or action cost ``R``."""
        return lq_task(
            self.A,
            self.B,
            self.Q if Q is None else Q,
            self.R if R is None else R,
            gamma=self.gamma,
            noise=self.noise,
        )

    def summary(self) -> str:
        return f"LQ task: n={self.n}, m={self.m}, gamma={self.gamma:g}"


def lq_task(
    A: object,
    B: object,
    Q: object,
    R: object,
    *,
    gamma: float = 0.9,
    noise: object = 0.0,
) -> LQTask:
    """A validated :class:`LQTask`.

    Parameters
    ----------
    A : array (n, n)
        Dynamics; a scalar is a 1-D system.
    B : array (n, m)
    Q : array (n, n), symmetric positive semidefinite
        State cost.
    R : array (m, m), symmetric positive definite
        Action cost.
    gamma : float in (0, 1)
    noise : array (n, n) PSD, or a scalar (times the identity)
        Covariance ``W`` of the additive noise.

    Raises
    ------
    ValueError
        Shapes, costs not (semi)definite, ``gamma`` outside (0, 1), or
        ``(sqrt(gamma) A, sqrt(gamma) B)`` not stabilizable (the value is then infinite).

    Examples
    --------
    >>> lq_task(1.1, 1.0, 1.0, 1.0, gamma=0.9).summary()
    'LQ task: n=1, m=1, gamma=0.9'
    """
    A = _square("A", A)
    n = A.shape[0]
    B = as_float_array("B", B)
    B = B.reshape(n, -1) if B.ndim < 2 and B.size % n == 0 else B
    if B.ndim != 2 or B.shape[0] != n:
        raise ValueError(f"B must have shape ({n}, m); got shape {B.shape}")
    m = B.shape[1]
    Q = _square("Q", Q, n)
    R = _square("R", R, m)
    _psd("Q", Q, definite=False)
    _psd("R", R, definite=True)
    gamma = check_real("gamma", gamma, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    W = as_float_array("noise", noise)
    W = W * np.eye(n) if W.ndim == 0 else _square("noise", W, n)
    _psd("noise", W, definite=False)
    # Hautus test: every eigenvalue of sqrt(gamma) A on or outside the unit circle is controllable.
    a, b = math.sqrt(gamma) * A, math.sqrt(gamma) * B
    for lam in np.linalg.eigvals(a):
        if abs(lam) >= 1 - 1e-12:
            rank = np.linalg.matrix_rank(np.hstack([lam * np.eye(n) - a, b]), tol=1e-9)
            if rank < n:
                raise ValueError(
                    f"A: (sqrt(gamma) A, sqrt(gamma) B) is not stabilizable (mode {lam:.3g} of "
                    "sqrt(gamma) A is unstable and uncontrollable), so the value is infinite"
                )
    return LQTask(A, B, Q, R, float(gamma), W)


def _check_task(task: object) -> LQTask:
    if not isinstance(task, LQTask):
        raise ArgumentTypeError(f"task must be an LQTask (see lq_task); got {type(task).__name__}")
    return task


def _riccati(task: LQTask) -> np.ndarray:
    """The stabilizing solution of the discounted Riccati equation (module docstring)."""
    g = task.gamma
    a, b = math.sqrt(g) * task.A, math.sqrt(g) * task.B
    try:
        P = sla.solve_discrete_are(a, b, task.Q, task.R)
        ok = np.all(np.isfinite(P))
    except (np.linalg.LinAlgError, ValueError):
        ok = False
    if not ok or _riccati_residual(task, P) > 1e-8 * max(1.0, float(np.abs(P).max())):
        P = np.zeros_like(task.Q)  # value iteration from 0 converges to the minimal solution
        for _ in range(200_000):
            new = _riccati_step(task, P)
            if np.abs(new - P).max() <= 1e-13 * max(1.0, float(np.abs(new).max())):
                P = new
                break
            P = new
    return (P + P.T) / 2


def _riccati_step(task: LQTask, P: np.ndarray) -> np.ndarray:
    g, A, B = task.gamma, task.A, task.B
    M = task.R + g * B.T @ P @ B
    return task.Q + g * A.T @ P @ A - g * g * A.T @ P @ B @ np.linalg.solve(M, B.T @ P @ A)


def _riccati_residual(task: LQTask, P: np.ndarray) -> float:
    return float(np.abs(_riccati_step(task, P) - P).max())


@dataclass(frozen=True)
class Gaussian:
    """A Gaussian ``N(mean, cov)`` on R^m (``cov`` symmetric positive definite)."""

    mean: np.ndarray
    cov: np.ndarray

    def __post_init__(self) -> None:
        mean = np.atleast_1d(as_float_array("mean", self.mean))
        if mean.ndim != 1:
            raise ValueError(f"mean must be a vector; got shape {mean.shape}")
        cov = _square("cov", self.cov, mean.shape[0])
        _psd("cov", cov, definite=True)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def entropy(self) -> float:
        """Differential entropy ``(1/2) log det(2 pi e cov)``."""
        return 0.5 * float(np.linalg.slogdet(2 * math.pi * math.e * self.cov)[1])

    def log_prob(self, u: object) -> np.ndarray:
        """Log-densities of the rows of ``u`` (k, m)."""
        u = as_float_array("u", u, shape=(None, self.dim))
        d = u - self.mean
        sol = np.linalg.solve(self.cov, d.T).T
        return -0.5 * (np.sum(d * sol, 1) + np.linalg.slogdet(2 * math.pi * self.cov)[1])


@dataclass(frozen=True)
class GaussianPolicy:
    """The linear-Gaussian policy ``u ~ N(-K x + offset, cov)``."""

    K: np.ndarray
    offset: np.ndarray
    cov: np.ndarray

    def at(self, x: object) -> Gaussian:
        """The action distribution at state ``x`` (n,)."""
        x = np.atleast_1d(as_float_array("x", x, shape=None))
        if x.shape != (self.K.shape[1],):
            raise ValueError(f"x must have shape ({self.K.shape[1]},); got shape {x.shape}")
        return Gaussian(-self.K @ x + self.offset, self.cov)

    def summary(self) -> str:
        return f"N(-Kx, Sigma): K={np.round(self.K, 4).tolist()}, Sigma={np.round(self.cov, 4).tolist()}"


def _check_alpha(alpha: object) -> float:
    return check_positive("alpha", alpha)


def soft_lq_policy(task: LQTask, alpha: float) -> GaussianPolicy:
    """The entropy-regularized optimum of an LQ task: ``N(-Kx, (alpha/2) M^-1)`` [derived].

    ``M = R + gamma B'PB`` and ``K = gamma M^-1 B'PA`` with ``P`` the stabilizing solution of the
    discounted Riccati equation (module docstring). The policy is the soft-optimal
    ``pi ∝ exp(Q_soft / alpha)`` of Haarnoja et al. (2017, Eq. 2-3), the continuous counterpart of
    the softmax policy of Xu (2025, Prop 4.7).

    Parameters
    ----------
    task : LQTask
    alpha : float > 0
        Entropy temperature.

    Examples
    --------
    >>> pi = soft_lq_policy(lq_task(1.0, 1.0, 1.0, 1.0, gamma=0.5), alpha=0.2)
    >>> round(float(pi.K[0, 0]), 6), round(float(pi.cov[0, 0]), 6)
    (0.414214, 0.058579)
    """
    task = _check_task(task)
    alpha = _check_alpha(alpha)
    P = _riccati(task)
    M = task.R + task.gamma * task.B.T @ P @ task.B
    K = task.gamma * np.linalg.solve(M, task.B.T @ P @ task.A)
    cov = 0.5 * alpha * np.linalg.inv(M)
    return GaussianPolicy(K, np.zeros(task.m), (cov + cov.T) / 2)


def soft_lq_value(task: LQTask, alpha: float) -> tuple[np.ndarray, float]:
    """``(P, c)`` of the soft-optimal value ``V(x) = -x'Px - c`` [derived, module docstring].

    Examples
    --------
    >>> P, c = soft_lq_value(lq_task(0.0, 1.0, 1.0, 1.0, gamma=0.5), alpha=1.0)
    >>> float(P[0, 0]), round(c, 6)
    (1.0, -0.739265)
    """
    task = _check_task(task)
    alpha = _check_alpha(alpha)
    P = _riccati(task)
    M = task.R + task.gamma * task.B.T @ P @ task.B
    logdet = float(np.linalg.slogdet(math.pi * alpha * np.linalg.inv(M))[1])
    c = (task.gamma * float(np.trace(P @ task.noise)) - 0.5 * alpha * logdet) / (1 - task.gamma)
    return P, c


def _as_gaussian(name: str, g: object) -> Gaussian:
    if isinstance(g, Gaussian):
        return g
    if isinstance(g, tuple) and len(g) == 2:
        return Gaussian(*g)
    raise ArgumentTypeError(f"{name} must be a Gaussian or a (mean, cov) pair; got {g!r}")


def _pair(p: object, q: object) -> tuple[Gaussian, Gaussian]:
    p, q = _as_gaussian("p", p), _as_gaussian("q", q)
    if p.dim != q.dim:
        raise ValueError(f"q must have the dimension of p ({p.dim}); got {q.dim}")
    return p, q


def gaussian_kl(p: Gaussian | tuple, q: Gaussian | tuple) -> float:
    """``KL(p || q)`` between Gaussians, in closed form::

        KL = (1/2) [tr(S_q^-1 S_p) + (mu_q - mu_p)' S_q^-1 (mu_q - mu_p) - m + log det S_q/det S_p]

    Examples
    --------
    >>> gaussian_kl(Gaussian([0.0], [[1.0]]), Gaussian([1.0], [[1.0]]))
    0.5
    """
    p, q = _pair(p, q)
    d = q.mean - p.mean
    sol = np.linalg.solve(q.cov, np.column_stack([p.cov, d]))
    ld = np.linalg.slogdet(q.cov)[1] - np.linalg.slogdet(p.cov)[1]
    kl = 0.5 * (np.trace(sol[:, :-1]) + float(d @ sol[:, -1]) - p.dim + ld)
    return max(float(kl), 0.0)


def gaussian_tv_bound(p: Gaussian | tuple, q: Gaussian | tuple) -> float:
    """An upper bound on ``d_TV(p, q)``, exact when the covariances are equal.

    Equal covariances ``S``: ``d_TV = 2 Phi(delta / 2) - 1`` with the Mahalanobis distance
    ``delta = ||S^-1/2 (mu_p - mu_q)||`` (the densities differ only along the discriminant
    direction). Otherwise the smallest of Pinsker ``sqrt(KL/2)`` (both directions),
    Bretagnolle-Huber ``sqrt(1 - exp(-KL))`` and 1 (Tsybakov 2009, Lemma 2.5, Eq. 2.25).

    Examples
    --------
    >>> round(gaussian_tv_bound(([0.0], [[1.0]]), ([2.0], [[1.0]])), 6)
    0.682689
    """
    p, q = _pair(p, q)
    if np.array_equal(p.cov, q.cov):
        d = p.mean - q.mean
        delta = math.sqrt(max(float(d @ np.linalg.solve(p.cov, d)), 0.0))
        return float(2 * ndtr(delta / 2) - 1)
    kl = min(gaussian_kl(p, q), gaussian_kl(q, p))
    return float(min(1.0, math.sqrt(kl / 2), math.sqrt(-math.expm1(-kl))))


def gaussian_tv_1d(p: Gaussian | tuple, q: Gaussian | tuple) -> float:
    """Exact ``d_TV`` between two one-dimensional Gaussians (any variances).

    ``d_TV = P_p(D) - P_q(D)`` on ``D = {p > q}``, an interval or its complement bounded by the
    (at most two) roots of ``log p(u) = log q(u)``, a quadratic in ``u``.

    Examples
    --------
    >>> round(gaussian_tv_1d(([0.0], [[1.0]]), ([0.0], [[4.0]])), 6)
    0.322675
    """
    p, q = _pair(p, q)
    if p.dim != 1:
        raise ValueError(f"p must be one-dimensional; got dimension {p.dim}")
    m1, m2 = float(p.mean[0]), float(q.mean[0])
    s1, s2 = math.sqrt(float(p.cov[0, 0])), math.sqrt(float(q.cov[0, 0]))
    if abs(s1 - s2) <= 1e-14 * max(s1, s2):
        return float(2 * ndtr(abs(m1 - m2) / (2 * s1)) - 1)
    # log p - log q = a u^2 + b u + c
    a = 0.5 / s2**2 - 0.5 / s1**2
    b = m1 / s1**2 - m2 / s2**2
    c = 0.5 * m2**2 / s2**2 - 0.5 * m1**2 / s1**2 + math.log(s2 / s1)
    disc = b * b - 4 * a * c
    r = np.sort(np.roots([a, b, c]).real) if disc > 0 else None
    if r is None:  # one density dominates everywhere: impossible for two distributions
        return 0.0

    def mass(m: float, s: float) -> float:  # mass of the interval between the roots
        return float(ndtr((r[1] - m) / s) - ndtr((r[0] - m) / s))

    inner = mass(m1, s1) - mass(m2, s2)  # p > q between the roots when a < 0 (p narrower)
    return float(abs(inner))


def lyapunov_sum(task: LQTask, K: object, X: object) -> np.ndarray:
    """``L_K(X) = sum_t gamma^t (A - BK)'^t X (A - BK)^t``: the discounted Lyapunov sum.

    It is the matrix of the cost ``x'Xx`` accumulated along the closed loop of the linear
    policy ``-Kx`` (finite when ``sqrt(gamma) (A - BK)`` is stable; else refused).

    Examples
    --------
    >>> t = lq_task(0.0, 1.0, 1.0, 1.0, gamma=0.5)
    >>> float(lyapunov_sum(t, [[0.0]], [[1.0]])[0, 0])
    1.0
    """
    task = _check_task(task)
    K = np.atleast_2d(as_float_array("K", K))
    if K.shape != (task.m, task.n):
        raise ValueError(f"K must have shape ({task.m}, {task.n}); got shape {K.shape}")
    X = _square("X", X, task.n)
    a = math.sqrt(task.gamma) * (task.A - task.B @ K)
    rho = float(np.abs(np.linalg.eigvals(a)).max())
    if rho >= 1:
        raise ValueError(f"K: sqrt(gamma)(A - BK) has spectral radius {rho:.3g} >= 1")
    L = sla.solve_discrete_lyapunov(a.T, X)
    return (L + L.T) / 2


@dataclass(frozen=True)
class LQShift:
    """How far the soft-optimal LQ policy moves when the state cost moves (:func:`soft_lq_shift`).

    ``kl[i]`` is the exact ``KL(pi_x || pi'_x)`` at ``states[i]``, ``tv_bound[i]`` the
    :func:`gaussian_tv_bound` of the pair; ``dP_norm`` the spectral norm of ``P' - P`` and
    ``dP_bound`` its bound ``||dQ||_2 max(||L_K(I)||_2, ||L_K'(I)||_2)``.
    """

    base: GaussianPolicy
    moved: GaussianPolicy
    states: np.ndarray
    kl: np.ndarray
    tv_bound: np.ndarray
    dP_norm: float
    dP_bound: float

    def summary(self) -> str:
        return (
            f"max KL {self.kl.max():.3g}, max TV bound {self.tv_bound.max():.3g}; ||dP|| "
            f"{self.dP_norm:.3g} <= {self.dP_bound:.3g}"
        )


def soft_lq_shift(task: LQTask, dQ: object, alpha: float, states: object) -> LQShift:
    """The continuous analogue of Prop 4.7 of Xu (2025): the soft-optimal Gaussian policy moves
    continuously with the reward, by an exact amount [derived].

    With ``Q -> Q + dQ`` (``R``, dynamics, ``alpha`` fixed), let ``P, K, M`` and ``P', K', M'`` be
    the two Riccati solutions (module docstring).

    (i) Value (the analogue of ``||dQ*||_inf <= ||dR||_inf / (1 - gamma)``). ``P`` is the
    pointwise minimum over linear policies of their cost matrices ``L_K(Q + K'RK)``
    (:func:`lyapunov_sum`), so using each optimum in the other problem::

        L_K'(dQ) <= P' - P <= L_K(dQ)     (Loewner order)

    hence ``||P' - P||_2 <= ||dQ||_2 max(||L_K(I)||_2, ||L_K'(I)||_2)``; for a closed loop that
    is a rotation ``L_K(I) = I / (1 - gamma)``, the tabular factor.

    (ii) Policy. At state ``x`` both policies are Gaussian, and (Sigma = (alpha/2) M^-1)::

        KL(pi_x || pi'_x) = (1/2)[tr(M' M^-1) - m - log det(M' M^-1)]
                            + (1/alpha) x'(K - K')' M' (K - K') x,

    with ``M' - M = gamma B'(P' - P)B`` and ``K' - K`` smooth in ``P' - P``: the map from ``dQ``
    to the policy is continuous (no cliff), and ``d_TV <= sqrt(KL / 2)``. Unlike the finite-action
    ``1/(2 alpha (1 - gamma))``, the mean term scales as ``1/sqrt(alpha)`` in TV and grows with
    ``||x||``: the quadratic reward change is unbounded in ``x``.

    Parameters
    ----------
    task : LQTask
    dQ : array (n, n), symmetric, with ``Q + dQ`` PSD
    alpha : float > 0
    states : array (k, n)
        States at which the KL and TV bound are reported.

    Examples
    --------
    >>> t = lq_task(1.0, 1.0, 1.0, 1.0, gamma=0.9)
    >>> s = soft_lq_shift(t, [[0.5]], 0.1, [[1.0]])
    >>> bool(s.dP_norm <= s.dP_bound), bool(s.kl[0] > 0)
    (True, True)
    """
    task = _check_task(task)
    dQ = _square("dQ", dQ, task.n)
    if (
        not np.allclose(dQ, dQ.T, atol=_SYM_TOL, rtol=0)
        or np.linalg.eigvalsh(task.Q + dQ).min() < -_SYM_TOL
    ):
        raise ValueError("dQ must be symmetric with Q + dQ positive semidefinite")
    alpha = _check_alpha(alpha)
    X = as_float_array("states", states, shape=(None, task.n))
    moved_task = task.with_cost(Q=task.Q + dQ)
    pi, pi2 = soft_lq_policy(task, alpha), soft_lq_policy(moved_task, alpha)
    P, P2 = _riccati(task), _riccati(moved_task)
    kl = np.array([gaussian_kl(pi.at(x), pi2.at(x)) for x in X])
    tv = np.array([gaussian_tv_bound(pi.at(x), pi2.at(x)) for x in X])
    eye = np.eye(task.n)
    scale = max(
        np.linalg.norm(lyapunov_sum(task, pi.K, eye), 2),
        np.linalg.norm(lyapunov_sum(task, pi2.K, eye), 2),
    )
    return LQShift(
        pi,
        pi2,
        X,
        kl,
        tv,
        float(np.linalg.norm(P2 - P, 2)),
        float(np.linalg.norm(dQ, 2) * scale),
    )
