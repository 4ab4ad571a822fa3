"""Decision-boundary instability directions of deep policies (Korkmaz, ICML 2024; RA-NLD).

Per-state instability directions ``v(s) = ∇_s J(s)`` (:func:`instability_directions`), their
principal direction ``G_S`` over a set of states (:func:`principal_direction`, never a d × d
matrix unless asked), the feature correlation quotient ``Λ(S_Ψ, S)``
(:func:`correlation_quotient`, [reconstructed]), oscillation / Fourier / overlap summaries,
attacks (FGSM, PGD, Nesterov, DeepFool, C&W-ℓ2, flip distances along directions), natural sample
shifts, and a pixel gridworld with exact Q* and vanilla/robust CNN policies.

Reference: E. Korkmaz, "Understanding and Diagnosing Deep Reinforcement Learning", ICML 2024
(PMLR v235, arXiv:2406.16979), §3 (RA-NLD), §4 (Λ, Table 1), §5 (oscillations, Fourier).
"""

from stability.decision_boundary.analysis import (
    FourierSpread,
    Oscillation,
    bootstrap_interval,
    fourier_spread,
    oscillation,
    top_overlap,
)
from stability.decision_boundary.attacks import (
    AttackResult,
    FlipDistance,
    carlini_wagner_l2,
    deepfool,
    fgsm,
    flip_distance,
    nesterov,
    pgd,
    random_directions,
)
from stability.decision_boundary.directions import (
    InstabilityDirections,
    instability_directions,
    instability_loss,
    linear_direction,
)
from stability.decision_boundary.principal import (
    FrequentDirections,
    PrincipalDirection,
    principal_direction,
)
from stability.decision_boundary.quotient import CorrelationQuotient, correlation_quotient
from stability.decision_boundary.shifts import SHIFTS, apply_shift

__all__ = [
    "SHIFTS",
    "AttackResult",
    "CorrelationQuotient",
    "FlipDistance",
    "FourierSpread",
    "FrequentDirections",
    "InstabilityDirections",
    "Oscillation",
    "PrincipalDirection",
    "apply_shift",
    "bootstrap_interval",
    "carlini_wagner_l2",
    "correlation_quotient",
    "deepfool",
    "fgsm",
    "flip_distance",
    "fourier_spread",
    "instability_directions",
    "instability_loss",
    "linear_direction",
    "nesterov",
    "oscillation",
    "pgd",
    "principal_direction",
    "random_directions",
    "top_overlap",
]
