"""Claims verified by training (``trainers/*``): the analytical claims, checked on trained policies.

- ``trainers/kl-pg-closed-form`` (:mod:`.kl_closed_form`): KL-regularized policy gradient
  (sampled REINFORCE with the PPO-max KL-in-reward penalty) converges to ``pi_ref exp(r/beta)/Z``
  across seeds.
- ``trainers/multi-reward-regularized`` and ``trainers/multi-reward-drop-ambiguous``
  (:mod:`.multi_reward`): the small analogue of the Policy Cliff multi-reward experiment
  (Xu 2025, §5.6) on trained policies: the change of the retrained policy under a moved reward
  component against the bandit bound ``||dR||_N / (2 beta)`` (Prop 4.7 with gamma = 0), and
  Model 1 vs Model 3 (training with and without the ambiguous contexts).
- ``trainers/soft-q-matches-theory`` (:mod:`.soft_q`): soft Q-learning and discrete SAC, trained
  from sampled transitions of a ``TabularMDPEnv``, learn ``theory.soft_optimal_policy(mdp, alpha)``.

The policy-gradient runs of one claim train as one stacked model (:mod:`trainers.batched`).
"""

import importlib

# Import order is the order of the report.
for _module in ("kl_closed_form", "multi_reward", "soft_q"):
    importlib.import_module(f"{__name__}.{_module}")
