"""Fit an additive-noise SCM to data on a known graph (for ``h*`` on real data).

Each non-root node gets ``X_v = f_v(PA_v) + σ_v N(0, 1)`` with ``f_v`` a small tanh MLP fitted
by least squares (full-batch Adam) and ``σ_v`` the residual standard deviation; each root is
``N(mean, std²)``. This mirrors the authors' IMPC pipeline, which fits the equations of the
descendants of ``X_M`` by MLPs before estimating ``h*`` (``impc/findoptset.py``:
``f_regen``, ``f_regen4``) [reconstructed: they keep the observed roots, a Gaussian root law is
used here so that the model samples like any :class:`~causal.scm.ContinuousSCM`].

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), App. F.2.1.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import networkx as nx
import numpy as np
import torch

from causal._optim import Adam
from causal.graph import sorted_nodes, validate_setting
from causal.scm import ContinuousSCM, Mechanism
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = ["fit_continuous_scm"]


class _Fitted(torch.nn.Module):
    """``f(pa) = net((pa - m) / s)`` in float64 (picklable, no closures)."""

    def __init__(self, k: int, hidden: int, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(k, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)
        ).double()
        self.register_buffer("m", mean)
        self.register_buffer("s", std)

    def forward(self, pa: torch.Tensor) -> torch.Tensor:
        return self.net((pa - self.m) / self.s).squeeze(-1)


class _Const:
    def __init__(self, c: float) -> None:
        self.c = float(c)

    def __call__(self, pa: torch.Tensor) -> torch.Tensor:
        return torch.full((pa.shape[0],), self.c, dtype=torch.float64)


def fit_continuous_scm(
    graph: nx.DiGraph,
    target: Hashable,
    mutable: Iterable[Hashable],
    data: Mapping[Hashable, object],
    *,
    hidden: int = 8,
    steps: int = 300,
    lr: float = 2e-2,
    seed: int = 0,
) -> ContinuousSCM:
    """An additive-noise SCM on ``graph`` fitted to ``data`` (one array per node).

    Parameters
    ----------
    graph, target, mutable
        The setting (validated as for :class:`~causal.scm.ContinuousSCM`).
    data : mapping node -> array (n,)
        Observations of every node, equal lengths ``n >= 2``, finite.
    hidden, steps, lr : int, int, float
        MLP width, full-batch Adam steps and learning rate of each ``f_v``.
    seed : int
        Initialisation seed.

    Returns
    -------
    ContinuousSCM
        Roots ``N(mean, std²)``; other nodes ``f_v(PA_v) + σ_v N(0, 1)``, ``σ_v`` the residual
        std of the fit.

    Raises
    ------
    ValueError
        Invalid setting, a node without data, unequal lengths, non-finite values, bad sizes.
    """
    validate_setting(graph, target, mutable)
    if not isinstance(data, Mapping):
        raise ArgumentTypeError(f"data must be a mapping node -> array; got {type(data).__name__}")
    missing = [v for v in sorted_nodes(graph.nodes) if v not in data]
    if missing:
        raise ValueError(f"data lacks the nodes {missing}")
    arrays = {v: as_float_array(f"data[{v!r}]", data[v], finite=False) for v in graph.nodes}
    lengths = {a.shape for a in arrays.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1 or next(iter(lengths))[0] < 2:
        raise ValueError(f"data arrays must be 1-D of one common length >= 2; got {lengths}")
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        raise ValueError("data must be finite")
    hidden = check_positive_int("hidden", hidden)
    steps = check_positive_int("steps", steps)
    lr = check_positive("lr", lr)
    seed = check_seed(seed)
    # the MLPs' initialisations draw from torch's global generator: seed it inside a fork, so
    # that the caller's global state is left as it was
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mech = _fit_mechanisms(graph, arrays, hidden, steps, lr)
    return ContinuousSCM(graph, target, mutable, mech)


def _fit_mechanisms(
    graph: nx.DiGraph, arrays: dict, hidden: int, steps: int, lr: float
) -> dict[Hashable, Mechanism]:
    """One fitted :class:`Mechanism` per node (global torch generator already seeded).

    The MLPs are initialised one by one in node order (the draws of one-by-one fits) and
    trained as one stacked model: node ``k``'s standardised parents fill the first ``|PA_k|``
    inputs of a zero-padded first layer, and the summed loss gives each network its own
    gradient. [derived] The gradient of ``sum_k L_k`` with respect to network ``k``'s weights
    is ``dL_k`` (``L_j`` does not depend on them for ``j != k``), Adam updates every entry from
    its own gradient history, and a padded input is 0 (it adds exact zeros to the first
    layer's sums and gives its weights zero gradients, so they stay 0): each network follows
    its one-by-one full-batch trajectory, up to floating-point summation order (float64).
    """
    mech: dict[Hashable, Mechanism] = {}
    fits = []  # (node, parents, their values, target, module)
    for v in graph.nodes:
        pa = sorted_nodes(graph.predecessors(v))
        y = torch.as_tensor(arrays[v])
        if not pa:
            mech[v] = Mechanism((), _Const(float(y.mean())), float(y.std()))
            continue
        x = torch.as_tensor(np.column_stack([arrays[p] for p in pa]))
        f = _Fitted(len(pa), hidden, x.mean(0), x.std(0).clamp_min(1e-12))
        fits.append((v, pa, x, y, f))
    if fits:
        width = max(len(pa) for _, pa, _, _, _ in fits)
        xs = torch.zeros((len(fits), len(fits[0][3]), width), dtype=torch.float64)
        for k, (_, pa, x, _, f) in enumerate(fits):
            xs[k, :, : len(pa)] = (x - f.m) / f.s  # as _Fitted.forward standardises
        ys = torch.stack([y for _, _, _, y, _ in fits])
        lins = [[f.net[0], f.net[2]] for *_, f in fits]
        w1 = torch.stack(
            [
                torch.nn.functional.pad(a.weight.detach(), (0, width - a.in_features))
                for a, _ in lins
            ]
        ).requires_grad_()
        b1 = torch.stack([a.bias.detach() for a, _ in lins]).requires_grad_()
        w2 = torch.stack([b.weight.detach() for _, b in lins]).requires_grad_()
        b2 = torch.stack([b.bias.detach() for _, b in lins]).requires_grad_()
        opt = Adam([w1, b1, w2, b2], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            h = torch.tanh(torch.baddbmm(b1.unsqueeze(1), xs, w1.transpose(1, 2)))
            out = torch.baddbmm(b2.unsqueeze(1), h, w2.transpose(1, 2)).squeeze(-1)
            ((out - ys) ** 2).mean(1).sum().backward()
            opt.step()
        with torch.no_grad():
            for k, ((v, pa, x, y, f), (a, b)) in enumerate(zip(fits, lins, strict=True)):
                a.weight.copy_(w1[k, :, : len(pa)])
                a.bias.copy_(b1[k])
                b.weight.copy_(w2[k])
                b.bias.copy_(b2[k])
                f.requires_grad_(False)
                mech[v] = Mechanism(pa, f, float((y - f(x)).std()))
    return {v: mech[v] for v in graph.nodes}
