"""The claim registry: every theoretical claim of the toolkit, with its bound and its experiment.

A :class:`Claim` holds an id (``"policy-cliff/prop-4.7"``), the statement, the paper reference,
the function that computes the theoretical bound, and the perturbation experiment that measures
it. An experiment is a function ``experiment(ctx, bound) -> Evidence``: it receives the run
context (scale, seed, device, where to put plots) and the claim's bound function, measures, and
returns :class:`Evidence` (measured vs bound with the relation that must hold). ``stability
verify`` and the test suite both iterate over :func:`claims`.

Modules add claims with the :func:`claim` decorator in their own experiment module and list that
module in :data:`CLAIM_MODULES`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import math
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "CLAIM_MODULES",
    "SCALES",
    "Claim",
    "ClaimResult",
    "Evidence",
    "RunContext",
    "claim",
    "claims",
    "register",
]

#: Modules whose import registers claims (each module adds its own line).
CLAIM_MODULES: tuple[str, ...] = (
    "perturbation.policy_cliff",
    "perturbation.lipschitz",
    "perturbation.counterfactual",
    "perturbation.causal_minimax",
    "perturbation.decision_boundary",
    "perturbation.trainers",
)

#: ``--scale`` name -> multiplier of every experiment's instance counts.
SCALES: dict[str, float] = {"tiny": 0.25, "small": 1.0, "medium": 4.0, "large": 16.0}

Relation = Literal["<=", ">=", "=="]


@dataclass(frozen=True)
class RunContext:
    """What an experiment may depend on: scale, seed, device and the plot directory."""

    scale: str = "small"
    seed: int = 0
    device: str = "cpu"
    plot_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {sorted(SCALES)}; got {self.scale!r}")

    def n(self, small: int, minimum: int = 1) -> int:
        """An instance count: ``small`` at the default scale, multiplied by the scale factor."""
        return max(minimum, round(small * SCALES[self.scale]))

    def rng(self, key: str) -> np.random.Generator:
        """A generator seeded by ``(seed, key)``: experiments are independent of their order."""
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def plot_path(self, name: str) -> Path | None:
        """Where to save a plot named ``name`` (``None`` when plots are off)."""
        if self.plot_dir is None:
            return None
        self.plot_dir.mkdir(parents=True, exist_ok=True)
        return self.plot_dir / f"{name}.png"


@dataclass(frozen=True)
class Evidence:
    """What an experiment measured, against the bound, and whether the claim held.

    Build with :meth:`upper` (measured <= bound), :meth:`lower` (measured >= bound) or
    :meth:`equal` (|measured - bound| <= atol); the tolerance is part of the evidence.
    """

    measured: float
    bound: float
    relation: Relation
    tolerance: float
    passed: bool
    note: str
    details: dict[str, Any] = field(default_factory=dict)
    plots: tuple[Path, ...] = ()

    @classmethod
    def upper(
        cls,
        measured: float,
        bound: float,
        note: str,
        *,
        rtol: float = 1e-9,
        atol: float = 0.0,
        **kw: Any,
    ) -> Evidence:
        """The claim holds if ``measured <= bound (1 + rtol) + atol`` (and every ``require``)."""
        tol = abs(bound) * rtol + atol
        ok = math.isfinite(measured) and measured <= bound + tol
        return cls._make(measured, bound, "<=", tol, ok, note, **kw)

    @classmethod
    def lower(
        cls, measured: float, bound: float, note: str, *, atol: float = 0.0, **kw: Any
    ) -> Evidence:
        """The claim holds if ``measured >= bound - atol`` (and every ``require``)."""
        ok = math.isfinite(measured) and measured >= bound - atol
        return cls._make(measured, bound, ">=", atol, ok, note, **kw)

    @classmethod
    def equal(
        cls, measured: float, expected: float, note: str, *, atol: float, **kw: Any
    ) -> Evidence:
        """The claim holds if ``|measured - expected| <= atol`` (and every ``require``)."""
        ok = math.isfinite(measured) and abs(measured - expected) <= atol
        return cls._make(measured, expected, "==", atol, ok, note, **kw)

    @classmethod
    def _make(
        cls,
        measured: float,
        bound: float,
        relation: Relation,
        tol: float,
        ok: bool,
        note: str,
        *,
        require: dict[str, bool] | None = None,
        details: dict[str, Any] | None = None,
        plots: Sequence[Path | None] = (),
    ) -> Evidence:
        """``require``: further named conditions that must all hold (listed in the report)."""
        details = dict(details or {})
        if require:
            details["requirements"] = {k: bool(v) for k, v in require.items()}
            ok = ok and all(require.values())
        kept = tuple(p for p in plots if p is not None)
        return cls(
            float(measured), float(bound), relation, float(tol), bool(ok), note, details, kept
        )


@dataclass(frozen=True)
class Claim:
    """One checkable claim: id, statement, reference, bound function and experiment."""

    id: str
    statement: str
    reference: str
    bound: Callable[..., float]
    experiment: Callable[[RunContext, Callable[..., float]], Evidence]

    def run(self, ctx: RunContext) -> ClaimResult:
        """Run the experiment; an exception becomes a failed result that carries the traceback."""
        start = time.perf_counter()
        try:
            ev = self.experiment(ctx, self.bound)
        except Exception as exc:  # a crash is a failed claim, reported, not a lost report
            seconds = time.perf_counter() - start
            msg = f"{type(exc).__name__}: {exc}"
            return ClaimResult(self, None, seconds, error=msg, traceback=traceback.format_exc())
        return ClaimResult(self, ev, time.perf_counter() - start)


@dataclass(frozen=True)
class ClaimResult:
    """A claim's outcome in one run (one row of the report)."""

    claim: Claim
    evidence: Evidence | None
    seconds: float
    error: str | None = None
    traceback: str | None = None

    @property
    def passed(self) -> bool:
        return self.evidence is not None and self.evidence.passed

    @property
    def ratio(self) -> float:
        """``measured / bound`` (NaN when undefined)."""
        ev = self.evidence
        if ev is None or ev.bound == 0 or not math.isfinite(ev.bound):
            return math.nan
        return ev.measured / ev.bound

    def to_row(self) -> dict[str, Any]:
        """A JSON-ready row: ``claim``, ``bound``, ``measured``, ``passed`` and the rest."""
        ev = self.evidence
        return {
            "claim": self.claim.id,
            "statement": self.claim.statement,
            "reference": self.claim.reference,
            "bound": None if ev is None else _json_float(ev.bound),
            "measured": None if ev is None else _json_float(ev.measured),
            "relation": None if ev is None else ev.relation,
            "tolerance": None if ev is None else _json_float(ev.tolerance),
            "ratio": _json_float(self.ratio),
            "passed": self.passed,
            "note": None if ev is None else ev.note,
            "details": {} if ev is None else _jsonable(ev.details),
            "plots": [] if ev is None else [p.name for p in ev.plots],
            "seconds": round(self.seconds, 4),
            "error": self.error,
        }


_REGISTRY: dict[str, Claim] = {}


def register(c: Claim) -> Claim:
    """Add a claim; ids are unique."""
    if c.id in _REGISTRY:
        raise ValueError(f"claim id {c.id!r} is already registered")
    if "/" not in c.id:
        raise ValueError(f"claim id must look like 'area/name'; got {c.id!r}")
    _REGISTRY[c.id] = c
    return c


def claim(*, id: str, statement: str, reference: str, bound: Callable[..., float]):
    """Decorator: register ``experiment(ctx, bound) -> Evidence`` as the claim ``id``."""

    def wrap(experiment: Callable[[RunContext, Callable[..., float]], Evidence]) -> Callable:
        register(Claim(id, statement, reference, bound, experiment))
        return experiment

    return wrap


def claims(pattern: str | Iterable[str] | None = None) -> list[Claim]:
    """Registered claims, in registration order, optionally filtered.

    ``pattern`` is a glob (``"policy-cliff/*"``) or a substring (``"prop-4.7"``); several may
    be given, comma-separated or as a list.
    """
    for module in CLAIM_MODULES:
        importlib.import_module(module)
    found = list(_REGISTRY.values())
    if pattern is None:
        return found
    pats = [p.strip() for p in (pattern.split(",") if isinstance(pattern, str) else pattern)]
    pats = [p for p in pats if p]
    return [c for c in found if any(fnmatch.fnmatch(c.id, p) or p in c.id for p in pats)]


def _json_float(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return _json_float(obj)
    return obj
