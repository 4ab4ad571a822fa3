"""Certified Lipschitz bounds of neural policies, and Lipschitz-constrained policies.

Upper bounds (:func:`lipschitz_bound`): naive product of spectral norms, LipLT, ECLipsE-Fast,
ECLipsE, LipSDP-Layer/-Neuron (the exact dual of ``one_hidden`` for one-hidden-layer
scalar-output networks, the structured interior-point method of ``neuron_ipm``, or cvxpy; dual
lower bounds from ``dual_bound`` prove the distance to the optimum) and -Network (cvxpy), all
certified by an exact Schur-complement check,
LipSDP-Neuron-FO (solver-free L-BFGS on the multipliers, certified the same way),
a local bound over a box, and ``auto``. Lower bounds (:func:`lipschitz_lower_bound`): batched
Jacobian norms and pair-ratio ascent, and, for ReLU/LeakyReLU networks, a search over realisable
activation patterns (``patterns``; exact when exhaustive). :func:`lipschitz_interval` reports
both as ``lower <= L <= upper`` with the interval's width.

References: LipSDP (Fazlyab, Robey, Hassani, Morari, Pappas, NeurIPS 2019, arXiv:1906.04893);
ECLipsE (Xu & Sivaranjani, NeurIPS 2024, arXiv:2404.04375); LipLT (Fazlyab, Entesari, Roy,
Chellappa, NeurIPS 2023, arXiv:2310.00116); Lipschitz-constrained imitation of a controller
(Al Makdah, Krishnan, Pasqualetti, arXiv:2103.16629).
"""

from stability.lipschitz.api import (
    LOWER_METHODS,
    METHODS,
    lipschitz_bound,
    lipschitz_interval,
    lipschitz_lower_bound,
)
from stability.lipschitz.network import Network, as_network
from stability.lipschitz.result import LipschitzInterval, LipschitzLowerBound, LipschitzResult

__all__ = [
    "LOWER_METHODS",
    "METHODS",
    "LipschitzInterval",
    "LipschitzLowerBound",
    "LipschitzResult",
    "Network",
    "as_network",
    "lipschitz_bound",
    "lipschitz_interval",
    "lipschitz_lower_bound",
]
