"""Every result of iterative or solver-backed work speaks one vocabulary.

The fields of ``scipy.optimize.OptimizeResult``: ``success`` (bool), ``status`` (an ``int``
code, 0 when the computation ended as intended; a batch of counterfactuals holds one status
string per row instead), ``message`` (str) and ``nit`` (int, iterations; 0 where nothing
iterates); ``certified`` stays where it means a proof. A computation that cannot deliver what
it promises raises the one error type :class:`theory.checks.ConvergenceError`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import theory
from causal.generators import random_binary_scm
from causal.risk import worst_case_risk
from stability.counterfactual import trex
from stability.counterfactual.baselines import roar_worst_logit_lp
from stability.decision_boundary.attacks import deepfool
from stability.decision_boundary.models import LinearPolicy
from stability.decision_boundary.principal import FrequentDirections, principal_direction
from stability.lipschitz import LipschitzResult, lipschitz_bound
from stability.lipschitz.certificate import LipSDPError
from stability.lipschitz.eclipse import eclipse_layer
from theory.checks import ConvergenceError
from theory.mdp import TabularMDP


def _one_state(gamma: float) -> TabularMDP:
    return TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.5]]), gamma)


def _lipschitz_results():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((6, 3)), rng.standard_normal((1, 6))]
    return {
        "naive": lipschitz_bound(ws, "naive"),
        "lipsdp-neuron": lipschitz_bound(ws, "lipsdp-neuron"),
        "lipsdp-neuron-fo": lipschitz_bound(ws, "lipsdp-neuron-fo"),
        "eclipse": lipschitz_bound(ws, "eclipse"),
        "auto": lipschitz_bound(ws, "auto"),
        "local": lipschitz_bound(ws, "local", box=(-np.ones(3), np.ones(3))),
    }


def _results() -> dict[str, object]:
    rng = np.random.default_rng(1)
    V = rng.standard_normal((40, 12))
    sketch = FrequentDirections(12, ell=4)
    sketch.update(V)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    S = torch.as_tensor(rng.standard_normal((5, 4)))
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, dtype=torch.float64), torch.nn.Sigmoid())
    X = rng.uniform(0.0, 1.0, (3, 2))
    scm = random_binary_scm(np.random.default_rng(2))
    return {
        "ValueIterationResult": theory.value_iteration(_one_state(0.9)),
        "ValueIterationResult (max_iter)": theory.value_iteration(_one_state(0.9), max_iter=3),
        **{f"LipschitzResult ({k})": r for k, r in _lipschitz_results().items()},
        "EclipseLayer": eclipse_layer(rng.standard_normal((4, 3)), rng.standard_normal((2, 4))),
        "PrincipalDirection (power)": principal_direction(V, method="power"),
        "PrincipalDirection (power, max_iter)": principal_direction(V, method="power", max_iter=1),
        "PrincipalDirection (svd)": principal_direction(V, method="svd"),
        "PrincipalDirection (frequent directions)": sketch.result(),
        "AttackResult": deepfool(LinearPolicy(W, b), S),
        "WorstCaseRisk": worst_case_risk(scm, scm.stable),
        "CounterfactualResult": trex(model, X, k=20, max_iter=2, seed=0),
    }


NAMES = (
    "ValueIterationResult",
    "ValueIterationResult (max_iter)",
    *(
        f"LipschitzResult ({k})"
        for k in ("naive", "lipsdp-neuron", "lipsdp-neuron-fo", "eclipse", "auto", "local")
    ),
    "EclipseLayer",
    "PrincipalDirection (power)",
    "PrincipalDirection (power, max_iter)",
    "PrincipalDirection (svd)",
    "PrincipalDirection (frequent directions)",
    "AttackResult",
    "WorstCaseRisk",
    "CounterfactualResult",
)


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    out = _results()
    assert set(out) == set(NAMES)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_result_vocabulary(results, name):
    r = results[name]
    assert isinstance(r.success, bool), name
    assert isinstance(r.message, str) and r.message, name
    assert isinstance(r.nit, int) and not isinstance(r.nit, bool) and r.nit >= 0, name
    if name == "CounterfactualResult":  # a batch: one status string per row
        assert isinstance(r.status, tuple) and all(isinstance(s, str) for s in r.status)
        return
    assert isinstance(r.status, int) and not isinstance(r.status, bool), name
    assert r.status >= 0, name
    if r.status == 0:
        assert r.success, name


def test_status_codes_say_what_happened(results):
    assert results["ValueIterationResult"].status == 0
    stopped = results["ValueIterationResult (max_iter)"]
    assert stopped.status == 1 and not stopped.success and stopped.nit == 3
    power = results["PrincipalDirection (power, max_iter)"]
    assert power.status == 1 and not power.success and "max_iter" in power.message
    for name, r in results.items():
        if name.startswith("LipschitzResult"):
            assert r.success == (r.certified and r.status in (0, 1, 3)), name
    assert results["LipschitzResult (lipsdp-neuron)"].nit > 0  # the solver's iterations


def test_lipschitz_result_keeps_its_positional_constructor():
    """The fourth positional field is the text (``message``); ``status`` is the code."""
    r = LipschitzResult(1.0, "naive", True, "closed-form", 0.0)
    assert (r.message, r.status, r.nit, r.success) == ("closed-form", 0, 0, True)
    limited = LipschitzResult(1.0, "x", True, "iteration limit", 0.0, "x", {"iterations": 7}, 1)
    assert (limited.status, limited.nit, limited.success) == (1, 7, True)
    assert LipschitzResult(1.0, "x", False, "LMI only", 0.0).status == 2
    with pytest.raises(TypeError, match="message="):
        LipschitzResult(1.0, "x", True, "ok", 0.0, status="optimal")
    with pytest.raises(ValueError, match="status"):
        LipschitzResult(1.0, "x", True, "ok", 0.0, status=7)


def test_one_non_convergence_error_type():
    assert issubclass(ConvergenceError, RuntimeError) and issubclass(ConvergenceError, ValueError)
    assert theory.ConvergenceError is ConvergenceError
    assert issubclass(LipSDPError, ConvergenceError)
    with pytest.raises(ConvergenceError, match="max_iter"):
        theory.optimal_q(_one_state(0.9), max_iter=3)


def test_a_failed_linear_program_is_a_convergence_error(monkeypatch):
    import stability.counterfactual.baselines as mod

    class _Failed:
        status, message, fun = 2, "infeasible", 0.0

    monkeypatch.setattr(mod, "linprog", lambda *a, **k: _Failed())
    with pytest.raises(ConvergenceError, match="linprog failed"):
        roar_worst_logit_lp(np.ones(2), 0.0, np.ones(2), 0.1)
