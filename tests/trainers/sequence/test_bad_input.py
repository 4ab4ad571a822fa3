"""Bad-input audit of :mod:`trainers.sequence`: every public name refuses bad input by name.

The cases are kept beside the tests of each part (policies, sampling and exact distributions;
tasks and rewards; trainers) and gathered here for ``tests/test_audit_coverage.py``.
"""

from __future__ import annotations

import pytest

from tests._audit import Case, audit_ids
from tests.trainers.sequence import _cases_core, _cases_tasks, _cases_trainers

EXEMPT: dict[str, str] = {
    **_cases_core.EXEMPT,
    **_cases_tasks.EXEMPT,
    **_cases_trainers.EXEMPT,
}
CASES: list[Case] = [*_cases_core.CASES, *_cases_tasks.CASES, *_cases_trainers.CASES]


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case) -> None:
    case.check()
