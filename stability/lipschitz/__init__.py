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

Any torch module: :func:`trace_network` (``torch.fx``) turns a policy's forward into Linear,
Conv1d/2d, pooling, BatchNorm (eval), reshapes, residual additions and elementwise activations
(built-in slope intervals for ReLU, LeakyReLU, Tanh, Sigmoid, Softplus, ELU, GELU, SiLU, Mish,
Hardtanh, …: :func:`activation_slopes`). Every entry point takes such a module (with
``input_shape=`` for convolutions): a chain is materialised exactly into a :class:`Network`
(every method applies); a larger chain goes to the matrix-free methods of ``operators``; a
residual graph is bounded block by block (``1 + L(g)`` per block ``x + g(x)``).
:func:`certified_radius` turns a bound into per-state certified ℓ2 radii of the greedy decision
(``margin / (√2 L)``).

References: LipSDP (Fazlyab, Robey, Hassani, Morari, Pappas, NeurIPS 2019, arXiv:1906.04893);
ECLipsE (Xu & Sivaranjani, NeurIPS 2024, arXiv:2404.04375); LipLT (Fazlyab, Entesari, Roy,
Chellappa, NeurIPS 2023, arXiv:2310.00116); Lipschitz-constrained imitation of a controller
(Al Makdah, Krishnan, Pasqualetti, arXiv:2103.16629).
"""

from stability.lipschitz.activations import ACTIVATION_SLOPES, activation_slopes
from stability.lipschitz.api import (
    LOWER_METHODS,
    METHODS,
    lipschitz_bound,
    lipschitz_interval,
    lipschitz_lower_bound,
)
from stability.lipschitz.conv import OperatorNorm, conv_operator_norm
from stability.lipschitz.network import Network, as_network
from stability.lipschitz.operators import operator_liplt_bound, operator_naive_bound, operator_norms
from stability.lipschitz.radius import CertifiedRadius, certified_radius
from stability.lipschitz.result import LipschitzInterval, LipschitzLowerBound, LipschitzResult
from stability.lipschitz.trace import TracedNetwork, trace_network

__all__ = [
    "ACTIVATION_SLOPES",
    "LOWER_METHODS",
    "METHODS",
    "CertifiedRadius",
    "LipschitzInterval",
    "LipschitzLowerBound",
    "LipschitzResult",
    "Network",
    "OperatorNorm",
    "TracedNetwork",
    "activation_slopes",
    "as_network",
    "certified_radius",
    "conv_operator_norm",
    "lipschitz_bound",
    "lipschitz_interval",
    "lipschitz_lower_bound",
    "operator_liplt_bound",
    "operator_naive_bound",
    "operator_norms",
    "trace_network",
]
