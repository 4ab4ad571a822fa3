"""Instability directions: gradient formula, row space, binary case, invariances.

Claims decision-boundary/linear-gradient, linear-row-space and linear-binary (Korkmaz,
ICML 2024, §3), and invariances of v(s) [derived].
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from stability import instability_directions, principal_direction
from stability.decision_boundary import linear_direction
from stability.decision_boundary.models import LinearPolicy
from stability.decision_boundary.strategies import linear_policies


def _dirs(W, b, S, **kw):
    return instability_directions(LinearPolicy(W, b), S, **kw)


@settings(max_examples=40, deadline=None)
@given(linear_policies())
def test_linear_gradient_matches_closed_form(inst):  # decision-boundary/linear-gradient
    W, b, S = inst
    r = _dirs(W, b, S, tol=0.0)
    np.testing.assert_allclose(r.directions, linear_direction(W, b, S), atol=1e-10, rtol=0)


def test_gradcheck_on_small_mlp():  # decision-boundary/linear-gradient, nonlinear
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)
    ).double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    a = mlp(x).argmax(1).detach()

    def J(z):
        return -torch.log_softmax(mlp(z), 1).gather(1, a[:, None]).sum()

    assert torch.autograd.gradcheck(J, (x,))
    r = instability_directions(mlp, x.detach(), tol=0.0)
    (g,) = torch.autograd.grad(J(x), x)
    np.testing.assert_allclose(r.directions, g.numpy(), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(linear_policies(min_d=5, max_d=9, max_actions=4, max_states=30))
def test_row_space_restriction_and_rank(inst):  # decision-boundary/linear-row-space
    W, b, S = inst
    A = W.shape[0]
    r = _dirs(W, b, S, normalize=True)
    if not r.kept.any():
        return
    D = (W[1:] - W[0]).T  # span{w_k - w_j}
    P = D @ np.linalg.pinv(D)
    g = principal_direction(r, k=W.shape[1], method="eigh")
    assert np.linalg.norm(g.direction - P @ g.direction) < 1e-10
    assert np.all(np.abs(r.matrix - r.matrix @ P) < 1e-10)
    assert np.all(g.eigenvalues[A - 1 :] < 1e-10)


def test_saturated_softmax_filter_removes_spurious_eigenvalue():  # linear-row-space regression
    rng = np.random.default_rng(0)
    d, A, N = 10, 4, 300
    W, b = rng.standard_normal((A, d)), rng.standard_normal(A)
    S = rng.standard_normal((N, d)) * np.where(rng.random((N, 1)) < 0.1, 80.0, 1.0)
    # the naive cross-entropy gradient: rounding noise outside the row space when saturated
    x = torch.as_tensor(S, dtype=torch.float64).requires_grad_(True)
    q = x @ torch.as_tensor(W).T + torch.as_tensor(b)
    ce = -torch.log_softmax(q, 1).gather(1, q.detach().argmax(1)[:, None]).sum()
    (g,) = torch.autograd.grad(ce, x)
    naive = g.numpy()
    nz = np.linalg.norm(naive, axis=1) > 0
    naive = naive[nz] / np.linalg.norm(naive[nz], axis=1, keepdims=True)
    raw = principal_direction(naive, k=d, method="eigh")
    assert raw.eigenvalues[A - 1] > 1e-6  # the spurious direction
    with pytest.warns(RuntimeWarning, match=r"(\d+) of 300 states dropped") as rec:
        kept = _dirs(W, b, S, normalize=True, tol=1e-8)
    filt = principal_direction(kept, k=d, method="eigh")
    assert kept.n_dropped > 0 and kept.n_kept + kept.n_dropped == N
    assert f"{kept.n_dropped} of 300 states dropped" in str(rec[0].message)
    assert f"{kept.n_kept} kept" in str(rec[0].message)
    assert filt.eigenvalues[A - 1] < 1e-10


@settings(max_examples=30, deadline=None)
@given(linear_policies(min_actions=2, max_actions=2, max_states=20))
def test_binary_exactness(inst):  # decision-boundary/linear-binary
    W, b, S = inst
    r = _dirs(W, b, S, normalize=True)
    n = int(r.kept.sum())
    if n == 0:
        return
    g = principal_direction(r, k=2)
    w = (W[1] - W[0]) / np.linalg.norm(W[1] - W[0])
    assert abs(abs(g.direction @ w) - 1) < 1e-10
    assert abs(g.lambda_max - n) < 1e-9 * n
    assert g.eigenvalues[1:].max(initial=0.0) < 1e-9


def test_invariances():  # invariances of v(s) [derived]
    rng = np.random.default_rng(1)
    d, A, N = 6, 4, 25
    W, b, S = rng.standard_normal((A, d)), rng.standard_normal(A), rng.standard_normal((N, d))
    base = _dirs(W, b, S).directions
    # constant shift of all Q-values
    assert np.abs(_dirs(W, b + 3.7, S).directions - base).max() < 1e-12
    # permuting actions
    perm = rng.permutation(A)
    assert np.abs(_dirs(W[perm], b[perm], S).directions - base).max() < 1e-12
    # orthogonal equivariance: s -> Q(R^T s) on R S gives R G
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    g = principal_direction(_dirs(W, b, S)).direction
    g2 = principal_direction(_dirs(W @ R.T, b, S @ R.T)).direction
    assert abs(abs(g2 @ (R @ g)) - 1) < 1e-10
    # temperature does NOT preserve G_S in general (documented negative)
    g3 = principal_direction(_dirs(5.0 * W, 5.0 * b, S)).direction
    assert abs(abs(g3 @ g) - 1) > 1e-6


def test_result_fields_and_summary():
    r = _dirs(np.eye(3), np.zeros(3), np.ones((2, 3)) * np.array([1.0, 0.5, 0.0]), normalize=True)
    assert r.directions.shape == (2, 3) and r.actions.tolist() == [0, 0]
    assert np.allclose(np.linalg.norm(r.matrix, axis=1), 1.0)
    assert "2 directions" in r.summary()


def test_bad_inputs():
    pol = LinearPolicy(np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="policy"):
        instability_directions("nope", np.zeros((2, 3)))
    with pytest.raises(ValueError, match="states"):
        instability_directions(pol, np.zeros(3))
    with pytest.raises(ValueError, match="states"):
        instability_directions(pol, np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="tol"):
        instability_directions(pol, np.zeros((2, 3)), tol=-1)
    with pytest.raises(ValueError, match="batch_size"):
        instability_directions(pol, np.zeros((2, 3)), batch_size=0)
    with pytest.raises(ValueError, match="at least 2 actions"):
        instability_directions(LinearPolicy(np.ones((1, 3)), np.zeros(1)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="W"):
        linear_direction(np.eye(3), np.zeros(2), np.zeros((2, 3)))
