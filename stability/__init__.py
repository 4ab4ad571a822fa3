# Robust counterfactuals (Hamman et al., ICML 2023): stability.counterfactual
from stability.counterfactual import counterfactual_stability, trex  # noqa: F401
from stability.decision_boundary import (  # noqa: F401  decision-boundary directions (issue 7)
    CorrelationQuotient,
    PrincipalDirection,
    correlation_quotient,
    instability_directions,
    principal_direction,
)
from stability.lipschitz import (  # noqa: F401  Lipschitz bounds of neural policies (issue 4)
    LipschitzLowerBound,
    LipschitzResult,
    lipschitz_bound,
    lipschitz_lower_bound,
)
