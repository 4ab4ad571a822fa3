"""Bad input to the claim registry, the references and ``verify`` is refused by name."""

from __future__ import annotations

import math

import pytest

from perturbation.references import ref
from perturbation.registry import (
    Claim,
    Reference,
    RunContext,
    Tolerance,
    Worst,
    as_bound,
    claim,
    claims,
    register,
)
from perturbation.verify import check_out_dir, run_claims, verify
from tests._audit import Case, audit_ids, bad


def _experiment(ctx, bound):  # pragma: no cover - never run
    raise AssertionError


CASES = [
    bad(RunContext, "scale", "option", scale="huge"),
    bad(RunContext, "seed", "seed", seed=1.5),
    bad(RunContext, "seed", "seed", seed=-1),
    bad(RunContext, "device", "type", device=None),
    bad(verify, "seed", "seed", "/tmp/unused-report", seed=True),
    bad(Reference, "source", "value", 1.0, source=""),
    bad(Tolerance, "value", "type", "1e-3"),
    bad(Tolerance, "value", "nan", math.nan),
    bad(as_bound, "bound", "type", "0.5"),
    bad(Claim, "bound", "type", "a/b", "s", "r", "x", _experiment),
    bad(register, "claim id", "value", Claim("no-slash", "s", "r", 1.0, _experiment)),
    bad(Worst, "relation", "option", "<"),
    bad(Worst, "by", "option", "<=", by="best"),
    bad(ref, "key", "option", "no-such-paper"),
    bad(verify, "only", "value", "/tmp/unused-report", only="no-such-claim-anywhere"),
    bad(check_out_dir, "out_dir", "value", "/proc/no/such/dir"),
]
EXEMPT = {
    "Claim": "audited through its bound (above)",
    "ClaimResult": "a result type, built by Claim.run",
    "Evidence": "built by its upper/lower/equal constructors, tested in test_registry",
    "Bound": "the base class of the three kinds",
    "Theorem": "wraps any callable: nothing to refuse beyond as_bound's type check",
    "claim": "a decorator over Claim (audited above)",
    "claims": "any pattern is valid; one matching nothing is refused by verify and the CLI",
    "VerifyResult": "a result type",
    "run_claims": "takes already-built claims and context",
    "frozen": "any object is valid: it is copied read-only, never refused",
}
assert claims and run_claims and claim  # imported for EXEMPT's names


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()
