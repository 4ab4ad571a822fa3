"""Reference networks for the Lipschitz bounds: instance data shared by tests, claims and benchmarks.

- :func:`random_weights`: LipSDP's published example network ``random_weights.mat`` (dims
  ``[2, 10, 30, 20, 2]``, all weights positive), shipped in ``stability/data``, with the
  published LipSDP values :data:`PUBLISHED_LIPSDP`;
- :func:`mnist_weights`: LipSDP's published MNIST classifier ``mnist_weights.mat`` (dims
  ``[784, 50, 10]``, ReLU), shipped in ``stability/data``;
- :func:`gaussian_net`: ``W_k = N(0, 1) / √n_{k-1}`` for given dims and generator;
- :func:`exact_2d_net` and :data:`EXACT_2D`: three 2-D-input bias-free ReLU nets with their
  exact Lipschitz constants;
- :func:`eclipse_random_net`: the random networks of ECLipsE's experiments (input 4, output 1,
  each weight rescaled to a spectral norm drawn from ``U(0.4, 1.8)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
import scipy.io as sio

from theory.checks import ArgumentTypeError, check_positive_int, check_rng, check_seed

__all__ = [
    "EXACT_2D",
    "PUBLISHED_LIPSDP",
    "eclipse_random_net",
    "exact_2d_net",
    "gaussian_net",
    "mnist_weights",
    "random_weights",
]

#: LipSDP's certified values on :func:`random_weights` as published with the authors' code
#: (Fazlyab et al., NeurIPS 2019; README of github.com/arobey1/LipSDP).
PUBLISHED_LIPSDP: dict[str, float] = {
    "lipsdp-layer": 39.839,
    "lipsdp-neuron": 36.482,
    "lipsdp-network": 36.482,
}

#: ``(dims, seed) -> exact Lipschitz constant`` of :func:`exact_2d_net` ``(dims, seed)``, by a
#: 200 000-angle sweep of ``||J||_2`` on the unit circle [derived: a bias-free ReLU net is
#: positively homogeneous, so its linear regions are cones through the origin and the supremum
#: of ``||J||_2`` over the plane is its supremum over the unit circle; the values were measured
#: once and are stored as a regression reference, to 5 digits].
EXACT_2D: dict[tuple[tuple[int, ...], int], float] = {
    ((2, 16, 1), 1): 0.76810,
    ((2, 16, 16, 1), 2): 1.10132,
    ((2, 32, 32, 2), 3): 0.92431,
}


def random_weights() -> list[np.ndarray]:
    """The weights of LipSDP's ``random_weights.mat`` (dims ``[2, 10, 30, 20, 2]``).

    >>> [w.shape for w in random_weights()]
    [(10, 2), (30, 10), (20, 30), (2, 20)]
    """
    return _load("random_weights.mat")


def mnist_weights() -> list[np.ndarray]:
    """The weights of LipSDP's ``mnist_weights.mat`` (dims ``[784, 50, 10]``, ReLU), published
    with the authors' code (Fazlyab et al., NeurIPS 2019; github.com/arobey1/LipSDP, MIT licence).

    ``W_1`` has full row rank, so every ReLU pattern is realisable and the exact constant is the
    largest ``||W_2 D W_1||_2`` over 0/1 diagonals ``D``
    (:mod:`stability.lipschitz.patterns`).

    >>> [w.shape for w in mnist_weights()]
    [(50, 784), (10, 50)]
    """
    return _load("mnist_weights.mat")


def _load(name: str) -> list[np.ndarray]:
    path = resources.files("stability") / "data" / name
    with resources.as_file(path) as p:
        return [np.asarray(w, dtype=np.float64) for w in sio.loadmat(p)["weights"].ravel()]


def gaussian_net(rng: np.random.Generator, dims: Sequence[int]) -> list[np.ndarray]:
    """Weights ``W_k = N(0, 1) / √n_{k-1}`` of shape ``(dims[k+1], dims[k])``, drawn in order.

    >>> [w.shape for w in gaussian_net(np.random.default_rng(0), [3, 5, 1])]
    [(5, 3), (1, 5)]
    """
    check_rng("rng", rng)
    dims = _check_dims(dims)
    return [
        rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(len(dims) - 1)
    ]


def _check_dims(dims: object) -> list[int]:
    """``dims``: a sequence of at least two positive integers."""
    if isinstance(dims, str | bytes) or not isinstance(dims, Sequence | np.ndarray):
        raise ArgumentTypeError(f"dims must be a sequence of layer sizes; got {dims!r}")
    out = [check_positive_int(f"dims[{i}]", d) for i, d in enumerate(dims)]
    if len(out) < 2:
        raise ValueError(f"dims must list at least an input and an output size; got {out}")
    return out


def exact_2d_net(dims: Sequence[int], seed: int) -> list[np.ndarray]:
    """The net of :data:`EXACT_2D`: :func:`gaussian_net` with ``default_rng(seed)``.

    ``dims`` positive integers (at least two), ``seed`` a seed (:func:`theory.checks.check_seed`).
    """
    dims, seed = _check_dims(dims), check_seed(seed)
    return gaussian_net(np.random.default_rng(seed), dims)


def eclipse_random_net(layers: int, width: int) -> list[np.ndarray]:
    """A random net as in ECLipsE's experiments (Xu & Sivaranjani, NeurIPS 2024).

    Input 4, output 1, ``layers`` weight matrices of width ``width``, each ``N(0, 1)`` and
    rescaled to a spectral norm drawn from ``U(0.4, 1.8)``, drawn from
    ``default_rng(7 width + 13 layers)`` in the toolkit's order (so the values differ from the
    paper's, which uses numpy's legacy global generator).

    >>> [w.shape for w in eclipse_random_net(2, 50)]
    [(50, 4), (1, 50)]
    """
    layers = check_positive_int("layers", layers)
    width = check_positive_int("width", width)
    rng = np.random.default_rng(7 * width + 13 * layers)
    dims = [4] + [width] * (layers - 1) + [1]
    ws = []
    for k in range(layers):
        w = rng.standard_normal((dims[k + 1], dims[k]))
        ws.append(w * rng.uniform(0.4, 1.8) / np.linalg.norm(w, 2))
    return ws
