"""Bad-input cases of trainers.find (FIND)."""

from __future__ import annotations

import functools

import numpy as np
import torch

from tests._audit import Case, bad, lazy
from trainers.find import (
    ClusterDiffusion,
    FINDConfig,
    FINDResult,
    diag_gaussian_kl,
    diag_gaussian_log_prob,
    expected_reward,
    train_find,
)

NAN, INF = float("nan"), float("inf")
C2 = np.array([[1.0, 0.0], [-1.0, 0.0]])
GEN = ClusterDiffusion(C2)
Z2 = torch.zeros(2)
Z22 = np.zeros((2, 2))


@functools.cache
def _res():
    return train_find(GEN, FINDConfig(steps=1, samples_per_label=2))


def _on(*args):
    return lambda: ((_res(), *args), {})


EXEMPT = {
    "find.FINDResult": "result dataclass returned by train_find; takes no user input",
}

CASES: list[Case] = [
    # ClusterDiffusion (+ ring, generate, reward)
    bad(ClusterDiffusion, "centers", "nan", np.full((2, 2), NAN)),
    bad(ClusterDiffusion, "centers", "shape", np.zeros(3)),
    bad(ClusterDiffusion, "centers", "shape", np.zeros((1, 2))),
    bad(ClusterDiffusion, "centers", "value", np.zeros((2, 2))),
    bad(ClusterDiffusion, "centers", "type", "ring"),
    bad(ClusterDiffusion, "cluster_std", "range", C2, 0.0),
    bad(ClusterDiffusion, "cluster_std", "inf", C2, INF),
    bad(ClusterDiffusion, "n_steps", "range", C2, n_steps=0),
    bad(ClusterDiffusion, "n_steps", "type", C2, n_steps=2.5),
    bad(ClusterDiffusion, "alpha_bar_min", "range", C2, alpha_bar_min=1.0),
    bad(ClusterDiffusion, "alpha_bar_min", "value", C2, alpha_bar_min=0.999),
    bad(ClusterDiffusion, "alpha_bar_max", "nan", C2, alpha_bar_max=NAN),
    bad(ClusterDiffusion.ring, "n_clusters", "range", 1),
    bad(ClusterDiffusion.ring, "radius", "range", 4, radius=-1.0),
    bad(GEN.generate, "z", "shape", torch.zeros(3, 3)),
    bad(GEN.generate, "z", "nan", torch.full((1, 2), NAN)),
    bad(GEN.generate, "z", "type", "noise"),
    bad(GEN.reward, "kind", "option", torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), "nll"),
    # Gaussian log-likelihood and KL
    bad(diag_gaussian_log_prob, "z", "type", np.zeros(2), Z2, Z2),
    bad(diag_gaussian_log_prob, "log_std", "shape", Z2, Z2, torch.zeros(3)),
    bad(diag_gaussian_log_prob, "mean", "shape", Z2, torch.tensor(0.0), Z2),
    bad(diag_gaussian_kl, "mean_p", "nan", [NAN], [0.0]),
    bad(diag_gaussian_kl, "log_std_p", "inf", [0.0], [INF]),
    bad(diag_gaussian_kl, "mean_q", "shape", [0.0, 0.0], [0.0, 0.0], [0.0, 0.0, 0.0]),
    bad(diag_gaussian_kl, "mean_p", "shape", 0.0, 0.0),
    bad(diag_gaussian_kl, "mean_p", "type", "a", [0.0]),
    # FINDConfig
    bad(FINDConfig, "FINDConfig.steps", "range", steps=0),
    bad(FINDConfig, "FINDConfig.lr", "nan", lr=NAN),
    bad(FINDConfig, "FINDConfig.clip_eps", "range", clip_eps=1.5),
    bad(FINDConfig, "FINDConfig.ratio_clipping", "type", ratio_clipping="yes"),
    bad(FINDConfig, "FINDConfig.update_epochs", "type", update_epochs=2.5),
    bad(FINDConfig, "FINDConfig.reward", "option", reward="clip_score"),
    bad(FINDConfig, "FINDConfig.log_std_min", "range", log_std_min=0.5),
    bad(FINDConfig, "FINDConfig.calibration_lr", "range", calibration_lr=0.0),
    bad(FINDConfig.plain_pg, "FINDConfig.steps", "range", steps=-1),
    # train_find / expected_reward
    bad(train_find, "task", "type", C2, FINDConfig()),
    bad(train_find, "config", "type", GEN, {"steps": 3}),
    bad(train_find, "seeds[0]", "seed", GEN, FINDConfig(steps=1), seeds=[-1]),
    bad(train_find, "seeds", "value", GEN, FINDConfig(steps=1), seeds=[1, 1]),
    bad(train_find, "seeds", "empty", GEN, FINDConfig(steps=1), seeds=[]),
    bad(train_find, "device", "option", GEN, FINDConfig(steps=1), device="tpu"),
    bad(expected_reward, "task", "type", C2, Z22, Z22),
    bad(expected_reward, "mean", "shape", GEN, np.zeros((3, 2)), Z22),
    bad(expected_reward, "log_std", "shape", GEN, Z22, np.zeros((1, 2, 2))),
    bad(expected_reward, "log_std", "nan", GEN, Z22, np.full((2, 2), NAN)),
    bad(expected_reward, "samples", "range", GEN, Z22, Z22, samples=0),
    bad(expected_reward, "seed", "seed", GEN, Z22, Z22, seed=-3),
    bad(expected_reward, "reward", "option", GEN, Z22, Z22, reward="fid"),
    # FINDResult methods
    lazy(FINDResult.policy_module, "run", "range", _on(1)),
    lazy(FINDResult.policy_module, "run", "type", _on(0.5)),
]
