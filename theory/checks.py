"""Input checks for every public function of the toolkit: one module, one wording.

Every public entry of :mod:`theory`, :mod:`stability`, :mod:`causal`, :mod:`trainers` and
:mod:`perturbation` validates its arguments with these functions, so that a bad argument
always ends in an exception that names the parameter and shows the bad value, and never in
a silent NaN or in an error from deep inside numpy or torch. The module sits at the bottom of
the import graph (it imports nothing of the toolkit), so every package may use it.

Conventions:

- a value of the wrong *type* raises :class:`ArgumentTypeError`, a subclass of both
  ``TypeError`` and ``ValueError`` (as ``numpy.exceptions.AxisError`` subclasses both
  ``ValueError`` and ``IndexError``): ``except TypeError`` and ``except ValueError`` both
  catch it;
- a value of the right type but outside its domain (NaN, inf, negative, wrong shape, empty,
  not a distribution, an unknown option) raises ``ValueError``;
- ``bool`` is not accepted where a number is expected (``steps=True`` is a mistake, not 1);
- an iterative or solver-backed routine that cannot deliver what it promises (a tolerance not
  reached, a solver that failed or whose answer could not be certified) raises
  :class:`ConvergenceError` (or a subclass, e.g. ``LipSDPError`` of
  :mod:`stability.lipschitz`); routines that return a result instead report the same outcome
  in its ``success``, ``status``, ``message`` and ``nit`` fields (the vocabulary of
  ``scipy.optimize.OptimizeResult``).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ArgumentTypeError",
    "ConvergenceError",
    "as_float_array",
    "check_bool",
    "check_choice",
    "check_gamma",
    "check_int",
    "check_nonnegative",
    "check_open_unit",
    "check_path",
    "check_positive",
    "check_positive_int",
    "check_probability",
    "check_real",
    "check_rng",
    "check_seed",
    "check_seeds",
    "check_simplex",
    "check_state",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (catchable as ``TypeError`` and as ``ValueError``)."""


class ConvergenceError(RuntimeError, ValueError):
    """The one error type for an iterative or solver-backed computation that did not succeed.

    Raised when a tolerance cannot be reached within the iteration limit (value iteration,
    soft value iteration: :mod:`theory.value_iteration`), or when a solver failed or its
    answer could not be certified (``LipSDPError`` of :mod:`stability.lipschitz` and the
    linear program of ``roar_worst_logit_lp`` in :mod:`stability.counterfactual`). It is a
    :class:`RuntimeError` (the computation ran and failed) and, since the remedy is usually a
    different argument (a looser ``tol``, a larger ``max_iter``, another method), also a
    :class:`ValueError`. The message says what was not reached and what to change.
    """


def _is_real(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, numbers.Real):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"


def check_real(
    name: str,
    value: object,
    *,
    lo: float = -math.inf,
    hi: float = math.inf,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite real number in the interval from ``lo`` to ``hi`` (closed unless ``*_open``)."""
    if not _is_real(value):
        raise ArgumentTypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)  # type: ignore[arg-type]
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    interval = f"{left}{lo}, {hi}{right}"
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite and in {interval}; got {value!r}")
    if (v <= lo if lo_open else v < lo) or (v >= hi if hi_open else v > hi):
        raise ValueError(f"{name} must be in {interval}; got {value!r}")
    return v


def check_positive(name: str, value: object) -> float:
    """A finite number > 0 (a temperature, a step size, a tolerance)."""
    return check_real(name, value, lo=0.0, lo_open=True)


def check_nonnegative(name: str, value: object) -> float:
    """A finite number >= 0 (a distance, a gap, a coefficient that may be off)."""
    return check_real(name, value, lo=0.0)


def check_open_unit(name: str, value: object) -> float:
    """A number strictly between 0 and 1 (a relative tolerance, a confidence level)."""
    return check_real(name, value, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def check_probability(name: str, value: object) -> float:
    """A number in [0, 1]."""
    return check_real(name, value, lo=0.0, hi=1.0)


def check_gamma(gamma: object, name: str = "gamma") -> float:
    """A discount factor in [0, 1)."""
    return check_real(name, gamma, lo=0.0, hi=1.0, hi_open=True)


def check_int(name: str, value: object, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (``bool`` refused) in ``[lo, hi]``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an integer; got {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        lo_s = "-inf" if lo is None else str(lo)
        hi_s = "inf" if hi is None else str(hi)
        raise ValueError(f"{name} must be an integer in [{lo_s}, {hi_s}]; got {value!r}")
    return v


def check_positive_int(name: str, value: object) -> int:
    """An integer >= 1 (a count, a width, a number of steps)."""
    v = check_int(name, value)
    if v < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return v


def check_seed(value: object, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**63)."""
    return check_int(name, value, lo=0, hi=2**63 - 1)


def check_seeds(value: object, name: str = "seeds", *, distinct: bool = True) -> list[int]:
    """A non-empty sequence of seeds, distinct unless ``distinct=False`` (a seed may then
    appear twice, e.g. once per training set of a paired comparison)."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ArgumentTypeError(f"{name} must be a sequence of integer seeds; got {value!r}")
    seeds = [check_seed(s, f"{name}[{i}]") for i, s in enumerate(value)]
    if not seeds:
        raise ValueError(f"{name} must hold at least one seed; got {value!r}")
    if distinct and len(set(seeds)) != len(seeds):
        raise ValueError(f"{name} must be distinct; got {seeds}")
    return seeds


def check_bool(name: str, value: object) -> bool:
    """A flag: ``True`` or ``False`` (numpy booleans accepted; ``"no"`` or 0 are refused)."""
    if not isinstance(value, bool | np.bool_):
        raise ArgumentTypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_path(name: str, value: object) -> Path:
    """``value`` as a :class:`~pathlib.Path` (a ``str`` or ``os.PathLike``, not empty)."""
    if not isinstance(value, str | os.PathLike) or str(value) == "":
        raise ArgumentTypeError(f"{name} must be a path (str or os.PathLike); got {value!r}")
    return Path(value)


def check_rng(name: str, value: object) -> np.random.Generator:
    """A ``numpy.random.Generator`` (a seed is refused: the caller owns the stream)."""
    if not isinstance(value, np.random.Generator):
        raise ArgumentTypeError(
            f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)); "
            f"got {type(value).__name__}"
        )
    return value


def check_choice(name: str, value: object, options: Iterable[Any]) -> Any:
    """One of ``options``."""
    opts = tuple(options)
    try:
        ok = value in opts
    except TypeError:  # unhashable or uncomparable
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {opts}; got {value!r}")
    return value


def as_float_array(
    name: str,
    value: object,
    *,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """``value`` as a float64 array, checked.

    ``ndim`` or ``shape`` (``None`` entries are free) constrain the shape; an empty array is
    refused unless ``allow_empty``; NaN and inf are refused unless ``finite=False``.
    """
    if isinstance(value, str | bytes | dict | set) or value is None:
        raise ArgumentTypeError(f"{name} must be a numeric array; got {type(value).__name__}")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()  # type: ignore[union-attr]
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"{name} must be a numeric array; got {type(value).__name__}"
        ) from exc
    if shape is not None:
        ok = arr.ndim == len(shape) and all(
            s is None or s == n for s, n in zip(shape, arr.shape, strict=True)
        )
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}; got shape {arr.shape}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = tuple(np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; entry {bad} is {arr[bad]}")
    return arr


def check_simplex(name: str, arr: np.ndarray, *, axis: int = -1, atol: float = 1e-9) -> None:
    """Raise unless every slice of ``arr`` along ``axis`` is a probability vector."""
    if arr.size == 0 or arr.shape[axis] == 0:
        raise ValueError(f"{name} must hold probability vectors; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = tuple(np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; entry {bad} is {arr[bad]}")
    if np.any(arr < -atol):
        idx = tuple(np.argwhere(arr < -atol)[0])
        raise ValueError(f"{name} must be non-negative; entry {idx} is {arr[idx]}")
    sums = arr.sum(axis=axis)
    bad = np.abs(sums - 1.0) > atol
    if np.any(bad):
        idx = tuple(np.argwhere(bad)[0])
        raise ValueError(
            f"{name} must sum to 1 along axis {axis}; the slice at {idx} sums to {sums[idx]!r}"
        )


def check_state(name: str, state: object, n_states: int) -> int:
    """A state (or action) index in ``[0, n_states)``."""
    return check_int(name, state, lo=0, hi=n_states - 1)
