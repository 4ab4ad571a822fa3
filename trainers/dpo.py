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

from theory.checks import ArgumentTypeError, check_positive_int, check_rng
from trainers import losses as L
from trainers.policy_gradient import PGConfig, make_policy
from trainers.runtime import (
    NONNEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    real,
    setup,
)
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
                "beta": POSITIVE,
                "label_smoothing": real(0.0, 0.5, hi_open=True),
                "steps": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "lr": POSITIVE,
                "hidden": NONNEGATIVE_INT,
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
    check_instance("task", task, ContextualBandit)
    n = check_positive_int("n", n)
    check_rng("rng", rng)
    C, A = task.rewards.shape
    c = rng.integers(C, size=n)
    a = rng.integers(A, size=n)
    b = (a + rng.integers(1, A, size=n)) % A
    p = 1.0 / (1.0 + np.exp(-(task.rewards[c, a] - task.rewards[c, b])))
    win = rng.random(n) < p
    return c, np.where(win, a, b), np.where(win, b, a)


def _check_pairs(
    pairs: object, n_contexts: int, n_actions: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pairs`` as three checked int64 arrays (contexts, chosen, rejected)."""
    if not isinstance(pairs, tuple | list) or len(pairs) != 3:
        raise ArgumentTypeError(
            f"pairs must be a tuple (contexts, chosen, rejected) of three arrays; got "
            f"{type(pairs).__name__}"
        )
    out = []
    for part, x, hi in zip(
        ("contexts", "chosen", "rejected"), pairs, (n_contexts, n_actions, n_actions), strict=True
    ):
        arr = np.asarray(x)
        if arr.dtype.kind not in "iu":
            raise ArgumentTypeError(
                f"pairs ({part}) must be an integer array; got dtype {arr.dtype}"
            )
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"pairs ({part}) must be a non-empty 1-d array; got shape {arr.shape}")
        if arr.min() < 0 or arr.max() >= hi:
            k = int(np.flatnonzero((arr < 0) | (arr >= hi))[0])
            raise ValueError(f"pairs ({part}) must lie in [0, {hi}); pair {k} has {arr[k]}")
        out.append(arr.astype(np.int64))
    c, w, lo = out
    if not c.shape == w.shape == lo.shape:
        raise ValueError(
            f"pairs must be three equal-length arrays; got lengths {c.size}, {w.size}, {lo.size}"
        )
    same = np.flatnonzero(w == lo)
    if same.size:
        k = int(same[0])
        raise ValueError(
            f"pairs: pair {k} (context {c[k]}) has chosen == rejected == {w[k]}; a preference "
            f"needs two distinct arms ({same.size} such pairs)"
        )
    return c, w, lo


def train_dpo(
    task: ContextualBandit,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: DPOConfig = DPOConfig(),
    *,
    seed: int = 0,
    device: str = "cpu",
    progress: bool | None = None,
) -> DPOResult:
    """Train a policy on ``pairs = (contexts, chosen, rejected)`` against ``task.reference``.

    Parameters
    ----------
    task : ContextualBandit
        Features and reference policy (its rewards are not used).
    pairs : (contexts, chosen, rejected)
        Three equal-length 1-d integer arrays: context indices in ``[0, C)`` and two distinct
        arm indices in ``[0, A)`` per pair (a pair with ``chosen == rejected`` states no
        preference and is refused).
    config : DPOConfig
    seed : int
    device, progress
        As in the other trainers.
    """
    check_instance("task", task, ContextualBandit)
    check_instance("config", config, DPOConfig)
    c, w, lo = _check_pairs(pairs, *task.rewards.shape)
    A = task.n_actions
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
