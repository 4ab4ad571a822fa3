"""Data for the counterfactual experiments: scikit-learn's bundled breast-cancer set, and
generated data (nothing is downloaded).

- :func:`breast_cancer`: 569 x 30 (Wisconsin diagnostic, shipped inside scikit-learn's
  wheel); label 1 = benign is the favourable class; features min-max scaled to [0, 1] with
  the training rows' ranges; a seeded stratified-free random split.
- :func:`moons`: two interleaving half-moons embedded in d dimensions (extra noise
  coordinates), scaled to [0, 1].

References
----------
.. [1] W. Street, W. Wolberg, O. Mangasarian, "Nuclear feature extraction for breast tumor
   diagnosis", 1993 (UCI; via ``sklearn.datasets.load_breast_cancer``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stability.counterfactual._checks import check_rng_seed
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_nonnegative,
    check_open_unit,
    check_positive_int,
)

__all__ = ["Dataset", "breast_cancer", "moons"]


@dataclass(frozen=True)
class Dataset:
    """A train/test split with features in [0, 1] (train ranges) and labels in {0, 1}."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ArgumentTypeError(f"name must be a string; got {self.name!r}")
        X_train = as_float_array("X_train", self.X_train, ndim=2)
        X_test = as_float_array("X_test", self.X_test, shape=(None, X_train.shape[1]))
        for nm, y, X in (("y_train", self.y_train, X_train), ("y_test", self.y_test, X_test)):
            y = as_float_array(nm, y, shape=(len(X),))
            if not np.all(np.isin(y, (0.0, 1.0))):
                raise ValueError(f"{nm} must contain only 0 and 1")

    def summary(self) -> str:
        return (
            f"{self.name}: {len(self.X_train)} train / {len(self.X_test)} test rows, "
            f"{self.X_train.shape[1]} features, {self.y_train.mean():.0%} favourable (train)"
        )


def _split(name: str, X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Dataset:
    test_fraction = check_open_unit("test_fraction", test_fraction)
    perm = np.random.default_rng(check_rng_seed(seed)).permutation(len(X))
    n_test = max(1, round(test_fraction * len(X)))
    if n_test >= len(X):
        raise ValueError(
            f"test_fraction = {test_fraction} of {len(X)} rows leaves no training row; "
            "lower test_fraction or raise n"
        )
    te, tr = perm[:n_test], perm[n_test:]
    lo, hi = X[tr].min(0), X[tr].max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    Xs = (X - lo) / span
    return Dataset(name, Xs[tr], y[tr].astype(np.float64), Xs[te], y[te].astype(np.float64))


def breast_cancer(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's breast-cancer data (569 x 30), scaled to [0, 1]; y = 1 means benign."""
    from sklearn.datasets import load_breast_cancer

    test_fraction = check_open_unit("test_fraction", test_fraction)
    check_rng_seed(seed)
    raw = load_breast_cancer()
    return _split("breast-cancer", raw.data.astype(np.float64), raw.target, test_fraction, seed)


def moons(
    n: int = 600, *, d: int = 10, noise: float = 0.15, test_fraction: float = 0.2, seed: int = 0
) -> Dataset:
    """Two half-moons in the first two coordinates plus d - 2 uniform noise coordinates."""
    n, d = check_positive_int("n", n), check_positive_int("d", d)
    if d < 2:
        raise ValueError(f"d must be >= 2; got {d}")
    noise = check_nonnegative("noise", noise)
    test_fraction = check_open_unit("test_fraction", test_fraction)
    rng = np.random.default_rng(check_rng_seed(seed))
    y = rng.integers(0, 2, n)
    t = rng.uniform(0, np.pi, n)
    x0 = np.where(y == 1, np.cos(t), 1.0 - np.cos(t))
    x1 = np.where(y == 1, np.sin(t), 0.5 - np.sin(t))
    X = np.column_stack([x0, x1, rng.uniform(0, 1, (n, d - 2))])
    X[:, :2] += noise * rng.standard_normal((n, 2))
    return _split(f"moons-d{d}", X, y, test_fraction, seed)
