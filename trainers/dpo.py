"""DPO on preference pairs (Rafailov et al. 2023) for contextual-bandit policies.

Data: triples ``(context, chosen, rejected)``; :func:`preference_pairs` draws them from the
Bradley-Terry model ``P(a > b | c) = sigma(r(c, a) - r(c, b))`` of a task's reward. The loss is
:func:`trainers.losses.dpo_loss` against the task's reference policy. With enough data the
policy tends to ``pi_ref exp(r / beta) / Z``, the KL-regularized optimum that DPO solves in
closed form (Rafailov et al. 2023, §4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from trainers import losses as L
from trainers.policy_gradient import PGConfig, make_policy
from trainers.runtime import MetricsLog, check_config, setup
from trainers.tasks import ContextualBandit

__all__ = ["DPOConfig", "DPOResult", "preference_pairs", "train_dpo"]


@dataclass(frozen=True)
class DPOConfig:
    """Hyperparameters of the DPO trainer (TRL defaults where they apply)."""

    beta: float = 0.1
    """DPO temperature (TRL default 0.1)."""
    label_smoothing: float = 0.0
    """Probability that a label is flipped (conservative DPO)."""
    steps: int = 300
    """Optimizer steps."""
    batch_size: int = 64
    """Pairs per step (sampled with replacement)."""
    lr: float = 0.05
    """Adam learning rate."""
    hidden: int = 0
    """0: logit table on one-hot contexts; else a tanh MLP of this width."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "beta": (lambda v: v > 0, "> 0"),
                "label_smoothing": (lambda v: 0 <= v < 0.5, "in [0, 0.5)"),
                "steps": (lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
                "batch_size": (lambda v: isinstance(v, int) and v >= 1, "an int >= 1"),
                "lr": (lambda v: v > 0, "> 0"),
                "hidden": (lambda v: isinstance(v, int) and v >= 0, "an int >= 0"),
            },
        )


@dataclass(frozen=True)
class DPOResult:
    """Final policy (C, A), the metrics table and the state dict."""

    policy: np.ndarray
    metrics: list[dict[str, float]] = field(repr=False)
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    seconds: float

    def summary(self) -> str:
        acc = self.metrics[-1].get("rewards/accuracies", float("nan")) if self.metrics else 0
        return (
            f"DPO: {len(self.metrics)} logged steps, pair accuracy {acc:.3f}, {self.seconds:.2f} s"
        )


def preference_pairs(
    task: ContextualBandit, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` Bradley-Terry pairs: uniform context, two distinct uniform arms, label by
    ``sigma(r_a - r_b)``. Returns ``(contexts, chosen, rejected)`` int arrays."""
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n!r}")
    C, A = task.rewards.shape
    c = rng.integers(C, size=n)
    a = rng.integers(A, size=n)
    b = (a + rng.integers(1, A, size=n)) % A
    p = 1.0 / (1.0 + np.exp(-(task.rewards[c, a] - task.rewards[c, b])))
    win = rng.random(n) < p
    return c, np.where(win, a, b), np.where(win, b, a)


def train_dpo(
    task: ContextualBandit,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: DPOConfig = DPOConfig(),
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool | None = None,
) -> DPOResult:
    """Train a policy on ``pairs = (contexts, chosen, rejected)`` against ``task.reference``."""
    c, w, lo = (np.asarray(x, dtype=np.int64) for x in pairs)
    C, A = task.rewards.shape
    if not (c.shape == w.shape == lo.shape and c.ndim == 1 and c.size > 0):
        raise ValueError("pairs must be three equal-length 1-d integer arrays")
    if c.min() < 0 or c.max() >= C or min(w.min(), lo.min()) < 0 or max(w.max(), lo.max()) >= A:
        raise ValueError(f"pairs index contexts in [0, {C}) and arms in [0, {A})")
    dev = setup(seed, device)
    net = make_policy(task.features.shape[1], A, PGConfig(hidden=config.hidden), seed).to(dev)
    x = torch.as_tensor(task.features, dtype=torch.float32, device=dev)
    ref = torch.as_tensor(np.log(np.clip(task.reference, 1e-300, None)), dtype=torch.float32)
    ref = ref.to(dev)
    ct, wt, lt = (torch.as_tensor(v, device=dev) for v in (c, w, lo))
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    gen = torch.Generator(device=dev).manual_seed(seed)
    log = MetricsLog(config.steps, progress=progress)
    start = time.perf_counter()
    for t in range(config.steps):
        idx = torch.randint(c.size, (config.batch_size,), generator=gen, device=dev)
        logp = L.log_softmax(net(x))[ct[idx]]
        rp = ref[ct[idx]]
        pick = lambda m, a: m.gather(-1, a[:, None]).squeeze(-1)  # noqa: E731
        loss, stats = L.dpo_loss(
            pick(logp, wt[idx]),
            pick(logp, lt[idx]),
            pick(rp, wt[idx]),
            pick(rp, lt[idx]),
            config.beta,
            label_smoothing=config.label_smoothing,
        )
        opt.zero_grad(set_to_none=True)
        loss.mean().backward()
        opt.step()
        if (t + 1) % 50 == 0 or t + 1 == config.steps:
            log.log(t + 1, {"losses/dpo": loss.mean(), **stats})
        log.advance()
    log.close()
    with torch.no_grad():
        pol = L.log_softmax(net(x)).exp().double().cpu().numpy()
    return DPOResult(
        pol,
        log.rows,
        {k: v.detach().cpu() for k, v in net.state_dict().items()},
        time.perf_counter() - start,
    )
