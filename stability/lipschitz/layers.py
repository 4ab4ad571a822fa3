"""Layers that are 1-Lipschitz (ℓ2) by construction, and the policy ``π = L·g``.

- :class:`AOLLinear` (Prach & Lampert 2022 [1]_, Theorem 1): ``W = P D`` with
  ``D_ii = (Σ_j |PᵀP|_ij)^(-1/2)`` has ``||W||_2 <= 1`` (equality for orthogonal columns).
- :func:`cayley_linear`: an (semi-)orthogonal linear layer through torch's ``orthogonal``
  parametrization with the Cayley map ``Q = (I + A/2)(I - A/2)⁻¹``, ``||Q||_2 = 1``.
- :class:`SLLBlock` (Araujo et al., ICLR 2023 [2]_, Theorem 3): ``h(x) = x - 2 Wᵀ diag(t) σ(Wx + b)``
  with ``t_i = 1 / Σ_j |(WWᵀ)_ij| q_j / q_i``, ``q = exp(θ)``, σ = ReLU: 1-Lipschitz.
- :class:`LipschitzPolicy`: ``π(x) = L · g(x)`` where ``g`` alternates 1-Lipschitz layers and ReLU,
  so ``lip(π) <= L`` holds by construction; :meth:`LipschitzPolicy.to_sequential` exports the
  plain ``nn.Sequential`` (AOL/Cayley only) for certification with :func:`lipschitz_bound`.

References
----------
.. [1] B. Prach, C. H. Lampert, "Almost-orthogonal layers for efficient general-purpose
   Lipschitz networks", ECCV 2022, arXiv:2208.03160.
.. [2] A. Araujo, A. Havens, B. Delattre, A. Allauzen, B. Hu, "A unified algebraic perspective
   on Lipschitz neural networks", ICLR 2023, arXiv:2303.03169.
"""

from __future__ import annotations

import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_choice, check_positive, check_positive_int

__all__ = ["AOLLinear", "LipschitzPolicy", "SLLBlock", "aol_rescale", "cayley_linear"]


def aol_rescale(p: torch.Tensor) -> torch.Tensor:
    """``P D`` with ``D_ii = (Σ_j |PᵀP|_ij)^(-1/2)`` (Theorem 1 of [1]_): spectral norm <= 1."""
    if not isinstance(p, torch.Tensor) or p.ndim != 2:
        raise ArgumentTypeError(
            f"p must be a 2-D tensor; got {type(p).__name__} {tuple(getattr(p, 'shape', ()))}"
        )
    if not bool(torch.isfinite(p).all()):
        raise ValueError("p must be finite; it has NaN or infinite entries")
    s = torch.abs(p.T @ p).sum(dim=1)
    return p * torch.rsqrt(torch.clamp(s, min=1e-30))[None, :]


class AOLLinear(nn.Module):
    """A linear layer ``x -> P D x + b`` with ``||P D||_2 <= 1`` (AOL)."""

    def __init__(self, n_in: int, n_out: int, *, bias: bool = True) -> None:
        super().__init__()
        n_in, n_out = check_positive_int("n_in", n_in), check_positive_int("n_out", n_out)
        self.p = nn.Parameter(torch.empty(n_out, n_in, dtype=torch.float64))
        nn.init.orthogonal_(self.p)
        self.bias = nn.Parameter(torch.zeros(n_out, dtype=torch.float64)) if bias else None

    @property
    def weight(self) -> torch.Tensor:
        return aol_rescale(self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias


def cayley_linear(n_in: int, n_out: int, *, bias: bool = True) -> nn.Linear:
    """An ``nn.Linear`` whose weight is (semi-)orthogonal via the Cayley map (``||W||_2 = 1``)."""
    n_in, n_out = check_positive_int("n_in", n_in), check_positive_int("n_out", n_out)
    lin = nn.Linear(n_in, n_out, bias=bias, dtype=torch.float64)
    return nn.utils.parametrizations.orthogonal(lin, orthogonal_map="cayley")


class SLLBlock(nn.Module):
    """The SDP-based Lipschitz layer ``h(x) = x - 2 Wᵀ diag(t) ReLU(Wx + b)`` (1-Lipschitz)."""

    def __init__(self, n: int, n_inner: int | None = None) -> None:
        super().__init__()
        n = check_positive_int("n", n)
        k = n if n_inner is None else check_positive_int("n_inner", n_inner)
        self.w = nn.Parameter(torch.randn(k, n, dtype=torch.float64) / n**0.5)
        self.b = nn.Parameter(torch.zeros(k, dtype=torch.float64))
        self.log_q = nn.Parameter(torch.zeros(k, dtype=torch.float64))

    def t(self) -> torch.Tensor:
        q = torch.exp(self.log_q)
        g = torch.abs(self.w @ self.w.T)
        return 1.0 / torch.clamp((g * q[None, :] / q[:, None]).sum(dim=1), min=1e-30)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - 2.0 * (torch.relu(x @ self.w.T + self.b) * self.t()) @ self.w


class LipschitzPolicy(nn.Module):
    """``π(x) = L · g(x)``, ``g`` = 1-Lipschitz layers with ReLU between them.

    Parameters
    ----------
    n_in, n_out : int
    hidden : sequence of int
        Hidden widths.
    lipschitz : float
        ``L > 0``, the bound that holds by construction.
    kind : {"aol", "cayley", "sll"}
        ``sll`` uses AOL layers to change width and SLL blocks at each hidden width.
    """

    def __init__(
        self, n_in: int, n_out: int, hidden=(32, 32), lipschitz: float = 1.0, *, kind: str = "aol"
    ) -> None:
        super().__init__()
        n_in, n_out = check_positive_int("n_in", n_in), check_positive_int("n_out", n_out)
        if isinstance(hidden, str | bytes) or not hasattr(hidden, "__iter__"):
            raise ArgumentTypeError(f"hidden must be a sequence of widths; got {hidden!r}")
        hidden = [check_positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden)]
        lipschitz = check_positive("lipschitz", lipschitz)
        check_choice("kind", kind, ("aol", "cayley", "sll"))
        self.lipschitz, self.kind = lipschitz, kind
        dims = [n_in, *hidden, n_out]
        layers: list[nn.Module] = []
        for k in range(len(dims) - 1):
            lin = (
                cayley_linear(dims[k], dims[k + 1])
                if kind == "cayley"
                else AOLLinear(dims[k], dims[k + 1])
            )
            layers.append(lin)
            if k < len(dims) - 2:
                layers.append(nn.ReLU())
                if kind == "sll":
                    layers.append(SLLBlock(dims[k + 1]))
        self.g = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lipschitz * self.g(x)

    def to_sequential(self) -> nn.Sequential:
        """The same map as a plain ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU`` (L folded in)."""
        if self.kind == "sll":
            raise ValueError(
                "to_sequential: SLL blocks are residual; certify with the lower bound only"
            )
        mods: list[nn.Module] = []
        lins = [m for m in self.g if not isinstance(m, nn.ReLU)]
        for k, m in enumerate(lins):
            w = m.weight.detach().clone()
            b = (
                m.bias.detach().clone()
                if m.bias is not None
                else torch.zeros(w.shape[0], dtype=w.dtype)
            )
            if k == len(lins) - 1:
                w, b = self.lipschitz * w, self.lipschitz * b
            lin = nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(w)
                lin.bias.copy_(b)
            mods.append(lin)
            if k < len(lins) - 1:
                mods.append(nn.ReLU())
        return nn.Sequential(*mods)
