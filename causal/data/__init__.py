"""Real data shipped with :mod:`causal`: the IMPC hematology data of Liu et al. (2023), F.2.1.

:func:`load_impc` reads ``causal/data/impc/mouse.csv`` (614 mice of the International Mouse
Phenotyping Consortium, one centre; a copy of the authors' ``impc/mouse.csv``, MIT licence in
``causal/data/impc/LICENSE``) and returns the six variables of the paper's experiment with the
genotype as environment (wild type and 13 knock-outs) and the graph the authors use:

- ``Y = IMPC_HEM_034_001``; ``X1..X5 = IMPC_HEM_030/032/036/037/039_001``;
- ``Y → X5`` (``X5`` mutable), ``{X1, X3, X5, Y} → X2``, ``X2 → X4``; ``X1, X3`` are roots.

The graph violates the whole-stable-set condition (``Y → X2 ∈ K``).

:func:`impc_split` builds one of the authors' 45 train/test splits (training: wild type,
knock-outs 2, 4, 7 and two of the other ten; test: the eight held-out genotypes, one
environment each) and standardises it by one of two protocols (its ``standardize``
parameter): the toolkit's ``"training"`` (default) or the authors' ``"per-test-genotype"``.

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), App. F.2.1; authors' ``impc/extract.py``.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import networkx as nx
import numpy as np

from theory.checks import ArgumentTypeError, check_choice, check_int

__all__ = [
    "IMPC_COLUMNS",
    "IMPC_EDGES",
    "IMPC_FIXED_TRAIN",
    "IMPC_GENOTYPES",
    "IMPCData",
    "IMPCSplit",
    "impc_split",
    "impc_train_splits",
    "load_impc",
]

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
#: Genotypes in every training split of the authors' IMPC experiment (wild type, 2, 4, 7).
IMPC_FIXED_TRAIN: tuple[int, ...] = (0, 2, 4, 7)
_SPLIT_STANDARDIZE = ("training", "per-test-genotype")


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


# ---------------------------------------------------------------------------------------------
# The authors' train/test splits and the two standardisation protocols
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IMPCSplit:
    """One train/test split of the IMPC data, standardised.

    Attributes
    ----------
    train : dict str -> ndarray
        ``Y, X1..X5`` of the pooled training genotypes, standardised with their own pooled
        mean and std (both protocols).
    test : tuple of dict str -> ndarray
        One sample per held-out genotype (order of ``test_genotypes``), standardised as
        ``standardize`` says.
    train_genotypes, test_genotypes : tuple of int
        Indices into :data:`IMPC_GENOTYPES`.
    standardize : str
        ``"training"`` or ``"per-test-genotype"``.
    mean, std : dict str -> float
        The training split's raw-scale statistics.
    """

    train: dict
    test: tuple
    train_genotypes: tuple
    test_genotypes: tuple
    standardize: str
    mean: dict
    std: dict

    def summary(self) -> str:
        """One line: genotypes and protocol."""
        return (
            f"IMPC split: train genotypes {list(self.train_genotypes)} "
            f"({len(self.train['Y'])} mice), test {list(self.test_genotypes)}, "
            f"standardize={self.standardize!r}"
        )


def impc_train_splits() -> tuple[tuple[int, ...], ...]:
    """The authors' 45 training splits: :data:`IMPC_FIXED_TRAIN` plus two of the ten other
    knock-outs (``itertools.combinations`` order)."""
    rest = [k for k in range(1, len(IMPC_GENOTYPES)) if k not in IMPC_FIXED_TRAIN]
    return tuple((*IMPC_FIXED_TRAIN, a, b) for a, b in itertools.combinations(rest, 2))


def impc_split(
    train_genotypes: Sequence[int],
    *,
    standardize: str = "training",
    data: IMPCData | None = None,
) -> IMPCSplit:
    """A train/test split of the IMPC data, with the test genotypes as separate environments.

    Parameters
    ----------
    train_genotypes : sequence of int
        Distinct indices into :data:`IMPC_GENOTYPES` (at least two); every other genotype is a
        test environment (at least one must remain). The authors' splits are
        :func:`impc_train_splits`.
    standardize : {"training", "per-test-genotype"}
        How the held-out genotypes are standardised; the training split is always
        standardised with its own pooled mean and std (the authors' ``need_norm``).

        - ``"training"`` (default, the toolkit's protocol): every test genotype with the
          **training split's** statistics. A test environment's statistics are unknown when
          the predictor is deployed, and a shift in the mean or scale of ``X`` or ``Y`` is part
          of the distribution shift the transfer has to survive.
        - ``"per-test-genotype"`` (the authors' protocol): each test genotype with **its own**
          mean and std, as ``OptNodeSets.test`` in the authors' ``impc/findoptset.py`` does
          with ``need_norm=True``. It reproduces their numbers, but it uses the test labels'
          statistics and removes every mean and scale shift of the held-out genotype (of ``Y``
          too): what is left to transfer is the correlation structure only.
    data : IMPCData, optional
        Raw data (``load_impc(standardize="none")``, the default when omitted).

    Returns
    -------
    IMPCSplit

    Raises
    ------
    ValueError
        ``train_genotypes`` not a sequence of distinct genotype indices, fewer than two, or
        covering every genotype; unknown ``standardize``; ``data`` not raw ``IMPCData``.

    Examples
    --------
    >>> sp = impc_split(impc_train_splits()[0], standardize="per-test-genotype")
    >>> len(sp.test), round(float(sp.test[0]["Y"].std(ddof=1)), 6)
    (8, 1.0)
    """
    if isinstance(train_genotypes, str | bytes) or not isinstance(train_genotypes, Sequence):
        raise ArgumentTypeError(
            f"train_genotypes must be a sequence of genotype indices; got {train_genotypes!r}"
        )
    n_geno = len(IMPC_GENOTYPES)
    train = tuple(
        check_int(f"train_genotypes[{i}]", k, lo=0, hi=n_geno - 1)
        for i, k in enumerate(train_genotypes)
    )
    if len(set(train)) != len(train) or not 2 <= len(train) < n_geno:
        raise ValueError(
            f"train_genotypes must hold 2 to {n_geno - 1} distinct genotypes (at least one left "
            f"for testing); got {list(train)}"
        )
    standardize = check_choice("standardize", standardize, _SPLIT_STANDARDIZE)
    if data is None:
        data = load_impc(standardize="none")
    elif not isinstance(data, IMPCData) or data.standardize != "none":
        raise ArgumentTypeError(
            "data must be the raw IMPCData of load_impc(standardize='none'); got "
            f"{type(data).__name__}"
            + (f" standardized {data.standardize!r}" if isinstance(data, IMPCData) else "")
        )
    test = tuple(k for k in range(n_geno) if k not in train)
    mask = np.isin(data.environment, train)
    mean = {v: float(a[mask].mean()) for v, a in data.values.items()}
    std = {v: float(a[mask].std(ddof=1)) for v, a in data.values.items()}
    z_train = {v: (a[mask] - mean[v]) / std[v] for v, a in data.values.items()}
    tests = []
    for k in test:
        m = data.environment == k
        if standardize == "training":
            tests.append({v: (a[m] - mean[v]) / std[v] for v, a in data.values.items()})
        else:  # the authors' OptNodeSets.test with need_norm=True
            tests.append(
                {v: (a[m] - a[m].mean()) / a[m].std(ddof=1) for v, a in data.values.items()}
            )
    for d in (z_train, *tests):
        for a in d.values():
            a.setflags(write=False)
    return IMPCSplit(z_train, tuple(tests), train, test, standardize, mean, std)
