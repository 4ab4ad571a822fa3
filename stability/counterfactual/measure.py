"""The Stability measure of a counterfactual (Hamman et al., ICML 2023) and its relaxation.

For a model ``m`` (the probability of the favourable class), a point ``x``, a number of samples
``k``, a noise level ``sigma`` and a Lipschitz constant ``gamma_x``:

    R_{k,sigma}(x, m) = (1/k) sum_i [ m(x_i) - gamma_x ||x_i - x||_2 ],   x_i ~ N(x, sigma^2 I_d).

**sigma is a standard deviation** everywhere in this package (the authors' code passes it as
``stddev``); the paper writes the variance ``sigma^2`` in the subscript.

- :func:`counterfactual_stability` computes R (exact, with an explicit ``gamma_x``), the
  sample-difference relaxation R-hat (``relaxed=True``), or the *certified* variant (exact R
  with ``gamma_x`` an upper bound on Lip(m): :func:`lipschitz_upper_bound`, the product of the
  layers' spectral norms).
- R-hat = mean_i m(x_i) - mean_i |m(x_i) - m(x)| is the relaxation of the authors' code. As
  ``|m(x_i) - m(x)| <= Lip(m) ||x_i - x||``, **R-hat >= R on the same samples whenever
  gamma_x >= Lip(m)**: the relaxation is optimistic and the guarantee of
  :mod:`stability.counterfactual.guarantee` does not transfer to it.
- :func:`stability_from_samples` is the same formula on values already computed (any function,
  probabilities or not); :func:`linear_expected_stability` is the closed form of E[R] and
  E[R-hat] for a linear m.

References
----------
.. [1] F. Hamman, E. Noorani, S. Mishra, D. Magazzeni, S. Dutta, "Robust Counterfactual
   Explanations for Neural Networks With Probabilistic Guarantees", ICML 2023 (arXiv:2305.11997),
   definition of Stability [reconstructed from the abstract and the authors' code].
.. [2] R <= m(x) for gamma_x >= Lip(m), R-hat >= R, and the closed forms of
   :func:`linear_expected_stability` are [derived] here (derivations in the docstrings).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.special import gammaln
from torch import nn

from stability.counterfactual._batched import (
    CHUNK_POINTS,
    AffineSplit,
    _stability_core,  # noqa: F401 (re-exported: the per-query core of the benchmark)
    chunk_rows,
    per_row_seeds,
    stability_values,
)
from stability.counterfactual._checks import as_queries, check_rng_seed
from stability.counterfactual.models import _ProbabilityModel
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_real,
)

__all__ = [
    "counterfactual_stability",
    "expected_gaussian_norm",
    "linear_expected_stability",
    "lipschitz_upper_bound",
    "stability_from_samples",
]

#: Query rows per batch: k samples each, so a batch evaluates about CHUNK_SAMPLES points
#: (2^14: the activations of a small MLP stay in cache; see :mod:`._batched`).
CHUNK_SAMPLES = CHUNK_POINTS


def stability_from_samples(
    m_x: np.ndarray,
    m_samples: np.ndarray,
    distances: np.ndarray,
    lipschitz: float | np.ndarray | None = None,
    *,
    relaxed: bool = False,
) -> np.ndarray:
    """R (or R-hat) from model values already computed at x and at its k samples.

    Parameters
    ----------
    m_x : (n,) array
        m(x) for each query.
    m_samples : (n, k) array
        m(x_i) at the samples of each query.
    distances : (n, k) array
        ||x_i - x||_2 (only used by the exact measure).
    lipschitz : float or (n,) array, optional
        gamma_x of the exact measure; required unless ``relaxed``.
    relaxed : bool
        Return R-hat = mean m(x_i) - mean |m(x_i) - m(x)| instead.

    Returns
    -------
    (n,) float64 array.
    """
    relaxed = check_bool("relaxed", relaxed)
    m_x = as_float_array("m_x", m_x, ndim=1)
    m_samples = as_float_array("m_samples", m_samples, ndim=2)
    if m_samples.ndim != 2 or m_x.shape != (len(m_samples),):
        raise ValueError(
            f"m_samples must be (n, k) and m_x (n,); got {m_samples.shape} and {m_x.shape}"
        )
    mean = m_samples.mean(axis=1)
    if relaxed:
        return mean - np.abs(m_samples - m_x[:, None]).mean(axis=1)
    if lipschitz is None:
        raise ValueError("lipschitz must be given for the exact measure (relaxed=False)")
    distances = as_float_array("distances", distances, shape=m_samples.shape)
    if np.any(distances < 0):
        raise ValueError(f"distances must be >= 0 (they are norms); got min {distances.min()}")
    gam = as_float_array("lipschitz", lipschitz)
    if gam.shape not in ((), (len(m_x),)):
        raise ValueError(
            f"lipschitz must be a number or an array of shape ({len(m_x)},); got shape {gam.shape}"
        )
    if np.any(gam < 0):
        raise ValueError(f"lipschitz must be >= 0; got {lipschitz!r}")
    return mean - gam * distances.mean(axis=1)


def _rng(seed: Any) -> np.random.Generator:
    """A generator from a checked scalar ``seed`` (int, None, Generator, SeedSequence)."""
    seed = check_rng_seed(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def counterfactual_stability(
    model: Any,
    X: np.ndarray,
    *,
    k: int,
    sigma: float,
    lipschitz: float | np.ndarray | str | None = None,
    relaxed: bool = False,
    seed: int | np.random.Generator | Sequence[int] | None = None,
    common_noise: bool = False,
) -> np.ndarray:
    """Stability R_{k,sigma}(x, m) of each row x of ``X`` (Hamman et al. 2023, Def. of Stability).

    Parameters
    ----------
    model : torch.nn.Module or callable
        ``m(x) = P(y=1|x)`` on an ``(N, d)`` batch; outputs are checked to lie in [0, 1].
    X : (n, d) array
        Query points (typically counterfactuals).
    k : int
        Samples per query.
    sigma : float
        **Standard deviation** of the Gaussian samples ``x_i ~ N(x, sigma^2 I)`` (not the variance).
    lipschitz : float, (n,) array, "certified" or None
        gamma_x of the exact measure. ``None`` or ``"certified"`` uses
        :func:`lipschitz_upper_bound` (the certified variant: then R <= m(x) is guaranteed);
        ignored (with a warning) when ``relaxed``.
    relaxed : bool
        Return the sample-difference relaxation R-hat (optimistic: R-hat >= R on the same
        samples when gamma_x >= Lip(m)).
    seed : int, Generator, None, or a sequence of n ints
        Seeds the samples; the same seed gives the same samples for R and R-hat. A scalar seed
        draws the samples of row i as block i of one stream (row order), so they depend only
        on (seed, i). A list/tuple/1-d array of n seeds gives row i the samples
        ``default_rng(seed[i]).standard_normal((k, d))``: then row i's value is the same as
        the one-row call ``counterfactual_stability(model, X[i:i+1], ..., seed=seed[i])``,
        whatever the other rows.
    common_noise : bool
        Common random numbers: every row uses the same k samples, the first k of the scalar
        ``seed``'s stream, so row i's value equals the one-row call with the same ``seed``.
        Each value keeps its distribution (the estimator of each row is unchanged); only the
        rows become correlated, which matters for statistics pooled over rows. Faster (one
        draw of k samples; for a float64 ``nn.Sequential`` starting with ``nn.Linear`` the
        first layer is applied to the samples once). Needs a scalar ``seed``.

    Returns
    -------
    (n,) float64 array, one value per row of ``X``.

    Raises
    ------
    ValueError
        Bad shapes, NaN, k < 1, sigma <= 0, a negative Lipschitz constant, a model that does not
        return probabilities, ``lipschitz=None`` with a model whose bound is unknown, per-row
        seeds of the wrong length, or per-row seeds with ``common_noise=True``.

    Notes
    -----
    Batched: all n*k samples go through the model in chunks of about 2^14 points (cache
    sized), forward only under ``torch.inference_mode``; memory is O(chunk * width). The
    samples are ``sigma * xi`` with xi standard normal from ``numpy.random.default_rng(seed)``,
    drawn query-chunk by query-chunk in row order (the same values as one (n, k, d) draw).

    Examples
    --------
    >>> import numpy as np
    >>> from stability.counterfactual import counterfactual_stability, logistic_model
    >>> m = logistic_model(np.array([2.0, 0.0]), 0.0)
    >>> r = counterfactual_stability(m, np.array([[1.0, 0.0]]), k=500, sigma=0.1, seed=0)
    >>> bool(r[0] <= 1 / (1 + np.exp(-2.0)))  # certified R never exceeds m(x)
    True
    """
    X = as_queries("X", X)
    k = check_positive_int("k", k)
    sigma = check_positive("sigma", sigma)
    relaxed = check_bool("relaxed", relaxed)
    common_noise = check_bool("common_noise", common_noise)
    n, d = X.shape
    seed = check_rng_seed(seed, n)
    pm = _ProbabilityModel(model)
    pm.expect("X", d)
    gamma = None
    if relaxed:
        if lipschitz is not None:
            warnings.warn(
                "counterfactual_stability ignores lipschitz when relaxed=True",
                RuntimeWarning,
                stacklevel=2,
            )
    else:
        if lipschitz is None or (isinstance(lipschitz, str) and lipschitz == "certified"):
            lipschitz = lipschitz_upper_bound(model)
        elif isinstance(lipschitz, str):
            raise ValueError(
                f"lipschitz must be a number, an array, 'certified' or None; got {lipschitz!r}"
            )
        gam = as_float_array("lipschitz", lipschitz, finite=False)
        if gam.ndim == 0:
            gam = np.full(n, check_nonnegative("lipschitz", float(gam)))
        if gam.shape != (n,) or np.any(~np.isfinite(gam)) or np.any(gam < 0):
            raise ValueError(
                f"lipschitz must be a finite number >= 0 or an array of shape ({n},); got {lipschitz!r}"
            )
        gamma = torch.from_numpy(gam)
    seeds = per_row_seeds(seed, n)
    if common_noise and seeds is not None:
        raise ValueError("common_noise=True needs a single seed, not one seed per row")
    rows = chunk_rows(k, CHUNK_SAMPLES)
    out = np.empty(n)
    with torch.inference_mode():
        if common_noise:
            xi = torch.from_numpy(_rng(seed).standard_normal((k, d)))
            split = AffineSplit.of(pm)
        else:
            rng = None if seeds is not None else _rng(seed)
            buf = np.empty((min(rows, n), k, d))
        for s in range(0, n, rows):
            e = min(n, s + rows)
            if not common_noise:
                if seeds is None:
                    rng.standard_normal(out=buf[: e - s])
                else:
                    for j in range(s, e):
                        np.random.default_rng(seeds[j]).standard_normal(out=buf[j - s])
                xi = torch.from_numpy(buf[: e - s])
                split = None
            g = None if gamma is None else gamma[s:e]
            xs = torch.from_numpy(X[s:e])
            out[s:e] = stability_values(pm, xs, xi, sigma, g, relaxed, split).numpy()
    return out


_ONE_LIPSCHITZ = (nn.ReLU, nn.Tanh, nn.Identity, nn.Dropout, nn.Flatten, nn.ReLU6, nn.ELU)


def lipschitz_upper_bound(model: nn.Module) -> float:
    """A certified upper bound on Lip(m) in the L2 norm: the product of the layers' spectral norms.

    Supports ``nn.Sequential`` (nested) of ``Linear``, 1-Lipschitz activations (ReLU, Tanh,
    LeakyReLU with slope <= 1, ELU, Identity, Dropout in eval mode) and ``Sigmoid`` (factor 1/4).
    Loose (it ignores where the activations saturate) but sound: with it, R is a true lower
    bound on m(x) ([derived]: |m(y) - m(x)| <= Lip(m) ||y - x|| gives m(x_i) - gamma_x
    ||x_i - x|| <= m(x) for every sample, hence for their mean). The tighter bounds of :mod:`stability.lipschitz`
    can be passed to :func:`counterfactual_stability` as ``lipschitz=`` instead.

    Raises
    ------
    ValueError
        If ``model`` contains a layer whose Lipschitz constant is not known here.
    """
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError(
            f"model must be a torch nn.Module (nn.Sequential); got {type(model).__name__} "
            "(pass lipschitz= explicitly for other models)"
        )
    return float(_lip(model))


def _lip(layer: nn.Module) -> float:
    if isinstance(layer, nn.Sequential):
        return math.prod(_lip(sub) for sub in layer)
    if isinstance(layer, nn.Linear):
        w = layer.weight.detach().to(torch.float64)
        return float(torch.linalg.matrix_norm(w, ord=2))
    if isinstance(layer, nn.Sigmoid):
        return 0.25
    if isinstance(layer, nn.LeakyReLU):
        return max(1.0, abs(layer.negative_slope))
    if isinstance(layer, _ONE_LIPSCHITZ):
        return 1.0
    raise ValueError(
        f"lipschitz_upper_bound does not know the Lipschitz constant of layer {type(layer).__name__}; "
        "pass lipschitz= explicitly"
    )


def expected_gaussian_norm(d: int) -> float:
    """c_d = E||xi||_2 for xi ~ N(0, I_d): sqrt(2) Gamma((d+1)/2) / Gamma(d/2)."""
    d = check_positive_int("d", d)
    return math.sqrt(2.0) * math.exp(gammaln((d + 1) / 2) - gammaln(d / 2))


def linear_expected_stability(
    m_x: float, w_norm: float, sigma: float, d: int, *, relaxed: bool = False
) -> float:
    """E[R] or E[R-hat] for a linear model m(y) = w . y + b with gamma_x = ||w||.

    E[R] = m(x) - ||w|| sigma c_d with c_d = sqrt(2) Gamma((d+1)/2)/Gamma(d/2), and
    E[R-hat] = m(x) - ||w|| sigma sqrt(2/pi). They agree at d = 1. ``sigma`` is the standard
    deviation.

    [derived] With x_i = x + sigma xi_i: m(x_i) = m(x) + sigma w . xi_i has mean m(x), and
    ||x_i - x|| = sigma ||xi_i|| has mean sigma c_d, which gives E[R]; |m(x_i) - m(x)| =
    sigma |w . xi_i| with w . xi_i ~ N(0, ||w||^2), whose absolute mean is ||w|| sqrt(2/pi),
    which gives E[R-hat].
    """
    m_x = check_real("m_x", m_x)
    sigma = check_positive("sigma", sigma)
    w_norm = check_nonnegative("w_norm", w_norm)
    d = check_positive_int("d", d)
    relaxed = check_bool("relaxed", relaxed)
    c = math.sqrt(2.0 / math.pi) if relaxed else expected_gaussian_norm(d)
    return m_x - w_norm * sigma * c
