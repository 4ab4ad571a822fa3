"""Grids of run configurations: the product of named axes, times seeds.

A :class:`Grid` names the axes of a sweep (``{"eps": [0.0, 0.1], "beta": [0.01, 1.0]}``), the
seeds every configuration is run with, and parameters fixed for all runs. It expands into
:class:`RunSpec` items, each identified by a content key (a hash of its configuration and seed),
so a resumed sweep recognises finished runs even after axes gain values.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import reprlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theory.checks import ArgumentTypeError, check_seed

__all__ = ["RESERVED_COLUMNS", "Grid", "RunSpec", "canonical_json", "run_key"]

#: Column names of the tidy results table that config keys may not use. (``device`` is a
#: table column too, but may be a config key: a run's device is then its config's.)
RESERVED_COLUMNS: frozenset[str] = frozenset(
    {"seed", "metric", "value", "code_version", "timestamp", "run", "status"}
)


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, no spaces, no NaN/inf).

    Raises
    ------
    TypeError
        If ``obj`` holds a value JSON cannot encode (a set, a numpy array, an object) or a
        mapping key that is not a string, number, bool or None.
    ValueError
        If ``obj`` holds NaN or an infinity.
    """
    try:
        return _dumps(obj)
    except TypeError as exc:
        msg = f"obj is not JSON-serialisable ({exc}); got {reprlib.repr(obj)}"
        raise ArgumentTypeError(msg) from None
    except ValueError as exc:
        msg = f"obj is not JSON-serialisable ({exc}); got {reprlib.repr(obj)}"
        raise ValueError(msg) from None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_key(config: Mapping[str, Any], seed: int) -> str:
    """The content key of one run: the first 16 hex digits of sha256 of config and seed.

    Raises
    ------
    TypeError
        If ``config`` is not a mapping with string keys, or ``seed`` is not an integer.
    ValueError
        If a config value does not round-trip through JSON (NaN, inf, a tuple, a numpy
        scalar), or ``seed`` is outside ``[0, 2**63)``.
    """
    if not isinstance(config, Mapping):
        raise ArgumentTypeError(f"config must be a mapping; got {type(config).__name__}")
    config = dict(config)
    bad_names = [k for k in config if not isinstance(k, str)]
    if bad_names:
        raise ArgumentTypeError(f"config keys must be strings; got {bad_names!r}")
    _check_value("config", config)
    text = canonical_json({"config": config, "seed": check_seed(seed)})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_value(where: str, value: Any) -> None:
    """A config value must round-trip through JSON unchanged (so it can be persisted)."""
    try:
        back = json.loads(_dumps(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{where} = {value!r} is not JSON-serialisable ({exc}); config values must be "
            "str, int, float (finite), bool, None, or lists/dicts of those"
        ) from None
    if back != value or type(back) is not type(value):
        raise ValueError(
            f"{where} = {value!r} does not round-trip through JSON (got {back!r} back); "
            "use lists instead of tuples and plain Python numbers instead of numpy scalars"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _check_name(where: str, name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} names must be non-empty strings; got {name!r}")
    if name in RESERVED_COLUMNS:
        raise ValueError(
            f"{where} name {name!r} is reserved for a results column; reserved: "
            f"{sorted(RESERVED_COLUMNS)}"
        )


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a configuration, a seed, and the content key identifying both."""

    config: dict[str, Any]
    seed: int
    key: str


@dataclass(frozen=True)
class Grid:
    """A grid of run configurations: the Cartesian product of named axes, times seeds.

    Parameters
    ----------
    axes : mapping of str to sequence
        Axis name -> its values (each value JSON-serialisable, e.g. floats, strings, lists).
        The configurations are the Cartesian product of the axes, in insertion order (the last
        axis varies fastest). No axes at all gives one configuration (``fixed`` alone).
    seeds : int or sequence of int, default 1
        ``n`` means seeds ``0, ..., n-1``; a sequence gives the seeds explicitly (distinct).
    fixed : mapping of str to value, optional
        Parameters added to every configuration (not an axis; they appear as table columns).

    Raises
    ------
    ValueError
        If an axis is empty or has repeated values, there are no seeds, seeds repeat or are not
        integers, a name is reserved (``seed``, ``metric``, ``value``, ...) or shared between
        ``axes`` and ``fixed``, or a value is not JSON-serialisable.

    Examples
    --------
    >>> g = Grid({"eps": [0.0, 0.1], "beta": [1.0]}, seeds=3)
    >>> len(g), g.n_configs
    (6, 2)
    >>> [(s.config["eps"], s.seed) for s in g][:4]
    [(0.0, 0), (0.0, 1), (0.0, 2), (0.1, 0)]
    """

    axes: dict[str, tuple[Any, ...]]
    seeds: tuple[int, ...] = field(default=(0,))
    fixed: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self,
        axes: Mapping[str, Sequence[Any]],
        seeds: int | Sequence[int] = 1,
        fixed: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(axes, Mapping):
            raise ArgumentTypeError(
                f"axes must be a mapping of name -> values; got {type(axes).__name__}"
            )
        clean: dict[str, tuple[Any, ...]] = {}
        for name, values in axes.items():
            _check_name("axis", name)
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise ValueError(f"axes[{name!r}] must be a sequence of values; got {values!r}")
            if len(values) == 0:
                raise ValueError(f"axes[{name!r}] is empty: the grid would have no runs")
            for v in values:
                _check_value(f"axes[{name!r}] value", v)
            texts = [canonical_json(v) for v in values]
            if len(set(texts)) != len(texts):
                raise ValueError(f"axes[{name!r}] has repeated values: {list(values)!r}")
            clean[name] = tuple(values)
        if fixed is not None and not isinstance(fixed, Mapping):
            raise ArgumentTypeError(
                f"fixed must be a mapping of name -> value; got {type(fixed).__name__}"
            )
        fixed = dict(fixed or {})
        for name, v in fixed.items():
            _check_name("fixed", name)
            if name in clean:
                raise ValueError(f"fixed parameter {name!r} is also an axis")
            _check_value(f"fixed[{name!r}]", v)
        if isinstance(seeds, bool | str | bytes) or not isinstance(seeds, int | Sequence):
            raise ArgumentTypeError(
                f"seeds must be an int count or a sequence of ints; got {seeds!r}"
            )
        if isinstance(seeds, int):
            if seeds < 1:
                raise ValueError(f"seeds must be >= 1 (the grid would have no runs); got {seeds}")
            seed_tuple = tuple(range(seeds))
        else:
            if not seeds:
                raise ValueError("seeds is empty: the grid would have no runs")
            if not all(_is_int(s) for s in seeds):
                raise ArgumentTypeError(f"seeds must be integers; got {list(seeds)!r}")
            seed_tuple = tuple(int(s) for s in seeds)
            out_of_range = [s for s in seed_tuple if not 0 <= s < 2**63]
            if out_of_range:
                raise ValueError(f"seeds must be in [0, 2**63); got {out_of_range!r}")
            if len(set(seed_tuple)) != len(seed_tuple):
                raise ValueError(f"seeds has repeated values: {list(seed_tuple)!r}")
        object.__setattr__(self, "axes", clean)
        object.__setattr__(self, "seeds", seed_tuple)
        object.__setattr__(self, "fixed", fixed)

    @property
    def n_configs(self) -> int:
        """Number of configurations (product of the axis lengths)."""
        return math.prod(len(v) for v in self.axes.values())

    def __len__(self) -> int:
        return self.n_configs * len(self.seeds)

    def configs(self) -> list[dict[str, Any]]:
        """The configurations in grid order (``fixed`` first, then the axes)."""
        names = list(self.axes)
        return [
            {**self.fixed, **dict(zip(names, combo, strict=True))}
            for combo in itertools.product(*self.axes.values())
        ]

    def __iter__(self) -> Iterator[RunSpec]:
        for config in self.configs():
            for seed in self.seeds:
                yield RunSpec(config=dict(config), seed=seed, key=run_key(config, seed))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (``Grid.from_dict`` inverts it)."""
        return {
            "axes": {k: list(v) for k, v in self.axes.items()},
            "seeds": list(self.seeds),
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Grid:
        """The grid described by :meth:`to_dict`."""
        if not isinstance(d, Mapping) or "axes" not in d or "seeds" not in d:
            raise ValueError(
                f"d must be a mapping with 'axes' and 'seeds' (as Grid.to_dict gives); got {d!r}"
            )
        return cls(d["axes"], seeds=d["seeds"], fixed=d.get("fixed") or {})

    def summary(self) -> str:
        """One line: axes with their sizes, seeds, runs."""
        axes = ", ".join(f"{k}[{len(v)}]" for k, v in self.axes.items()) or "no axes"
        return f"Grid({axes}; {len(self.seeds)} seeds; {len(self)} runs)"
