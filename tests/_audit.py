"""The bad-input audit's vocabulary: a case is one call that must be refused by name.

Each area's ``test_bad_input.py`` lists ``CASES`` built with :func:`bad` and an ``EXEMPT``
mapping (public name -> why it takes no input worth auditing); ``tests/test_audit_coverage.py``
checks that every name in every package's ``__all__`` is the target of a case or exempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

#: The kinds of bad input the audit feeds.
KINDS = ("nan", "inf", "shape", "empty", "range", "type", "seed", "option", "value")


@dataclass(frozen=True)
class Case:
    """``target(*args, **kwargs)`` must raise ValueError/TypeError naming ``param``."""

    target: Callable[..., Any]
    param: str
    kind: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: A callable building the call's arguments lazily (for expensive fixtures).
    build: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]] | None = None
    #: Call ``method`` of the object ``target(*args, **kwargs)`` with ``method_args`` instead.
    method: str | None = None
    method_args: tuple[Any, ...] = ()

    @property
    def id(self) -> str:
        name = getattr(self.target, "__qualname__", repr(self.target))
        meth = f".{self.method}" if self.method else ""
        return f"{name}{meth}-{self.param}-{self.kind}"

    def check(self) -> None:
        args, kwargs = self.build() if self.build is not None else (self.args, self.kwargs)
        with pytest.raises((ValueError, TypeError)) as info:
            result = self.target(*args, **kwargs)
            if self.method is not None:
                getattr(result, self.method)(*self.method_args)
        message = str(info.value)
        assert self.param in message, (
            f"{self.id}: the error does not name {self.param!r}: "
            f"{type(info.value).__name__}: {message}"
        )


def bad(target: Callable[..., Any], param: str, kind: str, *args: Any, **kwargs: Any) -> Case:
    """The case ``target(*args, **kwargs)``, refused with a message naming ``param``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    return Case(target, param, kind, args, kwargs)


def bad_method(
    target: Callable[..., Any],
    method: str,
    param: str,
    kind: str,
    ctor: tuple[tuple[Any, ...], dict[str, Any]],
    *method_args: Any,
) -> Case:
    """The case ``target(*ctor_args, **ctor_kwargs).method(*method_args)``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    return Case(target, param, kind, ctor[0], ctor[1], method=method, method_args=method_args)


def lazy(
    target: Callable[..., Any],
    param: str,
    kind: str,
    build: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
) -> Case:
    """A case whose arguments ``build()`` makes when the test runs (an expensive fixture)."""
    return Case(target, param, kind, build=build)


def audit_ids(cases: Sequence[Case]) -> list[str]:
    """Unique, readable test ids."""
    seen: dict[str, int] = {}
    out = []
    for c in cases:
        k = seen.get(c.id, 0)
        seen[c.id] = k + 1
        out.append(c.id if k == 0 else f"{c.id}-{k}")
    return out


def gather(test_file: str, package: str) -> tuple[list[Case], dict[str, str]]:
    """The ``CASES`` and ``EXEMPT`` of every ``_cases_*`` module beside ``test_file``.

    A package's ``test_bad_input.py`` adds them to its own table, so that each part of a
    package keeps its bad-input cases beside its tests (``_cases_<part>.py``).
    """
    import importlib
    import pkgutil
    from pathlib import Path

    cases: list[Case] = []
    exempt: dict[str, str] = {}
    found = sorted(pkgutil.iter_modules([str(Path(test_file).parent)]), key=lambda m: m.name)
    for info in found:
        if info.name.startswith("_cases_"):
            mod = importlib.import_module(f"{package}.{info.name}")
            cases += mod.CASES
            exempt.update(getattr(mod, "EXEMPT", {}))
    return cases, exempt
