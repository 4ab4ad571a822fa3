"""What every trainer shares: threads, seeding, device, metrics logging and checkpoints.

- :func:`setup` sets one torch thread (on 2 shared cores torch's default threads made PPO
  25x slower; parallelism comes from batching and processes), seeds ``random``, numpy and
  torch, and resolves the device.
- :class:`MetricsLog` keeps a metrics table (one dict per logged step, namespaced keys such as
  ``losses/pg`` and ``charts/reward``), writes it as CSV, shows a tqdm progress bar on a
  terminal, and mirrors scalars to TensorBoard when it is installed and a ``log_dir`` is given.
- :func:`save_checkpoint` / :func:`load_checkpoint`: a state dict (``.pt``, loaded with
  ``weights_only=True``) plus the config as JSON; a file that is corrupt, tampered with or not
  a plain state dict is refused with a ``ValueError`` naming it.
- :func:`check_config` validates every field of a config dataclass with the rules below
  (:data:`POSITIVE`, :func:`integer`, :func:`real`, :func:`one_of`, :func:`optional`, ...), all
  thin wrappers over :mod:`theory.checks`: a wrong type raises ``TypeError``, a bad value
  ``ValueError``, and the message names ``Config.field`` and shows the bad value.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import pickle
import random
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_positive_int,
    check_probability,
    check_real,
    check_seed,
)

__all__ = [
    "DISCOUNT",
    "FLAG",
    "NONNEGATIVE",
    "NONNEGATIVE_INT",
    "OPEN_UNIT",
    "POSITIVE",
    "POSITIVE_INT",
    "PROBABILITY",
    "UNIT_FRACTION",
    "MetricsLog",
    "Rule",
    "check_config",
    "check_instance",
    "int_tuple",
    "integer",
    "load_checkpoint",
    "one_of",
    "optional",
    "real",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "setup",
]

C = TypeVar("C")

#: A validation rule: ``rule(name, value)`` returns the value normalized (``int``, ``float``,
#: ``bool``, ``tuple``) or raises ``TypeError``/``ValueError`` naming ``name``.
Rule = Callable[[str, Any], Any]


def _check_bounds(lo: object, hi: object, check: Callable[[str, Any], Any]) -> None:
    """A rule factory's bounds: each of the checked kind (or None), and ``lo <= hi``."""
    lo = None if lo is None else check("lo", lo)
    hi = None if hi is None else check("hi", hi)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"lo must be <= hi; got lo={lo!r}, hi={hi!r}")


def _bound(name: str, v: Any) -> float:
    """A bound of :func:`real`: a real number, possibly infinite (not NaN)."""
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        raise ArgumentTypeError(f"{name} must be a real number; got {v!r}")
    if math.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    return float(v)


def integer(lo: int | None = None, hi: int | None = None) -> Rule:
    """An integer (``bool`` refused) in ``[lo, hi]``; the bounds are checked when the rule is
    made."""
    _check_bounds(lo, hi, check_int)
    return lambda name, v: check_int(name, v, lo=lo, hi=hi)


def real(
    lo: float = -math.inf, hi: float = math.inf, *, lo_open: bool = False, hi_open: bool = False
) -> Rule:
    """A finite real number (``bool`` refused) in the interval from ``lo`` to ``hi``."""
    _check_bounds(lo, hi, _bound)
    check_bool("lo_open", lo_open)
    check_bool("hi_open", hi_open)
    return lambda name, v: check_real(name, v, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)


def one_of(*options: Any) -> Rule:
    """One of ``options`` (at least one)."""
    if not options:
        raise ValueError("options must name at least one allowed value")
    return lambda name, v: check_choice(name, v, options)


def optional(rule: Rule) -> Rule:
    """None, or a value that passes ``rule``."""
    if not callable(rule):
        raise ArgumentTypeError(f"rule must be a validation rule (a callable); got {rule!r}")
    return lambda name, v: None if v is None else rule(name, v)


def int_tuple(length: int | None = None, lo: int = 1) -> Rule:
    """A tuple (a JSON list is accepted) of integers ``>= lo``, of ``length`` entries if given."""
    if length is not None:
        check_int("length", length, lo=0)
    check_int("lo", lo)

    def rule(name: str, v: Any) -> tuple[int, ...]:
        if not isinstance(v, tuple | list):
            raise ArgumentTypeError(f"{name} must be a tuple of integers; got {v!r}")
        if length is not None and len(v) != length:
            raise ValueError(f"{name} must hold {length} integers; got {v!r}")
        return tuple(check_int(f"{name}[{i}]", h, lo=lo) for i, h in enumerate(v))

    return rule


#: ``True`` or ``False`` (not 0/1, not a string).
FLAG: Rule = check_bool
#: A finite number > 0.
POSITIVE: Rule = check_positive
#: A finite number >= 0.
NONNEGATIVE: Rule = check_nonnegative
#: A number in [0, 1].
PROBABILITY: Rule = check_probability
#: A number in (0, 1) (a clip epsilon, a scale strictly between the ends).
OPEN_UNIT: Rule = check_open_unit
#: A number in (0, 1] (a Polyak rate ``tau``, a fraction of the run).
UNIT_FRACTION: Rule = real(0.0, 1.0, lo_open=True)
#: A discount factor in [0, 1) (as :func:`theory.checks.check_gamma`, whose argument order
#: ``(value, name)`` is not a rule's).
DISCOUNT: Rule = real(0.0, 1.0, hi_open=True)
#: An integer >= 1.
POSITIVE_INT: Rule = check_positive_int
#: An integer >= 0.
NONNEGATIVE_INT: Rule = integer(0)


def check_instance(name: str, value: object, cls: type) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``value`` is a ``cls``."""
    if not isinstance(name, str):
        raise ArgumentTypeError(f"name must be a str; got {name!r}")
    if not isinstance(cls, type):
        raise ArgumentTypeError(f"cls must be a class; got {cls!r}")
    if not isinstance(value, cls):
        raise ArgumentTypeError(f"{name} must be a {cls.__name__}; got {type(value).__name__}")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``/None (CUDA where present)."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu', 'cuda[:N]' or 'auto'; got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy's global generator and torch."""
    seed = check_seed(seed)
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002 (legacy global generator, as CleanRL)
    torch.manual_seed(int(seed))


def setup(seed: int, device: str | torch.device | None, *, threads: int | None = 1) -> torch.device:
    """One torch thread (unless ``threads`` is None), seeded generators; returns the device.

    Everything is checked before anything global changes.
    """
    if threads is not None:
        threads = check_positive_int("threads", threads)
    seed = check_seed(seed)
    dev = resolve_device(device)
    if threads is not None:
        torch.set_num_threads(threads)
    seed_everything(seed)
    return dev


def check_config(config: Any, rules: Mapping[str, Rule]) -> None:
    """Validate every field of a config dataclass: ``rules[field](name, value)`` for each field.

    The rules (:data:`POSITIVE`, :func:`integer`, ...) raise ``TypeError`` for a wrong type and
    ``ValueError`` for a bad value, naming ``Config.field``; the normalized value (a JSON list
    read back as a tuple, an integer-valued float field as ``float``) is stored back in the
    frozen instance. Every field must have a rule (a missing one is a programming error).
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ArgumentTypeError(f"config must be a dataclass instance; got {config!r}")
    if not isinstance(rules, Mapping) or not all(callable(r) for r in rules.values()):
        raise ArgumentTypeError(f"rules must map field names to validation rules; got {rules!r}")
    cls = type(config).__name__
    names = [f.name for f in dataclasses.fields(config)]
    if set(names) != set(rules):
        raise RuntimeError(
            f"{cls}: validation rules do not match the fields (missing "
            f"{sorted(set(names) - set(rules))}, unknown {sorted(set(rules) - set(names))})"
        )
    for name in names:
        value = rules[name](f"{cls}.{name}", getattr(config, name))
        object.__setattr__(config, name, value)


class MetricsLog:
    """A metrics table with optional CSV, progress bar and TensorBoard.

    Parameters
    ----------
    total : int
        Number of steps (for the progress bar).
    progress : bool or None
        Show a tqdm bar; None: only when stderr is a terminal.
    log_dir : path or None
        Where ``log(...)`` mirrors scalars to TensorBoard (if installed).
    """

    def __init__(
        self, total: int, *, progress: bool | None = None, log_dir: str | Path | None = None
    ):
        check_positive_int("total", total)
        optional(FLAG)("progress", progress)
        if log_dir is not None and not isinstance(log_dir, str | os.PathLike):
            raise ArgumentTypeError(f"log_dir must be a path or None; got {log_dir!r}")
        self.rows: list[dict[str, float]] = []
        show = sys.stderr.isatty() if progress is None else progress
        self._bar = None
        if show:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, leave=False, dynamic_ncols=True)
        self._writer = None
        if log_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(log_dir))
            except ImportError:  # TensorBoard is optional
                self._writer = None

    def log(self, step: int, metrics: Mapping[str, float | torch.Tensor]) -> None:
        """Record ``metrics`` (scalars or 0-d tensors; NaN is recorded as is) at ``step``."""
        step = check_int("step", step, lo=0)
        if not isinstance(metrics, Mapping):
            raise ArgumentTypeError(f"metrics must map names to numbers; got {metrics!r}")
        row = {"step": float(step)}
        for k, v in metrics.items():
            if isinstance(v, torch.Tensor) and v.numel() == 1:
                v = v.item()
            if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number):
                raise ArgumentTypeError(
                    f"metrics[{k!r}] must be a number or a one-element tensor; got {v!r}"
                )
            row[str(k)] = float(v)
        self.rows.append(row)
        if self._writer is not None:
            for k, v in row.items():
                if k != "step":
                    self._writer.add_scalar(k, v, step)
        if self._bar is not None:
            shown = {k.split("/")[-1]: f"{v:.3g}" for k, v in list(row.items())[1:4]}
            self._bar.set_postfix(shown, refresh=False)

    def advance(self, n: int = 1) -> None:
        """Move the progress bar ``n`` steps on."""
        n = check_int("n", n, lo=0)
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._writer is not None:
            self._writer.close()

    def last(self, key: str) -> float:
        """The last logged value of ``key`` (NaN if never logged)."""
        for row in reversed(self.rows):
            if key in row:
                return row[key]
        return math.nan

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (union of keys as columns)."""
        path = _check_path(path)
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        return path


def _check_path(path: object) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise ArgumentTypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    return Path(path)


def save_checkpoint(
    path: str | Path, state_dict: Mapping[str, torch.Tensor], config: Any
) -> tuple[Path, Path]:
    """Write ``path.pt`` (the state dict) and ``path.json`` (the config dataclass and its type)."""
    base = _check_path(path)
    if not isinstance(state_dict, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items()
    ):
        raise ArgumentTypeError(
            f"state_dict must map parameter names to tensors; got {type(state_dict).__name__}"
        )
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise ArgumentTypeError(f"config must be a dataclass instance; got {type(config).__name__}")
    base.parent.mkdir(parents=True, exist_ok=True)
    pt, js = base.with_suffix(".pt"), base.with_suffix(".json")
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, pt)
    payload = {"type": type(config).__name__, "config": dataclasses.asdict(config)}
    js.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return pt, js


def load_checkpoint(path: str | Path, config_type: type[C]) -> tuple[dict[str, torch.Tensor], C]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    The state dict is read with ``torch.load(weights_only=True)`` (no code runs: a pickle that
    calls anything is refused) and must map names to finite tensors; the config is rebuilt
    through its dataclass, whose validation refuses out-of-range values. A missing file raises
    ``FileNotFoundError``; a corrupt, tampered or foreign file ``ValueError`` naming ``path``.
    """
    base = _check_path(path)
    if not (isinstance(config_type, type) and dataclasses.is_dataclass(config_type)):
        raise ArgumentTypeError(f"config_type must be a dataclass type; got {config_type!r}")
    pt, js = base.with_suffix(".pt"), base.with_suffix(".json")
    for f in (js, pt):
        if not f.is_file():
            raise FileNotFoundError(f"path {base}: checkpoint file {f} does not exist")
    try:
        payload = json.loads(js.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"path {base}: {js.name} is not valid JSON ({exc})") from exc
    if not (isinstance(payload, dict) and isinstance(payload.get("config"), dict)):
        raise ValueError(f"path {base}: {js.name} is not a checkpoint config (no 'config' table)")
    if payload.get("type") != config_type.__name__:
        raise ValueError(
            f"path {base} holds a {payload.get('type')!r} config, not {config_type.__name__!r}"
        )
    fields = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(payload["config"]) - fields)
    if unknown:
        raise ValueError(
            f"path {base}: {js.name} has unknown {config_type.__name__} fields {unknown}"
        )
    try:
        config = config_type(**payload["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"path {base}: {js.name} holds an invalid config: {exc}") from exc
    try:
        state = torch.load(pt, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(
            f"path {base}: {pt.name} is corrupt or not a plain state dict (refused by "
            f"torch.load(weights_only=True): {type(exc).__name__})"
        ) from exc
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"path {base}: {pt.name} is not a state dict of named tensors")
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise ValueError(f"path {base}: {pt.name} entry {k!r} holds NaN or inf")
    return state, config
