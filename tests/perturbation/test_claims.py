"""Every registered claim passes at a tiny scale, and its verdict depends on its bound.

The second test is a mutation test: the claim's bound function is scaled (or shifted) so
that the measured value must violate it. A claim whose experiment ignored its bound, or
whose pass/fail logic were vacuous, would still pass there and fail this test.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from perturbation.registry import Claim, RunContext, claims

CTX = RunContext(scale="tiny", seed=0)
ALL = claims()

#: Claims whose bound is not what decides the verdict (an invariance whose bound is zero;
#: counts of violations). Their failure modes are covered in tests/theory.
BOUND_NOT_DECISIVE = {"policy-cliff/shaping-invariance"}


def test_registry_has_the_policy_cliff_claims():
    ids = {c.id for c in ALL}
    for required in (
        "policy-cliff/prop-2.4",
        "policy-cliff/prop-4.7",
        "policy-cliff/prop-4.7-tight",
        "policy-cliff/prop-2.10",
        "policy-cliff/greedy-radius",
        "policy-cliff/kl-limit",
        "policy-cliff/shaping-invariance",
        "policy-cliff/prop-4.6-multi-reward",
        "policy-cliff/prop-4.7-multi-reward",
    ):
        assert required in ids


@pytest.mark.parametrize("c", ALL, ids=lambda c: c.id)
def test_claim_passes(c: Claim):
    result = c.run(CTX)
    assert result.error is None, result.traceback
    if result.outcome == "EMPIRICAL":  # reported, not asserted: the run must still say so
        assert isinstance(result.passed, bool)
    else:
        assert result.passed, result.to_row()


def _mutated(c: Claim, relation: str, ratio: float, expected: float) -> Claim:
    """A copy of ``c`` whose bound is moved so that the measured value violates it."""
    if relation == "<=":
        factor = 0.5 * ratio  # the bound becomes half the measured value
    elif relation == ">=":
        factor = 2.0 * ratio  # the bound becomes twice the measured value
    else:
        factor = None

    def move(value):
        if factor is not None:
            return value * factor
        return value + 0.25 * (abs(value) + 1.0)  # "==": shift the expected value

    return dataclasses.replace(c, bound=c.bound.map(move))


@pytest.mark.parametrize(
    "c", [c for c in ALL if c.id not in BOUND_NOT_DECISIVE], ids=lambda c: c.id
)
def test_claim_fails_when_its_bound_is_wrong(c: Claim):
    honest = c.run(CTX)
    ev = honest.evidence
    assert ev is not None
    ratio = honest.ratio
    if ev.relation != "==" and (not math.isfinite(ratio) or ratio == 0):
        pytest.skip(f"{c.id}: ratio {ratio} cannot be scaled")
    mutated = _mutated(c, ev.relation, ratio, ev.bound).run(CTX)
    assert not mutated.passed, f"{c.id} still passes with a wrong bound: {mutated.to_row()}"
