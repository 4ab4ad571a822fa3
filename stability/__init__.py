"""Stability of neural policies: Lipschitz bounds, robust counterfactuals, decision boundaries.

==================================  ==========================================================
subpackage                          what
==================================  ==========================================================
:mod:`stability.lipschitz`          certified Lipschitz bounds (naive, LipLT, ECLipsE, LipSDP,
                                    local), lower bounds, 1-Lipschitz layers, closed-loop bounds
                                    (Fazlyab et al., NeurIPS 2019; Al Makdah et al.)
:mod:`stability.counterfactual`     the Stability measure of robust counterfactuals, T-Rex and
                                    baselines, model-change families (Hamman et al., ICML 2023)
:mod:`stability.decision_boundary`  instability directions, G_S, the quotient Λ, attacks and
                                    sample shifts (Korkmaz, ICML 2024)
==================================  ==========================================================
"""

from stability.counterfactual import counterfactual_stability, trex
from stability.decision_boundary import (
    CorrelationQuotient,
    PrincipalDirection,
    correlation_quotient,
    instability_directions,
    principal_direction,
)
from stability.lipschitz import (
    LipschitzInterval,
    LipschitzLowerBound,
    LipschitzResult,
    lipschitz_bound,
    lipschitz_interval,
    lipschitz_lower_bound,
)

__all__ = [
    "CorrelationQuotient",
    "LipschitzInterval",
    "LipschitzLowerBound",
    "LipschitzResult",
    "PrincipalDirection",
    "correlation_quotient",
    "counterfactual_stability",
    "instability_directions",
    "lipschitz_bound",
    "lipschitz_interval",
    "lipschitz_lower_bound",
    "principal_direction",
    "trex",
]
