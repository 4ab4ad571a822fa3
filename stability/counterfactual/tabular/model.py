"""Classifiers as the tabular counterfactual search sees them: encoded rows -> class probabilities.

Three kinds of model, told apart by ``model_input``:

- ``"frame"`` (default for objects with ``predict_proba``, e.g. a scikit-learn classifier or
  a ``Pipeline`` fitted on the user's raw DataFrame): a point z of the encoded space is decoded
  to the user's columns and dtypes (:meth:`TabularSpace.decode`: integers rounded, the category
  of largest coordinate, booleans thresholded, no clipping) and passed to ``predict_proba``;
  the classes are ``model.classes_``. A plain callable taking a DataFrame works the same way.
- ``"encoded"`` (default for ``torch.nn.Module`` and other callables): the model takes the
  encoded rows directly (a torch module receives a tensor of its parameters' dtype, a callable
  a float64 numpy array) and returns ``(N, C)`` scores, or ``(N,)``/``(N, 1)`` for a binary
  model (then P(class 1)). ``output`` says whether the scores are probabilities or logits
  (softmax, or a sigmoid for one column); a module ending in ``Sigmoid``/``Softmax`` gives
  probabilities by default, any other module logits.

Outputs are checked: finite, in [0, 1], rows summing to 1 within 1e-6.

The Lipschitz constant of m(z) = P(desired | z) in the encoded space (L2) is what the Stability
measure's penalty needs. :func:`estimate_lipschitz` estimates it: the largest ratio
|m(z + delta) - m(z)| / ||delta||_2 over sampled pairs with delta ~ N(0, sigma^2 I) at the given
points (and, for a torch module, the largest gradient norm there). A sampled maximum is a
**lower** estimate of the true constant, never a certificate; for a piecewise-constant model (a
tree ensemble) the true constant is infinite and the estimate is the largest slope at scale
sigma. Results label it ``lipschitz_estimated=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from stability.counterfactual.tabular.space import TabularSpace
from theory.checks import ArgumentTypeError, check_choice

__all__: list[str] = []

_SUM_TOL = 1e-6


def _last_leaf(module: nn.Module) -> nn.Module:
    leaves = [m for m in module.modules() if not list(m.children())]
    return leaves[-1] if leaves else module


class TabularModel:
    """``proba(Z) -> (N, C)`` on encoded rows, with the model's class labels (private)."""

    def __init__(
        self,
        model: Any,
        space: TabularSpace,
        *,
        classes: Any = None,
        model_input: str | None = None,
        output: str | None = None,
    ) -> None:
        if isinstance(model, type) or not (callable(model) or hasattr(model, "predict_proba")):
            raise ArgumentTypeError(
                "model must be a classifier with predict_proba, a torch module or a callable; "
                f"got {type(model).__name__}"
            )
        self.model, self.space = model, space
        is_module = isinstance(model, nn.Module)
        has_pp = hasattr(model, "predict_proba") and not is_module
        if model_input is None:
            model_input = "frame" if has_pp else "encoded"
        self.model_input = check_choice("model_input", model_input, ("frame", "encoded"))
        if output is None:
            if is_module:
                last = _last_leaf(model)
                output = "probabilities" if isinstance(last, nn.Sigmoid | nn.Softmax) else "logits"
            else:
                output = "probabilities"
        self.output = check_choice("output", output, ("probabilities", "logits"))
        self.differentiable = is_module and self.model_input == "encoded"
        self.dtype = torch.float64
        if is_module:
            p = next(iter(model.parameters()), None)
            if p is not None and p.dtype.is_floating_point:
                self.dtype = p.dtype
        if classes is None:
            classes = getattr(model, "classes_", None)
        self._classes = None if classes is None else list(np.asarray(classes).tolist())
        if self._classes is not None and len(set(map(repr, self._classes))) != len(self._classes):
            raise ValueError(f"classes must be distinct; got {self._classes}")

    # ---- evaluation --------------------------------------------------------------------------

    def _to_probs(self, out: torch.Tensor) -> torch.Tensor:
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            raise ValueError(
                f"model must return (N,) or (N, C) scores; got shape {tuple(out.shape)}"
            )
        out = out.to(torch.float64)
        if self.output == "logits":
            if out.shape[1] == 1:
                p = torch.sigmoid(out)
                return torch.cat([1 - p, p], dim=1)
            return torch.softmax(out, dim=1)
        if out.shape[1] == 1:
            return torch.cat([1 - out, out], dim=1)
        return out

    def _check(self, P: np.ndarray, n: int) -> np.ndarray:
        if P.shape[0] != n:
            raise ValueError(f"model must return one row per point ({n}); got shape {P.shape}")
        if not np.all(np.isfinite(P)) or np.any(P < 0) or np.any(P > 1):
            raise ValueError("model must return probabilities in [0, 1] (got NaN or outside)")
        if np.any(np.abs(P.sum(axis=1) - 1.0) > _SUM_TOL):
            raise ValueError(
                "model must return class probabilities summing to 1 per row; got sums "
                f"{P.sum(axis=1)[:3]} (pass output='logits' for scores)"
            )
        if self._classes is None:
            self._classes = list(range(P.shape[1]))
        if P.shape[1] != len(self._classes):
            raise ValueError(
                f"model returns {P.shape[1]} class columns but classes has {len(self._classes)}"
            )
        return P

    def proba_t(self, Z: torch.Tensor) -> torch.Tensor:
        """(N, C) probabilities, differentiable in Z (encoded torch modules only)."""
        return self._to_probs(self.model(Z.to(self.dtype)))

    def proba(self, Z: np.ndarray) -> np.ndarray:
        """(N, C) float64 class probabilities at encoded rows ``Z``."""
        Z = np.asarray(Z, dtype=np.float64)
        n = len(Z)
        if self.model_input == "frame":
            frame = self.space.decode(Z)
            if hasattr(self.model, "predict_proba"):
                out = self.model.predict_proba(frame)
            else:
                out = self.model(frame)
            if isinstance(out, pd.DataFrame | pd.Series):
                out = out.to_numpy()
            P = self._to_probs(torch.as_tensor(np.asarray(out, dtype=np.float64))).numpy()
        elif isinstance(self.model, nn.Module):
            with torch.no_grad():
                P = self.proba_t(torch.from_numpy(Z)).numpy()
        else:
            out = self.model(Z)
            P = self._to_probs(torch.as_tensor(np.asarray(out, dtype=np.float64))).numpy()
        return self._check(np.array(P, dtype=np.float64), n)

    @property
    def classes(self) -> list:
        if self._classes is None:  # a torch module or callable: ask once
            self.proba(np.zeros((1, self.space.dim)))
        return list(self._classes)

    def class_index(self, desired: Any) -> int:
        """Column of the class labelled ``desired``; refused by name when unknown."""
        classes = self.classes
        want_bool = isinstance(desired, bool | np.bool_)
        for i, c in enumerate(classes):
            try:
                same = bool(c == desired) and isinstance(c, bool | np.bool_) == want_bool
            except (TypeError, ValueError):
                same = False
            if same:
                return i
        raise ValueError(f"desired must be one of the model's classes {classes}; got {desired!r}")


def estimate_lipschitz(
    tm: TabularModel,
    points: np.ndarray,
    cls: int,
    *,
    sigma: float,
    pairs: int = 32,
    rng: np.random.Generator,
) -> float:
    """max |m(z + delta) - m(z)| / ||delta|| over ``pairs`` draws per point (and the largest
    gradient norm for a torch module), m = P(class ``cls``): an estimate, not a bound."""
    n, d = points.shape
    delta = sigma * rng.standard_normal((n, pairs, d))
    base = tm.proba(points)[:, cls]
    moved = tm.proba((points[:, None, :] + delta).reshape(n * pairs, d))[:, cls].reshape(n, pairs)
    ratio = np.abs(moved - base[:, None]) / np.linalg.norm(delta, axis=2)
    est = float(ratio.max())
    if tm.differentiable:
        z = torch.from_numpy(points).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(tm.proba_t(z)[:, cls].sum(), z)
        est = max(est, float(torch.linalg.vector_norm(g.to(torch.float64), dim=1).max()))
    return est
