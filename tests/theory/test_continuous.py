"""Tests of theory.continuous: the soft LQ closed form, Gaussian distances, the Prop 4.7 analogue.

References: Xu 2025 (arXiv:2507.20150), Prop 4.7; Haarnoja et al. 2017, Eq. (2)-(3).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import norm

from theory.continuous import (
    Gaussian,
    gaussian_kl,
    gaussian_tv_1d,
    gaussian_tv_bound,
    lq_task,
    lyapunov_sum,
    soft_lq_policy,
    soft_lq_shift,
    soft_lq_value,
)

FEW = settings(max_examples=15, deadline=None)
SEEDS = st.integers(0, 2**31 - 1)


def _random_task(seed: int, n: int = 2, m: int = 1, noise: float = 0.1):
    """A random task; (A, B) random so almost surely controllable, hence stabilizable."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) * rng.uniform(0.3, 1.2) / math.sqrt(n)
    B = rng.normal(size=(n, m))
    L = rng.normal(size=(n, n))
    Q = L @ L.T / n + 0.1 * np.eye(n)
    R = np.diag(rng.uniform(0.2, 2.0, size=m))
    return lq_task(A, B, Q, R, gamma=float(rng.uniform(0.5, 0.95)), noise=noise)


def _policy_soft_value(task, K, cov, alpha):
    """(P_K, c_K): soft value ``-x'P_K x - c_K`` of the policy N(-Kx, cov), by Lyapunov sums
    (a second method: policy evaluation, no Riccati equation)."""
    P_K = lyapunov_sum(task, K, task.Q + K.T @ task.R @ K)
    H = Gaussian(np.zeros(task.m), cov).entropy()
    per_step = np.trace(task.R @ cov) - alpha * H
    per_step += task.gamma * np.trace(P_K @ (task.B @ cov @ task.B.T + task.noise))
    return P_K, per_step / (1 - task.gamma)


def test_scalar_closed_form_by_hand():
    # A = B = Q = R = 1, gamma 1/2: P = sqrt(2), M = 1 + sqrt(2)/2, K = sqrt(2)/(2M)
    pi = soft_lq_policy(lq_task(1.0, 1.0, 1.0, 1.0, gamma=0.5), alpha=0.3)
    M = 1 + math.sqrt(2) / 2
    assert pi.K[0, 0] == pytest.approx(math.sqrt(2) / (2 * M), rel=1e-12)
    assert pi.cov[0, 0] == pytest.approx(0.3 / (2 * M), rel=1e-12)


def test_soft_bellman_fixed_point_by_quadrature():
    """V(x) = alpha log ∫ exp(Q(x,u)/alpha) du, the integral by numerical quadrature (1-D)."""
    task = lq_task(1.2, 0.7, 1.0, 0.5, gamma=0.8, noise=0.3)
    alpha = 0.4
    P, c = soft_lq_value(task, alpha)
    p, g = P[0, 0], task.gamma
    for x in (-1.5, 0.0, 0.7):

        def q(u, x=x):
            nxt = 1.2 * x + 0.7 * u
            return -(x * x + 0.5 * u * u) + g * (-p * nxt * nxt - p * 0.3 - c)

        umax = -1.2 * 0.7 * g * p * x / (0.5 + g * 0.49 * p)  # the maximizer, -Kx
        top = q(umax)
        z, _ = integrate.quad(
            lambda u, q=q, top=top: math.exp((q(u) - top) / alpha), -40, 40, points=[umax]
        )
        v = top + alpha * math.log(z)
        assert v == pytest.approx(-p * x * x - c, abs=1e-9)


@FEW
@given(SEEDS, st.integers(1, 2), st.floats(0.05, 3.0))
def test_closed_form_is_its_own_soft_value_and_optimal(seed, m, alpha):
    """Policy evaluation of the closed form gives back (P, c); perturbing K or Sigma lowers it."""
    task = _random_task(seed, n=2, m=m)
    pi = soft_lq_policy(task, alpha)
    P, c = soft_lq_value(task, alpha)
    P_K, c_K = _policy_soft_value(task, pi.K, pi.cov, alpha)
    np.testing.assert_allclose(P_K, P, rtol=1e-7, atol=1e-9)
    assert c_K == pytest.approx(c, rel=1e-7, abs=1e-9)
    rng = np.random.default_rng(seed)
    K2 = pi.K + 0.05 * rng.normal(size=pi.K.shape)
    if np.abs(np.linalg.eigvals(math.sqrt(task.gamma) * (task.A - task.B @ K2))).max() < 0.999:
        P2, _ = _policy_soft_value(task, K2, pi.cov, alpha)
        assert np.linalg.eigvalsh(P2 - P).min() >= -1e-9  # a worse (larger-cost) value
    _, c3 = _policy_soft_value(task, pi.K, pi.cov * 1.3, alpha)
    assert c3 >= c - 1e-9


def test_alpha_only_changes_the_covariance():
    task = _random_task(3)
    a, b = soft_lq_policy(task, 0.1), soft_lq_policy(task, 1.0)
    np.testing.assert_allclose(a.K, b.K, rtol=1e-12)
    np.testing.assert_allclose(10 * a.cov, b.cov, rtol=1e-12)


def test_kl_against_monte_carlo():
    p = Gaussian([0.3, -0.2], [[1.0, 0.3], [0.3, 0.5]])
    q = Gaussian([-0.1, 0.4], [[0.7, -0.1], [-0.1, 0.9]])
    u = np.random.default_rng(0).multivariate_normal(p.mean, p.cov, size=200_000)
    mc = float(np.mean(p.log_prob(u) - q.log_prob(u)))
    assert gaussian_kl(p, q) == pytest.approx(mc, abs=0.01)  # MC std ~ 3e-3
    assert gaussian_kl(p, p) == 0.0


def test_tv_1d_against_quadrature_and_bounds():
    rng = np.random.default_rng(1)
    grid = np.linspace(-25, 25, 500_001)  # trapezoid, step 1e-4: error ~1e-8
    for _ in range(8):
        m1, m2 = rng.normal(size=2)
        s1, s2 = rng.uniform(0.3, 2.0, size=2)
        num = np.trapezoid(np.abs(norm.pdf(grid, m1, s1) - norm.pdf(grid, m2, s2)) / 2, grid)
        p, q = Gaussian([m1], [[s1**2]]), Gaussian([m2], [[s2**2]])
        assert gaussian_tv_1d(p, q) == pytest.approx(num, abs=1e-7)
        assert num <= gaussian_tv_bound(p, q) + 1e-9
        # equal variances: the bound is exact
        q_eq = Gaussian([m2], [[s1**2]])
        assert gaussian_tv_bound(p, q_eq) == pytest.approx(gaussian_tv_1d(p, q_eq), abs=1e-12)


def test_lyapunov_sum_tabular_factor():
    # closed loop 0 (K = A/B): L_K(I) = I; rotation scaled... scalar closed loop a: 1/(1 - gamma a^2)
    task = lq_task(0.5, 1.0, 1.0, 1.0, gamma=0.9)
    assert lyapunov_sum(task, [[0.0]], [[1.0]])[0, 0] == pytest.approx(1 / (1 - 0.9 * 0.25))


@FEW
@given(SEEDS, st.floats(0.05, 2.0), st.floats(-0.09, 2.0))
def test_prop47_analogue_sandwich_and_exact_kl(seed, alpha, eps):
    task = _random_task(seed)
    rng = np.random.default_rng(seed + 1)
    D = rng.normal(size=(2, 2))
    dQ = eps * (D @ D.T) / max(np.linalg.norm(D @ D.T, 2), 1e-9)
    X = rng.normal(size=(5, 2))
    s = soft_lq_shift(task, dQ, alpha, X)
    assert s.dP_norm <= s.dP_bound * (1 + 1e-7) + 1e-10
    # the exact KL formula of the docstring, against the generic Gaussian KL
    P, P2 = soft_lq_value(task, alpha)[0], soft_lq_value(task.with_cost(Q=task.Q + dQ), alpha)[0]
    M = task.R + task.gamma * task.B.T @ P @ task.B
    M2 = task.R + task.gamma * task.B.T @ P2 @ task.B
    E = M2 @ np.linalg.inv(M)
    dK = s.base.K - s.moved.K
    cov_part = 0.5 * (np.trace(E) - task.m - np.linalg.slogdet(E)[1])
    for x, kl in zip(X, s.kl, strict=True):
        assert kl == pytest.approx(cov_part + x @ dK.T @ M2 @ dK @ x / alpha, rel=1e-6, abs=1e-12)
    assert np.all(s.tv_bound <= 1.0)


def test_no_cliff_policy_moves_continuously():
    task = _random_task(7)
    X = np.array([[1.0, -1.0]])
    kls = [soft_lq_shift(task, e * np.eye(2), 0.2, X).kl[0] for e in (1e-1, 1e-2, 1e-3)]
    assert kls[0] > kls[1] > kls[2] > 0
    assert kls[2] < 1e-4  # KL is second order in the perturbation


def test_unstabilizable_refused():
    with pytest.raises(ValueError, match="stabilizable"):
        lq_task([[2.0, 0.0], [0.0, 0.5]], [[0.0], [1.0]], np.eye(2), 1.0)
