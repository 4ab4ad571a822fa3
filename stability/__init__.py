# Robust counterfactuals (Hamman et al., ICML 2023): stability.counterfactual
from stability.counterfactual import counterfactual_stability, trex  # noqa: F401
from stability.lipschitz import (  # noqa: F401  Lipschitz bounds of neural policies (issue 4)
    LipschitzLowerBound,
    LipschitzResult,
    lipschitz_bound,
    lipschitz_lower_bound,
)
