"""Binary classifiers as the counterfactual code sees them: ``m(x) = P(y = 1 | x)``.

A model is either a ``torch.nn.Module`` or a plain callable; both map an ``(N, d)`` batch of
points to ``N`` probabilities of the favourable class (shape ``(N,)`` or ``(N, 1)``). Modules
are differentiable, so every generator works with them; numpy callables support the measure
and the metrics but not the gradient-based generators. Outputs are checked: a model that
returns a value outside ``[0, 1]`` (or NaN) raises ``ValueError``.

Also here: a small MLP trainer (full-batch Adam on binary cross-entropy, float64, seeded) and
the logistic model ``sigmoid(w . x + b)`` used for closed forms and ROAR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from stability.counterfactual._checks import as_queries, check_model_dim
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_choice,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = [
    "as_probability_model",
    "logistic_model",
    "predict_proba",
    "train_mlp",
]

#: Points evaluated per model call (bounds memory when k samples per query are batched).
CHUNK_ROWS = 1 << 16

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}

#: Clamp of p in the fallback logit log p - log(1 - p) (models without a final nn.Sigmoid).
_P_CLAMP = 1e-15


def _layers(module: nn.Module) -> list[nn.Module]:
    """The leaf layers of nested ``nn.Sequential`` containers, in order (private)."""
    if isinstance(module, nn.Sequential):
        return [leaf for sub in module for leaf in _layers(sub)]
    return [module]


class _ProbabilityModel:
    """Uniform view of a model: ``prob(points) -> (N,)`` float64 tensor (private)."""

    def __init__(self, model: Any, check: bool = True) -> None:
        if isinstance(model, _ProbabilityModel):
            self.model, self.differentiable, self.check = model.model, model.differentiable, check
            self.dtype = model.dtype
            return
        if not callable(model) or isinstance(model, type):
            raise ArgumentTypeError(
                f"model must be a torch module or a callable; got {type(model).__name__}"
            )
        self.model = model
        self.check = check
        self.differentiable = isinstance(model, nn.Module)
        self.dtype = torch.float64
        if self.differentiable:
            p = next(iter(model.parameters()), None)
            if p is not None and p.dtype.is_floating_point:
                self.dtype = p.dtype

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """Probabilities at ``points`` ``(N, d)``; keeps the autograd graph for modules."""
        outs = [self._one(points[i : i + CHUNK_ROWS]) for i in range(0, len(points), CHUNK_ROWS)]
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def _one(self, pts: torch.Tensor) -> torch.Tensor:
        if self.differentiable:
            try:
                out = self.model(pts.to(self.dtype))
            except RuntimeError as exc:  # e.g. "mat1 and mat2 shapes cannot be multiplied"
                raise ValueError(
                    f"model cannot evaluate points of shape {tuple(pts.shape)}: {exc}"
                ) from exc
        else:
            out = self.model(pts.detach().cpu().numpy())
            out = torch.as_tensor(np.asarray(out, dtype=np.float64))
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(np.asarray(out, dtype=np.float64))
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.shape != (len(pts),):
            raise ValueError(
                f"model must return shape (N,) or (N, 1) for N = {len(pts)} points; "
                f"got {tuple(out.shape)}"
            )
        out = out.to(torch.float64)
        if self.check:
            with torch.no_grad():
                bad = ~torch.isfinite(out) | (out < 0.0) | (out > 1.0)
                if bool(bad.any()):
                    v = float(out[bad][0])
                    raise ValueError(
                        "model must return probabilities P(y=1|x) in [0, 1]; "
                        f"got {v!r} (is the last layer a sigmoid?)"
                    )
        return out

    def logit(self, points: torch.Tensor) -> torch.Tensor:
        """logit m(points) = log m - log(1 - m), ``(N,)`` float64, differentiable (modules).

        For an ``nn.Sequential`` ending with ``nn.Sigmoid`` this is the input of that sigmoid,
        computed without it, so it neither saturates nor loses its gradient where m is within
        1e-16 of 0 or 1; otherwise log p - log(1 - p) with p clamped to [1e-15, 1 - 1e-15].
        """
        head = self._logit_head()
        if head is None:
            p = self(points).clamp(_P_CLAMP, 1.0 - _P_CLAMP)
            return torch.log(p) - torch.log1p(-p)
        outs = []
        for i in range(0, len(points), CHUNK_ROWS):
            out = head(points[i : i + CHUNK_ROWS].to(self.dtype))
            outs.append(out.reshape(len(out), -1)[:, 0].to(torch.float64))
        out = outs[0] if len(outs) == 1 else torch.cat(outs)
        if self.check and not bool(torch.isfinite(out.detach()).all()):
            raise ValueError("model's logit is not finite (NaN or inf before the final sigmoid)")
        return out

    def _logit_head(self) -> nn.Module | None:
        """The module without its final ``nn.Sigmoid`` (None when it has none); built once."""
        if not hasattr(self, "_head"):
            layers = _layers(self.model) if self.differentiable else []
            ends = len(layers) >= 2 and isinstance(layers[-1], nn.Sigmoid)
            self._head = nn.Sequential(*layers[:-1]) if ends else None
        return self._head

    def affine_logit(self) -> tuple[np.ndarray, float] | None:
        """(w, b) with logit m(x) = w . x + b when the module is ``Linear``s then ``Sigmoid``.

        A chain of ``nn.Linear`` layers (no activation between them) ending in one output and
        a final ``nn.Sigmoid`` has an affine logit: w^T = W_L ... W_1, b accumulated (float64
        from the layers' own dtype). None for any other model.
        """
        if self._logit_head() is None:
            return None
        layers = _layers(self.model)[:-1]
        if (
            not all(isinstance(layer, nn.Linear) for layer in layers)
            or layers[-1].out_features != 1
        ):
            return None
        W = np.eye(layers[0].in_features)
        b = np.zeros(layers[0].in_features)
        for layer in layers:
            A = layer.weight.detach().to(torch.float64).numpy()
            W, b = A @ W, A @ b
            if layer.bias is not None:
                b = b + layer.bias.detach().to(torch.float64).numpy()
        return W[0].copy(), float(b[0])

    def expect(self, name: str, d: int) -> None:
        """Raise unless the points ``name`` (``d`` columns) fit the model's first layer."""
        check_model_dim(self.model, name, d)

    def require_gradients(self, who: str) -> None:
        if not self.differentiable:
            raise ValueError(
                f"{who} needs gradients: model must be a torch.nn.Module; got {type(self.model)!r}"
            )


def as_probability_model(model: Any, *, check: bool = True) -> Callable[[torch.Tensor], Any]:
    """Wrap ``model`` (torch module or callable) as ``points (N, d) tensor -> (N,) float64``.

    Parameters
    ----------
    model : torch.nn.Module or callable
        Returns ``P(y=1|x)`` for a batch; a callable receives a numpy array.
    check : bool
        Raise ``ValueError`` when an output is NaN or outside ``[0, 1]``.
    """
    return _ProbabilityModel(model, check_bool("check", check))


def predict_proba(model: Any, X: np.ndarray) -> np.ndarray:
    """``m(X)`` as a float64 array of shape ``(n,)``; a whole-NaN row (a generator's "not
    found") gives NaN. ``X`` may be empty (then so is the result); a partial NaN row or an
    infinite entry is refused."""
    X = as_queries("X", X, allow_nan=True, allow_empty=True)
    pm = _ProbabilityModel(model)
    pm.expect("X", X.shape[1])
    out = np.full(len(X), np.nan)
    ok = ~np.isnan(X).any(axis=1)
    if ok.any():
        with torch.no_grad():
            out[ok] = pm(torch.from_numpy(X[ok])).numpy()
    return out


def logistic_model(w: np.ndarray, b: float) -> nn.Sequential:
    """The logistic model ``m(x) = sigmoid(w . x + b)`` as a float64 ``nn.Sequential``."""
    w = as_float_array("w", w, ndim=1)
    b = check_real("b", b)
    lin = nn.Linear(len(w), 1).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w[None]))
        lin.bias.fill_(b)
    return nn.Sequential(lin, nn.Sigmoid())


def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    *,
    hidden: Sequence[int] = (32, 32),
    activation: str = "relu",
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> nn.Sequential:
    """Train ``Linear-act-...-Linear-Sigmoid`` by full-batch Adam on binary cross-entropy.

    float64, seeded by ``seed`` (initialisation only; full batch has no other randomness), so
    a call is deterministic. A few hundred epochs of a 2x32 MLP on 500 points take well under
    a second on one core.
    """
    X = as_queries("X", X)
    y = as_float_array("y", y, shape=(len(X),))
    if isinstance(hidden, str | bytes) or not isinstance(hidden, Sequence):
        raise ArgumentTypeError(f"hidden must be a sequence of layer widths; got {hidden!r}")
    hidden = tuple(check_positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden))
    epochs = check_positive_int("epochs", epochs)
    lr = check_positive("lr", lr)
    weight_decay = check_nonnegative("weight_decay", weight_decay)
    seed = check_seed(seed)
    check_choice("activation", activation, sorted(_ACTIVATIONS))
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise ValueError("y must contain only 0 and 1")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}")
    gen = torch.Generator().manual_seed(int(seed))
    layers: list[nn.Module] = []
    width = X.shape[1]
    for h in (*hidden, 1):
        lin = nn.Linear(width, h).double()
        bound = 1.0 / np.sqrt(width)  # torch's default uniform init, from our generator
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=gen)
            lin.bias.uniform_(-bound, bound, generator=gen)
        layers += [lin, _ACTIVATIONS[activation]()]
        width = h
    layers[-1] = nn.Sigmoid()
    net = nn.Sequential(*layers)
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.BCELoss()
    for _ in range(int(epochs)):
        opt.zero_grad()
        loss = loss_fn(net(xt)[:, 0], yt)
        loss.backward()
        opt.step()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net
