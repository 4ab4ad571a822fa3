"""Reward transformations that leave every optimal and soft-optimal policy unchanged.

Potential shaping ``R'(s, a) = R(s, a) + gamma E[Phi(s') | s, a] - Phi(s)`` (Ng, Harada & Russell
1999) shifts Q* and the soft Q by ``-Phi(s)``, so argmax sets and ``softmax(Q/alpha)`` are
unchanged although ``||R' - R||_inf`` can be large: the sup-norm bounds of Xu (2025) are loose
for such perturbations [derived: a potential-based term changes ``||dR||_inf`` by up to
``(1 + gamma) ||Phi||_inf`` but no policy].

References
----------
.. [1] A. Y. Ng, D. Harada, S. Russell, "Policy invariance under reward transformations",
   ICML 1999.
"""

from __future__ import annotations

import numpy as np

from theory.checks import as_float_array
from theory.mdp import TabularMDP, check_mdp

__all__ = ["potential_shaping"]


def potential_shaping(mdp: TabularMDP, potential: np.ndarray) -> np.ndarray:
    """The shaping term ``gamma P Phi - Phi`` of shape (S, A); add it to ``mdp.R``.

    Parameters
    ----------
    mdp : TabularMDP
    potential : array_like, shape (S,)
        The potential ``Phi``.
    """
    mdp = check_mdp(mdp)
    phi = as_float_array("potential", potential, ndim=1)
    if phi.shape != (mdp.n_states,):
        raise ValueError(f"potential must have shape (S,) = ({mdp.n_states},); got {phi.shape}")
    return mdp.gamma * mdp.expected_next(phi) - phi[:, None]
