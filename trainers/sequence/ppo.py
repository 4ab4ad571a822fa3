"""PPO with a value model on sequence policies (RLHF-style, every PPO-max trick a switch), N
seeds at once.

Each step samples ``batch_size`` completions per run (one per drawn training prompt) and
builds per-token rewards as in RLHF PPO (Ouyang et al. 2022, §3.5; Zheng et al. 2023, §5.3):

    r_t = -kl_coef (log pi_old(y_t | s_t) - log pi_ref(y_t | s_t))  +  1[t = last] score

(the token-level KL penalty to the reference, with the log-probs of the policy that sampled,
and the task's reward, processed as below, at the last real token). The critic is a second
:class:`~trainers.sequence.policy.TinyCausalLM` (stacked like the policy) whose output channel
0 is the value ``V(s_t)`` of the state before token t: a linear value head on its last hidden
state. Advantages are GAE (Schulman et al. 2016, Eq. 16) over the completion
(``V`` after the last real token is 0), returns ``A + V``. Then ``update_epochs`` passes over
the rollout, each in ``num_minibatches`` minibatches of completions (one optimizer step each),
minimise per run

    policy loss + vf_coef * value loss - entropy_coef * H + entropy_target_coef * |H - target|

with every term a token mean over the minibatch's real tokens.

The tricks of Zheng et al. (2023), Fig. 5 (★: the set they call PPO-max), each a switch with
the semantics of their code (MOSS-RLHF, ``ppo/ppo_trainer.py``, ``utils.py``):

- ★ token-level KL penalty: ``kl_coef`` (0: off);
- importance sampling: the ratio pi_theta / pi_old, 1 on the first minibatch of a rollout,
  off-policy on the later ones (``update_epochs``, ``num_minibatches``);
- entropy bonus: ``entropy_coef`` (``- coef * H``) and/or ``entropy_target`` (MOSS's
  ``coef * |H - entropy_clip|``);
- reward scaling: ``reward_scaling``, the score divided by the run's running std, the mean not
  subtracted;
- ★ reward normalisation and clipping: ``reward_norm`` (only with scaling: ``(score - running
  mean) / running std``), ``reward_clip``;
- advantage normalisation and clipping (not starred): ``advantage_norm``, ``advantage_clip``;
- ★ value function loss clipping: ``value_clip``;
- ★ critic initialisation: ``critic_init="policy"`` (see below);
- policy initialisation: the ``policy`` argument (e.g. an SFT reference);
- ★ generalised advantage estimation: ``gamma``, ``lam``;
- ★ clipped surrogate objective: ``policy_clip``, ``clip_eps``;
- ★ global gradient clipping: ``max_grad_norm`` with ``grad_clip="joint"`` (one norm over
  policy and critic, as DeepSpeed's clip of MOSS-RLHF's wrapped model).

:meth:`PPOSeqConfig.ppo_max` is the starred set, :meth:`PPOSeqConfig.ppo_max_released` the
released English training script (``train_ppo_en.sh``: reward scaling, critic loss clip and
policy loss clip only). The running reward statistics belong to each run (a stack of runs
equals the runs trained one by one).

The toy has no reward-model network: ``critic_init="policy"`` copies the initial policy's
trunk (embeddings, blocks, final norm; with the leaderboard's ``policy = copy of the
reference`` that is the reference's) into the critic and keeps a fresh value head, a stand-in
for the critic initialised from the reward model of Zheng et al. (2023), §5 and Fig. 5.

References
----------
J. Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017, Eq. (7).
J. Schulman et al., "High-Dimensional Continuous Control Using Generalized Advantage
Estimation", ICLR 2016, Eq. (16).
L. Ouyang et al., "Training language models to follow instructions with human feedback",
NeurIPS 2022, §3.5 (per-token KL penalty to the SFT model).
R. Zheng et al., "Secrets of RLHF in Large Language Models Part I: PPO" (PPO-max),
arXiv:2307.04964, 2023, §5.3 and Fig. 5; code: OpenLMLab/MOSS-RLHF.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from trainers import losses as L
from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    optional,
    real,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.policy import TinyCausalLM, policy_logits
from trainers.sequence.sampling import Completions
from trainers.sequence.tasks import SequenceTask

__all__ = ["PPOSeqConfig", "train_sequence_ppo"]

#: A scaled score divides by the running std unless that is below this (all scores so far
#: equal, or fewer than two): then the std counts as 1 (MOSS-RLHF would divide by zero).
_STD_FLOOR = 1e-8


@dataclass(frozen=True)
class PPOSeqConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_sequence_ppo` (MOSS-RLHF's names for PPO-max).

    A step samples ``batch_size`` completions per run (one per drawn training prompt) and
    makes ``update_epochs * num_minibatches`` optimizer steps on them.
    """

    _CRITIC_LR_RATIO: ClassVar[float] = 3.0
    _TRAINER: ClassVar[str] = "train_sequence_ppo"

    steps: int = 200
    """Rollouts (each followed by ``update_epochs * num_minibatches`` optimizer steps)."""
    batch_size: int = 32
    """Completions sampled per run per rollout (one per drawn training prompt)."""
    update_epochs: int = 2
    """Passes over each rollout (MOSS-RLHF makes one)."""
    num_minibatches: int = 1
    """Minibatches per pass (contiguous blocks of the rollout's completions; MOSS-RLHF: 4,
    ``num_rollouts / batch_size`` = 128 / 32); at most ``batch_size``."""
    clip_eps: float = 0.2
    """Policy ratio clip (MOSS-RLHF ``pg_clip``)."""
    policy_clip: bool = True
    """Clipped surrogate ``max(-A rho, -A clip(rho, 1 +- clip_eps))`` (``use_policy_loss_clip``);
    False: the unclipped ``-A rho``."""
    kl_coef: float = 0.05
    """Token-level KL penalty to the reference in the reward (``kl_penalty_weight``)."""
    gamma: float = 1.0
    """Discount over the completion's tokens."""
    lam: float = 0.95
    """GAE lambda."""
    lr: float = 1e-3
    """Policy learning rate."""
    critic_lr: float | None = None
    """Critic learning rate (None: 3 x lr, MOSS-RLHF's ratio 1.5e-6 / 5e-7)."""
    vf_coef: float = 1.0
    """Weight of the value loss ``1/2 (V - R)^2`` (``vf_loss_weight``)."""
    entropy_coef: float = 0.0
    """Weight of the exact per-token entropy bonus ``- entropy_coef * H``."""
    entropy_target: float | None = None
    """MOSS-RLHF's entropy loss ``entropy_target_coef * |H - entropy_target|`` (H the token-mean
    exact entropy in nats; ``entropy_clip``, 35 there, above log V so that it acts as a plain
    bonus); None: off."""
    entropy_target_coef: float = 0.0
    """Weight of the target-entropy penalty (``entropy_loss_weight``); > 0 iff
    ``entropy_target`` is set."""
    reward_scaling: bool = False
    """Divide each score by the run's running std of all scores so far, the mean not
    subtracted (``use_reward_scaling``)."""
    reward_norm: bool = False
    """With ``reward_scaling``: ``(score - running mean) / running std`` instead
    (``use_reward_norm``; MOSS-RLHF normalises only inside reward scaling)."""
    reward_clip: float | None = None
    """Clip the (scaled) scores to [-c, c] (``reward_clip``, 10 there); None: off."""
    advantage_norm: bool = True
    """Whiten advantages over each run's real tokens of a minibatch,
    ``(A - mean) / sqrt(var + 1e-6)`` (``use_advantage_norm``)."""
    advantage_clip: float | None = None
    """Clip advantages to [-c, c] after whitening (``advantage_clip``); None: off."""
    value_clip: float | None = 0.2
    """Value loss ``1/2 max((V - R)^2, (V_old + clip(V - V_old, +-c) - R)^2)``
    (``use_critic_loss_clip``, ``value_clip``); None: ``1/2 (V - R)^2``."""
    critic_init: str = "random"
    """'random' (a TinyCausalLM of the config's size, its own seed per run) or 'policy' (the
    initial policy's trunk, a fresh value head; the policy must be a TinyCausalLM)."""
    grad_clip: str = "separate"
    """'separate' (clip the policy's and the critic's gradient norms each to max_grad_norm)
    or 'joint' (one norm over both, per run: MOSS-RLHF's DeepSpeed global clip)."""
    temperature: float = 1.0
    """Sampling temperature (the log-probs of the loss use the same)."""

    def __post_init__(self) -> None:
        check_config(self, self._rules())
        self._check_combinations()

    def _rules(self) -> dict[str, Any]:
        return {
            "steps": POSITIVE_INT,
            "batch_size": POSITIVE_INT,
            "update_epochs": POSITIVE_INT,
            "num_minibatches": POSITIVE_INT,
            "clip_eps": OPEN_UNIT,
            "policy_clip": FLAG,
            "kl_coef": NONNEGATIVE,
            "gamma": PROBABILITY,
            "lam": PROBABILITY,
            "lr": POSITIVE,
            "critic_lr": optional(POSITIVE),
            "vf_coef": NONNEGATIVE,
            "entropy_coef": NONNEGATIVE,
            "entropy_target": optional(real(0.0)),
            "entropy_target_coef": NONNEGATIVE,
            "reward_scaling": FLAG,
            "reward_norm": FLAG,
            "reward_clip": optional(POSITIVE),
            "advantage_norm": FLAG,
            "advantage_clip": optional(POSITIVE),
            "value_clip": optional(POSITIVE),
            "critic_init": one_of("random", "policy"),
            "grad_clip": one_of("separate", "joint"),
            "temperature": POSITIVE,
            **C.POLICY_OPTION_RULES,
        }

    def _check_combinations(self) -> None:
        cls = type(self).__name__
        if self.reward_norm and not self.reward_scaling:
            raise ValueError(
                f"{cls}.reward_norm needs reward_scaling=True (MOSS-RLHF normalises the scores "
                "only inside reward scaling)"
            )
        if (self.entropy_target is None) != (self.entropy_target_coef == 0):
            raise ValueError(
                f"{cls}.entropy_target and {cls}.entropy_target_coef go together: set both (a "
                f"target and a weight > 0) or neither; got entropy_target={self.entropy_target}, "
                f"entropy_target_coef={self.entropy_target_coef}"
            )
        if self.num_minibatches > self.batch_size:
            raise ValueError(
                f"{cls}.num_minibatches must be <= batch_size ({self.batch_size}); got "
                f"{self.num_minibatches}"
            )

    @property
    def critic_learning_rate(self) -> float:
        """``critic_lr``, or its default multiple of ``lr`` when None."""
        return self.critic_lr if self.critic_lr is not None else self._CRITIC_LR_RATIO * self.lr

    @classmethod
    def ppo_max(cls, **overrides: Any) -> PPOSeqConfig:
        """PPO-max: the starred tricks of Zheng et al. (2023), Fig. 5, with MOSS-RLHF's
        scale-free numbers (``config_ppo.py``): token-level KL 0.02, reward normalisation
        (running mean and std) and clipping at 10, value loss clip 0.2, critic initialised
        from the model (``critic_init="policy"``), GAE with gamma 1 and lambda 0.95, clipped
        surrogate 0.2, global gradient clip 1.0 over policy and critic; advantage
        normalisation and clipping (not starred) and the entropy terms off; one pass in 4
        minibatches per rollout. The learning rates are left to the caller (``overrides``
        replace any field)."""
        base = dict(
            kl_coef=0.02,
            reward_scaling=True,
            reward_norm=True,
            reward_clip=10.0,
            advantage_norm=False,
            advantage_clip=None,
            value_clip=0.2,
            policy_clip=True,
            clip_eps=0.2,
            critic_init="policy",
            gamma=1.0,
            lam=0.95,
            max_grad_norm=1.0,
            grad_clip="joint",
            update_epochs=1,
            num_minibatches=4,
            vf_coef=1.0,
            entropy_coef=0.0,
            entropy_target=None,
            entropy_target_coef=0.0,
        )
        return cls(**{**base, **overrides})

    @classmethod
    def ppo_max_released(cls, **overrides: Any) -> PPOSeqConfig:
        """The released PPO-max script (MOSS-RLHF ``train_ppo_en.sh``): token-level KL 0.01,
        reward scaling by the running std only (no normalisation, no reward clip), critic loss
        clip 0.2 and policy loss clip 0.2; advantages neither whitened nor clipped; the rest
        as :meth:`ppo_max`. ``overrides`` replace any field."""
        released = dict(kl_coef=0.01, reward_norm=False, reward_clip=None)
        return cls.ppo_max(**{**released, **overrides})


# --------------------------------------------------------------------------------------------
# reward processing: running moments per run (MOSS-RLHF utils.RunningMoments)
# --------------------------------------------------------------------------------------------


class _RunningMoments:
    """Running mean and unbiased std of every score seen, one statistic per run.

    MOSS-RLHF's ``RunningMoments``: each batch's mean and (biased) variance are merged into the
    running ones (Chan et al.'s parallel update), and the std is the Bessel-corrected
    ``sqrt(M2 / (count - 1))``. Its 1e-24 prior count is dropped (the update is exact).
    """

    def __init__(self, n_runs: int, device: torch.device):
        self.count = 0
        self.mean = torch.zeros(n_runs, dtype=torch.float64, device=device)
        self.m2 = torch.zeros(n_runs, dtype=torch.float64, device=device)

    def update(self, x: torch.Tensor) -> None:
        """Fold a batch (N, B) (row i: run i's scores) into the statistics."""
        x = x.detach().to(torch.float64)
        n = x.shape[-1]
        b_mean = x.mean(-1)
        b_m2 = ((x - b_mean[:, None]) ** 2).sum(-1)
        tot = self.count + n
        delta = b_mean - self.mean
        self.mean = self.mean + delta * (n / tot)
        self.m2 = self.m2 + b_m2 + delta**2 * (self.count * n / tot)
        self.count = tot

    @property
    def std(self) -> torch.Tensor:
        """(N,) unbiased std of every score seen (NaN before two scores)."""
        if self.count < 2:
            return torch.full_like(self.mean, math.nan)
        return (self.m2 / (self.count - 1)).sqrt()


def _process_scores(
    rewards: torch.Tensor, moments: _RunningMoments | None, cfg: PPOSeqConfig
) -> torch.Tensor:
    """PPO-max score processing (MOSS-RLHF ``make_experiences``) of rewards (N, B): update the
    running moments, then ``R / std`` (``reward_scaling``) or ``(R - mean) / std``
    (``reward_norm``), then ``clip(R, +-reward_clip)``. A std below 1e-8 or undefined counts
    as 1."""
    scores = rewards
    if cfg.reward_scaling:
        moments.update(rewards)  # type: ignore[union-attr]
        std = moments.std  # type: ignore[union-attr]
        std = torch.where(std.isnan() | (std < _STD_FLOOR), 1.0, std).to(rewards)[:, None]
        if cfg.reward_norm:
            scores = (rewards - moments.mean.to(rewards)[:, None]) / std  # type: ignore[union-attr]
        else:  # MOSS: "do not -= mean since advantage will be normalized again"
            scores = rewards / std
    if cfg.reward_clip is not None:
        scores = scores.clamp(-cfg.reward_clip, cfg.reward_clip)
    return scores


# --------------------------------------------------------------------------------------------
# the critic
# --------------------------------------------------------------------------------------------


def _build_critic(
    task: SequenceTask,
    policy: nn.Module,
    cfg: PPOSeqConfig,
    seeds: list[int],
    stacked: bool,
    device: torch.device,
) -> TinyCausalLM:
    """The critic: a TinyCausalLM in the policy's dtype (stacked like the policy, run i
    initialised from its own ``critic`` stream seed); with ``critic_init="policy"`` of the policy's architecture, its
    trunk a copy of the policy's (everything but the output head, whose channel 0 is the
    value head)."""
    critic_seeds = C.stream_seeds(seeds, "critic")
    init = {"seeds": critic_seeds} if stacked else {"seed": critic_seeds[0]}
    if cfg.critic_init == "random":
        return TinyCausalLM(
            task.vocab_size,
            max_len=task.prompt_len + task.completion_len,
            d_model=cfg.d_model,
            n_layers=cfg.n_layers,
            n_heads=cfg.n_heads,
            dtype=next(policy.parameters()).dtype,
            **init,
        ).to(device)
    if not isinstance(policy, TinyCausalLM):
        raise ValueError(
            f"{type(cfg).__name__}.critic_init='policy' needs the policy to be a TinyCausalLM "
            f"(its trunk is copied into the critic); got {type(policy).__name__}"
        )
    critic = TinyCausalLM(
        policy.vocab_size,
        max_len=policy.max_len,
        d_model=policy.d_model,
        n_layers=policy.n_layers,
        n_heads=policy.n_heads,
        dtype=policy.tok_emb.dtype,
        **init,
    ).to(device)
    theirs = dict(policy.named_parameters())
    with torch.no_grad():
        for name, p in critic.named_parameters():
            if name != "head_w":
                p.copy_(theirs[name])
    return critic


def _values(
    critic: nn.Module, prompts: torch.Tensor, tokens: torch.Tensor, stacked: bool
) -> torch.Tensor:
    """V(s_t) (N, B, L): the critic's output channel 0 at the positions that predict each
    completion token (after the prompt and the tokens before t)."""
    ids = torch.cat([prompts, tokens[..., :-1]], dim=-1)
    tp = prompts.shape[-1]
    if stacked:
        return policy_logits(critic, ids)[..., tp - 1 :, 0]
    return policy_logits(critic, ids[0])[..., tp - 1 :, 0][None]


# --------------------------------------------------------------------------------------------
# advantages and losses
# --------------------------------------------------------------------------------------------


def _gae(
    tok_rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over each completion (Schulman et al. 2016, Eq. 16) of per-token rewards and values
    (N, B, L); the episode ends at the last real token (``V`` after it is 0). Returns
    ``(A, A + V)``, 0 on pads."""
    m = mask.to(tok_rewards.dtype)
    adv, returns = L.gae(
        tok_rewards.movedim(-1, 0),
        values.movedim(-1, 0),
        (~mask).movedim(-1, 0).to(m.dtype),
        torch.zeros(mask.shape[:-1], dtype=m.dtype, device=m.device),
        torch.ones(mask.shape[:-1], dtype=m.dtype, device=m.device),
        gamma,
        lam,
    )
    return adv.movedim(0, -1) * m, returns.movedim(0, -1) * m


def _whiten(adv: torch.Tensor, mask: torch.Tensor, style: str = "moss") -> torch.Tensor:
    """Advantage whitening over each run's real tokens (statistics over the last two axes).

    ``"moss"``: ``(A - mean) / sqrt(var + 1e-6)`` with the biased variance (MOSS-RLHF
    ``utils.whiten``); ``"sb3"``: ``(A - mean) / (std + 1e-8)`` with the unbiased std
    (stable-baselines3 PPO, RL4LMs; one token: std 0). 0 on pads."""
    m = mask.to(adv.dtype)
    n = m.sum((-2, -1), keepdim=True).clamp(min=1.0)
    mean = (adv * m).sum((-2, -1), keepdim=True) / n
    ss = (((adv - mean) * m) ** 2).sum((-2, -1), keepdim=True)
    if style == "moss":
        return (adv - mean) * torch.rsqrt(ss / n + 1e-6) * m
    std = (ss / (n - 1).clamp(min=1.0)).sqrt()
    return (adv - mean) / (std + 1e-8) * m


def _pg_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float,
    clip: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-run policy loss, the token mean of ``max(-A rho, -A clip(rho, 1 +- eps))``
    (Schulman et al. 2017, Eq. 7; ``clip=False``: ``-A rho``), and the fraction of real tokens
    where the clip is active (the ratio is past the clip on the side the advantage pushes)."""
    ratio = (logp - old_logp.detach()).exp()
    adv = adv.detach()
    per_token = -adv * ratio
    if clip:
        per_token = torch.maximum(per_token, -adv * ratio.clamp(1 - clip_eps, 1 + clip_eps))
    loss = L.aggregate_token_loss(per_token, mask, "bnpo")
    with torch.no_grad():
        active = ((ratio < 1 - clip_eps) & (adv < 0)) | ((ratio > 1 + clip_eps) & (adv > 0))
        frac = C.masked_mean(active.to(logp.dtype), mask)
    return loss, frac


def _total_loss(
    pg_loss: torch.Tensor, v_loss: torch.Tensor, entropy: torch.Tensor, cfg: PPOSeqConfig
) -> torch.Tensor:
    """``pg + vf_coef * v - entropy_coef * H + entropy_target_coef * |H - entropy_target|``
    per run (H the token-mean entropy; MOSS-RLHF ``criterion``, its entropy loss
    ``|H - entropy_clip|``)."""
    loss = pg_loss + cfg.vf_coef * v_loss
    if cfg.entropy_coef > 0:
        loss = loss - cfg.entropy_coef * entropy
    if cfg.entropy_target is not None:
        loss = loss + cfg.entropy_target_coef * (entropy - cfg.entropy_target).abs()
    return loss


# --------------------------------------------------------------------------------------------
# the loop, with the hooks NLPO overrides
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sampled:
    """A rollout's completions (``logp``: log pi_old of the distribution that sampled them,
    the one the ratio uses), the log-probs of the KL penalty ``raw_logp`` (N, B, L) and the
    per-step action masks (N, B, L, V) the update re-applies (None: none)."""

    completions: Completions
    raw_logp: torch.Tensor
    action_mask: torch.Tensor | None


class _Rollouts:
    """How the PPO loop samples, scores its KL and evaluates log-probs: plain PPO.

    :mod:`trainers.sequence.nlpo` subclasses it (masked sampling, a delayed mask model, an
    adaptive KL coefficient)."""

    #: advantage whitening style of :func:`_whiten`
    whiten_style = "moss"

    def __init__(
        self,
        cfg: PPOSeqConfig,
        policy: nn.Module,
        task: SequenceTask,
        seeds: list[int],
        device: torch.device,
    ):
        self.cfg, self.task, self.stacked = cfg, task, C.is_stacked(policy)

    def sample(
        self, policy: nn.Module, prompts: torch.Tensor, gens: list[torch.Generator]
    ) -> _Sampled:
        comps = C.sample_runs(policy, prompts, self.task, gens, temperature=self.cfg.temperature)
        return _Sampled(comps, comps.logp, None)

    def kl_coef(self) -> float | torch.Tensor:
        """The KL coefficient of this rollout: a number or one per run (N,)."""
        return self.cfg.kl_coef

    def after_rollout(
        self, step: int, kl_tok: torch.Tensor, mask: torch.Tensor, policy: nn.Module
    ) -> dict[str, Any]:
        """Called after the rollout's rewards, before the update; returns metrics to log."""
        return {}

    def logprobs(
        self,
        policy: nn.Module,
        prompts: torch.Tensor,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        action_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced log-probs and exact entropies (N, b, L) of the distribution that
        sampled, with grad."""
        return C.logprobs_runs(  # type: ignore[return-value]
            policy,
            prompts,
            tokens,
            mask,
            self.task,
            temperature=self.cfg.temperature,
            entropy=True,
        )


def _train_loop(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: PPOSeqConfig,
    *,
    seeds: Sequence[int],
    policy: nn.Module | None,
    ref_policy: nn.Module | None,
    device: str | torch.device | None,
    callback: C.Callback | None,
    algorithm: str,
    rollouts: Callable[..., _Rollouts],
) -> C.SequenceRunResult:
    """The PPO loop of :func:`train_sequence_ppo` and :func:`trainers.sequence.nlpo.train_nlpo`:
    ``rollouts(cfg, policy, task, seeds, device)`` makes the sampling/KL/log-prob hooks."""
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    task = tasks[0]
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    stacked = C.is_stacked(policy)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    critic = _build_critic(task, policy, cfg, seeds, stacked, dev)
    hooks = rollouts(cfg, policy, task, seeds, dev)
    opt = C.make_optimizer(
        [p for p in policy.parameters() if p.requires_grad], cfg.optimizer, cfg.lr
    )
    critic_opt = C.make_optimizer(
        list(critic.parameters()), cfg.optimizer, cfg.critic_learning_rate
    )
    prompt_gens = C.generators(seeds, "prompts", torch.device("cpu"))
    token_gens = C.generators(seeds, "tokens", dev)
    noise_gens = C.generators(seeds, "noise", torch.device("cpu"))
    N, B = len(seeds), cfg.batch_size
    moments = _RunningMoments(N, dev) if cfg.reward_scaling else None
    K = cfg.num_minibatches  # contiguous blocks of completions, as even as B allows
    chunks = [slice(B * j // K, B * (j + 1) // K) for j in range(K)]
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()
    for step in range(cfg.steps):
        # --- rollout ---
        prompts = C.as_batch(task, C.draw_prompts(tasks, B, prompt_gens), dev)
        roll = hooks.sample(policy, prompts, token_gens)
        comps, action_mask = roll.completions, roll.action_mask
        mask, old_logp = comps.mask, comps.logp
        rewards = C.rewards_runs(tasks, prompts, comps, noise_gens)  # (N, B) float64
        scores = _process_scores(rewards, moments, cfg)
        with torch.no_grad():
            ref_logp = C.logprobs_runs(
                ref, prompts, comps.tokens, mask, task, temperature=cfg.temperature
            )
            old_values = _values(critic, prompts, comps.tokens, stacked) * mask
        # --- per-token rewards: token-level KL penalty, the score at the last real token ---
        m = mask.to(old_logp.dtype)
        kl_tok = (roll.raw_logp - ref_logp) * m
        beta = hooks.kl_coef()
        if isinstance(beta, torch.Tensor):
            beta = beta.to(m)[:, None, None]
        last = torch.nn.functional.one_hot(mask.sum(-1) - 1, task.completion_len).to(m.dtype)
        tok_rewards = -beta * kl_tok + scores.to(m.dtype)[..., None] * last
        extra = hooks.after_rollout(step, kl_tok, mask, policy)
        # --- GAE over the completion (Schulman et al. 2016, Eq. 16) ---
        adv, returns = _gae(tok_rewards, old_values, mask, cfg.gamma, cfg.lam)
        # --- update_epochs passes, num_minibatches optimizer steps each ---
        for _ in range(cfg.update_epochs):
            # metrics of the last pass, summed over its minibatches (no host sync per step)
            sums = {
                k: torch.zeros((), dtype=m.dtype, device=dev)
                for k in ("loss", "pg", "value", "clip", "ent")
            }
            for rows in chunks:
                mb_mask = mask[:, rows]
                mb_adv = adv[:, rows]
                if cfg.advantage_norm:
                    mb_adv = _whiten(mb_adv, mb_mask, hooks.whiten_style)
                if cfg.advantage_clip is not None:
                    mb_adv = L.clip_advantages(mb_adv, cfg.advantage_clip)
                logp, entropy = hooks.logprobs(
                    policy,
                    prompts[:, rows],
                    comps.tokens[:, rows],
                    mb_mask,
                    None if action_mask is None else action_mask[:, rows],
                )
                # --- clipped surrogate (Schulman et al. 2017, Eq. 7), token mean per run ---
                pg_loss, clip_frac = _pg_loss(
                    logp, old_logp[:, rows], mb_adv, mb_mask, cfg.clip_eps, cfg.policy_clip
                )
                # --- value loss, clipped around the rollout's values ---
                values = _values(critic, prompts[:, rows], comps.tokens[:, rows], stacked)
                v_tok = L.clipped_value_loss(
                    values, old_values[:, rows], returns[:, rows], cfg.value_clip
                )
                v_loss = L.aggregate_token_loss(v_tok, mb_mask, "bnpo")
                ent = L.aggregate_token_loss(entropy, mb_mask, "bnpo")
                loss = _total_loss(pg_loss, v_loss, ent, cfg)
                opt.zero_grad(set_to_none=True)
                critic_opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                if cfg.grad_clip == "joint":  # one norm over policy and critic, per run
                    C.clip_gradients(policy, cfg.max_grad_norm, critic)
                else:
                    C.clip_gradients(policy, cfg.max_grad_norm)
                    C.clip_gradients(critic, cfg.max_grad_norm)
                opt.step()
                critic_opt.step()
                sums["loss"] += loss.detach().mean()
                sums["pg"] += pg_loss.detach().mean()
                sums["value"] += v_loss.detach().mean()
                sums["clip"] += clip_frac
                sums["ent"] += (entropy.detach() * mb_mask).sum()
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        if C.should_log(step + 1, cfg):
            log.log(
                step + 1,
                {
                    "charts/reward": rewards.mean(),
                    "charts/score": scores.mean(),
                    "losses/loss": sums["loss"] / K,
                    "losses/pg": sums["pg"] / K,
                    "losses/value": sums["value"] / K,
                    "stats/kl": C.masked_mean(kl_tok, mask),
                    "stats/entropy": sums["ent"] / max(n_tok, 1),
                    "stats/tokens": n_tok / mask[..., 0].numel(),
                    "stats/clip_ratio": sums["clip"] / K,
                    "stats/samples": (step + 1) * B,
                    **extra,
                },
            )
            C.notify(callback, step + 1, policy)
        log.advance()
    log.close()
    return C.SequenceRunResult(
        policy=policy,
        ref_policy=ref,
        config=cfg,
        seeds=tuple(seeds),
        metrics=log.rows,
        tokens_seen=tokens_seen,
        wall_s=time.perf_counter() - start,
        algorithm=algorithm,
    )


def train_sequence_ppo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: PPOSeqConfig = PPOSeqConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) PPO runs (policy + critic each) as stacked models.

    Parameters are those of :func:`trainers.sequence.grpo.train_grpo`; run i draws its
    prompts from ``task_or_tasks[i]``'s training prompts, is scored by its task and keeps its
    own running reward statistics. The critic is a :class:`TinyCausalLM` (stacked when the
    policy is): of the config's size (``critic_init="random"``) or of the policy's, its trunk
    copied from it (``"policy"``). ``PPOSeqConfig.ppo_max()`` and
    ``PPOSeqConfig.ppo_max_released()`` are the PPO-max presets.

    Returns
    -------
    SequenceRunResult
        Metrics per logged rollout (means over the runs): ``charts/reward`` (raw),
        ``charts/score`` (after scaling/normalisation/clipping), ``losses/loss``,
        ``losses/pg``, ``losses/value`` (means over the last pass's minibatches),
        ``stats/kl`` (mean per-token ``log pi_old - log ref`` of the samples),
        ``stats/entropy`` (last pass), ``stats/tokens``, ``stats/clip_ratio``,
        ``stats/samples`` (completions sampled per run so far).
    """
    check_instance("cfg", cfg, PPOSeqConfig)
    if cfg._TRAINER != "train_sequence_ppo":
        raise TypeError(
            f"cfg must be a PPOSeqConfig; got {type(cfg).__name__} (train it with {cfg._TRAINER})"
        )
    return _train_loop(
        task_or_tasks,
        cfg,
        seeds=seeds,
        policy=policy,
        ref_policy=ref_policy,
        device=device,
        callback=callback,
        algorithm="ppo",
        rollouts=_Rollouts,
    )
