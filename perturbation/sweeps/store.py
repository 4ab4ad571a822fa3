"""Persistence of sweep runs: one JSON file per run, written atomically, checked on reading.

Layout of a sweep directory::

    out_dir/
      sweep.json            # the grid and the run function's name (the manifest)
      runs/<key>.json       # one record per finished run (ok or failed)

A record is written to a temporary file in the same directory, flushed and fsynced, then moved
into place with :func:`os.replace` (atomic on POSIX and Windows), so a reader sees either no
file or a complete one. Each record carries a sha256 checksum of its own content; a file that
does not parse, lacks a field, has the wrong key for its config and seed, or fails its checksum
is reported as corrupt, moved aside to ``<key>.json.corrupt`` and its run is executed again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perturbation.sweeps.grid import canonical_json, run_key

__all__ = [
    "RECORD_FIELDS",
    "SCHEMA",
    "code_version",
    "load_records",
    "make_record",
    "read_record",
    "utc_now",
    "write_json_atomic",
    "write_record",
]

SCHEMA = 1

#: Fields every run record has.
RECORD_FIELDS: tuple[str, ...] = (
    "schema",
    "key",
    "config",
    "seed",
    "status",
    "metrics",
    "error",
    "code_version",
    "device",
    "host",
    "engine",
    "started",
    "finished",
    "seconds",
    "sha256",
)


def utc_now() -> str:
    """The current UTC time as ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """The code version: ``git describe --always --dirty --tags`` of the toolkit's checkout.

    Falls back to ``policy-stability==<installed version>`` when the package is not a git
    checkout (or git is missing), and to ``"unknown"`` when neither is available.
    """
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["git", "describe", "--always", "--dirty", "--tags"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
            if out.stdout.strip():
                return f"git:{out.stdout.strip()}"
    try:
        from importlib.metadata import version

        return f"policy-stability=={version('policy-stability')}"
    except Exception:  # PackageNotFoundError, or a broken installation
        return "unknown"


def _checksum(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def make_record(
    *,
    config: dict[str, Any],
    seed: int,
    status: str,
    metrics: dict[str, float],
    error: str | None,
    device: str,
    engine: str,
    started: str,
    finished: str,
    seconds: float,
    code: str | None = None,
) -> dict[str, Any]:
    """A complete run record (with its key and checksum)."""
    rec: dict[str, Any] = {
        "schema": SCHEMA,
        "key": run_key(config, seed),
        "config": config,
        "seed": int(seed),
        "status": status,
        "metrics": metrics,
        "error": error,
        "code_version": code if code is not None else code_version(),
        "device": device,
        "host": platform.node(),
        "engine": engine,
        "started": started,
        "finished": finished,
        "seconds": float(seconds),
    }
    rec["sha256"] = _checksum(rec)
    return rec


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temp file + fsync + :func:`os.replace`)."""
    path = Path(path)
    text = json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_record(runs_dir: Path, record: dict[str, Any]) -> Path:
    """Persist one run record as ``runs_dir/<key>.json`` (atomically)."""
    path = Path(runs_dir) / f"{record['key']}.json"
    write_json_atomic(path, record)
    return path


def read_record(path: Path) -> dict[str, Any]:
    """Read and check one record file.

    Raises
    ------
    ValueError
        If the file does not parse, lacks fields, its key does not match its config and seed
        or the file name, or its checksum does not match (the message says which).
    """
    path = Path(path)
    try:
        rec = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name}: unreadable ({exc})") from None
    if not isinstance(rec, dict):
        raise ValueError(f"{path.name}: not a JSON object")
    missing = [f for f in RECORD_FIELDS if f not in rec]
    if missing:
        raise ValueError(f"{path.name}: missing fields {missing}")
    if rec["sha256"] != _checksum(rec):
        raise ValueError(f"{path.name}: checksum mismatch (content altered or partly written)")
    try:
        key = run_key(rec["config"], rec["seed"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path.name}: bad config or seed ({exc})") from None
    if rec["key"] != key or path.stem != key:
        raise ValueError(f"{path.name}: key {rec['key']!r} does not match its config and seed")
    if rec["status"] not in ("ok", "failed"):
        raise ValueError(f"{path.name}: unknown status {rec['status']!r}")
    return rec


def load_records(runs_dir: Path, *, quarantine: bool = True) -> dict[str, dict[str, Any]]:
    """All valid records of ``runs_dir``, keyed by run key.

    Corrupt files are reported with a :class:`RuntimeWarning` and (with ``quarantine``) renamed
    to ``<name>.corrupt`` so that their runs execute again; leftover temporary files of an
    interrupted write are removed.
    """
    runs_dir = Path(runs_dir)
    out: dict[str, dict[str, Any]] = {}
    if not runs_dir.is_dir():
        return out
    for tmp in runs_dir.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()
    for path in sorted(runs_dir.glob("*.json")):
        try:
            rec = read_record(path)
        except ValueError as exc:
            warnings.warn(
                f"sweep: corrupt run record {exc}; the run will be executed again",
                RuntimeWarning,
                stacklevel=3,
            )
            if quarantine:
                with contextlib.suppress(OSError):
                    os.replace(path, path.with_name(path.name + ".corrupt"))
            continue
        out[rec["key"]] = rec
    return out
