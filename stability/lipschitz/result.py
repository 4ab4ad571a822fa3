"""The named result of every Lipschitz bound: value, method, certified or not, solver status, time."""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theory.checks import ArgumentTypeError

__all__ = [
    "STATUS_FALLBACK",
    "STATUS_LIMIT",
    "STATUS_NOT_CERTIFIED",
    "STATUS_OPTIMAL",
    "LipschitzInterval",
    "LipschitzLowerBound",
    "LipschitzResult",
]

#: ``LipschitzResult.status`` codes (see the class docstring).
STATUS_OPTIMAL, STATUS_LIMIT, STATUS_NOT_CERTIFIED, STATUS_FALLBACK = 0, 1, 2, 3
_STATUS_CODES = (STATUS_OPTIMAL, STATUS_LIMIT, STATUS_NOT_CERTIFIED, STATUS_FALLBACK)


@dataclass(frozen=True)
class LipschitzResult:
    """An upper bound on the ℓ2 Lipschitz constant of a network.

    Attributes
    ----------
    value : float
        The bound. When ``certified`` is true it is a proven upper bound (for LipSDP: the value
        recomputed exactly from the solver's multipliers by the Schur-complement check, not the
        solver's objective).
    method : str
        The method that produced ``value`` (for ``auto``, the method it picked; for a fallback,
        the method fallen back to).
    certified : bool
        Whether ``value`` is a proven upper bound. Never true for a NaN or infinite ``value``:
        such a result is marked not certified on construction, and ``message`` says why.
    message : str
        How the method ended, in words: ``"closed-form"`` for the matrix-norm methods, else
        the solver's status (``"optimal"``, ``"iteration limit"``, ``"user_limit"``, ...) with
        a fallback note where one happened. (This field was called ``status`` before
        ``status`` became the integer code below; it keeps its place, the fourth, in the
        constructor.)
    seconds : float
        Wall time.
    requested : str
        The method asked for (differs from ``method`` after ``auto`` or a fallback).
    details : dict
        Method-specific extras (solver objective, multipliers, candidates tried by ``auto``).
    status : int
        The toolkit's result code (the convention of ``scipy.optimize.OptimizeResult`` and
        of :class:`theory.ValueIterationResult`: 0 when the computation ended as intended):
        ``0`` (:data:`STATUS_OPTIMAL`) certified, by a closed form or a solver that reached
        its tolerance; ``1`` (:data:`STATUS_LIMIT`) certified, but the solver stopped at its
        iteration limit or time budget, so the bound may be looser than the method's
        optimum; ``2`` (:data:`STATUS_NOT_CERTIFIED`) ``value`` proves nothing;
        ``3`` (:data:`STATUS_FALLBACK`) the requested method failed and ``method`` certified
        ``value`` instead. Left out (``None``) it is 0 for a certified result and 2
        otherwise.
    nit : int
        Iterations of the underlying solver (``details["iterations"]`` where the method
        iterates, else 0); left out, it is read from ``details``.

    Notes
    -----
    ``success`` is true exactly when ``value`` is a finite proven upper bound (status 0, 1
    or 3): the promise of every Lipschitz method is a certified bound, and a bound from a
    solver stopped early is still one.
    """

    value: float
    method: str
    certified: bool
    message: str
    seconds: float
    requested: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    status: int | None = None
    nit: int | None = None

    def __post_init__(self) -> None:
        """Refuse a value that is not a number or negative; a certified NaN/inf is uncertified.

        A NaN or infinite value proves nothing (``L <= inf`` is vacuous, ``L <= nan`` is no
        statement), so ``certified`` is set to false and ``message`` and ``status``
        record it: no code path can report a non-finite certified bound.
        """
        v = self.value
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
            raise ArgumentTypeError(f"value must be a real number; got {self.value!r}")
        if v < 0:
            raise ValueError(f"value must be >= 0 (an upper bound on a norm); got {v!r}")
        if not isinstance(self.certified, bool):
            raise ArgumentTypeError(f"certified must be a bool; got {self.certified!r}")
        if not isinstance(self.message, str):
            raise ArgumentTypeError(f"message must be a str; got {self.message!r}")
        if self.certified and not math.isfinite(v):
            object.__setattr__(self, "certified", False)
            object.__setattr__(self, "message", f"{self.message}; not certified: value is {v}")
            object.__setattr__(self, "status", STATUS_NOT_CERTIFIED)
        if self.status is None:
            code = STATUS_OPTIMAL if self.certified else STATUS_NOT_CERTIFIED
            object.__setattr__(self, "status", code)
        elif isinstance(self.status, str):
            raise ArgumentTypeError(
                f"status must be an int code {_STATUS_CODES}; got {self.status!r} (the text "
                "of how the method ended is message=)"
            )
        elif self.status not in _STATUS_CODES or isinstance(self.status, bool):
            raise ValueError(f"status must be one of {_STATUS_CODES}; got {self.status!r}")
        elif not self.certified:
            object.__setattr__(self, "status", STATUS_NOT_CERTIFIED)
        if self.nit is None:
            object.__setattr__(self, "nit", int(self.details.get("iterations", 0)))
        elif isinstance(self.nit, bool) or not isinstance(self.nit, numbers.Integral):
            raise ArgumentTypeError(f"nit must be an int; got {self.nit!r}")

    @classmethod
    def single_layer(cls, weight: Any, method: str, start: float) -> LipschitzResult:
        """The exact value ``||W||_2`` of a network without hidden layers (every method's case)."""
        value = float(np.linalg.norm(weight, 2))
        seconds = time.perf_counter() - start
        return cls(value, method, True, "closed-form (single layer)", seconds, method)

    @property
    def success(self) -> bool:
        """A finite certified value (status 0, 1 or 3)."""
        return self.certified and math.isfinite(self.value)

    def summary(self) -> str:
        """One readable line."""
        tag = "certified" if self.certified else "NOT certified"
        via = (
            f" (asked: {self.requested})"
            if self.requested and self.requested != self.method
            else ""
        )
        return f"L <= {self.value:.6g} by {self.method}{via}, {tag}, {self.message}, {self.seconds:.3g} s"


@dataclass(frozen=True)
class LipschitzLowerBound:
    """A lower bound on the Lipschitz constant, with its witness.

    Attributes
    ----------
    value : float
        ``max(jacobian, pair_ratio, pattern)``.
    jacobian : float
        The largest ``||J_f(x)||_2`` over the sampled points (0 when sampling was not run).
    pair_ratio : float
        The largest ``||f(x) - f(y)|| / ||x - y||`` found (always a valid lower bound).
    x, y : ndarray
        The pair attaining ``pair_ratio``.
    n_evaluations : int
        Jacobians and pair evaluations spent.
    seconds : float
        Wall time.
    pattern : float
        The norm ``||W_l D_{l-1} ⋯ D_1 W_1||_2`` of the best realisable activation pattern
        found (:mod:`stability.lipschitz.patterns`; 0 when the search was not run).
    method : str
        ``"sampling"``, ``"patterns"`` or ``"sampling+patterns"``.
    exact : bool
        The pattern search enumerated every realisable pattern: ``value`` is the constant.
    details : dict
        ``details["patterns"]``: the :class:`~stability.lipschitz.patterns.PatternBound`
        (patterns, witness point, LPs) when the search ran.
    """

    value: float
    jacobian: float
    pair_ratio: float
    x: Any
    y: Any
    n_evaluations: int
    seconds: float
    pattern: float = 0.0
    method: str = "sampling"
    exact: bool = False
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Refuse a NaN or negative lower bound (a ValueError naming ``value``)."""
        for name in ("value", "jacobian", "pair_ratio", "pattern"):
            v = getattr(self, name)
            if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
                raise ArgumentTypeError(f"{name} must be a real number; got {v!r}")
            if math.isnan(v) or v < 0:
                raise ValueError(
                    f"{name} must be a number >= 0 (a lower bound on a norm); got {v!r}: the "
                    "network evaluates to NaN or overflows at the sampled points"
                )

    def summary(self) -> str:
        """One readable line."""
        parts = []
        if "sampling" in self.method:
            parts.append(f"Jacobian {self.jacobian:.6g}, pair ratio {self.pair_ratio:.6g}")
        if "patterns" in self.method:
            parts.append(f"activation pattern {self.pattern:.6g}{' (exact)' if self.exact else ''}")
        return (
            f"L >= {self.value:.6g} ({'; '.join(parts)}; {self.n_evaluations} evaluations, "
            f"{self.seconds:.3g} s)"
        )


@dataclass(frozen=True)
class LipschitzInterval:
    """The Lipschitz constant bracketed: ``lower.value <= L <= upper.value``.

    Attributes
    ----------
    lower : LipschitzLowerBound
    upper : LipschitzResult

    Notes
    -----
    ``width = upper - lower`` and ``relative_width = width / lower`` (how far the upper bound can
    be above the true constant, relative to it; ``inf`` when ``lower`` is 0). ``consistent`` is
    false when a certified upper bound lies below the lower bound (beyond ``1e-9`` relative):
    one of the two is wrong, which never happens for the certified methods.
    """

    lower: LipschitzLowerBound
    upper: LipschitzResult

    def __post_init__(self) -> None:
        """Refuse parts of the wrong type (a TypeError naming ``lower`` or ``upper``)."""
        if not isinstance(self.lower, LipschitzLowerBound):
            raise ArgumentTypeError(
                f"lower must be a LipschitzLowerBound; got {type(self.lower).__name__}"
            )
        if not isinstance(self.upper, LipschitzResult):
            raise ArgumentTypeError(
                f"upper must be a LipschitzResult; got {type(self.upper).__name__}"
            )

    @property
    def lo(self) -> float:
        """The lower end (``lower.value``)."""
        return self.lower.value

    @property
    def hi(self) -> float:
        """The upper end (``upper.value``)."""
        return self.upper.value

    @property
    def width(self) -> float:
        """``hi - lo``."""
        return self.hi - self.lo

    @property
    def relative_width(self) -> float:
        """``(hi - lo) / lo``: the largest relative excess of ``hi`` over the true constant."""
        return self.width / self.lo if self.lo > 0 else math.inf

    @property
    def consistent(self) -> bool:
        """``lo <= hi (1 + 1e-9)`` (always, for a certified upper bound)."""
        return self.lo <= self.hi * (1 + 1e-9)

    def summary(self) -> str:
        """One readable line: the interval, its width and the methods."""
        tag = "certified" if self.upper.certified else "NOT certified"
        bad = "" if self.consistent else " INCONSISTENT (upper < lower)"
        return (
            f"L in [{self.lo:.6g}, {self.hi:.6g}], width {self.width:.4g} "
            f"({100 * self.relative_width:.3g}% of the lower end){bad}; lower by "
            f"{self.lower.method}, upper by {self.upper.method} ({tag})"
        )
