"""The result of :func:`~stability.counterfactual.tabular.tabular_counterfactuals`.

A frozen record of the counterfactuals of DataFrame rows: one row per counterfactual in the
user's columns and dtypes, with the query it explains, the class probabilities, validity, the
Stability measure R_{k,sigma} and its relaxation R-hat (Hamman et al., ICML 2023,
arXiv:2305.11997), the cost and the changed features; the settings (tau, k, sigma, the
Lipschitz constant and whether it was estimated) and a one-line ``summary()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from theory.checks import ArgumentTypeError

__all__ = ["META", "TabularCounterfactuals"]

#: The metadata columns of :attr:`TabularCounterfactuals.frame` (besides one ``p[label]`` per class).
META = (
    "cf_query",
    "cf_rank",
    "cf_valid",
    "cf_R",
    "cf_R_hat",
    "cf_cost",
    "cf_n_changed",
    "cf_changes",
    "cf_min_distance",
    "cf_status",
)


@dataclass(frozen=True)
class TabularCounterfactuals:
    """Counterfactuals of DataFrame rows (:func:`tabular_counterfactuals`).

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per counterfactual: the user's columns (dtypes kept), then ``cf_query`` (the
        query's index label), ``cf_rank`` (0, 1, ... in order of selection), ``p[label]`` per
        class, ``cf_valid`` (predicted as the desired class, re-checked on the decoded row),
        ``cf_R`` (Stability R with ``lipschitz``), ``cf_R_hat`` (the relaxation), ``cf_cost``
        (:meth:`TabularSpace.distance` to the query), ``cf_n_changed``, ``cf_changes``
        ("name: old -> new; ..."), ``cf_min_distance`` (to the nearest other counterfactual of
        the same query; NaN when alone) and ``cf_status`` of the ascent.
    queries : pandas.DataFrame
        The queries as given (the user's columns).
    status : pandas.Series
        Per query (index = query labels): "found", "found fewer" (fewer than ``n`` feasible
        diverse counterfactuals), "not found" or "already desired".
    desired : object
        The desired class label.
    n, k, sigma, tau, measure : the settings; ``sigma`` a standard deviation in the encoded
        space.
    lipschitz : float
        gamma of R; ``lipschitz_estimated`` is True when it was estimated (not certified).
    min_distance, diversity : the diversity settings.
    method : str
        "random search" or "random search + gradient" (a differentiable torch model).
    seconds : float
    pairwise_distances : dict
        Query label -> (m, m) array of :meth:`TabularSpace.distance` between its
        counterfactuals.
    """

    frame: pd.DataFrame
    queries: pd.DataFrame
    status: pd.Series
    desired: Any
    n: int
    k: int
    sigma: float
    tau: float
    measure: str
    lipschitz: float
    lipschitz_estimated: bool
    min_distance: float
    diversity: float
    method: str
    seconds: float
    pairwise_distances: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("frame", "queries"):
            if not isinstance(getattr(self, name), pd.DataFrame):
                raise ArgumentTypeError(f"{name} must be a pandas DataFrame")
        if not isinstance(self.status, pd.Series) or len(self.status) != len(self.queries):
            raise ValueError("status must be a pandas Series with one entry per query")

    @property
    def counterfactuals(self) -> pd.DataFrame:
        """The counterfactual rows in the user's columns only."""
        return self.frame[list(self.queries.columns)]

    @property
    def success(self) -> bool:
        """Every query got ``n`` valid counterfactuals."""
        return bool((self.status == "found").all()) and bool(self.frame["cf_valid"].all())

    @property
    def message(self) -> str:
        counts = self.status.value_counts()
        return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))

    def for_query(self, label: Any) -> pd.DataFrame:
        """The rows of query ``label``."""
        return self.frame[self.frame["cf_query"] == label]

    def summary(self) -> str:
        f = self.frame
        lab = "estimated, not certified" if self.lipschitz_estimated else "given"
        rs = (
            f"R-hat mean {f['cf_R_hat'].mean():.3f}, R mean {f['cf_R'].mean():.3f}, "
            f"{int((f['cf_R_hat' if self.measure == 'relaxed' else 'cf_R'] >= self.tau).sum())}"
            f"/{len(f)} reach tau = {self.tau}; "
            if len(f)
            else ""
        )
        md = f["cf_min_distance"]
        ds = f"min pairwise distance {md.min():.3f}; " if md.notna().any() else ""
        return (
            f"tabular counterfactuals ({self.method}): {len(f)} for {len(self.queries)} "
            f"queries (asked {self.n} each; {self.message}); desired {self.desired!r}; "
            f"{int(f['cf_valid'].sum()) if len(f) else 0} valid; mean cost "
            f"{f['cf_cost'].mean() if len(f) else float('nan'):.3f}; {rs}{ds}"
            f"k = {self.k}, sigma = {self.sigma} (std, encoded), gamma = {self.lipschitz:.3g} "
            f"({lab}); {self.seconds:.2f} s"
        )
