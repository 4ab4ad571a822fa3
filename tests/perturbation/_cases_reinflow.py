"""Bad-input cases of :mod:`perturbation.reinflow`."""

from __future__ import annotations

from perturbation.reinflow import stable_finetuning_runs
from tests._audit import Case, bad

EXEMPT = {
    "transition_log_densities": "the claim's independent reference for chain_log_prob; its "
    "inputs come from sample_chain",
}

CASES: list[Case] = [
    bad(stable_finetuning_runs, "seeds", "range", 0),
    bad(stable_finetuning_runs, "eps", "range", eps=0.0),
    bad(stable_finetuning_runs, "ks", "range", ks=(0,)),
]
