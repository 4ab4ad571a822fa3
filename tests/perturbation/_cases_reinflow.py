"""Bad-input cases of :mod:`perturbation.reinflow`."""

from __future__ import annotations

from perturbation.reinflow import lq_finetuning_runs
from tests._audit import Case, bad

EXEMPT = {
    "transition_log_densities": "the claim's independent reference for chain_log_prob; its "
    "inputs come from sample_chain",
}

CASES: list[Case] = [
    bad(lq_finetuning_runs, "seeds", "range", 0),
    bad(lq_finetuning_runs, "dq", "range", dq=0.0),
    bad(lq_finetuning_runs, "ks", "range", ks=(0,)),
    bad(lq_finetuning_runs, "expert_gain_scale", "range", expert_gain_scale=-1.0),
]
