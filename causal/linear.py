"""Linear-Gaussian SEMs: the worst-case risk ``h*(S')`` and the minimax subset in closed form.

A linear-Gaussian SEM over ``{Y} ∪ X`` is ``X_v = Σ_{u ∈ PA_v} w_{uv} X_u + σ_v ε_v`` with
independent ``ε_v ~ N(0, 1)``; the mutable nodes ``X_M`` are the mechanisms that environments
(and the adversary of Liu et al. 2023, Alg. 1) replace. This is the linear-Gaussian case of the
causal minimax problem, where everything is available in closed form [derived below]:

- **Stable predictor.** Write ``R = V \\ X_M``. For any value of ``X_M`` the non-mutable nodes
  satisfy ``X_R = B X_R + C X_M + D ε_R`` (``B``, ``C`` the edge weights into ``R``,
  ``D = diag(σ_R)``), so ``X_R = A X_M + N ε_R`` with ``T = (I - B)^{-1}``, ``A = T C`` and
  ``N = T D``. Under ``do(X_M = m)`` the vector ``X_R`` is Gaussian with mean ``A m`` and
  covariance ``Σ = N N^T`` (independent of ``m``), so
  ``f_{S'}(x_{S'}, m) = A_Y m + Σ_{Y S'} Σ_{S'S'}^{-1} (x_{S'} - A_{S'} m)``.
- **Worst-case risk.** Substituting ``X_R = A X_M + N ε_R`` into ``Y - f_{S'}(X_{S'}, X_M)``,
  the ``X_M`` terms cancel: the residual is ``(N_Y - β^T N_{S'}) ε_R`` with
  ``β = Σ_{S'S'}^{-1} Σ_{S'Y}``, a fixed linear function of the non-mutable noise whatever the
  mechanism of ``X_M`` is (any ``g(PA_M)``, deterministic or not, bounded or not). Hence
  every environment, the worst one included, has the same risk

  ``h*(S') = Σ_{YY} - Σ_{Y S'} Σ_{S'S'}^{-1} Σ_{S' Y} = Var(Y | X_{S'}, do(X_M))``.

- **Minimax subset.** Conditioning on more variables never increases a Gaussian conditional
  variance, so ``h*(S) <= h*(S')`` for every ``S' ⊆ S``: the whole stable set is
  minimax-optimal in every linear-Gaussian SEM, whether or not ``Ch(Y) ∩ K = ∅`` holds. The
  subsets that separate from it need nonlinear or discrete mechanisms (see
  :func:`causal.generators.bilinear_worst_case`).

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), Alg. 1 (``h*`` over intervention functions).
.. [2] J. Pearl, *Causality*, 2nd ed., 2009, §5.2 (linear SEMs: the effect of an
   intervention is the product of the path coefficients).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

from causal.graph import GraphComponents, graph_components, sorted_nodes, validate_setting
from causal.scm import ContinuousSCM, Mechanism
from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_int,
    check_positive,
    check_probability,
    check_real,
    check_rng,
)

__all__ = ["LinearGaussianRisk", "LinearGaussianSEM", "random_linear_gaussian_sem"]


@dataclass(frozen=True)
class LinearGaussianRisk:
    """The closed-form stable predictor of ``S'`` and its worst-case risk.

    Attributes
    ----------
    subset : frozenset
        ``S'``.
    value : float
        ``h*(S') = Var(Y | X_{S'}, do(X_M))``: the risk in every environment, hence the
        worst-case risk.
    coef : dict node -> float
        ``f_{S'}(x) = Σ coef[v] x_v`` over ``S' ∪ X_M`` (no intercept: all means are 0).
    """

    subset: frozenset
    value: float
    coef: dict

    def summary(self) -> str:
        """One line: subset, risk and predictor."""
        s = "{" + ", ".join(map(str, sorted_nodes(self.subset))) + "}"
        terms = " + ".join(f"{c:.4g}·{v}" for v, c in self.coef.items()) or "0"
        return f"h*({s}) = {self.value:.6g} [closed form]; f = {terms}"


class _Linear:
    """``pa @ w`` (picklable, unlike a closure)."""

    def __init__(self, w: tuple[float, ...]) -> None:
        self.w = torch.tensor(w, dtype=torch.float64)

    def __call__(self, pa: torch.Tensor) -> torch.Tensor:
        return pa @ self.w if self.w.numel() else torch.zeros(pa.shape[0], dtype=torch.float64)


@dataclass(frozen=True)
class LinearGaussianSEM:
    """``X_v = Σ_{u ∈ PA_v} w_{uv} X_u + σ_v ε_v``, ``ε_v ~ N(0, 1)`` independent.

    Parameters
    ----------
    graph : networkx.DiGraph
        The DAG (copied and frozen).
    target : node
        ``Y`` (not mutable).
    mutable : iterable of nodes
        ``X_M``.
    weights : mapping (u, v) -> float
        One finite weight per edge of ``graph``, no other keys.
    noise_std : float or mapping node -> float
        ``σ_v``: one positive finite value for every node (or one for all).

    Raises
    ------
    ValueError
        An invalid setting (see :func:`causal.graph.validate_setting`), ``weights`` not
        exactly the edges or not finite, ``noise_std`` missing a node, non-positive or not
        finite.
    """

    graph: nx.DiGraph
    target: Hashable
    mutable: frozenset
    weights: Mapping
    noise_std: Mapping

    def __post_init__(self) -> None:
        mutable = validate_setting(self.graph, self.target, self.mutable)
        graph = nx.freeze(nx.DiGraph(self.graph))
        if not isinstance(self.weights, Mapping):
            raise ArgumentTypeError(
                f"weights must be a mapping (u, v) -> float; got {type(self.weights).__name__}"
            )
        missing = [e for e in graph.edges if e not in self.weights]
        extra = [e for e in self.weights if e not in graph.edges]
        if missing or extra:
            raise ValueError(
                f"weights must name exactly the edges of graph; missing {missing}, extra {extra}"
            )
        weights = {e: check_real(f"weights[{e!r}]", self.weights[e]) for e in graph.edges}
        if isinstance(self.noise_std, Mapping):
            absent = [v for v in sorted_nodes(graph.nodes) if v not in self.noise_std]
            if absent:
                raise ValueError(f"noise_std lacks the nodes {absent}")
            sd = {v: check_positive(f"noise_std[{v!r}]", self.noise_std[v]) for v in graph}
        else:
            one = check_positive("noise_std", self.noise_std)
            sd = dict.fromkeys(graph.nodes, one)
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "mutable", mutable)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "noise_std", sd)

    @property
    def components(self) -> GraphComponents:
        """Graph quantities (stable set, ``K``, the condition), as for the SCM classes."""
        return graph_components(self.graph, self.target, self.mutable)

    @property
    def stable(self) -> frozenset:
        """``S = X \\ X_M``."""
        return self.components.stable

    def to_scm(self) -> ContinuousSCM:
        """The same model as a :class:`~causal.scm.ContinuousSCM` (for the neural search)."""
        mech = {}
        for v in self.graph.nodes:
            pa = sorted_nodes(self.graph.predecessors(v))
            w = tuple(self.weights[(u, v)] for u in pa)
            mech[v] = Mechanism(pa, _Linear(w), self.noise_std[v])
        return ContinuousSCM(self.graph, self.target, self.mutable, mech)

    def _reduced_form(self) -> tuple[list, np.ndarray, np.ndarray]:
        """``(R, A, N)``: ``X_R = A X_M + N ε_R`` for any value of ``X_M``."""
        rest = [v for v in sorted_nodes(self.graph.nodes) if v not in self.mutable]
        mut = sorted_nodes(self.mutable)
        ri = {v: i for i, v in enumerate(rest)}
        mi = {v: i for i, v in enumerate(mut)}
        b = np.zeros((len(rest), len(rest)))
        c = np.zeros((len(rest), len(mut)))
        for (u, v), w in self.weights.items():
            if v in ri:
                if u in ri:
                    b[ri[v], ri[u]] = w
                else:
                    c[ri[v], mi[u]] = w
        t = np.linalg.inv(np.eye(len(rest)) - b)  # B is nilpotent (a DAG): I - B invertible
        d = np.diag([self.noise_std[v] for v in rest])
        return rest, t @ c, t @ d

    def worst_case_risk(self, subset: Iterable[Hashable]) -> LinearGaussianRisk:
        """``h*(S')`` and ``f_{S'}`` in closed form (module docstring).

        Raises
        ------
        ValueError
            ``subset`` not a collection of stable nodes.
        """
        s = _check_subset(self, subset)
        rest, a, n = self._reduced_form()
        ri = {v: i for i, v in enumerate(rest)}
        mut = sorted_nodes(self.mutable)
        cov = n @ n.T
        y = ri[self.target]
        cols = [ri[v] for v in sorted_nodes(s)]
        if cols:
            s_cov = cov[np.ix_(cols, cols)]
            beta = np.linalg.solve(s_cov, cov[cols, y])
            value = float(cov[y, y] - cov[y, cols] @ beta)
            beta_m = a[y] - beta @ a[cols]
        else:
            beta = np.zeros(0)
            value = float(cov[y, y])
            beta_m = a[y]
        coef = dict(zip(sorted_nodes(s), map(float, beta), strict=True))
        coef.update(zip(mut, map(float, beta_m), strict=True))
        return LinearGaussianRisk(s, max(value, 0.0), coef)

    def minimax_subset(self) -> tuple[frozenset, dict]:
        """The closed-form minimiser of ``h*`` over all ``2^|S|`` subsets, and every risk.

        Returns ``(S*, {subset: h*})``; ``S*`` is the smallest minimiser within ``1e-12``
        relative (the whole stable set is always a minimiser: module docstring).
        """
        nodes = sorted_nodes(self.stable)
        subs = [
            frozenset(c) for r in range(len(nodes) + 1) for c in itertools.combinations(nodes, r)
        ]
        risks = {s: self.worst_case_risk(s).value for s in subs}
        low = min(risks.values())
        best = next(s for s in subs if risks[s] <= low * (1 + 1e-12))
        return best, risks


def _check_subset(sem: LinearGaussianSEM, subset: object) -> frozenset:
    if isinstance(subset, str | bytes) or not isinstance(subset, Iterable):
        raise ArgumentTypeError(f"subset must be a collection of nodes; got {subset!r}")
    s = frozenset(subset)
    bad = s - sem.stable
    if bad:
        raise ValueError(
            f"subset must hold stable nodes only {sorted_nodes(sem.stable)}; got "
            f"{sorted_nodes(bad)}"
        )
    return s


def random_linear_gaussian_sem(
    rng: np.random.Generator,
    *,
    n_x: int = 4,
    edge_prob: float = 0.5,
    weight_range: tuple[float, float] = (0.5, 2.0),
    violate_condition: bool = True,
    max_tries: int = 1000,
) -> LinearGaussianSEM:
    """A random linear-Gaussian SEM with one mutable node [derived instance family].

    ``Y`` and ``n_x`` X's in a random order, each forward edge with probability ``edge_prob``,
    weights ``±U(weight_range)`` (the authors' simulation draws ``±U(0.5, 2)``), unit noise;
    one mutable X with at least one parent. With ``violate_condition`` the draw is repeated
    until ``Ch(Y) ∩ K ≠ ∅`` (the case where Alg. 1 searches).

    Raises
    ------
    TypeError, ValueError
        ``rng`` not a Generator, ``n_x < 2``, ``edge_prob`` outside (0, 1],
        ``weight_range`` not ``0 < low <= high`` finite, ``max_tries < 1``, no instance found
        in ``max_tries`` draws.
    """
    rng = check_rng("rng", rng)
    n_x = check_int("n_x", n_x, lo=2)
    edge_prob = check_probability("edge_prob", edge_prob)
    if edge_prob == 0.0:
        raise ValueError(f"edge_prob must be in (0, 1]; got {edge_prob!r}")
    if isinstance(weight_range, str | bytes) or not isinstance(weight_range, tuple | list):
        raise ArgumentTypeError(f"weight_range must be a pair (low, high); got {weight_range!r}")
    if len(weight_range) != 2:
        raise ValueError(f"weight_range must be a pair (low, high); got {weight_range!r}")
    lo = check_positive("weight_range", weight_range[0])
    hi = check_positive("weight_range", weight_range[1])
    if hi < lo:
        raise ValueError(f"weight_range must have low <= high; got {weight_range!r}")
    violate_condition = check_bool("violate_condition", violate_condition)
    max_tries = check_int("max_tries", max_tries, lo=1)
    for _ in range(max_tries):
        order = ["Y", *(f"X{i}" for i in range(1, n_x + 1))]
        rng.shuffle(order)
        g = nx.DiGraph()
        g.add_nodes_from(order)
        for i, j in itertools.combinations(range(len(order)), 2):
            if rng.random() < edge_prob:
                g.add_edge(order[i], order[j])
        xs = [v for v in sorted_nodes(g.nodes) if v != "Y" and g.in_degree(v) >= 1]
        if not xs:
            continue
        m = str(rng.choice(xs))
        weights = {e: float(rng.choice([-1, 1]) * rng.uniform(lo, hi)) for e in g.edges}
        sem = LinearGaussianSEM(g, "Y", frozenset({m}), weights, 1.0)
        if not violate_condition or not sem.components.condition:
            return sem
    raise ValueError(
        f"max_tries: no SEM with Ch(Y) ∩ K ≠ ∅ in {max_tries} draws (n_x = {n_x}, "
        f"edge_prob = {edge_prob}); raise max_tries or edge_prob"
    )
