"""The feature correlation quotient ``Λ(S_Ψ, S)`` (RA-NLD, step 3) [reconstructed].

Λ "quantifies how correlated the non-robust features from a transformed set of states are to
those from a baseline set" and is "bounded between 0 and 1" (Korkmaz 2024, §4, per a secondary
digest). The exact formula is not available; the default reading [reconstructed] is the Rayleigh
quotient of the shifted principal direction under the baseline matrix, over its maximum:

    Λ(S_Ψ, S) = G_{S_Ψ}ᵀ L(S) G_{S_Ψ} / λ_max(L(S))  =  ‖V_S G_{S_Ψ}‖² / σ_max(V_S)²,

which lies in [0, 1], is 1 when ``G_{S_Ψ} = G_S`` (e.g. Ψ = identity), and is invariant to the
sign of ``G`` and to the order of the states. ``definition="cos2"`` offers the alternative
``⟨G_{S_Ψ}, G_S⟩²`` (also in [0, 1], blind to the rest of the spectrum).

References
----------
.. [1] E. Korkmaz, ICML 2024 (arXiv:2406.16979), §4 (feature correlation quotient), Table 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stability.decision_boundary._checks import as_batch
from stability.decision_boundary.directions import InstabilityDirections
from stability.decision_boundary.principal import PrincipalDirection, principal_direction
from theory.checks import as_float_array, check_bool, check_choice

__all__ = ["DEFINITIONS", "CorrelationQuotient", "correlation_quotient"]

DEFINITIONS = ("rayleigh", "cos2")


@dataclass(frozen=True)
class CorrelationQuotient:
    """``Λ(S_Ψ, S)`` with its parts.

    Attributes
    ----------
    value : float
        Λ in [0, 1].
    rayleigh : float
        ``G_Ψᵀ L(S) G_Ψ``.
    lambda_max : float
        ``λ_max(L(S))``.
    cos_principal : float
        ``|⟨G_Ψ, G_S⟩|``.
    definition : str
    """

    value: float
    rayleigh: float
    lambda_max: float
    cos_principal: float
    definition: str

    def __float__(self) -> float:
        return self.value

    def summary(self) -> str:
        return (
            f"Λ = {self.value:.4f} ({self.definition}; G_Ψᵀ L G_Ψ = {self.rayleigh:.4g}, "
            f"λ_max = {self.lambda_max:.4g}, |cos(G_Ψ, G_S)| = {self.cos_principal:.4f})"
        )


def correlation_quotient(
    G_shifted: object,
    directions_baseline: object,
    *,
    normalize: bool = False,
    definition: str = "rayleigh",
) -> CorrelationQuotient:
    """The feature correlation quotient ``Λ(S_Ψ, S)`` [reconstructed].

    Parameters
    ----------
    G_shifted : PrincipalDirection or array_like, shape state_shape
        ``G_{S_Ψ}``, the principal direction of the transformed states (normalised here).
    directions_baseline : InstabilityDirections or array_like, shape (N, *state_shape)
        The baseline per-state directions ``v(s), s ∈ S`` (they define ``L(S)``).
    normalize : bool, default False
        [reconstructed] Unit-normalise each baseline direction first (as in ``L(S)``).
    definition : {"rayleigh", "cos2"}, default "rayleigh"
        [reconstructed] See the module docstring.

    Returns
    -------
    CorrelationQuotient

    Raises
    ------
    ValueError
        If ``G_shifted`` is zero or its size differs from a baseline state, the baseline has no
        non-zero direction, or ``definition`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> V = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    >>> round(correlation_quotient(np.array([0.0, 1.0]), V).value, 6)
    0.2
    """
    check_choice("definition", definition, DEFINITIONS)
    normalize = check_bool("normalize", normalize)
    g = G_shifted.direction if isinstance(G_shifted, PrincipalDirection) else G_shifted
    g = as_float_array("G_shifted", g).ravel()
    if isinstance(directions_baseline, InstabilityDirections):
        V = directions_baseline.matrix
    else:
        V = as_batch("directions_baseline", directions_baseline, min_ndim=2)
        V = V.reshape(len(V), -1)
    if V.shape[1] != g.size:
        raise ValueError(
            f"G_shifted has {g.size} entries but a baseline direction has {V.shape[1]}"
        )
    ng = np.linalg.norm(g)
    if ng == 0:
        raise ValueError("G_shifted must be non-zero")
    g = g / ng
    if len(V) == 0 or not np.any(V):
        raise ValueError(
            f"directions_baseline must hold at least one non-zero direction; got shape {V.shape}"
        )
    base = principal_direction(V, 1, method="svd", normalize=normalize)
    if normalize:
        n = np.linalg.norm(V, axis=1, keepdims=True)
        V = np.where(n > 0, V / np.where(n > 0, n, 1.0), 0.0)
    rayleigh = float(np.sum((V @ g) ** 2))
    lam = base.lambda_max
    cos = float(abs(base.direction.ravel() @ g))
    value = rayleigh / lam if definition == "rayleigh" else cos**2
    return CorrelationQuotient(
        value=float(min(1.0, max(0.0, value))),
        rayleigh=rayleigh,
        lambda_max=lam,
        cos_principal=cos,
        definition=definition,
    )
