"""Many runs at once: N copies of one architecture trained as one stacked model.

:class:`StackedModule` stacks the parameters of N modules with
:func:`torch.func.stack_module_state` and evaluates all of them in one call with
:func:`torch.func.functional_call` under :func:`torch.vmap`. The stacked parameters are
ordinary leaf tensors with a leading run axis: sum the N per-run losses and call
``backward()`` to get each run's gradient in its own slice (runs share no parameters), and any
elementwise optimizer (SGD, Adam) applied to them performs N independent updates.
:func:`clip_grad_norm_per_run` is the per-run version of ``clip_grad_norm_``. This is how
``trainers.policy_gradient`` trains seeds x perturbation magnitudes in one process.

:class:`StackedMLP` is the explicit form for small MLPs that each run initializes from its own
generator (SAC's and ReinFlow's networks): weights ``(runs, in, out)`` and one
:func:`torch.baddbmm` per layer.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from theory.checks import ArgumentTypeError, check_choice, check_int, check_positive

__all__ = ["StackedMLP", "StackedModule", "clip_grad_norm_per_run"]


class StackedModule:
    """N modules of one architecture as stacked parameters ``(N, *shape)``.

    Parameters
    ----------
    modules : sequence of nn.Module
        Same architecture (same parameter names and shapes).
    """

    def __init__(self, modules: Sequence[nn.Module]):
        if isinstance(modules, nn.Module) or not isinstance(modules, Sequence):
            raise ArgumentTypeError(
                f"modules must be a sequence of nn.Module; got {type(modules).__name__}"
            )
        if len(modules) == 0:
            raise ValueError("modules must be a non-empty sequence")
        for i, m in enumerate(modules):
            if not isinstance(m, nn.Module):
                raise ArgumentTypeError(
                    f"modules[{i}] must be an nn.Module; got {type(m).__name__}"
                )
        names = [tuple((k, tuple(v.shape)) for k, v in m.named_parameters()) for m in modules]
        if any(n != names[0] for n in names):
            raise ValueError("modules must share one architecture (parameter names and shapes)")
        self.n = len(modules)
        self.params, self.buffers = stack_module_state(list(modules))
        self._base = copy.deepcopy(modules[0]).to("meta")

        def one(p, b, x):
            return functional_call(self._base, (p, b), (x,))

        self._shared = torch.vmap(one, in_dims=(0, 0, None))
        self._per_run = torch.vmap(one, in_dims=(0, 0, 0))
        # N plain nn.Linear layers (linear and tabular policies): evaluated by the matmul (+ bias)
        # that vmap reduces a batched linear to, without vmap's per-call overhead
        self._linear = not self.buffers and all(type(m) is nn.Linear for m in modules)

    def parameters(self) -> Iterable[torch.Tensor]:
        return self.params.values()

    def __call__(self, x: torch.Tensor, *, per_run_input: bool = False) -> torch.Tensor:
        """All N outputs, shape (N, ...); ``x`` is shared unless ``per_run_input`` (then (N, ...)).

        An ``x`` the modules cannot take raises ``ValueError`` naming ``x`` and its shape.
        """
        if not isinstance(x, torch.Tensor):
            raise ArgumentTypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if per_run_input and (x.ndim == 0 or x.shape[0] != self.n):
            raise ValueError(
                f"x must have a leading run axis of size {self.n} with per_run_input=True; "
                f"got shape {tuple(x.shape)}"
            )
        fn = self._per_run if per_run_input else self._shared
        try:
            if self._linear and x.ndim == (3 if per_run_input else 2):
                return self._stacked_linear(x)
            return fn(self.params, self.buffers, x)
        except RuntimeError as exc:  # shape or dtype mismatch inside the module
            raise ValueError(
                f"x of shape {tuple(x.shape)} and dtype {x.dtype} does not fit the stacked "
                f"modules: {exc}"
            ) from exc

    def _stacked_linear(self, x: torch.Tensor) -> torch.Tensor:
        """``x W_i^T + b_i`` for every run ``i``: x (B, F) shared or (N, B, F) -> (N, B, A)."""
        out = torch.matmul(x, self.params["weight"].transpose(-1, -2))
        bias = self.params.get("bias")
        return out if bias is None else out + bias.unsqueeze(-2)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Stacked parameters and buffers (leading run axis), detached."""
        return {k: v.detach() for k, v in {**self.params, **self.buffers}.items()}

    def unstack(self, i: int, module: nn.Module) -> nn.Module:
        """Load run ``i``'s parameters into ``module`` (same architecture) and return it."""
        i = check_int("i", i, lo=0, hi=self.n - 1)
        if not isinstance(module, nn.Module):
            raise ArgumentTypeError(f"module must be an nn.Module; got {type(module).__name__}")
        try:
            module.load_state_dict({k: v[i].clone() for k, v in self.state_dict().items()})
        except RuntimeError as exc:
            raise ValueError(f"module does not have the stacked architecture: {exc}") from exc
        return module


_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "mish": nn.functional.mish}


class StackedMLP(nn.Module):
    """``len(generators)`` independent MLPs ``sizes[0] -> ... -> sizes[-1]``, input (R, B, in).

    Layer ``i`` has weights ``(R, sizes[i], sizes[i+1])`` and biases ``(R, 1, sizes[i+1])``;
    the forward pass is one :func:`torch.baddbmm` per layer with ``activation`` between layers
    (not after the last). ``init="uniform"`` draws run ``k``'s parameters as ``nn.Linear``
    does, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, from ``generators[k]`` (layer by layer, weight
    then bias), so a run's initialization depends on its own generator only; ``"zeros"`` starts
    at zero. Parameters live on the generators' device, in ``dtype``.

    Examples
    --------
    >>> gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    >>> net = StackedMLP((3, 8, 2), gens, activation="tanh")
    >>> tuple(net(torch.zeros(2, 5, 3)).shape), net.runs
    ((2, 5, 2), 2)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        generators: Sequence[torch.Generator],
        *,
        activation: str = "relu",
        init: str = "uniform",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        sizes = tuple(check_int(f"sizes[{i}]", n, lo=1) for i, n in enumerate(sizes))
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output size; got {sizes}")
        if len(generators) == 0 or not all(isinstance(g, torch.Generator) for g in generators):
            raise ArgumentTypeError("generators must be a non-empty sequence of torch.Generator")
        self.activation = check_choice("activation", activation, tuple(_ACTIVATIONS))
        check_choice("init", init, ("uniform", "zeros"))
        self.sizes = sizes
        dev = generators[0].device
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            w = torch.zeros(len(generators), fan_in, fan_out, dtype=dtype, device=dev)
            b = torch.zeros(len(generators), 1, fan_out, dtype=dtype, device=dev)
            if init == "uniform":
                bound = 1.0 / math.sqrt(fan_in)
                for k, g in enumerate(generators):
                    w[k] = (
                        torch.rand(fan_in, fan_out, generator=g, dtype=dtype, device=dev) * 2 - 1
                    ) * bound
                    b[k] = (
                        torch.rand(1, fan_out, generator=g, dtype=dtype, device=dev) * 2 - 1
                    ) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    @property
    def runs(self) -> int:
        return int(self.weights[0].shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = _ACTIVATIONS[self.activation]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = act(x)
        return x

    def replicated(self, runs: int) -> StackedMLP:
        """A copy with ``runs`` runs, each holding run 0's parameters."""
        runs = check_int("runs", runs, lo=1)
        out = copy.deepcopy(self)
        with torch.no_grad():
            for params in (out.weights, out.biases):
                for i, p in enumerate(params):
                    params[i] = nn.Parameter(p[:1].repeat(runs, 1, 1).clone())
        return out

    def load_into(self, k: int, layers: Sequence[nn.Linear]) -> None:
        """Copy run ``k``'s layers into the ``nn.Linear`` modules ``layers`` (one per layer)."""
        k = check_int("k", k, lo=0, hi=self.runs - 1)
        if len(layers) != len(self.weights):
            raise ValueError(f"layers must hold {len(self.weights)} nn.Linear; got {len(layers)}")
        with torch.no_grad():
            for lin, w, b in zip(layers, self.weights, self.biases, strict=True):
                lin.weight.copy_(w[k].T)
                lin.bias.copy_(b[k, 0])


def clip_grad_norm_per_run(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``clip_grad_norm_`` applied to each run (leading axis) separately; returns the N norms.

    ``params`` are stacked parameters (a :class:`StackedModule`'s): tensors with one leading
    run axis of the same size N; those without a gradient are skipped. ``max_norm`` is finite
    and > 0.
    """
    max_norm = check_positive("max_norm", max_norm)
    if isinstance(params, torch.Tensor) or not isinstance(params, Iterable):
        raise ArgumentTypeError(
            f"params must be an iterable of stacked parameter tensors; got {type(params).__name__}"
        )
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor):
            raise ArgumentTypeError(f"params[{i}] must be a torch.Tensor; got {type(p).__name__}")
    params = [p for p in params if p.grad is not None]
    if not params:
        raise ValueError("params must hold at least one tensor with a gradient")
    runs = {p.shape[0] if p.ndim else None for p in params}
    if len(runs) != 1 or None in runs:
        raise ValueError(
            f"params must share one leading run axis; got shapes {[tuple(p.shape) for p in params]}"
        )
    sq = sum(p.grad.pow(2).reshape(p.shape[0], -1).sum(1) for p in params)
    norms = torch.sqrt(sq)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(coef.reshape(-1, *([1] * (p.ndim - 1))))
    return norms
