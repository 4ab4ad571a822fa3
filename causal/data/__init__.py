"""Real data shipped with :mod:`causal`: the IMPC hematology data of Liu et al. (2023), F.2.1.

:func:`load_impc` reads ``causal/data/impc/mouse.csv`` (614 mice of the International Mouse
Phenotyping Consortium, one centre; a copy of the authors' ``impc/mouse.csv``, MIT licence in
``causal/data/impc/LICENSE``) and returns the six variables of the paper's experiment with the
genotype as environment (wild type and 13 knock-outs) and the graph the authors use:

- ``Y = IMPC_HEM_034_001``; ``X1..X5 = IMPC_HEM_030/032/036/037/039_001``;
- ``Y → X5`` (``X5`` mutable), ``{X1, X3, X5, Y} → X2``, ``X2 → X4``; ``X1, X3`` are roots.

The graph violates the whole-stable-set condition (``Y → X2 ∈ K``).

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), App. F.2.1; authors' ``impc/extract.py``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import networkx as nx
import numpy as np

from theory.checks import ArgumentTypeError

__all__ = ["IMPC_COLUMNS", "IMPC_EDGES", "IMPC_GENOTYPES", "IMPCData", "load_impc"]

#: variable -> IMPC column (authors' ``extract.py``).
IMPC_COLUMNS: dict[str, str] = {
    "Y": "IMPC_HEM_034_001",
    "X1": "IMPC_HEM_030_001",
    "X2": "IMPC_HEM_032_001",
    "X3": "IMPC_HEM_036_001",
    "X4": "IMPC_HEM_037_001",
    "X5": "IMPC_HEM_039_001",
}
#: The authors' graph (Liu et al. 2023, App. F.2.1; authors' ``impc/`` code).
IMPC_EDGES: tuple[tuple[str, str], ...] = (
    ("Y", "X5"),
    ("X1", "X2"),
    ("X3", "X2"),
    ("X5", "X2"),
    ("Y", "X2"),
    ("X2", "X4"),
)
#: Genotypes in the authors' order: environment ``k`` is ``IMPC_GENOTYPES[k]`` (0 = wild type).
IMPC_GENOTYPES: tuple[str, ...] = (
    "0",
    "1797_1",
    "1796_1",
    "1798_1",
    "727_1",
    "1550_1",
    "1799_1",
    "3157_1",
    "3621_1",
    "3803_1",
    "3805_1",
    "3887_1",
    "4045_1",
    "4047_1",
)
_STANDARDIZE = ("pooled", "none", "per-environment")


@dataclass(frozen=True)
class IMPCData:
    """The IMPC variables, environments and graph.

    Attributes
    ----------
    values : dict str -> ndarray (n,)
        ``Y, X1..X5`` (float64), standardised as requested.
    environment : ndarray (n,) of int
        Index into ``genotypes`` (0 = wild type).
    genotypes : tuple of str
    graph : networkx.DiGraph
        Frozen; ``target = "Y"``, ``mutable = {"X5"}``.
    target : str
    mutable : frozenset
    mean, std : dict str -> float
        Raw-scale location and scale removed (pooled mode; 0 and 1 otherwise, per-environment
        statistics are not stored).
    standardize : str
    """

    values: dict
    environment: np.ndarray
    genotypes: tuple
    graph: nx.DiGraph
    target: str
    mutable: frozenset
    mean: dict
    std: dict
    standardize: str

    @property
    def n(self) -> int:
        """Number of mice."""
        return int(self.environment.shape[0])

    def matrix(self, columns: list[str] | tuple[str, ...]) -> np.ndarray:
        """The ``(n, len(columns))`` array of the named variables (a list, not one string)."""
        if isinstance(columns, str | bytes) or not isinstance(columns, list | tuple):
            raise ArgumentTypeError(f"columns must be a list of variable names; got {columns!r}")
        bad = [c for c in columns if c not in self.values]
        if bad:
            raise ValueError(f"columns {bad} are not IMPC variables {list(self.values)}")
        return np.column_stack([self.values[c] for c in columns])

    def summary(self) -> str:
        """One line: sizes and the environments."""
        counts = np.bincount(self.environment, minlength=len(self.genotypes))
        return (
            f"IMPC: {self.n} mice, {len(self.genotypes)} genotypes (wild type {counts[0]}, "
            f"knock-outs {counts[1:].min()}-{counts[1:].max()} each), standardize="
            f"{self.standardize!r}, graph {sorted(self.graph.edges)}, X_M = {{X5}}"
        )


def load_impc(*, standardize: str = "pooled") -> IMPCData:
    """Load the IMPC hematology data with genotype as environment.

    Parameters
    ----------
    standardize : {"pooled", "none", "per-environment"}
        ``"pooled"`` (default): every variable to mean 0, std 1 over all 614 mice (the
        standardised data of the authors' IMPC record); ``"none"``: raw values; ``"per-environment"``: each genotype with
        its own mean and std, as the authors' ``need_norm`` does for each test environment (a
        quirk that hides mean shifts; offered to reproduce their numbers only).

    Returns
    -------
    IMPCData

    Raises
    ------
    ValueError
        Unknown ``standardize``; a malformed data file (missing columns, non-finite values,
        unknown genotypes).

    Examples
    --------
    >>> d = load_impc()
    >>> d.n, len(d.genotypes), sorted(d.mutable)
    (614, 14, ['X5'])
    """
    if standardize not in _STANDARDIZE:
        raise ValueError(f"standardize must be one of {list(_STANDARDIZE)}; got {standardize!r}")
    with resources.files("causal.data").joinpath("impc/mouse.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return _from_rows(rows, standardize)


def _from_rows(rows: list[dict], standardize: str) -> IMPCData:
    """Build :class:`IMPCData` from CSV rows (validates the file's content)."""
    if not rows:
        raise ValueError("the IMPC file has no rows")
    needed = [*IMPC_COLUMNS.values(), "geno"]
    missing = [c for c in needed if c not in rows[0]]
    if missing:
        raise ValueError(f"the IMPC file lacks the columns {missing}")
    index = {g: k for k, g in enumerate(IMPC_GENOTYPES)}
    unknown = sorted({r["geno"] for r in rows} - set(index))
    if unknown:
        raise ValueError(f"the IMPC file has unknown genotypes {unknown}")
    env = np.array([index[r["geno"]] for r in rows], dtype=np.int64)
    raw = {}
    for v, col in IMPC_COLUMNS.items():
        try:
            a = np.array([float(r[col]) for r in rows], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"column {col} ({v}) holds a non-numeric value") from exc
        if not np.all(np.isfinite(a)):
            raise ValueError(f"column {col} ({v}) holds non-finite values")
        raw[v] = a
    mean = dict.fromkeys(raw, 0.0)
    std = dict.fromkeys(raw, 1.0)
    values = {}
    for v, a in raw.items():
        if standardize == "pooled":
            mean[v], std[v] = float(a.mean()), float(a.std(ddof=1))
            values[v] = (a - mean[v]) / std[v]
        elif standardize == "per-environment":
            out = np.empty_like(a)
            for k in np.unique(env):
                m = env == k
                out[m] = (a[m] - a[m].mean()) / a[m].std(ddof=1)
            values[v] = out
        else:
            values[v] = a.copy()
    for a in values.values():
        a.setflags(write=False)
    env.setflags(write=False)
    graph = nx.freeze(nx.DiGraph(IMPC_EDGES))
    return IMPCData(
        values, env, IMPC_GENOTYPES, graph, "Y", frozenset({"X5"}), mean, std, standardize
    )
