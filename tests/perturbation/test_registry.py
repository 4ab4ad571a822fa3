"""The claim registry, evidence and run context."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perturbation.registry import Claim, Evidence, RunContext, claims, register


def test_evidence_upper_lower_equal():
    assert Evidence.upper(1.0, 1.0, "n").passed
    assert not Evidence.upper(1.01, 1.0, "n", rtol=1e-3).passed
    assert Evidence.lower(2.0, 1.0, "n").passed
    assert not Evidence.lower(0.5, 1.0, "n").passed
    assert Evidence.equal(0.5, 0.5 + 1e-12, "n", atol=1e-9).passed
    assert not Evidence.equal(0.5, 0.6, "n", atol=1e-9).passed


def test_evidence_nan_never_passes():
    assert not Evidence.upper(math.nan, 1.0, "n").passed
    assert not Evidence.lower(math.nan, 0.0, "n").passed
    assert not Evidence.equal(math.nan, 0.0, "n", atol=1.0).passed


def test_evidence_requirements_are_anded_and_recorded():
    ev = Evidence.upper(0.1, 1.0, "n", require={"side condition": False})
    assert not ev.passed
    assert ev.details["requirements"] == {"side condition": False}


def test_run_context_rng_is_deterministic_and_keyed():
    a = RunContext(seed=3).rng("x").normal(size=4)
    b = RunContext(seed=3).rng("x").normal(size=4)
    c = RunContext(seed=3).rng("y").normal(size=4)
    d = RunContext(seed=4).rng("x").normal(size=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a, d)


def test_run_context_scales_counts():
    assert RunContext(scale="small").n(100) == 100
    assert RunContext(scale="medium").n(100) == 400
    assert RunContext(scale="tiny").n(2) == 1


def test_run_context_rejects_unknown_scale():
    with pytest.raises(ValueError, match="scale"):
        RunContext(scale="huge")


def test_crashing_experiment_becomes_a_failed_result():
    def boom(ctx, bound):
        raise RuntimeError("solver exploded")

    result = Claim("test/boom", "s", "r", lambda: 0.0, boom).run(RunContext())
    assert not result.passed
    assert "solver exploded" in result.error
    assert result.to_row()["passed"] is False


def test_register_rejects_duplicates_and_bad_ids():
    existing = claims()[0]
    with pytest.raises(ValueError, match="already registered"):
        register(existing)
    with pytest.raises(ValueError, match="area/name"):
        register(Claim("no-slash", "s", "r", lambda: 0.0, lambda ctx, b: None))


def test_claims_filter_by_glob_and_substring():
    assert all(c.id.startswith("policy-cliff/") for c in claims("policy-cliff/*"))
    ids = [c.id for c in claims("prop-4.7")]
    assert "policy-cliff/prop-4.7" in ids and "policy-cliff/prop-4.7-tight" in ids
    assert [c.id for c in claims("policy-cliff/prop-2.4,policy-cliff/uhc")] == [
        "policy-cliff/prop-2.4",
        "policy-cliff/uhc",
    ]
    assert claims("no-such-claim") == []
