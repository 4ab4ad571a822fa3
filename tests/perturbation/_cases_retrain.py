"""Bad-input cases of perturbation.retrain; gathered by test_bad_input.py.

Among them the refusals the module was written against: a callable returning logits where
probabilities are expected (silently a wrong TV), K = 1 run per group (no seed-noise baseline),
a perturbation without an environment to perturb, a bound without ||dR||_inf, a gymnasium Env
instance given as a factory (it cannot be rebuilt once per run), and dropping every row.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from perturbation.retrain import (
    EnvPerturbation,
    PolicyDistance,
    RetrainComparison,
    as_probabilities,
    drop_data,
    policy_distance,
    retrain_compare,
    reward_perturbation,
    transition_perturbation,
)
from perturbation.retrain.distance import GaussianPolicyDistance, as_gaussian
from tests._audit import Case, bad, lazy

NAN, INF = float("nan"), float("inf")
PI = np.array([[0.5, 0.5], [0.9, 0.1]])
PI3 = np.full((2, 3), 1 / 3)


def _train(seed, perturbed):
    return PI


def _env_train(env, seed):
    return PI


@functools.cache
def _result_fields():
    res = retrain_compare(_train, seeds=4, states=[0, 1], n_bootstrap=10, progress=False)
    return {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}


def _result(**change):
    return lambda: ((), {**_result_fields(), **change})


def _rc(**kw):
    return lambda: ((_train,), {"states": [0, 1], "progress": False, **kw})


BONUS = reward_perturbation(lambda o, a, r, o2: r)

X1 = np.zeros((3, 1))


def _gauss(*, d: int = 1, cov=None, shift: float = 0.0):
    """A callable Gaussian policy states (n, 1) -> (mean (n, d), cov)."""
    c = np.eye(d) if cov is None else cov
    return lambda s: (np.repeat(np.asarray(s)[:, :1], d, axis=1) + shift, c)


class _GaussModule:
    """Built lazily as an nn.Module returning (mean, log_std) of a wrong log_std shape."""

    def __new__(cls, bad_log_std: bool = False):
        import torch
        from torch import nn

        class M(nn.Module):
            def forward(self, x):
                return x[:, :1], torch.zeros(5)

        return M()


def _gd(**over):
    kw = {
        "kl_ab": [0.0],
        "kl_ba": [0.0],
        "tv": [0.0],
        "tv_exact": np.array([True]),
        "mean_shift": [0.0],
    }
    kw.update(over)
    return tuple(np.asarray(v) if not isinstance(v, np.ndarray) else v for v in kw.values())


EXEMPT: dict[str, str] = {}
CASES: list[Case] = [
    # as_probabilities / policy_distance
    bad(as_probabilities, "states", "nan", PI, [0.0, NAN]),
    bad(as_probabilities, "states", "empty", PI, []),
    bad(as_probabilities, "states", "range", PI, [0, 2]),
    bad(as_probabilities, "states", "value", PI, [0.5]),
    bad(as_probabilities, "states", "shape", PI, np.zeros((2, 2, 2))),
    bad(as_probabilities, "policy", "type", "not a policy", [0]),
    bad(as_probabilities, "policy", "value", lambda x: np.ones((len(x), 2)), [0]),
    bad(as_probabilities, "policy", "shape", lambda x: np.ones(len(x)), [0]),
    bad(as_probabilities, "policy", "nan", lambda x: np.full((len(x), 2), NAN), [0]),
    bad(as_probabilities, "policy", "value", np.array([[0.5, 0.6]]), [0]),
    bad(policy_distance, "policy_b", "shape", PI, PI3, [0, 1]),
    bad(policy_distance, "policy_a", "type", None, PI, [0, 1]),
    bad(policy_distance, "states", "inf", PI, PI, [0.0, INF]),
    bad(PolicyDistance, "tv", "range", np.array([0.5, 1.5]), np.array([False, True])),
    bad(PolicyDistance, "tv", "nan", np.array([NAN]), np.array([False])),
    bad(PolicyDistance, "disagreement", "shape", np.array([0.5]), np.array([False, True])),
    bad(PolicyDistance, "disagreement", "type", np.array([0.5]), np.array([0])),
    # Gaussian policies: as_gaussian / policy_distance / GaussianPolicyDistance
    bad(as_gaussian, "policy", "type", PI, [0, 1]),
    bad(as_gaussian, "policy", "shape", _gauss(cov=np.eye(2)), X1),
    bad(as_gaussian, "policy", "value", _gauss(cov=np.array([[1.0, 2.0], [0.0, 1.0]]), d=2), X1),
    bad(as_gaussian, "policy", "value", _gauss(cov=np.array([[1.0, 2.0], [2.0, 1.0]]), d=2), X1),
    bad(as_gaussian, "policy", "value", _gauss(cov=np.full((3, 1), -1.0)), X1),
    bad(as_gaussian, "policy", "nan", _gauss(cov=np.full((1, 1), NAN)), X1),
    bad(as_gaussian, "policy", "type", lambda s: ("mean", np.eye(1)), X1),
    bad(as_gaussian, "states", "nan", _gauss(), np.full((2, 1), NAN)),
    bad(as_gaussian, "policy", "shape", _GaussModule(bad_log_std=True), X1),
    bad(policy_distance, "policy_b", "value", _gauss(), lambda s: np.full((len(s), 2), 0.5), X1),
    bad(policy_distance, "policy_b", "shape", _gauss(), _gauss(d=2, cov=np.eye(2)), X1),
    bad(policy_distance, "policy_b", "inf", _gauss(), _gauss(shift=INF), X1),
    bad(GaussianPolicyDistance, "tv", "range", *_gd(tv=[1.5])),
    bad(GaussianPolicyDistance, "kl_ab", "range", *_gd(kl_ab=[-1.0])),
    bad(GaussianPolicyDistance, "kl_ba", "nan", *_gd(kl_ba=[NAN])),
    bad(GaussianPolicyDistance, "mean_shift", "shape", *_gd(mean_shift=[0.0, 1.0])),
    bad(GaussianPolicyDistance, "tv_exact", "type", *_gd(tv_exact=np.array([1]))),
    # retrain_compare
    bad(retrain_compare, "train", "type", 3, states=[0]),
    lazy(retrain_compare, "seeds", "range", _rc(seeds=1)),
    lazy(retrain_compare, "seeds", "seed", _rc(seeds=[0, -1])),
    lazy(retrain_compare, "seeds", "value", _rc(seeds=[1, 1, 2])),
    lazy(retrain_compare, "seeds", "type", _rc(seeds=2.5)),
    lazy(retrain_compare, "perturbed_seeds", "shape", _rc(seeds=4, perturbed_seeds=[5, 6])),
    lazy(retrain_compare, "engine", "option", _rc(engine="dask")),
    lazy(retrain_compare, "n_jobs", "range", _rc(n_jobs=0)),
    lazy(retrain_compare, "n_permutations", "range", _rc(n_permutations=0)),
    lazy(retrain_compare, "alpha", "range", _rc(alpha=1.0)),
    lazy(retrain_compare, "alpha", "nan", _rc(alpha=NAN)),
    lazy(retrain_compare, "n_bootstrap", "type", _rc(n_bootstrap=10.0)),
    lazy(retrain_compare, "confidence", "range", _rc(confidence=0.0)),
    lazy(retrain_compare, "random_state", "seed", _rc(random_state=-1)),
    lazy(retrain_compare, "progress", "type", _rc(progress="yes")),
    lazy(retrain_compare, "states", "nan", _rc(states=[0.0, NAN])),
    lazy(retrain_compare, "states", "empty", _rc(states=[])),
    lazy(retrain_compare, "states", "value", lambda: ((_train,), {"progress": False})),
    lazy(retrain_compare, "bound", "type", _rc(bound=0.1)),
    lazy(retrain_compare, "bound", "value", _rc(bound={"alpha": 1.0, "gamma": 0.5})),
    lazy(retrain_compare, "bound", "value", _rc(bound={"alpha": 1.0, "beta": 0.5})),
    lazy(
        retrain_compare,
        "alpha",
        "range",
        _rc(bound={"alpha": -1.0, "gamma": 0.5, "reward_distance": 0.1}),
    ),
    lazy(
        retrain_compare,
        "gamma",
        "range",
        _rc(bound={"alpha": 1.0, "gamma": 1.0, "reward_distance": 0.1}),
    ),
    lazy(retrain_compare, "perturbation", "type", _rc(perturbation="reward")),
    lazy(retrain_compare, "env", "value", lambda: ((_env_train,), {"perturbation": BONUS})),
    lazy(
        retrain_compare,
        "env",
        "type",
        lambda: ((_env_train,), {"perturbation": BONUS, "env": 3, "states": [0]}),
    ),
    lazy(retrain_compare, "episodes", "range", _rc(episodes=0)),
    lazy(retrain_compare, "max_states", "type", _rc(max_states=None)),
    lazy(retrain_compare, "train", "value", lambda: ((lambda s, p: None,), {"states": [0]})),
    lazy(
        retrain_compare,
        "train",
        "shape",
        lambda: ((lambda s, p: PI3 if p else PI,), {"states": [0], "progress": False}),
    ),
    lazy(RetrainComparison, "alpha", "range", _result(alpha=0.0)),
    lazy(RetrainComparison, "p_value", "range", _result(p_value=0.0)),
    lazy(RetrainComparison, "distances", "shape", _result(distances=np.zeros((3, 3)))),
    lazy(RetrainComparison, "distances", "nan", _result(distances=np.full((8, 8), NAN))),
    lazy(RetrainComparison, "distinguishable", "value", _result(distinguishable=True)),
    # perturbations
    bad(reward_perturbation, "fn", "type", 3),
    bad(reward_perturbation, "fn", "type", lambda r: r),
    bad(reward_perturbation, "reward_distance", "range", lambda o, a, r, o2: r, reward_distance=-1),
    bad(reward_perturbation, "reward_distance", "inf", lambda o, a, r, o2: r, reward_distance=INF),
    bad(BONUS, "env", "type", object()),
    bad(transition_perturbation, "action_noise", "range", action_noise=1.5),
    bad(transition_perturbation, "action_noise", "nan", action_noise=NAN),
    bad(transition_perturbation, "attributes", "type", attributes=[("force_mag", 1.0)]),
    bad(transition_perturbation, "action_noise", "value"),
    bad(EnvPerturbation, "name", "empty", "", lambda e: e),
    bad(EnvPerturbation, "wrap", "type", "x", 3),
    bad(EnvPerturbation, "reward_distance", "nan", "x", lambda e: e, NAN),
    # drop_data
    bad(drop_data, "fraction", "range", np.arange(4), 1.0),
    bad(drop_data, "fraction", "nan", np.arange(4), NAN),
    bad(drop_data, "fraction", "type", np.arange(4), "half"),
    bad(drop_data, "seed", "seed", np.arange(4), 0.5, seed=-2),
    bad(drop_data, "dataset", "empty", np.arange(0), 0.5),
    bad(drop_data, "dataset", "value", np.arange(2), 0.9),
    bad(drop_data, "dataset", "shape", {"a": np.arange(3), "b": np.arange(4)}, 0.5),
    bad(drop_data, "dataset", "type", 5, 0.5),
    bad(drop_data, "dataset", "type", "abc", 0.5),
]
assert math.isfinite(PI.sum())
