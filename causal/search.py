"""The minimax subset search (Alg. 1 of Liu et al. 2023).

``S* = argmin_{S' ⊆ S} h*(S')``. If ``Ch(Y) ∩ K = ∅`` the whole stable set is optimal and the
search is skipped (only ``h*(S)`` is evaluated); otherwise only the representative (smallest
member) of each equivalence class is evaluated, since members of a class share the stable
predictor and hence the worst-case risk. ``brute_force=True`` evaluates all ``2^|S|`` subsets
(the reference the search must equal).

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), Alg. 1 and Alg. 2.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from causal.eqclass import equivalence_classes
from causal.graph import sorted_nodes
from causal.risk import worst_case_risk
from causal.scm import ContinuousSCM, DiscreteSCM
from theory.checks import ArgumentTypeError, check_bool

__all__ = ["MinimaxResult", "minimax_subset"]


@dataclass(frozen=True)
class MinimaxResult:
    """The chosen subset and every risk evaluated.

    Attributes
    ----------
    subset : frozenset
        The chosen ``S'`` (the first minimiser in representative order).
    risk : float
        Its worst-case risk.
    stable : frozenset
        The stable set ``S``.
    condition : bool
        ``Ch(Y) ∩ K = ∅`` (search skipped when true).
    risks : dict frozenset -> float
        Every evaluated subset's risk (class representatives, all subsets with brute force,
        or only ``S`` when the condition holds).
    n_evaluated : int
        ``len(risks)``.
    n_subsets : int
        ``2^|S|``.
    n_classes : int
        Number of equivalence classes (0 when the search was skipped).
    """

    subset: frozenset
    risk: float
    stable: frozenset
    condition: bool
    risks: dict
    n_evaluated: int
    n_subsets: int
    n_classes: int

    def summary(self) -> str:
        """One line: chosen subset, its risk and the evaluation count."""
        s = "{" + ", ".join(map(str, sorted_nodes(self.subset))) + "}"
        how = "condition holds: search skipped" if self.condition else "searched"
        return (
            f"S* = {s}, h* = {self.risk:.6g}; {how}; evaluated {self.n_evaluated} of "
            f"{self.n_subsets} subsets ({self.n_classes} classes)"
        )


def _all_subsets(stable: frozenset) -> list[frozenset]:
    nodes = sorted_nodes(stable)
    return [frozenset(c) for r in range(len(nodes) + 1) for c in itertools.combinations(nodes, r)]


def _checked_risk(risk: Callable[[frozenset], float], subset: frozenset) -> float:
    """``risk(subset)`` as a finite float; a NaN/inf/non-real risk would be picked (or lost)
    silently by the argmin of Alg. 1, so it is refused naming the subset."""
    value = risk(subset)
    try:
        r = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(
            f"risk returned a non-real value {value!r} for subset {set(sorted_nodes(subset))}"
        ) from None
    if isinstance(value, bool) or not np.isfinite(r):
        raise ValueError(
            f"risk must return a finite real number; got {value!r} for subset "
            f"{set(sorted_nodes(subset))}"
        )
    return r


def minimax_subset(
    scm: DiscreteSCM | ContinuousSCM,
    *,
    risk: Callable[[frozenset], float] | None = None,
    brute_force: bool = False,
    skip_if_condition: bool = True,
    **risk_kwargs: object,
) -> MinimaxResult:
    """Search the subset of the stable set with the smallest worst-case risk.

    Parameters
    ----------
    scm : DiscreteSCM or ContinuousSCM
        The model (its graph, target and mutable set define ``S`` and the classes).
    risk : callable, optional
        ``risk(subset) -> float``; default ``worst_case_risk(scm, subset, **risk_kwargs).value``.
    brute_force : bool
        Evaluate all ``2^|S|`` subsets instead of the class representatives.
    skip_if_condition : bool
        Return ``S`` without evaluating others when ``Ch(Y) ∩ K = ∅`` (Alg. 1).
    **risk_kwargs
        Passed to :func:`causal.risk.worst_case_risk` (``config``, ``seed``, ``max_maps``).

    Returns
    -------
    MinimaxResult

    Raises
    ------
    ValueError
        ``scm`` of the wrong type, ``risk`` and ``risk_kwargs`` both given, or ``risk``
        returning a NaN, infinite or non-real value (the message names the subset).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("Y", "X1")])
    >>> scm = DiscreteSCM(g, "Y", set(), {"Y": [0.5, 0.5], "X1": [[0.9, 0.1], [0.1, 0.9]]})
    >>> sorted(minimax_subset(scm).subset)
    ['X1']
    """
    if not isinstance(scm, DiscreteSCM | ContinuousSCM):
        raise ArgumentTypeError(
            f"scm must be a DiscreteSCM or ContinuousSCM; got {type(scm).__name__}"
        )
    if risk is not None and not callable(risk):
        raise ArgumentTypeError(f"risk must be callable; got {type(risk).__name__}")
    brute_force = check_bool("brute_force", brute_force)
    skip_if_condition = check_bool("skip_if_condition", skip_if_condition)
    if risk is not None and risk_kwargs:
        raise ValueError(f"give risk or risk_kwargs, not both; got kwargs {sorted(risk_kwargs)}")
    if risk is None:

        def risk(s: frozenset) -> float:
            return worst_case_risk(scm, s, **risk_kwargs).value  # type: ignore[arg-type]

    comps = scm.components
    stable = comps.stable
    n_subsets = 2 ** len(stable)
    if comps.condition and skip_if_condition and not brute_force:
        r = _checked_risk(risk, stable)
        return MinimaxResult(stable, r, stable, True, {stable: r}, 1, n_subsets, 0)
    classes = equivalence_classes(scm.graph, scm.target, scm.mutable)
    candidates: Iterable[Hashable] = (
        _all_subsets(stable) if brute_force else classes.representatives
    )
    risks = {}
    for cand in candidates:
        sub = frozenset(cand)
        risks[sub] = _checked_risk(risk, sub)
    best = min(risks, key=lambda s: risks[s])
    return MinimaxResult(
        best, risks[best], stable, comps.condition, risks, len(risks), n_subsets, classes.n_classes
    )
