"""Summaries of instability: oscillation over time, spatial-frequency spread, top-coordinate overlap.

The paper's observations are qualitative (Korkmaz 2024, §5): adversarially trained policies have
"much higher variance in the gradient norm" along an episode, their ``G_S`` has Fourier mass
"more evenly and smoothly spread out", and their non-robust features sit on "disjoint
coordinates" from the vanilla ones. The paper gives no formula; the proxies here are [derived]:

- :func:`oscillation`: mean, std, coefficient of variation and mean relative step of ‖∇J(s_t)‖;
- :func:`fourier_spread`: normalised spectral entropy of ``|FFT2(G)|²`` and the energy share
  outside the lowest radial band, with the Parseval check;
- :func:`top_overlap`: Jaccard overlap of the top-q coordinates of ``|G|`` of two policies;
- :func:`bootstrap_interval`: a seeded percentile-bootstrap interval for reporting.

References
----------
.. [1] E. Korkmaz, ICML 2024 (arXiv:2406.16979), §5 (oscillations, Fourier, disjointness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stability.decision_boundary._checks import as_batch
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = [
    "FourierSpread",
    "Oscillation",
    "bootstrap_interval",
    "fourier_spread",
    "oscillation",
    "top_overlap",
]


@dataclass(frozen=True)
class Oscillation:
    """Statistics of a gradient-norm series ``‖∇J(s_t)‖`` along a trajectory.

    ``cv = std / mean`` and ``mean_step = mean |x_{t+1} - x_t| / mean`` are scale-invariant.
    """

    mean: float
    std: float
    cv: float
    mean_step: float
    n: int

    def summary(self) -> str:
        return f"‖∇J‖ over {self.n} steps: mean {self.mean:.4g}, CV {self.cv:.4f}, step {self.mean_step:.4f}"


def oscillation(norms: object) -> Oscillation:
    """Oscillation statistics of a series of gradient norms (Korkmaz 2024, §5) [derived].

    The paper plots ``‖∇_s J(s_t)‖`` along an episode and reports that adversarially trained
    policies show "much higher variance"; the coefficient of variation is that variance on a
    scale-free footing (multiplying every norm by ``c > 0`` leaves it unchanged).

    Parameters
    ----------
    norms : array_like, shape (T,)
        Non-negative, not all zero, ``T >= 2``.

    Raises
    ------
    ValueError
        For a negative entry, fewer than two entries, or an all-zero series.
    """
    x = as_float_array("norms", norms, allow_empty=True).ravel()
    if x.size < 2 or (x < 0).any() or not (x > 0).any():
        raise ValueError(f"norms must hold >= 2 non-negative values, not all 0; got {x[:5]}...")
    m = float(x.mean())
    s = float(x.std())
    return Oscillation(m, s, s / m, float(np.mean(np.abs(np.diff(x)))) / m, int(x.size))


@dataclass(frozen=True)
class FourierSpread:
    """Where the energy of ``|FFT2(G)|²`` lies.

    Attributes
    ----------
    entropy : float
        Shannon entropy of the normalised power spectrum over ``log(H W)``, in [0, 1]: 0 for
        one frequency, 1 for a flat spectrum (the "spread" of Korkmaz 2024, §5).
    high_share : float
        Energy share outside the lowest radial band (radius <= ``low`` in cycles per image).
    dc_share : float
        Energy share at frequency (0, 0).
    parseval_error : float
        ``|Σ|F|²/(H W) - ‖G‖²| / ‖G‖²`` (round-off only).
    """

    entropy: float
    high_share: float
    dc_share: float
    parseval_error: float

    def summary(self) -> str:
        return (
            f"spectral entropy {self.entropy:.4f}, high-frequency share {self.high_share:.4f}, "
            f"DC share {self.dc_share:.4f}"
        )


def fourier_spread(G: object, low: float = 2.0) -> FourierSpread:
    """Spatial-frequency spread of a principal direction ``G`` (Korkmaz 2024, §5) [derived].

    The paper's observation is qualitative (the Fourier mass of a robust policy's ``G_S`` is
    "more evenly and smoothly spread out"); its normalised spectral entropy and high-band
    share are the proxies. Parseval, ``Σ|F|² = H W ‖G‖²``, is checked on every call.

    Parameters
    ----------
    G : array_like, shape (H, W) or (C, H, W)
        Channels are summed in power.
    low : float, default 2.0
        Radius (cycles per image, on the centred integer frequency grid) of the low band.

    Raises
    ------
    ValueError
        If ``G`` is not 2-D/3-D, is zero, or ``low`` is not positive.
    """
    g = as_batch("G", G, min_ndim=2)
    if g.ndim == 2:
        g = g[None]
    if g.ndim != 3:
        raise ValueError(f"G must have shape (H, W) or (C, H, W); got {g.shape}")
    low = check_positive("low", low)
    energy = float(np.sum(g * g))
    if energy == 0:
        raise ValueError("G must be non-zero")
    H, W = g.shape[1:]
    P = np.sum(np.abs(np.fft.fft2(g)) ** 2, axis=0)
    total = float(P.sum())
    p = P.ravel() / total
    nz = p[p > 0]
    ent = float(-(nz * np.log(nz)).sum() / np.log(H * W)) if H * W > 1 else 0.0
    fy = np.fft.fftfreq(H) * H
    fx = np.fft.fftfreq(W) * W
    r = np.hypot(fy[:, None], fx[None, :])
    return FourierSpread(
        entropy=min(1.0, max(0.0, ent)),
        high_share=float(P[r > low].sum() / total),
        dc_share=float(P[0, 0] / total),
        parseval_error=abs(total / (H * W) - energy) / energy,
    )


def top_overlap(G1: object, G2: object, q: float = 0.05) -> float:
    """Jaccard overlap of the top-``q`` fraction of coordinates of ``|G1|`` and ``|G2|`` [derived].

    1 for identical supports, 0 for disjoint ones: a proxy for the "disjoint coordinates" of
    vanilla and robust non-robust features (Korkmaz 2024, §5).

    Raises
    ------
    ValueError
        If the shapes differ or ``q`` is not in (0, 1].
    """
    a = np.abs(as_float_array("G1", G1)).ravel()
    b = np.abs(as_float_array("G2", G2)).ravel()
    if a.size != b.size:
        raise ValueError(f"G1 and G2 must have the same size; got {a.size} and {b.size}")
    q = check_positive("q", q)
    if q > 1:
        raise ValueError(f"q must be in (0, 1]; got {q}")
    m = max(1, round(q * a.size))
    ta = set(np.argsort(-a, kind="stable")[:m].tolist())
    tb = set(np.argsort(-b, kind="stable")[:m].tolist())
    return len(ta & tb) / len(ta | tb)


def bootstrap_interval(
    values: object,
    stat: Callable[[np.ndarray], float] = np.mean,
    *,
    level: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(point, lower, upper)``: ``stat`` and its seeded percentile-bootstrap interval.

    Raises
    ------
    TypeError, ValueError
        For non-finite or empty ``values``, a ``stat`` that is not callable or returns a
        non-finite number, ``level`` outside (0, 1), ``n_boot < 1`` or a bad ``seed``.
    """
    x = as_float_array("values", values).ravel()
    if not callable(stat):
        raise ArgumentTypeError(f"stat must be callable; got {stat!r}")
    level = check_open_unit("level", level)
    n_boot = check_positive_int("n_boot", n_boot)
    rng = np.random.default_rng(check_seed(seed))
    try:
        point = float(stat(x))
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"stat must map an array to one number: {exc}") from exc
    if not np.isfinite(point):
        raise ValueError(f"stat must return a finite number; got {point} on values")
    boots = np.array([stat(x[rng.integers(0, x.size, x.size)]) for _ in range(n_boot)], float)
    if not np.isfinite(boots).all():
        raise ValueError("stat must return a finite number; got NaN/inf on a bootstrap resample")
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return point, float(lo), float(hi)
