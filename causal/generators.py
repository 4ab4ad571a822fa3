"""Instances: random DAGs and binary SCMs, the paper's synthetic graph, the bilinear example.

- :func:`random_dag`, :func:`random_binary_scm`: random Erdős–Rényi DAGs and small binary
  SCMs, the instances of the toolkit's exact checks of ``h*`` [derived].
- :func:`chain_graph`, :func:`star_graph`: class counts ``d + 1`` and ``2^d``
  (:func:`causal.eqclass.equivalence_classes` derives both).
- :func:`simulation_graph`, :func:`simulation_scm`: the paper's Sec. 6.1 graph (Fig. 4a
  naming), weights and environment shift ``α_e = e - 10.5`` from the authors'
  ``data/simulation_params.json``.
- :func:`bilinear_scm`, :func:`bilinear_worst_case`: a closed-form counterexample
  ``Y ~ N(0,1)``, ``M`` child of ``Y``, ``X1 = Y·M + ε`` where ``∅`` (risk 1) beats the whole
  stable set (risk 1.0786) although ``Ch(Y) ∩ K ≠ ∅`` [derived in
  :func:`bilinear_worst_case`; the paper's abstract announces such an example, whose text
  the toolkit does not reproduce].

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), Sec. 6.1 and Fig. 4a.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import torch
from scipy import integrate, stats

from causal.scm import ContinuousSCM, DiscreteSCM, Mechanism
from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_int,
    check_probability,
    check_real,
    check_rng,
)

__all__ = [
    "SIMULATION_EDGES",
    "SIMULATION_MECHANISMS",
    "SIMULATION_MUTABLE",
    "bilinear_scm",
    "bilinear_worst_case",
    "chain_graph",
    "random_binary_scm",
    "random_dag",
    "simulation_alphas",
    "simulation_graph",
    "simulation_scm",
    "star_graph",
]


def _check_int_range(name: str, value: object, lo: int) -> tuple[int, int]:
    """A pair ``(a, b)`` of integers with ``lo <= a <= b``."""
    if isinstance(value, str | bytes) or not isinstance(value, tuple | list) or len(value) != 2:
        raise ArgumentTypeError(f"{name} must be a pair (low, high) of integers; got {value!r}")
    a = check_int(f"{name}[0]", value[0], lo=lo)
    b = check_int(f"{name}[1]", value[1], lo=a)
    return a, b


def chain_graph(d: int) -> nx.DiGraph:
    """``Y → X1 → … → Xd``."""
    d = check_int("d", d, lo=0)
    g = nx.DiGraph()
    g.add_node("Y")
    names = ["Y"] + [f"X{i}" for i in range(1, d + 1)]
    g.add_edges_from(itertools.pairwise(names))
    return g


def star_graph(d: int, *, into_target: bool = False) -> nx.DiGraph:
    """``Y → Xi`` for ``i = 1..d`` (or ``Xi → Y`` with ``into_target``)."""
    d = check_int("d", d, lo=0)
    into_target = check_bool("into_target", into_target)
    g = nx.DiGraph()
    g.add_node("Y")
    for i in range(1, d + 1):
        g.add_edge(*((f"X{i}", "Y") if into_target else ("Y", f"X{i}")))
    return g


def random_dag(rng: np.random.Generator, d: int, p: float) -> nx.DiGraph:
    """Erdős–Rényi DAG over ``Y, X1..Xd`` in a random order (``Y`` anywhere), edge prob. ``p``."""
    rng = check_rng("rng", rng)
    d = check_int("d", d, lo=0)
    p = check_probability("p", p)
    names = ["Y"] + [f"X{i}" for i in range(1, d + 1)]
    order = [names[i] for i in rng.permutation(len(names))]
    g = nx.DiGraph()
    g.add_nodes_from(names)
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            if rng.random() < p:
                g.add_edge(order[i], order[j])
    return g


def random_binary_scm(
    rng: np.random.Generator,
    *,
    n_x: tuple[int, int] = (3, 4),
    edge_prob: float = 0.5,
    n_mutable: tuple[int, int] = (1, 2),
    max_mutable_parents: int = 2,
) -> DiscreteSCM:
    """A random binary SCM for the exact checks of ``h*`` [derived instance family].

    ``Y`` and ``n_x`` X's in a random order, each forward edge with probability ``edge_prob``;
    ``n_mutable`` mutable nodes drawn among the X's with 1..``max_mutable_parents`` parents
    (fewer if not enough qualify; at least one X keeps the stable set non-empty);
    ``P(v = 1 | pa)`` uniform on [0.05, 0.95].

    Raises
    ------
    TypeError, ValueError
        ``rng`` not a ``numpy.random.Generator``; ``n_x`` not a pair ``1 <= low <= high``;
        ``edge_prob`` outside (0, 1]; ``n_mutable`` not a pair ``0 <= low <= high``;
        ``max_mutable_parents < 1``. (With ``edge_prob = 0``, ``n_x = (0, 0)`` or
        ``max_mutable_parents = 0`` no X could ever be mutable and the draw would never end.)
    """
    rng = check_rng("rng", rng)
    n_x = _check_int_range("n_x", n_x, lo=1)
    edge_prob = check_probability("edge_prob", edge_prob)
    if edge_prob == 0.0:
        raise ValueError(f"edge_prob must be in (0, 1]; got {edge_prob!r}")
    n_mutable = _check_int_range("n_mutable", n_mutable, lo=0)
    max_mutable_parents = check_int("max_mutable_parents", max_mutable_parents, lo=1)
    while True:
        d = int(rng.integers(n_x[0], n_x[1] + 1))
        g = random_dag(rng, d, edge_prob)
        xs = [f"X{i}" for i in range(1, d + 1)]
        ok = [x for x in xs if 1 <= g.in_degree(x) <= max_mutable_parents]
        if ok:
            break
    k = min(int(rng.integers(n_mutable[0], n_mutable[1] + 1)), len(ok), d - 1)
    mut = set(rng.choice(ok, size=max(k, 1), replace=False).tolist()) if k >= 1 else set()
    cpts = {}
    parents = {}
    for v in g.nodes:
        pa = sorted(g.predecessors(v))
        parents[v] = pa
        p1 = rng.uniform(0.05, 0.95, size=(2,) * len(pa))
        cpts[v] = np.stack([1 - p1, p1], axis=-1)
    return DiscreteSCM(g, "Y", mut, cpts, parents=parents)


# ---------------------------------------------------------------------------------------------
# The paper's simulation (Sec. 6.1)
# ---------------------------------------------------------------------------------------------

#: Edges of Fig. 4a (authors' ``simulation_params.json``; M1 = X9, M2 = X10).
SIMULATION_EDGES: tuple[tuple[str, str], ...] = (
    ("Y", "X9"),
    ("Y", "X1"),
    ("X9", "X1"),
    ("X6", "X1"),
    ("X5", "X1"),
    ("X6", "X5"),
    ("X1", "X3"),
    ("X3", "X2"),
    ("X2", "X4"),
    ("X7", "X4"),
    ("X8", "X2"),
    ("X8", "X4"),
    ("X8", "X7"),
    ("X5", "X10"),
    ("X3", "X10"),
    ("X8", "X10"),
)
SIMULATION_MUTABLE = frozenset({"X9", "X10"})

#: node -> (parents, link, weights): ``X = link(Σ w_k PA_k) + N(0, 0.1²)``.
SIMULATION_MECHANISMS: dict[str, tuple[tuple[str, ...], str, tuple[float, ...]]] = {
    "X9": (("Y",), "tanh", (1.91,)),
    "X1": (("Y", "X9", "X6", "X5"), "sigmoid", (0.63, -0.58, 1.51, 1.13)),
    "X5": (("X6",), "sigmoid", (0.84,)),
    "X3": (("X1",), "tanh", (-0.95,)),
    "X2": (("X3", "X8"), "tanh", (1.47, -0.64)),
    "X4": (("X2", "X7", "X8"), "sigmoid", (1.42, 0.99, 0.72)),
    "X7": (("X8",), "identity", (-1.52,)),
    "X10": (("X5", "X3", "X8"), "tanh", (-1.2, 1.33, 0.64)),
}
_LINKS = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda z: z}
SIMULATION_NOISE = 0.1


def simulation_graph() -> nx.DiGraph:
    """The paper's synthetic DAG (10 X's, ``X_M = {X9, X10}``)."""
    return nx.DiGraph(SIMULATION_EDGES)


def simulation_alphas() -> np.ndarray:
    """``α_e = e - 10.5`` for the 20 environments ``e = 1..20``."""
    return np.arange(1, 21) - 10.5


def _linear_link(link: str, w: tuple[float, ...], scale: float = 1.0):
    wt = torch.tensor(w, dtype=torch.float64)
    f = _LINKS[link]
    return lambda pa: scale * f(pa @ wt)


def simulation_scm(alpha: float = 1.0) -> ContinuousSCM:
    """The synthetic SCM in the environment with shift ``alpha`` of the mutable mechanisms.

    Roots (``Y``, ``X6``, ``X8``) are ``N(0, 0.1²)`` [the json gives ``Y``'s law; the other
    roots' law is taken the same, reconstructed]; a mutable node is
    ``alpha · link(Σ w PA) + N(0, 0.1²)``.

    Raises
    ------
    TypeError, ValueError
        ``alpha`` not a finite real number.
    """
    alpha = check_real("alpha", alpha)
    mech = {}
    for v, (pa, link, w) in SIMULATION_MECHANISMS.items():
        scale = alpha if v in SIMULATION_MUTABLE else 1.0
        mech[v] = Mechanism(pa, _linear_link(link, w, scale), SIMULATION_NOISE)
    for root in ("Y", "X6", "X8"):
        mech[root] = Mechanism((), _zeros, SIMULATION_NOISE)
    return ContinuousSCM(simulation_graph(), "Y", SIMULATION_MUTABLE, mech)


def _zeros(pa: torch.Tensor) -> torch.Tensor:
    return torch.zeros(pa.shape[0], dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# The bilinear counterexample
# ---------------------------------------------------------------------------------------------


def bilinear_scm() -> ContinuousSCM:
    """``Y ~ N(0,1)``, ``M = Y + N(0,1)`` (mutable), ``X1 = Y·M + N(0,1)``.

    ``S = {X1}``, ``X_M^0 = {M}``, ``K = {X1}``, ``Y → X1``: the condition fails.
    ``f_{X1}(x1, m) = m x1 / (m² + 1)``, ``f_∅(m) = 0``.
    """
    g = nx.DiGraph([("Y", "M"), ("Y", "X1"), ("M", "X1")])
    mech = {
        "Y": Mechanism((), _zeros, 1.0),
        "M": Mechanism(("Y",), lambda pa: pa[:, 0], 1.0),
        "X1": Mechanism(("Y", "M"), lambda pa: pa[:, 0] * pa[:, 1], 1.0),
    }
    return ContinuousSCM(g, "Y", {"M"}, mech)


def bilinear_worst_case() -> dict[str, float]:
    """Analytic worst-case risks of the bilinear example [derived].

    Derivation. Under ``do(M = m)``, ``X1 | Y = y ~ N(y m, 1)`` and ``Y ~ N(0, 1)``, so the
    stable predictor is the Gaussian posterior mean ``f_{X1}(x1, m) = m x1 / (m² + 1)``; the
    empty subset's predictor is ``f_∅(m) = E[Y] = 0`` (``M`` is not an ancestor of ``Y``), with
    risk ``E[Y²] = 1`` for every ``g``. With ``M = g(Y)`` deterministic, the conditional risk of
    ``f_{X1}`` given ``Y = y, M = m`` is ``E[(y - m(ym + ε)/(m² + 1))²] = (y² + m²)/(m² + 1)²``
    =: ``R(y, m)``, and the adversary picks ``m`` per ``y``: with ``u = m² >= 0``,
    ``R = (y² + u)/(u + 1)²`` has ``∂R/∂u = (1 - 2y² - u)/(u + 1)³``, so the maximum is at
    ``u = 1 - 2y²`` with value ``1/(4(1 - y²))`` when ``y² < 1/2``, and at ``u = 0`` with value
    ``y²`` otherwise. Hence ``h*({X1}) = E[1/(4(1 - Y²)); Y² < 1/2] + E[Y²; Y² >= 1/2]``.

    Returns ``{"whole": h*({X1}) ≈ 1.0786, "empty": h*(∅) = 1.0}`` by adaptive quadrature
    (error < 1e-10).
    """
    c = 1 / math.sqrt(2)
    inner, _ = integrate.quad(
        lambda y: stats.norm.pdf(y) / (4 * (1 - y * y)), -c, c, epsabs=1e-12, epsrel=1e-12
    )
    tail, _ = integrate.quad(lambda y: y * y * stats.norm.pdf(y), c, np.inf, epsabs=1e-13)
    return {"whole": inner + 2 * tail, "empty": 1.0}
