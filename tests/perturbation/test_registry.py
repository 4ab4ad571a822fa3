"""The claim registry, evidence and run context."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perturbation.registry import Claim, ClaimResult, Evidence, RunContext, claims, register


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
    # an exact id selects exactly that claim; a glob still selects the family
    assert [c.id for c in claims("policy-cliff/prop-4.7")] == ["policy-cliff/prop-4.7"]
    assert len(claims("policy-cliff/prop-4.7*")) > 1
    assert [c.id for c in claims("policy-cliff/prop-2.4,policy-cliff/uhc")] == [
        "policy-cliff/prop-2.4",
        "policy-cliff/uhc",
    ]
    assert claims("no-such-claim") == []


def test_bound_kinds_are_explicit_and_plain_numbers_are_tolerances():
    from perturbation.registry import Reference, Theorem, Tolerance, as_bound

    assert isinstance(as_bound(0.5), Tolerance) and as_bound(0.5)(1, x=2) == 0.5
    assert isinstance(as_bound(abs), Theorem) and as_bound(abs)(-3) == 3
    ref = Reference(2.0, source="Table 1")
    assert ref() == 2.0 and "Table 1" in ref.describe()
    assert Reference(lambda n: n + 1, source="a second solver")(1) == 2
    assert ref.map(lambda v: 10 * v)() == 20.0
    with pytest.raises(TypeError, match="bound"):
        as_bound("0.5")
    with pytest.raises(ValueError, match="source"):
        Reference(1.0, source="")
    with pytest.raises(ValueError, match="NaN"):
        Tolerance(float("nan"))


def test_worst_keeps_the_worst_instance_and_its_info():
    from perturbation.registry import Worst

    w = Worst("<=")
    for m, b, k in [(1.0, 2.0, "a"), (3.0, 4.0, "b"), (0.1, 4.0, "c")]:
        w.add(m, b, instance=k)
    ev = w.evidence("n", rtol=0.0)
    assert (ev.measured, ev.bound, ev.passed) == (3.0, 4.0, True)
    assert ev.details["worst"] == {"instance": "b"} and ev.details["instances"] == 3
    lo = Worst(">=", by="margin")
    lo.add(5.0, 1.0)
    lo.add(1.5, 1.0)
    assert lo.evidence("n").measured == 1.5
    nan = Worst("<=")
    nan.add(1.0, 2.0)
    nan.add(float("nan"), 2.0)
    assert not nan.evidence("n").passed  # a NaN instance is the worst and never passes
    with pytest.raises(ValueError, match="no instance"):
        Worst().evidence("n")
    with pytest.raises(ValueError, match="score"):
        Worst(by="score").add(1.0, 1.0)


def test_run_seeds_global_generators_and_one_thread_per_claim():
    import torch

    torch.set_num_threads(2)

    def draw(ctx, bound):
        return Evidence.upper(
            float(np.random.rand() + torch.rand(()).item()),  # noqa: NPY002
            10.0,
            "n",
            details={"threads": torch.get_num_threads()},
        )

    c = Claim("test/draw", "s", "r", 10.0, draw)
    a, b = c.run(RunContext(seed=3)), c.run(RunContext(seed=3))
    assert a.evidence.measured == b.evidence.measured
    assert a.evidence.details["threads"] == 1
    assert c.run(RunContext(seed=4)).evidence.measured != a.evidence.measured


def test_empirical_evidence_is_a_third_outcome():
    ev = Evidence.lower(0.5, 1.0, "paper's observation", empirical=True)
    assert ev.outcome == "EMPIRICAL" and not ev.passed
    assert Evidence.lower(1.5, 1.0, "x").outcome == "PASS"


def test_every_reference_cites_a_paper_not_an_internal_document():
    import re

    for c in claims():
        assert not re.search(r"\bspec\b|specs/|§\s*\d+\s*claim|\bissue \d", c.reference, re.I), (
            c.id,
            c.reference,
        )


def test_worst_ranks_a_violation_of_a_zero_or_negative_bound_first():
    from perturbation.registry import Worst

    w = Worst("<=")
    w.add(0.5, 1.0)
    w.add(1e-12, 0.0)  # violates the zero bound: must be the worst instance
    w.add(0.9, 1.0)
    assert w.bound == 0.0 and not w.evidence("n").passed
    neg = Worst("<=")
    neg.add(-3.0, -2.0)
    neg.add(-1.0, -2.0)  # -1 > -2 violates
    assert neg.measured == -1.0 and not neg.evidence("n").passed
    lo = Worst(">=")
    lo.add(2.0, 1.0)
    lo.add(-1e-12, 0.0)
    assert lo.measured == -1e-12 and not lo.evidence("n").passed


def test_frozen_sweeps_cannot_be_mutated_by_a_claim():
    import numpy as np

    from perturbation.registry import frozen

    src = {"rows": [np.arange(3.0), {"x": 1}], "eps": np.ones(2)}
    f = frozen(src)
    with pytest.raises(TypeError):
        f["eps"] = 0  # a mapping proxy
    with pytest.raises(ValueError):
        f["eps"][0] = 5.0  # a read-only array
    with pytest.raises(TypeError):
        f["rows"][0] = None  # a tuple
    src["eps"][0] = 7.0  # a copy: the original stays the caller's
    assert f["eps"][0] == 1.0


def test_frozen_details_are_written_as_json():
    import json

    import numpy as np

    from perturbation.registry import Evidence, frozen

    ev = Evidence.upper(1.0, 2.0, "n", details={"table": frozen({"a": np.array([1.0, np.inf])})})
    row = ClaimResult(Claim("a/b", "s", "r", 2.0, lambda ctx, b: ev), ev, 0.0).to_row()
    assert json.loads(json.dumps(row, allow_nan=False))["details"]["table"] == {"a": [1.0, None]}
    assert row["nonfinite"] == {"details.table.a[1]": "inf"}


def test_cached_or_live_reads_the_file_at_the_default_scales_and_trains_above(tmp_path):
    from perturbation.registry import RunContext

    path = tmp_path / "runs.json"
    path.write_text('{"settings": {"seeds": 2}}')
    calls = []

    def live():
        calls.append(1)
        return {"settings": {"seeds": 9}}

    for scale in ("tiny", "small"):
        data, source = RunContext(scale=scale).cached_or_live(path, live)
        assert data["settings"]["seeds"] == 2 and source == "cached (runs.json)"
    assert not calls
    data, source = RunContext(scale="medium").cached_or_live(path, live)
    assert data["settings"]["seeds"] == 9 and source == "trained live" and calls == [1]
