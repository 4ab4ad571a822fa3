"""Every public function and class of every package is fed bad input by an audit table.

Each package's ``test_bad_input.py`` lists ``CASES`` (calls that must be refused with an
error naming the parameter) and ``EXEMPT`` (public names that take no input worth auditing,
with the reason). This test fails when a public callable is in neither: a new public function
must come with its bad-input cases.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

#: package -> the module holding its audit table.
AUDITS = {
    "theory": "tests.theory.test_bad_input",
    "perturbation.registry": "tests.perturbation.test_bad_input",
    "perturbation.verify": "tests.perturbation.test_bad_input",
    "perturbation.references": "tests.perturbation.test_bad_input",
    "theory.checks": "tests.theory.test_checks",
    "stability.lipschitz": "tests.stability.lipschitz.test_bad_input",
    "causal": "tests.causal.test_bad_input",
    "perturbation.sweeps": "tests.perturbation.sweeps.test_bad_input",
    "trainers": "tests.trainers.test_bad_input",
    "stability.decision_boundary": "tests.stability.decision_boundary.test_bad_input",
    "stability.counterfactual": "tests.stability.counterfactual.test_bad_input",
}


def _unwrap(obj):
    return inspect.unwrap(getattr(obj, "__func__", obj))


@pytest.mark.parametrize("package", sorted(AUDITS))
def test_every_public_callable_is_audited(package: str):
    mod = importlib.import_module(package)
    audit = importlib.import_module(AUDITS[package])
    targets = {id(_unwrap(c.target)) for c in audit.CASES}
    exempt = getattr(audit, "EXEMPT", {})
    missing = []
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if not callable(obj) or name in exempt:
            continue
        if id(_unwrap(obj)) not in targets:
            missing.append(name)
    assert not missing, f"{package}: public callables without a bad-input case: {missing}"
