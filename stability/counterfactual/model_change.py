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

Plus :func:`sinusoidal_family`, the synthetic naturally-occurring change of spec §5 claim 10:
M_phi(x) = m(x) + a sin(u . x + phi), phi ~ U[0, 2 pi), with m(x) = w . x + b.

References
----------
.. [1] Hamman et al., ICML 2023 (arXiv:2305.11997), §2 (naturally-occurring model change);
   experimental protocol of the authors' ``main.py`` (retrained models).
.. [2] ``shared/specs/counterfactual.md`` §2.1, §5 claim 10.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stability.counterfactual._checks import as_queries
from stability.counterfactual.models import predict_proba
from theory.checks import check_nonnegative, check_positive_int

__all__ = ["ModelFamily", "SinusoidalFamily", "changed_models", "sinusoidal_family"]

KINDS = ("retrain", "weights", "leave-out")


@dataclass(frozen=True)
class ModelFamily:
    """Changed models of one kind, with the settings that produced them."""

    kind: str
    models: tuple[Any, ...]
    settings: dict[str, Any] = field(default_factory=dict)

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
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    n_models = check_positive_int("n_models", n_models)
    X = as_queries("X", X)
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},); got {y.shape}")
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
    frac = float(leave_out)
    if not 0.0 <= frac < 1.0:
        raise ValueError(f"leave_out must lie in [0, 1); got {leave_out!r}")
    keep = len(X) - round(frac * len(X))
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

    def base(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X) @ self.w + self.b

    def changed(self, X: np.ndarray) -> np.ndarray:
        """(n_phases, n) values M_phi(X)."""
        X = np.asarray(X)
        return self.base(X)[None] + self.amplitude * np.sin(
            (X @ self.u)[None] + self.phases[:, None]
        )


def sinusoidal_family(
    w: np.ndarray, b: float, u: np.ndarray, amplitude: float, n_models: int, *, seed: int = 0
) -> SinusoidalFamily:
    """The spec's synthetic naturally-occurring change with ``n_models`` uniform phases."""
    w, u = np.asarray(w, dtype=np.float64), np.asarray(u, dtype=np.float64)
    if w.ndim != 1 or u.shape != w.shape:
        raise ValueError(f"w and u must be vectors of one length; got {w.shape} and {u.shape}")
    phases = np.random.default_rng(seed).uniform(
        0.0, 2 * np.pi, check_positive_int("n_models", n_models)
    )
    return SinusoidalFamily(w, float(b), u, check_nonnegative("amplitude", amplitude), phases)
