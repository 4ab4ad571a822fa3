"""Claims verified on trained autoregressive policies (``sequence/*``): the Policy Cliff of
Xu (2025) in a tiny causal language model, with exact distributions by enumeration.

Every run is a :class:`trainers.sequence.TinyCausalLM` (many seeds stacked as one model)
trained from a base model whose mass spreads over each prompt's tied answers; every
distribution is computed exactly over all completions of a small verifiable task.

- ``sequence/kl-closed-form`` and ``sequence/k3-loss-fixed-point`` (:mod:`.kl_closed_form`):
  KL-regularized training converges to ``pi_ref exp(r/beta)/Z``; TRL's k3 loss term stops at
  a token-level optimum instead.
- ``sequence/cliff-at-ties`` and ``sequence/cliff-at-ties-grpo`` (:mod:`.cliff`): a
  tie-break ``eps`` moves the regularized policy by at most ``eps/(2 beta)``; unregularized
  GRPO (with and without std normalisation) is measured against the same sweep.
- ``sequence/multi-reward`` and ``sequence/multi-reward-hard`` (:mod:`.multi_reward`): the
  multi-reward experiment of Xu (2025, §5.6) at small scale: one reward model perturbed, or
  the ambiguous prompts dropped, with and without regularization.
"""

import importlib

# Import order is the order of the report.
for _module in ("kl_closed_form", "cliff", "multi_reward"):
    importlib.import_module(f"{__name__}.{_module}")
