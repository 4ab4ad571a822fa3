"""The naive bound: the product of exact spectral norms (AutoLip [1]_ computes the same product).

``L(f) <= prod_k ||W_k||_2 * prod_k max(|alpha_k|, |beta_k|)``. Exact spectral norms
(``np.linalg.norm(W, 2)``, an SVD), never the Frobenius norm (valid but looser) nor a
power-iteration estimate (which can be low, hence not a certificate).

References
----------
.. [1] A. Virmaux, K. Scaman, "Lipschitz regularity of deep neural networks: analysis and
   efficient estimation", NeurIPS 2018, arXiv:1805.10965.
"""

from __future__ import annotations

import numpy as np

from stability.lipschitz.network import Network, _check_net

__all__ = ["frobenius_bound", "naive_bound"]


def naive_bound(net: Network) -> float:
    """``prod_k ||W_k||_2 * prod_k max(|alpha_k|, |beta_k|)`` with exact spectral norms.

    >>> from stability.lipschitz.network import as_network
    >>> naive_bound(as_network([np.eye(2) * 3.0, np.eye(2) * 2.0]))
    6.0

    ``TypeError`` naming ``net`` if it is not a :class:`~stability.lipschitz.network.Network`.
    """
    value = 1.0
    for w in _check_net(net).weights:
        value *= float(np.linalg.norm(w, 2))
    for a, b in net.slopes:
        value *= max(abs(a), abs(b))
    return value


def frobenius_bound(net: Network) -> float:
    """The product of Frobenius norms (what ``np.linalg.norm(W)`` gives by default): valid, loose.

    ``TypeError`` naming ``net`` if it is not a :class:`~stability.lipschitz.network.Network`.
    """
    value = 1.0
    for w in _check_net(net).weights:
        value *= float(np.linalg.norm(w))
    for a, b in net.slopes:
        value *= max(abs(a), abs(b))
    return value
