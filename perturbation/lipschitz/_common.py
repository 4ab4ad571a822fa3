"""Shared helpers of the Lipschitz experiments."""

from __future__ import annotations

import numpy as np

from perturbation.registry import RunContext
from stability.lipschitz.control import LinearSystem, linear_system, train_policy
from stability.lipschitz.layers import LipschitzPolicy
from stability.lipschitz.network import Network

#: The upper-bound chain, tightest first (after the sampled lower bound).
ORDER = ("lower", "lipsdp-neuron", "lipsdp-layer", "eclipse-fast", "naive")


def max_pair_ratio(net: Network, x: np.ndarray, y: np.ndarray) -> float:
    """``max_i ||f(x_i) - f(y_i)|| / ||x_i - y_i||`` over the rows of ``x`` and ``y``."""
    num = np.linalg.norm(net.forward(x) - net.forward(y), axis=1)
    return float(np.max(num / np.linalg.norm(x - y, axis=1)))


def double_integrator() -> LinearSystem:
    """The plant of the policy experiments: a double integrator, ``dt = 0.1``."""
    return linear_system("double-integrator")


def aol_policy(ctx: RunContext, lipschitz: float) -> LipschitzPolicy:
    """An AOL ``[2, 12, 12, 1]`` policy ``π = L·g`` cloned from the LQR expert (128 states)."""
    pol, _ = train_policy(
        double_integrator(),
        lipschitz,
        n_data=128,
        steps=ctx.n(100, 20),
        hidden=(12, 12),
        seed=ctx.seed,
    )
    return pol
