"""Natural sample shifts of image observations, each with a strength (0 = identity, exactly).

The paper's "imperceptible" natural shifts (Korkmaz 2024, §4, Table 1 rows): brightness and
contrast, blurring, rotation, compression artifacts and a perspective transform. Parameters per
transform are not given in the paper [reconstructed]; here each is one ``strength``:

- :func:`brightness_contrast`: ``(1 + strength)·s + strength/2`` (contrast α, brightness β);
- :func:`gaussian_blur`: Gaussian filter with σ = ``strength`` pixels (``scipy.ndimage``);
- :func:`rotation`: rotation by ``strength`` degrees about the centre (bilinear);
- :func:`dct_compression`: JPEG-like quantisation of the 2-D DCT (orthonormal), step
  ``strength·(1 + u + v)`` at frequency (u, v) (idempotent: compressing twice = once);
- :func:`affine_warp`: the perspective transform approximated by an affine shear/scale
  ``I + strength·[[0.1, 1], [0.5, -0.1]]`` about the centre (bilinear).

States are ``(N, H, W)`` or ``(N, C, H, W)`` arrays; the spatial axes are the last two. Results
are float64 arrays of the same shape. :data:`SHIFTS` maps names to functions.

References
----------
.. [1] E. Korkmaz, ICML 2024 (arXiv:2406.16979), §4 and Table 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from stability.decision_boundary._checks import as_batch
from theory.checks import check_choice, check_nonnegative, check_real

__all__ = [
    "SHIFTS",
    "affine_warp",
    "apply_shift",
    "brightness_contrast",
    "dct_compression",
    "gaussian_blur",
    "rotation",
]


def _images(states: object) -> np.ndarray:
    x = as_batch("states", states, min_ndim=3)
    if x.ndim not in (3, 4):
        raise ValueError(f"states must have shape (N, H, W) or (N, C, H, W); got {x.shape}")
    return x


def _per_image(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    flat = x.reshape(-1, *x.shape[-2:])
    return np.stack([fn(img) for img in flat]).reshape(x.shape)


def brightness_contrast(states: object, strength: float) -> np.ndarray:
    """``α s + β`` with ``α = 1 + strength``, ``β = strength / 2`` (invertible for α > 0)."""
    x = _images(states)
    s = check_real("strength", strength, lo=-1.0, lo_open=True)
    return (1.0 + s) * x + s / 2


def gaussian_blur(states: object, strength: float) -> np.ndarray:
    """Gaussian blur with σ = ``strength`` pixels over the spatial axes (mode ``nearest``)."""
    x = _images(states)
    s = check_nonnegative("strength", strength)
    if s == 0:
        return x.copy()
    sigma = (0,) * (x.ndim - 2) + (s, s)
    return ndimage.gaussian_filter(x, sigma=sigma, mode="nearest")


def _about_centre(x: np.ndarray, M: np.ndarray) -> np.ndarray:
    c = (np.array(x.shape[-2:], dtype=float) - 1) / 2
    offset = c - M @ c
    return _per_image(
        x, lambda img: ndimage.affine_transform(img, M, offset=offset, order=1, mode="nearest")
    )


def rotation(states: object, strength: float) -> np.ndarray:
    """Rotation by ``strength`` degrees (clockwise as displayed) about the centre (bilinear)."""
    x = _images(states)
    s = check_real("strength", strength)
    if s == 0:
        return x.copy()
    t = np.deg2rad(s)
    M = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])  # output -> input map
    return _about_centre(x, M)


def dct_compression(states: object, strength: float) -> np.ndarray:
    """JPEG-like DCT quantisation: round the orthonormal 2-D DCT to steps ``strength·(1+u+v)``."""
    x = _images(states)
    s = check_nonnegative("strength", strength)
    if s == 0:
        return x.copy()
    H, W = x.shape[-2:]
    q = s * (1.0 + np.arange(H)[:, None] + np.arange(W)[None, :])
    c = sfft.dctn(x, axes=(-2, -1), norm="ortho")
    return sfft.idctn(np.round(c / q) * q, axes=(-2, -1), norm="ortho")


def affine_warp(states: object, strength: float) -> np.ndarray:
    """Perspective approximated by the affine map ``I + strength·[[0.1, 1], [0.5, -0.1]]``."""
    x = _images(states)
    s = check_real("strength", strength, lo=-0.5, hi=0.5, lo_open=True, hi_open=True)
    if s == 0:
        return x.copy()
    M = np.eye(2) + s * np.array([[0.1, 1.0], [0.5, -0.1]])
    return _about_centre(x, M)


#: Name -> shift function ``f(states, strength)``.
SHIFTS: dict[str, Callable[[object, float], np.ndarray]] = {
    "brightness-contrast": brightness_contrast,
    "blur": gaussian_blur,
    "rotation": rotation,
    "compression": dct_compression,
    "perspective": affine_warp,
}


def apply_shift(name: str, states: object, strength: float) -> np.ndarray:
    """Apply the shift ``name`` (a key of :data:`SHIFTS`) at ``strength``."""
    check_choice("name", name, sorted(SHIFTS))
    return SHIFTS[name](states, strength)
