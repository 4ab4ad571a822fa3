"""Bad-input audit of :mod:`trainers.sequence`: every public name refuses bad input by name.

The cases are kept beside the tests of each part (``_cases_core``: policies, sampling and exact
distributions; ``_cases_tasks``; ``_cases_trainers``; one module per family of objectives) and
gathered here, every ``_cases_*`` module of this folder, for ``tests/test_audit_coverage.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

from tests._audit import Case, audit_ids

_MODULES = [
    importlib.import_module(f"tests.trainers.sequence.{m.name}")
    for m in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name)
    if m.name.startswith("_cases_")
]
EXEMPT: dict[str, str] = {k: v for m in _MODULES for k, v in m.EXEMPT.items()}
CASES: list[Case] = [c for m in _MODULES for c in m.CASES]


def test_every_case_module_is_gathered() -> None:
    names = {m.__name__.rsplit(".", 1)[-1] for m in _MODULES}
    assert {"_cases_core", "_cases_tasks", "_cases_trainers"} <= names


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case) -> None:
    case.check()
