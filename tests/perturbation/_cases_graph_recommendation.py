"""Bad-input cases of :mod:`perturbation.graph_recommendation`."""

from __future__ import annotations

from perturbation.graph_recommendation import stable_training_runs
from tests._audit import Case, bad

EXEMPT: dict[str, str] = {}

CASES: list[Case] = [
    bad(stable_training_runs, "seeds", "range", seeds=0),
    bad(stable_training_runs, "total_steps", "range", total_steps=0),
    bad(stable_training_runs, "eval_episodes", "range", eval_episodes=0),
    bad(stable_training_runs, "n_states", "type", n_states=2.5),
]
