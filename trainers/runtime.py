"""What every trainer shares: threads, seeding, device, metrics logging and checkpoints.

- :func:`setup` sets one torch thread (on 2 shared cores torch's default threads made PPO
  25x slower; parallelism comes from batching and processes), seeds ``random``, numpy and
  torch, and resolves the device.
- :class:`MetricsLog` keeps a metrics table (one dict per logged step, namespaced keys such as
  ``losses/pg`` and ``charts/reward``), writes it as CSV, shows a tqdm progress bar on a
  terminal, and mirrors scalars to TensorBoard when it is installed and a ``log_dir`` is given.
- :func:`save_checkpoint` / :func:`load_checkpoint`: a state dict (``.pt``, loaded with
  ``weights_only=True``) plus the config as JSON.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import random
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "MetricsLog",
    "check_config",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
    "seed_everything",
    "setup",
]

C = TypeVar("C")


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
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002 (legacy global generator, as CleanRL)
    torch.manual_seed(int(seed))


def setup(seed: int, device: str | torch.device | None, *, threads: int | None = 1) -> torch.device:
    """One torch thread (unless ``threads`` is None), seeded generators; returns the device."""
    if threads is not None:
        torch.set_num_threads(threads)
    seed_everything(seed)
    return resolve_device(device)


def check_config(config: Any, rules: Mapping[str, tuple[Any, str]]) -> None:
    """Validate a config dataclass: ``rules[name] = (predicate, requirement)``.

    Raises ``ValueError("config.name must be <requirement>; got <value>")`` for the first failure.
    """
    for name, (ok, requirement) in rules.items():
        value = getattr(config, name)
        if not ok(value):
            raise ValueError(f"{type(config).__name__}.{name} must be {requirement}; got {value!r}")


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
        """Record ``metrics`` (scalars or 0-d tensors) at ``step``."""
        row = {"step": float(step)}
        for k, v in metrics.items():
            row[k] = float(v.item() if isinstance(v, torch.Tensor) else v)
        self.rows.append(row)
        if self._writer is not None:
            for k, v in row.items():
                if k != "step":
                    self._writer.add_scalar(k, v, step)
        if self._bar is not None:
            shown = {k.split("/")[-1]: f"{v:.3g}" for k, v in list(row.items())[1:4]}
            self._bar.set_postfix(shown, refresh=False)

    def advance(self, n: int = 1) -> None:
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
        path = Path(path)
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        return path


def save_checkpoint(
    path: str | Path, state_dict: Mapping[str, torch.Tensor], config: Any
) -> tuple[Path, Path]:
    """Write ``path.pt`` (the state dict) and ``path.json`` (the config dataclass and its type)."""
    if not dataclasses.is_dataclass(config):
        raise ValueError(f"config must be a dataclass instance; got {type(config).__name__}")
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    pt, js = base.with_suffix(".pt"), base.with_suffix(".json")
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, pt)
    payload = {"type": type(config).__name__, "config": dataclasses.asdict(config)}
    js.write_text(json.dumps(payload, indent=2) + "\n")
    return pt, js


def load_checkpoint(path: str | Path, config_type: type[C]) -> tuple[dict[str, torch.Tensor], C]:
    """Read a checkpoint written by :func:`save_checkpoint` (``torch.load(weights_only=True)``)."""
    base = Path(path)
    payload = json.loads(base.with_suffix(".json").read_text())
    if payload.get("type") != config_type.__name__:
        raise ValueError(
            f"checkpoint {base} holds a {payload.get('type')!r} config, not {config_type.__name__!r}"
        )
    state = torch.load(base.with_suffix(".pt"), weights_only=True)
    return state, config_type(**payload["config"])
