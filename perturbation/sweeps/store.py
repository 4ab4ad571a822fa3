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

Several processes may run the same sweep into one directory at once (e.g. two jobs of a
cluster array sharing a file system):

- temporary files carry the writer's host and process id (``.<key>.json.tmp-<host>-<pid>-*``),
  and a reader removes a leftover temporary file only when its writer is gone (same host, that
  process no longer exists) or, for another host's file, when it is older than
  :data:`STALE_TMP_SECONDS`; an in-flight write of another process is never deleted;
- a process *claims* a run before executing it (:class:`RunClaims`): an exclusive, non-blocking
  ``flock`` on ``runs/.<key>.claim``. A run claimed by another process is skipped, then waited
  for (its record is taken when the other process writes it). The operating system drops the
  lock when its holder exits, however it exits (``kill -9`` included), so a claim can never go
  stale: the run of a dead claimant is executed by the next process that wants it. On
  platforms without ``fcntl`` (Windows) runs are not claimed, and one sweep per directory at a
  time is supported there.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import re
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perturbation.sweeps.grid import canonical_json, run_key
from theory.checks import ArgumentTypeError, check_bool, check_choice, check_path, check_real

__all__ = [
    "RECORD_FIELDS",
    "SCHEMA",
    "STALE_TMP_SECONDS",
    "STATUSES",
    "RunClaims",
    "code_version",
    "load_records",
    "make_record",
    "read_record",
    "utc_now",
    "write_json_atomic",
    "write_record",
]

SCHEMA = 1

#: Age after which a leftover temporary file written from another host is removed.
STALE_TMP_SECONDS = 24 * 3600.0

_HOST = re.sub(r"[^A-Za-z0-9]", "_", platform.node()) or "host"
_TMP = re.compile(r"\.tmp-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")

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


#: Values of a record's ``status``.
STATUSES: tuple[str, ...] = ("ok", "failed")


def _check_text(name: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        kind = "a string or None" if optional else "a string"
        raise ArgumentTypeError(f"{name} must be {kind}; got {value!r}")
    return value


def _check_key(name: str, key: object) -> str:
    """A run key usable as a file name: a non-empty string without path separators."""
    if not isinstance(key, str):
        raise ArgumentTypeError(f"{name} must be a string (a run key); got {key!r}")
    if key in ("", ".", "..") or "/" in key or os.sep in key or "\x00" in key:
        raise ValueError(f"{name} must be a run key usable as a file name; got {key!r}")
    return key


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
    """A complete run record (with its key and checksum).

    Raises
    ------
    TypeError, ValueError
        If ``config`` or ``seed`` cannot make a run key (:func:`run_key`), ``status`` is not
        ``"ok"`` or ``"failed"``, ``metrics`` is not a mapping of names to finite numbers,
        ``seconds`` is negative or not finite, or a text field is not a string (``error``
        and ``code`` may be None).
    """
    key = run_key(config, seed)
    check_choice("status", status, STATUSES)
    if not isinstance(metrics, Mapping):
        raise ArgumentTypeError(f"metrics must be a mapping name -> number; got {metrics!r}")
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError(f"metrics names must be non-empty strings; got {name!r}")
        clean[name] = check_real(f"metrics[{name!r}]", value)
    for name, value in (
        ("device", device),
        ("engine", engine),
        ("started", started),
        ("finished", finished),
    ):
        _check_text(name, value)
    _check_text("error", error, optional=True)
    _check_text("code", code, optional=True)
    seconds = check_real("seconds", seconds, lo=0.0)
    rec: dict[str, Any] = {
        "schema": SCHEMA,
        "key": key,
        "config": config,
        "seed": int(seed),
        "status": status,
        "metrics": clean,
        "error": error,
        "code_version": code if code is not None else code_version(),
        "device": device,
        "host": platform.node(),
        "engine": engine,
        "started": started,
        "finished": finished,
        "seconds": seconds,
    }
    rec["sha256"] = _checksum(rec)
    return rec


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temp file + fsync + :func:`os.replace`).

    The temporary file's name carries this host and process id, so that a concurrent reader
    can tell an in-flight write from the leftover of a killed one (:func:`load_records`).

    Raises
    ------
    TypeError, ValueError
        If ``path`` is not a path, or ``obj`` is not JSON-serialisable (a NaN or infinity, a
        set, an object); nothing is written then.
    """
    path = check_path("path", path)
    try:
        text = json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n"
    except TypeError as exc:
        raise ArgumentTypeError(f"obj is not JSON-serialisable ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"obj is not JSON-serialisable ({exc})") from None
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.tmp-{_HOST}-{os.getpid()}-", suffix=".tmp", dir=path.parent
    )
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
    """Persist one run record as ``runs_dir/<key>.json`` (atomically).

    Raises
    ------
    TypeError, ValueError
        If ``runs_dir`` is not a path, ``record`` is not a mapping, or its ``key`` is not a
        run key usable as a file name.
    """
    runs_dir = check_path("runs_dir", runs_dir)
    if not isinstance(record, Mapping):
        raise ArgumentTypeError(f"record must be a mapping (a run record); got {record!r}")
    if "key" not in record:
        raise ValueError("record has no 'key' (build records with make_record)")
    path = runs_dir / f"{_check_key('record key', record['key'])}.json"
    write_json_atomic(path, record)
    return path


def read_record(path: Path) -> dict[str, Any]:
    """Read and check one record file.

    Raises
    ------
    ValueError
        If the file does not parse, lacks fields, its key does not match its config and seed
        or the file name, or its checksum does not match (the message says which).
    TypeError
        If ``path`` is not a path.
    """
    path = check_path("path", path)
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
    if rec["status"] not in STATUSES:
        raise ValueError(f"{path.name}: unknown status {rec['status']!r}")
    return rec


def load_records(runs_dir: Path, *, quarantine: bool = True) -> dict[str, dict[str, Any]]:
    """All valid records of ``runs_dir``, keyed by run key.

    Corrupt files are reported with a :class:`RuntimeWarning` and (with ``quarantine``) renamed
    to ``<name>.corrupt`` so that their runs execute again; leftover temporary files of an
    interrupted write are removed (never those of a write still in flight in another process).
    """
    runs_dir = check_path("runs_dir", runs_dir)
    check_bool("quarantine", quarantine)
    out: dict[str, dict[str, Any]] = {}
    if not runs_dir.is_dir():
        return out
    for tmp in runs_dir.glob(".*.tmp"):
        if _is_leftover(tmp):
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, another user's
        return True
    return True


def _is_leftover(tmp: Path) -> bool:
    """Whether a temporary file is the leftover of a write that can no longer finish."""
    m = _TMP.search(tmp.name)
    if m is None:  # not written by this version's write_json_atomic
        return True
    if m["host"] == _HOST:
        pid = int(m["pid"])
        return pid != os.getpid() and not _pid_alive(pid)
    try:
        return time.time() - tmp.stat().st_mtime > STALE_TMP_SECONDS
    except OSError:
        return False


try:  # POSIX advisory locks; absent on Windows
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class RunClaims:
    """Exclusive claims on the runs of one sweep directory, so that each run executes once.

    A claim is an exclusive ``flock`` on ``runs_dir/.<key>.claim`` held from before the run
    executes until its record is written (:meth:`release`). The kernel releases the lock when
    the holding process exits, however it exits, so claims never go stale (no time-outs, no
    process-id checks); a claim file left behind by a killed process is an unlocked, empty
    file that the next claimant takes over. The usual unlink race (a claim file removed while
    another process waits on it) is closed by checking, after locking, that the locked file is
    still the one at the path.

    Without ``fcntl`` (Windows) every claim succeeds: concurrent sweeps into one directory are
    not supported there.
    """

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = check_path("runs_dir", runs_dir)
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()  # joblib consumes task generators from several threads

    def _path(self, key: str) -> Path:
        return self.runs_dir / f".{key}.claim"

    def acquire(self, key: str, *, block: bool = False) -> bool:
        """Claim run ``key``; ``False`` if another live process holds it (and not ``block``)."""
        _check_key("key", key)
        check_bool("block", block)
        if fcntl is None:  # pragma: no cover - Windows
            return True
        with self._lock:
            if key in self._held:
                return True
        path = self._path(key)
        while True:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:  # released (and removed) while we waited: try again
                same = False
            if same:
                with self._lock:
                    self._held[key] = fd
                return True
            os.close(fd)

    def release(self, key: str) -> None:
        """Give up the claim on ``key`` (its record is on disk, or the run was not executed)."""
        with self._lock:
            fd = self._held.pop(key, None)
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self._path(key))  # while still locked: see the class docstring
        os.close(fd)

    def release_all(self) -> None:
        """Give up every claim this object holds."""
        with self._lock:
            keys = list(self._held)
        for key in keys:
            self.release(key)

    @property
    def held(self) -> frozenset[str]:
        """The keys claimed and not yet released."""
        with self._lock:
            return frozenset(self._held)
