"""Perturb, retrain, compare: is a change of the trained policy distinguishable from seed noise?

A researcher changes the reward and sees the policy move by TV 0.135; a change of seed alone
moves it by 0.183. :func:`retrain_compare` says so: it retrains K times with and K times without
the perturbation, measures every pair of policies on shared states, and tests the perturbation's
effect (base-vs-perturbed distances) against seed noise (same-group distances) with an exact
permutation test over run labels::

    from perturbation.retrain import retrain_compare, reward_perturbation

    bonus = reward_perturbation(lambda obs, a, r, obs2: r + 0.1 * (a == 0), reward_distance=0.1)
    res = retrain_compare(lambda env, seed: train_ppo(env, cfg, seed=seed).agent,
                          perturbation=bonus, env="CartPole-v1", seeds=5)
    print(res.summary())   # effect TV x [lo, hi] vs seed noise y [lo, hi], p = ...

- :func:`policy_distance`, :func:`as_probabilities`: total variation and greedy disagreement of
  two policies (modules, callables, tables) on states;
- :func:`retrain_compare` -> :class:`RetrainComparison`;
- perturbations: :func:`reward_perturbation`, :func:`transition_perturbation` (gymnasium
  wrappers: env factory in, env factory out), :func:`drop_data`.

The claim ``retrain/null-vs-planted`` lives in :mod:`perturbation.retrain.claims`.
"""

from perturbation.retrain.compare import RetrainComparison, retrain_compare
from perturbation.retrain.distance import (
    GaussianPolicyDistance,
    PolicyDistance,
    as_gaussian,
    as_probabilities,
    policy_distance,
)
from perturbation.retrain.perturb import (
    EnvPerturbation,
    drop_data,
    reward_perturbation,
    transition_perturbation,
)

__all__ = [
    "EnvPerturbation",
    "GaussianPolicyDistance",
    "PolicyDistance",
    "RetrainComparison",
    "as_gaussian",
    "as_probabilities",
    "drop_data",
    "policy_distance",
    "retrain_compare",
    "reward_perturbation",
    "transition_perturbation",
]
