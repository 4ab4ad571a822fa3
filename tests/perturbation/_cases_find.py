"""Bad-input cases of :mod:`perturbation.find`."""

from __future__ import annotations

from perturbation.find import find_stability_runs
from tests._audit import Case, bad

EXEMPT: dict[str, str] = {}

CASES: list[Case] = [
    bad(find_stability_runs, "seeds", "range", seeds=0),
    bad(find_stability_runs, "steps", "type", steps=2.5),
    bad(find_stability_runs, "n_clusters", "range", n_clusters=1),
    bad(find_stability_runs, "eval_samples", "range", eval_samples=0),
]
