"""Every public function and class of every package is fed bad input by an audit table.

Each package's ``test_bad_input.py`` lists ``CASES`` (calls that must be refused with an
error naming the parameter) and ``EXEMPT`` (public names that take no input worth auditing,
with the reason). This test fails when a public callable is in neither: a new public function
must come with its bad-input cases.

The second test walks every module of every package (``theory.generators``,
``trainers.losses``, ...) the same way: a public callable of any module is the target of a case
in some audit table, or exempt. ``EXEMPT`` keys are names of the package (``"Claim"``) or
dotted paths below it (``"generators.random_mdp"``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

#: package -> the module holding its audit table.
AUDITS = {
    "theory": "tests.theory.test_bad_input",
    "perturbation.registry": "tests.perturbation.test_bad_input",
    "perturbation.verify": "tests.perturbation.test_bad_input",
    "perturbation.references": "tests.perturbation.test_bad_input",
    "perturbation.bench": "tests.perturbation.test_bad_input",
    "perturbation.cli": "tests.perturbation.test_bad_input",
    "perturbation.plots": "tests.perturbation.test_bad_input",
    "perturbation.report": "tests.perturbation.test_bad_input",
    "theory.checks": "tests.theory.test_checks",
    "stability.lipschitz": "tests.stability.lipschitz.test_bad_input",
    "causal": "tests.causal.test_bad_input",
    "perturbation.sweeps": "tests.perturbation.sweeps.test_bad_input",
    "perturbation.leaderboard": "tests.perturbation.leaderboard.test_bad_input",
    "perturbation.retrain": "tests.perturbation.test_bad_input",
    "perturbation.robust_mdp": "tests.perturbation.test_bad_input",
    "perturbation.safe_offline": "tests.perturbation.test_bad_input",
    "perturbation.debate_reward": "tests.perturbation.test_bad_input",
    "perturbation.graph_recommendation": "tests.perturbation.test_bad_input",
    "perturbation.reinflow": "tests.perturbation.test_bad_input",
    "perturbation.find": "tests.perturbation.test_bad_input",
    "perturbation.continuous": "tests.perturbation.test_bad_input",
    "trainers": "tests.trainers.test_bad_input",
    "trainers.sequence": "tests.trainers.sequence.test_bad_input",
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


#: The project's top-level packages, walked module by module.
TOP = ("theory", "stability", "causal", "trainers", "perturbation")


def _resolve(package: str, key: str):
    obj = importlib.import_module(package)
    for part in key.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _audited_and_exempt() -> tuple[set[int], set[int], list[str]]:
    """ids of every case target and every exempt object; EXEMPT keys that resolve to nothing."""
    targets, exempt, dangling = set(), set(), []
    for module in set(AUDITS.values()):
        packages = [p for p, m in AUDITS.items() if m == module]
        audit = importlib.import_module(module)
        targets |= {id(_unwrap(c.target)) for c in audit.CASES}
        for key in getattr(audit, "EXEMPT", {}):
            found = [obj for p in packages if (obj := _resolve(p, key)) is not None]
            if not found:
                dangling.append(f"{module}: {key}")
            exempt |= {id(_unwrap(obj)) for obj in found}
    return targets, exempt, dangling


def _modules(top: str) -> list[str]:
    pkg = importlib.import_module(top)
    names = [n for _, n, _ in pkgutil.walk_packages(pkg.__path__, f"{top}.")]
    return [top, *(n for n in names if not n.endswith("__main__"))]


def test_exempt_names_exist():
    assert not _audited_and_exempt()[2]


@pytest.mark.parametrize("top", TOP)
def test_every_public_callable_of_every_module_is_audited(top: str):
    targets, exempt, _ = _audited_and_exempt()
    missing = []
    for name in _modules(top):
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", []):
            obj = getattr(mod, attr)
            home = getattr(obj, "__module__", "") or ""
            if not callable(obj) or home.split(".")[0] not in TOP:  # foreign re-exports
                continue
            if id(_unwrap(obj)) not in targets | exempt:
                missing.append(f"{name}.{attr}")
    assert not missing, f"public callables without a bad-input case: {sorted(set(missing))}"
