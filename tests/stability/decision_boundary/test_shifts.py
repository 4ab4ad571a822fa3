"""Sample shifts: identity at zero strength, invertibility, idempotence, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.decision_boundary import SHIFTS, apply_shift
from stability.decision_boundary.shifts import (
    affine_warp,
    brightness_contrast,
    dct_compression,
    gaussian_blur,
    rotation,
)

X = np.random.default_rng(0).random((3, 1, 12, 12))


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_identity_at_zero_strength(name):
    np.testing.assert_array_equal(apply_shift(name, X, 0.0), X)
    y = apply_shift(name, X, 0.1 if name != "blur" else 0.8)
    assert y.shape == X.shape and np.abs(y - X).max() > 1e-3


@settings(max_examples=30, deadline=None)
@given(st.floats(-0.9, 2.0))
def test_brightness_contrast_inverse(s):
    y = brightness_contrast(X, s)
    np.testing.assert_allclose((y - s / 2) / (1 + s), X, atol=1e-12)


def test_rotation_by_90_is_a_permutation_and_inverts():
    np.testing.assert_allclose(rotation(X, 90.0), np.rot90(X, k=-1, axes=(-2, -1)), atol=1e-9)
    np.testing.assert_allclose(rotation(rotation(X, 90.0), -90.0), X, atol=1e-9)


def test_affine_warp_approximately_invertible_inside():
    smooth = gaussian_blur(X, 2.0)
    back = affine_warp(affine_warp(smooth, 0.05), -0.05)
    # the inverse map of I + sM is not I - sM exactly: second-order error, and interpolation
    assert np.abs(back - smooth)[..., 3:-3, 3:-3].max() < 0.05


@settings(max_examples=20, deadline=None)
@given(st.floats(0.01, 0.5))
def test_compression_is_idempotent(s):
    y = dct_compression(X, s)
    np.testing.assert_allclose(dct_compression(y, s), y, atol=1e-9)


def test_blur_preserves_mean_of_constant_and_shrinks_variance():
    c = np.full((1, 8, 8), 0.3)
    np.testing.assert_allclose(gaussian_blur(c, 1.5), c, atol=1e-12)
    assert gaussian_blur(X, 1.0).var() < X.var()


def test_bad_inputs():
    with pytest.raises(ValueError, match="name"):
        apply_shift("jpeg", X, 0.1)
    with pytest.raises(ValueError, match="states"):
        gaussian_blur(np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="strength"):
        gaussian_blur(X, -1.0)
    with pytest.raises(ValueError, match="strength"):
        brightness_contrast(X, -1.5)
    with pytest.raises(ValueError, match="strength"):
        affine_warp(X, 0.7)
    with pytest.raises(ValueError, match="strength"):
        rotation(X, float("nan"))
