"""Families of changed models M: retraining with fresh seeds, weight perturbations, leave-out.

One entry point, :func:`changed_models`, takes a **model factory** ``factory(X, y, seed) ->
model`` (e.g. ``lambda X, y, seed: train_mlp(X, y, seed=seed)``) and returns a
:class:`ModelFamily`:

- ``kind="retrain"``: the factory on the same data with seeds ``seed + 1, ..., seed + n`` (the
  protocol of the authors' code: 50 retrains from fresh initialisations);
- ``kind="weights"``: copies of a base model (``base``, or the factory's model with ``seed``)
  with every parameter perturbed by i.i.d. N(0, weight_scale^2) noise;
- ``kind="leave-out"``: the factory with the base seed on the data with a random fraction
  ``leave_out`` of the rows removed (data change only).

Plus :func:`sinusoidal_family`, a synthetic naturally-occurring change ([derived]: built so that
every assumption of the guarantee can be checked): M_phi(x) = m(x) + a sin(u . x + phi),
phi ~ U[0, 2 pi), with m(x) = w . x + b. Over phi, E M_phi(x) = m(x) at every x, and Lip(M_phi)
<= ||w|| + a ||u||.

References
----------
.. [1] Hamman et al., ICML 2023 (arXiv:2305.11997), §2 (naturally-occurring model change);
   experimental protocol of the authors' ``main.py`` (retrained models).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stability.counterfactual._checks import as_queries, check_rng_seed
from stability.counterfactual.models import predict_proba
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_choice,
    check_nonnegative,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = ["ModelFamily", "SinusoidalFamily", "changed_models", "sinusoidal_family"]

KINDS = ("retrain", "weights", "leave-out")


@dataclass(frozen=True)
class ModelFamily:
    """Changed models of one kind, with the settings that produced them."""

    kind: str
    models: tuple[Any, ...]
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        if not isinstance(self.models, tuple) or not self.models:
            raise ValueError(f"models must be a non-empty tuple of models; got {self.models!r}")
        for i, m in enumerate(self.models):
            if not callable(m):
                raise ArgumentTypeError(f"models[{i}] must be callable; got {type(m).__name__}")

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n_models, n) probabilities; NaN rows of X give NaN columns."""
        return np.stack([predict_proba(m, X) for m in self.models])

    def summary(self) -> str:
        return f"{len(self.models)} changed models ({self.kind}, {self.settings})"


def changed_models(
    factory: Callable[[np.ndarray, np.ndarray, int], Any],
    X: np.ndarray,
    y: np.ndarray,
    *,
    kind: str = "retrain",
    n_models: int = 10,
    seed: int = 0,
    weight_scale: float = 0.01,
    leave_out: float = 0.1,
    base: Any = None,
) -> ModelFamily:
    """A family of ``n_models`` changed models of the given ``kind`` (see the module docstring).

    Raises
    ------
    ValueError
        Unknown kind, n_models < 1, negative weight_scale, leave_out outside [0, 1), shapes.
    """
    check_choice("kind", kind, KINDS)
    if not callable(factory):
        raise ArgumentTypeError(
            f"factory must be a callable factory(X, y, seed); got {type(factory).__name__}"
        )
    n_models = check_positive_int("n_models", n_models)
    X = as_queries("X", X)
    y = as_float_array("y", y, shape=(len(X),))
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    if kind == "retrain":
        models = tuple(factory(X, y, seed + 1 + i) for i in range(n_models))
        return ModelFamily(kind, models, {"seeds": (seed + 1, seed + n_models)})
    if kind == "weights":
        scale = check_nonnegative("weight_scale", weight_scale)
        ref = factory(X, y, seed) if base is None else base
        if not isinstance(ref, torch.nn.Module):
            raise ValueError(f"kind='weights' needs a torch module; got {type(ref).__name__}")
        models = []
        for _ in range(n_models):
            mdl = copy.deepcopy(ref)
            with torch.no_grad():
                for p in mdl.parameters():
                    noise = rng.standard_normal(tuple(p.shape))
                    p.add_(torch.from_numpy(scale * noise).to(p.dtype))
            models.append(mdl)
        return ModelFamily(kind, tuple(models), {"weight_scale": scale})
    frac = check_real("leave_out", leave_out, lo=0.0, hi=1.0, hi_open=True)
    keep = len(X) - round(frac * len(X))
    if keep < 1:
        raise ValueError(
            f"leave_out = {leave_out!r} leaves no row of the {len(X)} rows of X; lower leave_out"
        )
    models = []
    for _ in range(n_models):
        idx = np.sort(rng.permutation(len(X))[:keep])
        models.append(factory(X[idx], y[idx], seed))
    return ModelFamily(kind, tuple(models), {"leave_out": frac, "rows_kept": keep})


@dataclass(frozen=True)
class SinusoidalFamily:
    """m(x) = w.x + b and M_phi(x) = m(x) + a sin(u.x + phi) for the given phases (numpy)."""

    w: np.ndarray
    b: float
    u: np.ndarray
    amplitude: float
    phases: np.ndarray

    @property
    def lipschitz_base(self) -> float:
        return float(np.linalg.norm(self.w))

    @property
    def lipschitz_change(self) -> float:
        """||w|| + a ||u||, a bound on Lip(M_phi) for every phi (attained up to the sine's phase)."""
        return float(np.linalg.norm(self.w) + self.amplitude * np.linalg.norm(self.u))

    def __post_init__(self) -> None:
        w = as_float_array("w", self.w, ndim=1)
        u = as_float_array("u", self.u, shape=w.shape)
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "u", u)
        object.__setattr__(self, "b", check_real("b", self.b))
        object.__setattr__(self, "amplitude", check_nonnegative("amplitude", self.amplitude))
        object.__setattr__(self, "phases", as_float_array("phases", self.phases, ndim=1))

    def base(self, X: np.ndarray) -> np.ndarray:
        """m(X) = X w + b for X of shape (..., d) (the result has shape X.shape[:-1])."""
        X = as_float_array("X", X)
        if X.ndim == 0 or X.shape[-1] != len(self.w):
            raise ValueError(f"X must have shape (..., {len(self.w)}); got shape {X.shape}")
        return X @ self.w + self.b

    def changed(self, X: np.ndarray) -> np.ndarray:
        """(n_phases, n) values M_phi(X)."""
        X = as_queries("X", X, len(self.w))
        return self.base(X)[None] + self.amplitude * np.sin(
            (X @ self.u)[None] + self.phases[:, None]
        )


def sinusoidal_family(
    w: np.ndarray, b: float, u: np.ndarray, amplitude: float, n_models: int, *, seed: int = 0
) -> SinusoidalFamily:
    """The synthetic naturally-occurring change with ``n_models`` uniform phases."""
    w = as_float_array("w", w, ndim=1)
    u = as_float_array("u", u, shape=w.shape)
    b, amplitude = check_real("b", b), check_nonnegative("amplitude", amplitude)
    n_models = check_positive_int("n_models", n_models)
    phases = np.random.default_rng(check_rng_seed(seed)).uniform(0.0, 2 * np.pi, n_models)
    return SinusoidalFamily(w, b, u, amplitude, phases)
