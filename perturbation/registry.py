"""The claim registry: every theoretical claim of the toolkit, with its bound and its experiment.

A :class:`Claim` holds an id (``"policy-cliff/prop-4.7"``), the statement, the paper reference
(:func:`perturbation.references.ref`), what the measurement is compared with, and the
perturbation experiment that measures it. What it is compared with is one of three kinds:

- :class:`Theorem`: a bound function of the library (``Theorem(soft_policy_tv_bound)``); a
  bare callable is taken as one;
- :class:`Reference`: a reference value with its source (a published number, or a function
  computing an independent solver's optimum);
- :class:`Tolerance`: a fixed tolerance or threshold; a plain number is taken as one.

An experiment is a function ``experiment(ctx, bound) -> Evidence``: it receives the run context
(scale, seed, device, where to put plots) and the claim's bound as a callable, measures, and
returns :class:`Evidence` (measured vs bound with the relation that must hold), usually through
the worst-instance accumulator :class:`Worst`. Evidence has three outcomes: PASS and FAIL for
asserted statements, and EMPIRICAL for a paper's measured statement that is reported (with
whether the data support it) but not asserted. ``stability verify`` and the test suite both
iterate over :func:`claims`.

Modules add claims with the :func:`claim` decorator in their own experiment module and list that
module in :data:`CLAIM_MODULES`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib
import json
import math
import random
import time
import traceback
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from theory.checks import check_seed

__all__ = [
    "CLAIM_MODULES",
    "SCALES",
    "Bound",
    "Claim",
    "ClaimResult",
    "Evidence",
    "Reference",
    "RunContext",
    "Theorem",
    "Tolerance",
    "Worst",
    "as_bound",
    "claim",
    "claims",
    "frozen",
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
    "perturbation.sequence",
    "perturbation.leaderboard",
    "perturbation.robust_mdp",
    "perturbation.retrain.claims",
    "perturbation.safe_offline",
    "perturbation.debate_reward",
    "perturbation.graph_recommendation",
    "perturbation.reinflow",
    "perturbation.find",
    "perturbation.continuous",
)

#: ``--scale`` name -> multiplier of every experiment's instance counts.
SCALES: dict[str, float] = {"tiny": 0.25, "small": 1.0, "medium": 4.0, "large": 16.0}

Relation = Literal["<=", ">=", "=="]
Outcome = Literal["PASS", "FAIL", "EMPIRICAL", "ERROR"]


class Bound:
    """What a claim's measurement is compared with; called by the experiment like a function.

    :meth:`map` returns the same kind of bound with every value passed through ``f`` (the
    mutation test of the suite uses it to move a bound until the claim must fail).
    """

    kind: str = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def map(self, f: Callable[[Any], Any]) -> Bound:
        return _Mapped(self, f)

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Theorem(Bound):
    """A theorem's bound: a function of the library evaluated on each instance."""

    fn: Callable[..., Any]
    kind = "theorem"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def describe(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        mod = getattr(self.fn, "__module__", "")
        return f"theorem: {mod}.{name}" if mod and "<lambda>" not in name else "theorem"


@dataclass(frozen=True)
class Reference(Bound):
    """A reference value with its source: a number, or a function computing it per instance."""

    value: Any
    source: str
    kind = "reference"

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError(
                f"source must name where the reference comes from; got {self.source!r}"
            )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.value(*args, **kwargs) if callable(self.value) else self.value

    def describe(self) -> str:
        return f"reference: {self.source}"


@dataclass(frozen=True)
class Tolerance(Bound):
    """A fixed tolerance or threshold (called with any arguments, it returns ``value``)."""

    value: float
    kind = "tolerance"

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float | np.floating):
            raise TypeError(f"value must be a number; got {self.value!r}")
        if math.isnan(self.value):
            raise ValueError("value must not be NaN")

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        return float(self.value)

    def describe(self) -> str:
        return f"tolerance {self.value:g}"


@dataclass(frozen=True)
class _Mapped(Bound):
    """``f`` applied to every value of ``inner`` (same kind)."""

    inner: Bound
    f: Callable[[Any], Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.f(self.inner(*args, **kwargs))

    def describe(self) -> str:
        return f"{self.inner.describe()} (mapped)"


def as_bound(bound: Bound | Callable[..., Any] | float) -> Bound:
    """``bound`` as one of the three kinds: a callable is a Theorem, a number a Tolerance."""
    if isinstance(bound, Bound):
        return bound
    if isinstance(bound, int | float | np.floating) and not isinstance(bound, bool):
        return Tolerance(float(bound))
    if callable(bound):
        return Theorem(bound)
    raise TypeError(
        f"bound must be a Theorem, Reference, Tolerance, callable or number; got {bound!r}"
    )


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
        object.__setattr__(self, "seed", check_seed(self.seed))
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be a device name such as 'cpu'; got {self.device!r}")

    def n(self, small: int, minimum: int = 1) -> int:
        """An instance count: ``small`` at the default scale, multiplied by the scale factor."""
        return max(minimum, round(small * SCALES[self.scale]))

    def rng(self, key: str) -> np.random.Generator:
        """A generator seeded by ``(seed, key)``: experiments are independent of their order."""
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def cached_or_live(self, path: Path, live: Callable[[], dict]) -> tuple[dict, str]:
        """Per-run numbers of a trained claim and where they came from: at the scales ``tiny``
        and ``small``, the JSON file ``path`` that ``live``'s function made (the claim stays
        within the default time budget; ``tests/perturbation/test_caches.py`` regenerates it);
        at larger scales ``live()``, trained now."""
        if self.scale in ("tiny", "small"):
            return json.loads(Path(path).read_text()), f"cached ({Path(path).name})"
        return live(), "trained live"

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
    :meth:`equal` (|measured - bound| <= atol); the tolerance is part of the evidence. With
    ``empirical=True`` the relation is a paper's empirical statement: the report shows whether
    the measurement supports it, and it does not fail the run.
    """

    measured: float
    bound: float
    relation: Relation
    tolerance: float
    passed: bool
    note: str
    details: dict[str, Any] = field(default_factory=dict)
    plots: tuple[Path, ...] = ()
    #: ``True`` for a paper's measured statement: reported (``passed`` = the data support it),
    #: never a failure of the run.
    empirical: bool = False

    @property
    def outcome(self) -> Outcome:
        if self.empirical:
            return "EMPIRICAL"
        return "PASS" if self.passed else "FAIL"

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
        empirical: bool = False,
    ) -> Evidence:
        """``require``: further named conditions that must all hold (listed in the report)."""
        details = dict(details or {})
        if require:
            details["requirements"] = {k: bool(v) for k, v in require.items()}
            ok = ok and all(require.values())
        kept = tuple(p for p in plots if p is not None)
        return cls(
            float(measured),
            float(bound),
            relation,
            float(tol),
            bool(ok),
            note,
            details,
            kept,
            bool(empirical),
        )


@dataclass(frozen=True)
class Claim:
    """One checkable claim: id, statement, reference, bound and experiment."""

    id: str
    statement: str
    reference: str
    bound: Bound
    experiment: Callable[[RunContext, Callable[..., Any]], Evidence]

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound", as_bound(self.bound))

    def run(self, ctx: RunContext) -> ClaimResult:
        """Run the experiment; an exception becomes a failed result that carries the traceback.

        Every experiment starts from the same state: one torch thread (results do not depend
        on the machine's core count) and the global numpy, ``random`` and torch generators
        seeded from ``(ctx.seed, claim id)``.
        """
        _reset_global_state(ctx, self.id)
        start = time.perf_counter()
        try:
            ev = self.experiment(ctx, self.bound)
        except Exception as exc:  # a crash is a failed claim, reported, not a lost report
            seconds = time.perf_counter() - start
            msg = f"{type(exc).__name__}: {exc}"
            return ClaimResult(self, None, seconds, error=msg, traceback=traceback.format_exc())
        return ClaimResult(self, ev, time.perf_counter() - start)


def _reset_global_state(ctx: RunContext, claim_id: str) -> None:
    seed = int(ctx.rng(f"global:{claim_id}").integers(2**31))
    np.random.seed(seed)  # noqa: NPY002 (legacy global generator: seeded for foreign code)
    random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.set_num_threads(1)
    torch.manual_seed(seed)


class Worst:
    """The worst instance of a sweep, and its evidence.

    ``Worst("<=")`` keeps the instance with the largest ``measured / bound`` (``by="ratio"``;
    for a bound <= 0, ``1 + (measured - bound) / |bound|`` and ±inf for a miss of a zero bound,
    so that a violation always ranks above an instance that holds),
    the largest ``measured - bound`` (``by="margin"``) or the largest explicit ``score``
    (``by="score"``); ``Worst(">=")`` the smallest; ``Worst("==")`` the largest deviation
    ``|measured - bound|`` (``by="deviation"``, its default) or the largest ``score``.
    :meth:`evidence` turns it into :meth:`Evidence.upper`, :meth:`Evidence.lower` or
    :meth:`Evidence.equal`, with the worst instance's ``info`` and the number of instances in
    the details.
    """

    def __init__(
        self, relation: Literal["<=", ">=", "=="] = "<=", *, by: str | None = None
    ) -> None:
        if relation not in ("<=", ">=", "=="):
            raise ValueError(f"relation must be '<=', '>=' or '=='; got {relation!r}")
        by = by or ("deviation" if relation == "==" else "ratio")
        allowed = ("deviation", "score") if relation == "==" else ("ratio", "margin", "score")
        if by not in allowed:
            raise ValueError(f"by must be one of {allowed} for relation {relation!r}; got {by!r}")
        self.relation, self.by = relation, by
        self.n = 0
        self.measured = math.nan
        self.bound = math.nan
        self.score = math.nan
        self.info: dict[str, Any] = {}

    def _score(self, measured: float, bound: float, score: float | None) -> float:
        if self.by == "score":
            if score is None:
                raise ValueError("score is required when by='score'")
            return float(score)
        if not math.isfinite(measured):
            return -math.inf if self.relation == ">=" else math.inf
        if self.by == "deviation":
            return abs(measured - bound)
        if self.by == "margin":
            return measured - bound
        # measured / bound for a positive bound; the same scale of violation (> 1 for "<=",
        # < 1 for ">=") for a negative one, and ±inf for any nonzero miss of a zero bound.
        if bound == 0:
            return 1.0 if measured == 0 else math.copysign(math.inf, measured)
        return 1.0 + (measured - bound) / abs(bound)

    def add(
        self, measured: float, bound: float, *, score: float | None = None, **info: Any
    ) -> None:
        """Record one instance; ``info`` describes it (kept for the worst one)."""
        m, b = float(measured), float(bound)
        sc = self._score(m, b, score)
        self.n += 1
        worse = sc < self.score if self.relation == ">=" else sc > self.score
        if self.n == 1 or worse or math.isnan(sc):
            self.measured, self.bound, self.score, self.info = m, b, sc, dict(info)

    def evidence(self, note: str, *, details: dict[str, Any] | None = None, **kw: Any) -> Evidence:
        """Evidence of the worst instance (``kw`` as for :meth:`Evidence.upper`, ``lower`` or
        ``equal``: ``atol`` is required for ``"=="``)."""
        if self.n == 0:
            raise ValueError("no instance was added")
        merged = {"worst": _jsonable(self.info), "instances": self.n, **(details or {})}
        build = {"<=": Evidence.upper, ">=": Evidence.lower, "==": Evidence.equal}[self.relation]
        return build(self.measured, self.bound, note, details=merged, **kw)


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
        """The claim's relation held (for an empirical claim: the data support the paper)."""
        return self.evidence is not None and self.evidence.passed

    @property
    def outcome(self) -> Outcome:
        """PASS, FAIL, EMPIRICAL (reported, not asserted) or ERROR (the experiment crashed)."""
        return "ERROR" if self.evidence is None else self.evidence.outcome

    @property
    def ok(self) -> bool:
        """Whether this result lets the run succeed: PASS or EMPIRICAL."""
        return self.outcome in ("PASS", "EMPIRICAL")

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
        raw = {
            "bound": None if ev is None else ev.bound,
            "measured": None if ev is None else ev.measured,
            "tolerance": None if ev is None else ev.tolerance,
            "ratio": self.ratio if ev is not None else None,
            "details": {} if ev is None else ev.details,
        }
        row = {
            "claim": self.claim.id,
            "statement": self.claim.statement,
            "reference": self.claim.reference,
            "bound": None if ev is None else _json_float(ev.bound),
            "measured": None if ev is None else _json_float(ev.measured),
            "relation": None if ev is None else ev.relation,
            "tolerance": None if ev is None else _json_float(ev.tolerance),
            "ratio": None if ev is None else _json_float(self.ratio),
            "passed": self.passed,
            "outcome": self.outcome,
            "bound_kind": self.claim.bound.describe(),
            "note": None if ev is None else ev.note,
            "details": {} if ev is None else _jsonable(ev.details),
            "plots": [] if ev is None else [p.name for p in ev.plots],
            "seconds": round(self.seconds, 4),
            "error": self.error,
            # Non-finite numbers are written as null; this map says which and what they were.
            "nonfinite": _nonfinite(raw),
        }
        return row


def frozen(obj: Any) -> Any:
    """A read-only copy of a cached sweep: dicts become mapping proxies, lists tuples, and
    arrays read-only copies, so that no claim can mutate what another claim reads."""
    if isinstance(obj, dict):
        return types.MappingProxyType({k: frozen(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return tuple(frozen(v) for v in obj)
    if isinstance(obj, np.ndarray):
        arr = obj.copy()
        arr.setflags(write=False)
        return arr
    return obj


_REGISTRY: dict[str, Claim] = {}


def register(c: Claim) -> Claim:
    """Add a claim; ids are unique."""
    if c.id in _REGISTRY:
        raise ValueError(f"claim id {c.id!r} is already registered")
    if "/" not in c.id:
        raise ValueError(f"claim id must look like 'area/name'; got {c.id!r}")
    _REGISTRY[c.id] = c
    return c


def claim(*, id: str, statement: str, reference: str, bound: Bound | Callable[..., Any] | float):
    """Decorator: register ``experiment(ctx, bound) -> Evidence`` as the claim ``id``.

    ``bound``: a :class:`Theorem`, :class:`Reference` or :class:`Tolerance` (a callable is
    taken as a Theorem, a number as a Tolerance).
    """

    def wrap(experiment: Callable[[RunContext, Callable[..., float]], Evidence]) -> Callable:
        register(Claim(id, statement, reference, bound, experiment))
        return experiment

    return wrap


def claims(pattern: str | Iterable[str] | None = None) -> list[Claim]:
    """Registered claims, in registration order, optionally filtered.

    ``pattern``: claim ids or globs, comma-separated or as a list. An exact id selects exactly
    that claim (``"policy-cliff/prop-4.7"`` is one claim, not every id that starts with it);
    anything else is a glob matched against the id (``"policy-cliff/*"``, ``"*tight*"``), and
    a pattern without wildcards matches as a substring (``"prop-4.7"`` = ``"*prop-4.7*"``).
    """
    for module in CLAIM_MODULES:
        importlib.import_module(module)
    found = list(_REGISTRY.values())
    if pattern is None:
        return found
    pats = [p.strip() for p in (pattern.split(",") if isinstance(pattern, str) else pattern)]
    pats = [p for p in pats if p]
    return [c for c in found if any(_matches(c.id, p) for p in pats)]


def _matches(claim_id: str, pattern: str) -> bool:
    if pattern in _REGISTRY:
        return claim_id == pattern
    if not any(ch in pattern for ch in "*?["):
        pattern = f"*{pattern}*"
    return fnmatch.fnmatchcase(claim_id, pattern)


def _json_float(x: float) -> float | None:
    """A finite float, or ``None`` (the row's ``nonfinite`` map says which value it was)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _nonfinite(row: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{path: "nan" | "inf" | "-inf"}`` for every non-finite float in ``row``."""
    out: dict[str, str] = {}

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(obj, list | tuple | np.ndarray):
            for i, v in enumerate(obj):
                walk(v, f"{path}[{i}]")
        elif isinstance(obj, float | np.floating) and not math.isfinite(obj):
            out[path] = str(float(obj))

    walk(row, prefix)
    return out


def _jsonable(obj: Any) -> Any:
    """``obj`` with numpy values as Python ones and non-finite floats as ``None``."""
    if isinstance(obj, Mapping):  # dicts and frozen() mapping proxies
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return _json_float(obj)
    if isinstance(obj, Path):
        return obj.as_posix()
    return obj
