"""Bad-input cases of :mod:`perturbation.reinflow`."""

from __future__ import annotations

import torch

from perturbation.reinflow import fitted_gains, lq_finetuning_runs
from tests._audit import Case, bad
from trainers.reinflow import FlowPolicy, ReinFlowConfig

EXEMPT = {
    "transition_log_densities": "the claim's independent reference for chain_log_prob; its "
    "inputs come from sample_chain",
}

_POL = FlowPolicy(1, 1, ReinFlowConfig(hidden=4), [0])

CASES: list[Case] = [
    bad(fitted_gains, "probe", "shape", _POL, torch.zeros(3, 2)),
    bad(fitted_gains, "probe", "shape", _POL, torch.zeros(1, 1)),
    bad(lq_finetuning_runs, "seeds", "range", 0),
    bad(lq_finetuning_runs, "dq", "range", dq=0.0),
    bad(lq_finetuning_runs, "ks", "range", ks=(0,)),
    bad(lq_finetuning_runs, "expert_gain_scale", "range", expert_gain_scale=-1.0),
]
