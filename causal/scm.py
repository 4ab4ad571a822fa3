"""Structural causal models over a ``networkx.DiGraph`` with a target and a mutable set.

Two kinds, both validated at construction (acyclic graph, target and mutable nodes exist,
target not mutable, mechanisms match the parents):

- :class:`DiscreteSCM`: tabular CPTs ``P(X_v | PA_v)`` over finite value sets; the exact
  worst-case risk enumerates deterministic intervention maps (:mod:`causal.risk`).
- :class:`ContinuousSCM`: additive-noise mechanisms ``X_v = f_v(PA_v) + sigma_v * N(0, 1)``
  with ``f_v`` written in torch (so that intervened samples are differentiable in the
  adversary's parameters); sampling from the observational, ``do`` and shifted versions.

Environments differ only in the mutable factors, as in the setting of Liu et al. (2023):
``P^e = P(Y|PA_Y) ∏_{i∈S} P(X_i|PA_i) ∏_{j∈M} P^e(X_j|PA_j)`` [reconstructed: Markov and
faithful to the DAG, no latent confounding, as in the authors' code].

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), §3.
.. [2] J. Pearl, *Causality*, 2nd ed., 2009, §3.2 (truncated factorisation).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import torch

from causal.graph import GraphComponents, graph_components, sorted_nodes, validate_setting
from theory.checks import (
    ArgumentTypeError,
    check_nonnegative,
    check_positive_int,
    check_rng,
    check_seed,
)

__all__ = ["ContinuousSCM", "DiscreteSCM", "Mechanism", "zero_mechanism"]

Intervention = Callable[[torch.Tensor], torch.Tensor]


def _topological(graph: nx.DiGraph) -> tuple:
    return tuple(nx.lexicographical_topological_sort(graph, key=lambda n: str(n)))


class _SCMBase:
    graph: nx.DiGraph
    target: Hashable
    mutable: frozenset
    order: tuple
    parents: dict

    def _init_graph(
        self,
        graph: nx.DiGraph,
        target: Hashable,
        mutable: Iterable[Hashable],
        parents: Mapping[Hashable, Iterable[Hashable]] | None,
    ) -> None:
        self.mutable = validate_setting(graph, target, mutable)
        self.graph = nx.freeze(nx.DiGraph(graph))
        self.target = target
        self.order = _topological(self.graph)
        given = dict(parents or {})
        unknown = [v for v in given if v not in self.graph]
        if unknown:
            raise ValueError(f"parents names nodes {unknown} that are not in graph")
        self.parents = {}
        for v in self.order:
            pa = tuple(given[v]) if v in given else sorted_nodes(self.graph.predecessors(v))
            if set(pa) != set(self.graph.predecessors(v)) or len(set(pa)) != len(pa):
                raise ValueError(
                    f"parents[{v!r}] = {list(pa)} must list the graph's parents "
                    f"{list(sorted_nodes(self.graph.predecessors(v)))} once each"
                )
            self.parents[v] = pa

    @property
    def components(self) -> GraphComponents:
        """Stable set, ``X_M^0``, ``K``, ``X*`` and the condition."""
        return graph_components(self.graph, self.target, self.mutable)

    @property
    def stable(self) -> frozenset:
        """The stable set ``S = X \\ X_M``."""
        return frozenset(self.graph.nodes) - self.mutable - {self.target}

    def check_subset(self, subset: Iterable[Hashable]) -> frozenset:
        """Validate a candidate subset ``S' ⊆ S``."""
        if isinstance(subset, str | bytes) or not isinstance(subset, Iterable):
            raise ArgumentTypeError(f"subset must be a collection of stable nodes; got {subset!r}")
        try:
            s = frozenset(subset)
        except TypeError:
            raise ArgumentTypeError(
                f"subset must be a collection of hashable nodes; got {subset!r}"
            ) from None
        bad = s - self.stable
        if bad:
            raise ValueError(
                f"subset contains {list(sorted_nodes(bad))}, which are not stable nodes "
                f"(stable set {list(sorted_nodes(self.stable))})"
            )
        return s


# ---------------------------------------------------------------------------------------------
# Discrete SCMs
# ---------------------------------------------------------------------------------------------


class DiscreteSCM(_SCMBase):
    """A discrete SCM: a DAG, a target ``Y``, a mutable set and one CPT per node.

    Parameters
    ----------
    graph : networkx.DiGraph
        The DAG.
    target : hashable
        ``Y``.
    mutable : iterable of nodes
        ``X_M``.
    cpts : mapping node -> array
        ``cpts[v][pa_1, ..., pa_k, x] = P(X_v = x | PA_v = pa)``, parents in the order
        ``parents[v]`` (default: the graph's parents in natural name order). Rows must be
        probability vectors (tolerance 1e-9).
    parents : mapping node -> sequence, optional
        Parent order of each CPT.
    target_values : array_like, optional
        The numeric value of each state of ``Y`` (default ``0, 1, ..., card - 1``).

    Raises
    ------
    ValueError
        Invalid graph, missing / misshaped / non-stochastic CPTs, bad ``target_values``.
    """

    def __init__(
        self,
        graph: nx.DiGraph,
        target: Hashable,
        mutable: Iterable[Hashable],
        cpts: Mapping[Hashable, object],
        *,
        parents: Mapping[Hashable, Iterable[Hashable]] | None = None,
        target_values: object = None,
    ) -> None:
        self._init_graph(graph, target, mutable, parents)
        if not isinstance(cpts, Mapping):
            raise ArgumentTypeError(
                f"cpts must be a mapping node -> array; got {type(cpts).__name__}"
            )
        missing = [v for v in self.order if v not in cpts]
        if missing:
            raise ValueError(f"cpts lacks the nodes {missing}")
        extra = [v for v in cpts if v not in self.graph]
        if extra:
            raise ValueError(f"cpts names nodes {extra} that are not in graph")
        self.cpts: dict = {}
        self.cards: dict = {}
        for v in self.order:  # topological: parents' cardinalities are known first
            try:
                t = np.array(cpts[v], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ArgumentTypeError(f"cpts[{v!r}] must be a numeric array") from exc
            pa = self.parents[v]
            want = tuple(self.cards[p] for p in pa)
            if t.ndim != len(pa) + 1 or t.shape[:-1] != want or t.shape[-1] < 1:
                raise ValueError(
                    f"cpts[{v!r}] must have shape {(*want, 'card')} (parents {list(pa)}); "
                    f"got {t.shape}"
                )
            if not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(np.abs(t.sum(-1) - 1) > 1e-9):
                raise ValueError(f"cpts[{v!r}] must hold probability vectors along its last axis")
            t.setflags(write=False)
            self.cpts[v] = t
            self.cards[v] = t.shape[-1]
        if target_values is None:
            yv = np.arange(self.cards[target], dtype=np.float64)
        else:
            try:
                yv = np.array(target_values, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ArgumentTypeError(
                    f"target_values must be numbers; got {target_values!r}"
                ) from exc
            if yv.shape != (self.cards[target],) or not np.all(np.isfinite(yv)):
                raise ValueError(
                    f"target_values must be {self.cards[target]} finite numbers; got {yv!r}"
                )
        yv.setflags(write=False)
        self.target_values = yv

    def __repr__(self) -> str:
        return (
            f"DiscreteSCM(nodes={list(self.order)}, target={self.target!r}, "
            f"mutable={list(sorted_nodes(self.mutable))})"
        )

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        *,
        interventions: Mapping[Hashable, object] | None = None,
    ) -> dict:
        """``n`` joint samples (ancestral sampling); ``interventions`` replace mutable CPTs.

        ``interventions[j]`` is a CPT of the same shape as ``cpts[j]`` (a deterministic map is
        a 0/1 CPT); only mutable nodes may be replaced. ``rng`` is a
        ``numpy.random.Generator``. Returns ``{node: int array (n,)}``.
        """
        n = check_positive_int("n", n)
        check_rng("rng", rng)
        repl = self.check_interventions(interventions)
        out: dict = {}
        for v in self.order:
            cpt = repl.get(v, self.cpts[v])
            idx = tuple(out[p] for p in self.parents[v])
            probs = cpt[idx] if idx else np.broadcast_to(cpt, (n, self.cards[v]))
            u = rng.random(n)[:, None]
            out[v] = np.minimum((u > np.cumsum(probs, axis=-1)).sum(-1), self.cards[v] - 1)
        return out

    def check_interventions(self, interventions: Mapping[Hashable, object] | None) -> dict:
        """Validate replacement CPTs for mutable nodes (finite probability vectors)."""
        if interventions is None:
            return {}
        if not isinstance(interventions, Mapping):
            raise ArgumentTypeError(
                f"interventions must be a mapping node -> CPT; got {type(interventions).__name__}"
            )
        out: dict = {}
        for j, t in interventions.items():
            if j not in self.mutable:
                raise ValueError(f"interventions may replace mutable nodes only; got {j!r}")
            try:
                arr = np.asarray(t, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ArgumentTypeError(f"interventions[{j!r}] must be a numeric array") from exc
            if arr.shape != self.cpts[j].shape:
                raise ValueError(
                    f"interventions[{j!r}] must have shape {self.cpts[j].shape}; got {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"interventions[{j!r}] must be finite; got {arr.tolist()}")
            if np.any(arr < 0) or np.any(np.abs(arr.sum(-1) - 1) > 1e-9):
                raise ValueError(
                    f"interventions[{j!r}] must hold probability vectors; got {arr.tolist()}"
                )
            out[j] = arr
        return out


# ---------------------------------------------------------------------------------------------
# Continuous SCMs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mechanism:
    """``X_v = fn(PA_v) + noise_std * N(0, 1)``.

    Attributes
    ----------
    parents : tuple
        Parent order of the columns passed to ``fn``.
    fn : callable
        torch ``(n, len(parents)) -> (n,)`` (float64); for a root it receives an ``(n, 0)``
        tensor.
    noise_std : float
        Standard deviation of the additive Gaussian noise (>= 0).
    """

    parents: tuple
    fn: Callable[[torch.Tensor], torch.Tensor] = field(compare=False)
    noise_std: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.parents, str | bytes) or not isinstance(self.parents, Iterable):
            raise ArgumentTypeError(
                f"parents must be a sequence of node names; got {self.parents!r}"
            )
        object.__setattr__(self, "parents", tuple(self.parents))
        if not callable(self.fn):
            raise ArgumentTypeError(f"fn must be callable; got {type(self.fn).__name__}")
        object.__setattr__(self, "noise_std", check_nonnegative("noise_std", self.noise_std))


def zero_mechanism(pa: torch.Tensor) -> torch.Tensor:
    """``f = 0`` (a root with pure noise): ``(n, k)`` parent values to ``n`` zeros.

    Raises
    ------
    TypeError
        ``pa`` not a torch tensor.
    ValueError
        ``pa`` not 2-D ``(n, k)``.
    """
    if not isinstance(pa, torch.Tensor):
        raise ArgumentTypeError(
            f"pa must be a torch.Tensor of shape (n, k); got {type(pa).__name__}"
        )
    if pa.ndim != 2:
        raise ValueError(f"pa must have shape (n, k); got shape {tuple(pa.shape)}")
    return torch.zeros(pa.shape[0], dtype=pa.dtype)


class ContinuousSCM(_SCMBase):
    """An additive-noise SCM with torch mechanisms.

    Parameters
    ----------
    graph, target, mutable
        As for :class:`DiscreteSCM`.
    mechanisms : mapping node -> Mechanism
        One per node; ``Mechanism.parents`` must list the graph's parents.

    Raises
    ------
    ValueError
        Invalid graph, missing mechanisms, parents that do not match, negative noise.
    """

    def __init__(
        self,
        graph: nx.DiGraph,
        target: Hashable,
        mutable: Iterable[Hashable],
        mechanisms: Mapping[Hashable, Mechanism],
    ) -> None:
        if not isinstance(mechanisms, Mapping):
            raise ArgumentTypeError(
                f"mechanisms must be a mapping; got {type(mechanisms).__name__}"
            )
        validate_setting(graph, target, mutable)
        missing = [v for v in graph if v not in mechanisms]
        if missing:
            raise ValueError(f"mechanisms lacks the nodes {sorted_nodes(missing)}")
        extra = [v for v in mechanisms if v not in graph]
        if extra:
            raise ValueError(f"mechanisms names nodes {extra} that are not in graph")
        for v, m in mechanisms.items():
            if not isinstance(m, Mechanism):
                raise ArgumentTypeError(f"mechanisms[{v!r}] must be a Mechanism; got {m!r}")
        self._init_graph(graph, target, mutable, {v: m.parents for v, m in mechanisms.items()})
        self.mechanisms = dict(mechanisms)

    def __repr__(self) -> str:
        return (
            f"ContinuousSCM(nodes={list(self.order)}, target={self.target!r}, "
            f"mutable={list(sorted_nodes(self.mutable))})"
        )

    def noise(self, n: int, generator: torch.Generator) -> dict:
        """Standard-normal exogenous noise ``{node: (n,) tensor}`` (float64)."""
        return {v: torch.randn(n, generator=generator, dtype=torch.float64) for v in self.order}

    def propagate(
        self,
        noise: Mapping[Hashable, torch.Tensor],
        *,
        interventions: Mapping[Hashable, Intervention] | None = None,
        do: Mapping[Hashable, torch.Tensor] | None = None,
    ) -> dict:
        """Compute every node in topological order from fixed exogenous noise.

        ``do[j]`` fixes node ``j`` to given values (its descendants are regenerated);
        ``interventions[j]`` replaces node ``j`` by a deterministic function of its parents
        ``g_j(PA_j)`` (torch ``(n, k) -> (n,)``), differentiable if ``g_j`` is.
        """
        interventions = interventions or {}
        do = do or {}
        n = next(iter(noise.values())).shape[0]
        out: dict = {}
        for v in self.order:
            if v in do:  # fixed: its parents are not needed
                out[v] = do[v]
                continue
            pa = self.parents[v]
            cols = (
                torch.stack([out[p] for p in pa], dim=1)
                if pa
                else torch.zeros((n, 0), dtype=torch.float64)
            )
            if v in interventions:
                out[v] = interventions[v](cols)
            else:
                m = self.mechanisms[v]
                out[v] = m.fn(cols) + m.noise_std * noise[v]
        return out

    def sample(
        self,
        n: int,
        seed: int = 0,
        *,
        interventions: Mapping[Hashable, Intervention] | None = None,
        do: Mapping[Hashable, object] | None = None,
    ) -> dict:
        """``n`` samples ``{node: float64 numpy array (n,)}`` of the (intervened) model.

        ``do[j]`` is a finite scalar or an array of shape ``(n,)``; ``interventions[j]`` a
        callable ``(n, k) -> (n,)`` (see :meth:`propagate`); ``seed`` an integer in
        ``[0, 2**63)``.
        """
        n = check_positive_int("n", n)
        seed = check_seed(seed)
        for name, given in (("interventions", interventions), ("do", do)):
            if given is not None and not isinstance(given, Mapping):
                raise ArgumentTypeError(
                    f"{name} must be a mapping node -> value; got {type(given).__name__}"
                )
            for j in given or {}:
                if j not in self.graph:
                    raise ValueError(f"{name}: cannot intervene on {j!r}: not a node of graph")
                if j == self.target:
                    raise ValueError(f"{name}: cannot intervene on the target {j!r}")
        for j, g in (interventions or {}).items():
            if not callable(g):
                raise ArgumentTypeError(
                    f"interventions[{j!r}] must be callable (n, k) -> (n,); got {g!r}"
                )
        do_t = {}
        for j, x in (do or {}).items():
            try:
                arr = np.asarray(x, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ArgumentTypeError(f"do[{j!r}] must be numeric; got {x!r}") from exc
            if arr.shape not in ((), (n,)):
                raise ValueError(
                    f"do[{j!r}] must be a scalar or have shape ({n},); got {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"do[{j!r}] must be finite; got {x!r}")
            do_t[j] = torch.as_tensor(np.broadcast_to(arr, (n,)).copy())
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            vals = self.propagate(self.noise(n, gen), interventions=interventions, do=do_t)
        return {v: vals[v].numpy().copy() for v in self.order}
