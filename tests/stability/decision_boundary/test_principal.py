"""Claims 4 and 5 (PCA optimality; SVD, Gram, power and eigh agree), and the streaming sketch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from stability import principal_direction
from stability.decision_boundary import FrequentDirections
from stability.decision_boundary.strategies import direction_sets


@settings(max_examples=40, deadline=None)
@given(direction_sets())
def test_pca_optimality(V):  # decision-boundary/principal-agreement
    g = principal_direction(V)
    val = np.sum((V @ g.direction) ** 2)
    assert abs(val - g.lambda_max) <= 1e-9 * g.lambda_max
    U = np.random.default_rng(0).standard_normal((1000, V.shape[1]))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    assert np.all(np.sum((V @ U.T) ** 2, axis=0) <= g.lambda_max * (1 + 1e-9))


def _gapped(rng, n, d):
    V = rng.standard_normal((n, d))
    V[:, 0] *= 3.0  # a clear eigengap
    return V


@pytest.mark.parametrize("n,d", [(40, 10), (8, 30), (200, 60)])
def test_methods_agree(n, d):  # decision-boundary/principal-agreement
    V = _gapped(np.random.default_rng(n + d), n, d)
    ref = principal_direction(V, method="eigh")
    for m in ("svd", "gram", "power"):
        g = principal_direction(V, method=m)
        assert abs(g.direction @ ref.direction) > 1 - 1e-8, m
        top = 1 if m == "power" else 2  # power: the later Ritz values are only lower bounds
        np.testing.assert_allclose(g.eigenvalues[:top], ref.eigenvalues[:top], rtol=1e-8)
        assert np.all(g.eigenvalues <= ref.eigenvalues[: len(g.eigenvalues)] * (1 + 1e-9))
    chunks = [V[i : i + 7] for i in range(0, n, 7)]
    g = principal_direction(chunks)
    assert g.method == "power" and g.converged
    assert abs(g.direction @ ref.direction) > 1 - 1e-8


def test_frequent_directions_certificate():
    rng = np.random.default_rng(3)
    V = _gapped(rng, 500, 40)
    fd = FrequentDirections(40, ell=12)
    for i in range(0, 500, 64):
        fd.update(V[i : i + 64])
    r = fd.result()
    ref = principal_direction(V)
    assert r.lambda_max <= ref.lambda_max * (1 + 1e-12)
    assert ref.lambda_max <= r.lambda_max + fd.shrinkage * (1 + 1e-9)
    assert abs(r.direction @ ref.direction) > 0.99


def test_sign_and_shape():
    V = np.random.default_rng(0).standard_normal((5, 2, 3))
    g = principal_direction(V)
    assert g.direction.shape == (2, 3)
    assert g.direction.ravel()[np.argmax(np.abs(g.direction))] > 0
    assert "G_S of 5 states" in g.summary()


def test_bad_inputs():
    with pytest.raises(ValueError, match="method"):
        principal_direction(np.ones((3, 2)), method="qr")
    with pytest.raises(ValueError, match="non-zero"):
        principal_direction(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="directions"):
        principal_direction(np.ones(3))
    with pytest.raises(ValueError, match="empty"):
        principal_direction([])
    with pytest.raises(ValueError, match="share"):
        principal_direction([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="k"):
        principal_direction(np.ones((3, 2)), k=0)
    with pytest.raises(ValueError, match="d x d"):
        principal_direction(np.ones((2, 5000)), method="eigh")
    with pytest.raises(ValueError, match="chunk"):
        FrequentDirections(3).update(np.ones((2, 4)))
