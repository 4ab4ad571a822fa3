"""ReinFlow: a flow-matching policy made stochastic by a learned noise net, fine-tuned with PPO.

Read top to bottom: the toy task, the config, the networks (a velocity field ``v_theta(t, a, s)``
and a bounded noise net ``sigma_theta'(t, a, s)``), the chain and its exact likelihood, the
behaviour-cloning pretraining (conditional flow matching), the PPO loss, and the fine-tuning loop.

**The policy** (Zhang et al. 2025, Sec. 4). ``K`` Euler steps of the flow, each made a Gaussian
transition::

    a_0 ~ N(0, I),   a_{k+1} ~ N(a_k + v_theta(t_k, a_k, s) / K,  diag sigma_theta'(t_k, a_k, s)^2),

for ``k = 0..K-1``; the action is ``a_K``. The whole chain ``(a_0, ..., a_K)`` has the exact
likelihood (a product of Gaussians, the Markov property)::

    log pi(a_0..a_K | s) = [log N(a_0; 0, I)] + sum_k log N(a_{k+1}; a_k + v/K, sigma_k^2),

which PPO uses in place of ``log pi(a | s)``: the ratio is ``exp(log pi_new - log pi_old)`` of the
stored chain (ReinFlow's ``get_logprobs``). The noise net's output is squashed into
``[sigma_min, sigma_max]`` as in the official ``ExploreNoiseNet.process_noise``::

    log sigma^2 = log sigma_min^2 + (log sigma_max^2 - log sigma_min^2) (tanh(h) + 1) / 2,

so ``sigma`` lies in ``[sigma_min, sigma_max]`` whatever the network outputs. The entropy
estimate is the sum of the transitions' Gaussian entropies (plus ``H(a_0)``) divided by the
number of terms (the official "entropy rate" estimate).

**Pretraining** is conditional flow matching with linear paths (Lipman et al. 2023, Eq. 23;
Liu et al. 2023): ``x_t = (1 - t) a_0 + t a_1`` with ``a_0 ~ N(0, I)``, ``a_1`` an expert action
and ``t ~ U[0, 1]``; the loss is ``E ||v_theta(t, x_t, s) - (a_1 - a_0)||^2``.

**Fine-tuning** is PPO (Schulman et al. 2017, Eq. 7) on the chain likelihood, with a critic
``V(s)``, batch-normalized advantages, the value loss ``0.5 (V - R)^2`` and the entropy bonus
(the loss of the official ``PPOFlow.loss``). The tasks here are one-step (contextual bandits), so
the return is the reward and the advantage is ``r - V(s)``; :mod:`trainers.reinflow_env` runs
the same loss and update over multi-step episodes of gymnasium environments (GAE), e.g. the LQ
task of :class:`trainers.continuous_envs.LQEnv` and ``Pendulum-v1``.

**The toy task** (:func:`point_reach_task`, ours, the unit-test task). A state ``s ~ U[-1, 1]^d``; the expert acts
``a = G_E s + N(0, expert_std^2 I)`` and the reward is ``-||a - G_R s - shift||^2``. With
``G_E != G_R`` the expert is suboptimal, so fine-tuning has something to improve, and ``shift``
is the reward perturbation of the stability experiments.

Best readings, each a parameter: the noise net's inputs (``noise_inputs``: the paper writes
``sigma_theta'(t, a_k, s)``; the official default feeds the time and state embeddings only),
the time grid (``time_grid``: Euler's ``t_k = k / K``, or the official ``linspace(0, 1, K)``),
``log p(a_0)`` in the likelihood (``include_initial_log_prob``, the official loss default), and
the clipping of the intermediate means (``mean_clip``, official ``denoised_clip_value``,
applied in sampling and in the likelihood alike so the likelihood stays exact). The official
sampler also truncates each Gaussian draw at ``randn_clip_value`` standard deviations and clips
the final action; neither is done here, so the stored chain's likelihood is exact.

Many runs (seeds x reward perturbations) train as one stacked model: every parameter has a
leading run axis, the per-run losses are summed, and Adam's elementwise updates keep the runs
independent (as ``trainers.batched``). Runs that share a seed share every random draw (states,
initial noise, transition noise, minibatch order): paired runs differ only by their reward.

References
----------
.. [1] T. Zhang, C. Yu, S. Su, Y. Wang, "ReinFlow: Fine-tuning Flow Matching Policy with Online
   Reinforcement Learning", NeurIPS 2025, arXiv:2505.22094, Sec. 4 (noise injection, Eq. for the
   chain likelihood, PPO objective); official code ``model/flow/mlp_flow.py``
   (``NoisyFlowMLP``, ``ExploreNoiseNet``) and ``model/flow/ft_ppo/ppoflow.py`` (``PPOFlow``).
.. [2] Y. Lipman, R. T. Q. Chen, H. Ben-Hamu, M. Nickel, M. Le, "Flow Matching for Generative
   Modeling", ICLR 2023, Eq. (23) (conditional flow matching, optimal-transport paths).
.. [3] X. Liu, C. Gong, Q. Liu, "Flow Straight and Fast: Learning to Generate and Transfer Data
   with Rectified Flow", ICLR 2023.
.. [4] J. Schulman, F. Wolski, P. Dhariwal, A. Radford, O. Klimov, "Proximal Policy Optimization
   Algorithms", arXiv:1707.06347, 2017, Eq. (7), (9).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_seed,
    check_seeds,
)
from trainers.batched import StackedMLP, clip_grad_norm_per_run
from trainers.losses import ppo_clip_loss
from trainers.runtime import (
    DISCOUNT,
    FLAG,
    NONNEGATIVE,
    NONNEGATIVE_INT,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    integer,
    one_of,
    optional,
    real,
    resolve_device,
)

__all__ = [
    "FlowPolicy",
    "PointReachTask",
    "PretrainResult",
    "ReinFlowConfig",
    "ReinFlowLoss",
    "ReinFlowResult",
    "chain_log_prob",
    "finetune_reinflow",
    "flow_matching_loss",
    "mean_actions",
    "point_reach_task",
    "pretrain_flow",
    "reinflow_ppo_loss",
    "sample_chain",
    "train_reinflow",
]

DTYPE = torch.float64
LOG_2PI = math.log(2.0 * math.pi)
NOISE_INPUTS = ("t_a_s", "t_s")
TIME_GRIDS = ("uniform", "linspace")


# ----------------------------------------------------------------------------------------------
# The toy task
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointReachTask:
    """A one-step continuous task: reach ``G_R s + shift`` from ``s ~ U[-1, 1]^d``.

    The expert acts ``G_E s + N(0, expert_std^2 I)``; the reward of action ``a`` is
    ``-||a - G_R s - shift||^2`` (its maximiser ``G_R s + shift`` is unique).
    """

    expert_gain: np.ndarray
    """(d, d) expert map ``G_E``."""
    target_gain: np.ndarray
    """(d, d) reward-optimal map ``G_R``."""
    shift: np.ndarray
    """(d,) offset of the reward optimum (the reward perturbation)."""
    expert_std: float
    """Standard deviation of the expert's action noise."""

    @property
    def dim(self) -> int:
        return int(self.expert_gain.shape[0])

    def sample_states(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` states ``U[-1, 1]^d`` (float64, shape (n, d))."""
        return 2.0 * torch.rand(n, self.dim, generator=generator, dtype=DTYPE) - 1.0

    def expert_actions(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Expert actions for ``obs`` (..., d)."""
        noise = torch.randn(obs.shape, generator=generator, dtype=DTYPE)
        return obs @ torch.as_tensor(self.expert_gain).T + self.expert_std * noise

    def optimal_actions(self, obs: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """The reward maximiser ``G_R s + shift`` (``shift``: the task's, or (..., d))."""
        s = torch.as_tensor(self.shift) if shift is None else shift
        return obs @ torch.as_tensor(self.target_gain).T + s

    def reward(
        self, obs: torch.Tensor, actions: torch.Tensor, shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``-||a - G_R s - shift||^2`` over the last axis."""
        return -(actions - self.optimal_actions(obs, shift)).pow(2).sum(-1)


def point_reach_task(
    dim: int = 2,
    *,
    expert_gain: float = 0.5,
    target_gain: float = 1.0,
    expert_std: float = 0.1,
    shift: Sequence[float] | np.ndarray | None = None,
) -> PointReachTask:
    """A :class:`PointReachTask` with ``G_E = expert_gain I`` and ``G_R = target_gain I``.

    Parameters
    ----------
    dim : int
        State and action dimension (>= 1).
    expert_gain, target_gain : float
        Finite gains; ``expert_gain != target_gain`` makes the expert suboptimal.
    expert_std : float
        Expert action noise (> 0: a flow needs a distribution to match).
    shift : array of shape (dim,), optional
        Offset of the reward optimum (zeros by default).

    Examples
    --------
    >>> task = point_reach_task(1, expert_gain=0.5, target_gain=1.0)
    >>> float(task.reward(torch.tensor([[0.4]], dtype=torch.float64),
    ...                   torch.tensor([[0.1]], dtype=torch.float64))[0])
    -0.09000000000000002
    """
    dim = check_positive_int("dim", dim)
    eg = float(as_float_array("expert_gain", expert_gain, shape=()))
    tg = float(as_float_array("target_gain", target_gain, shape=()))
    expert_std = check_positive("expert_std", expert_std)
    sh = np.zeros(dim) if shift is None else as_float_array("shift", shift, shape=(dim,))
    return PointReachTask(eg * np.eye(dim), tg * np.eye(dim), sh.copy(), expert_std)


# ----------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReinFlowConfig:
    """Hyperparameters of ReinFlow (pretraining and PPO fine-tuning)."""

    denoising_steps: int = 1
    """K, the Euler steps of the flow (ReinFlow's ``inference_steps``); >= 1."""
    sigma_min: float = 0.05
    """Lower bound of the noise std (official ``min_logprob_denoising_std``)."""
    sigma_max: float = 0.2
    """Upper bound of the noise std (official ``max_logprob_denoising_std``); >= sigma_min."""
    noise_inputs: str = "t_a_s"
    """'t_a_s': sigma(t, a_k, s) as in the paper; 't_s': sigma(t, s) as the official default."""
    time_grid: str = "uniform"
    """'uniform': t_k = k/K (Euler); 'linspace': t_k = linspace(0, 1, K)[k] (official code)."""
    mean_clip: float | None = None
    """Clip every transition mean to [-mean_clip, mean_clip] (official denoised_clip_value)."""
    include_initial_log_prob: bool = True
    """Add log N(a_0; 0, I) to the chain likelihood and H(a_0) to the entropy estimate."""
    hidden: int = 32
    """Width of the two hidden layers of the velocity net, the noise net and the critic."""
    bc_demos: int = 512
    """Expert (state, action) pairs for pretraining."""
    bc_steps: int = 300
    """Adam steps of flow-matching pretraining."""
    bc_batch_size: int = 128
    """Minibatch of pretraining."""
    bc_lr: float = 3e-3
    """Adam learning rate of pretraining."""
    iterations: int = 60
    """PPO iterations (one batch of fresh chains each)."""
    batch_size: int = 64
    """Chains (one-step episodes) sampled per iteration and run."""
    update_epochs: int = 4
    """PPO epochs over each batch."""
    minibatches: int = 2
    """Minibatches per epoch."""
    lr: float = 1e-3
    """Adam learning rate of the actor (velocity and noise nets)."""
    critic_lr: float = 3e-3
    """Adam learning rate of the critic."""
    clip_coef: float = 0.2
    """PPO ratio clip epsilon (official clip_ploss_coef)."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 1.0
    """Per-run gradient-norm clip."""
    log_prob_min: float | None = None
    """Clamp the chain log-likelihoods from below before the ratio (official logprob_min)."""
    log_prob_max: float | None = None
    """Clamp the chain log-likelihoods from above before the ratio (official logprob_max)."""
    normalize_advantages: bool = True
    """Standardize the advantages within each minibatch and run."""
    critic_warmup: int = 0
    """Iterations at the start that update only the critic (official ``n_critic_warmup_itr``)."""
    envs_per_run: int = 4
    """Episodic fine-tuning (:func:`trainers.reinflow_env.finetune_reinflow_env`): environments
    stepped in parallel per run."""
    rollout_steps: int = 32
    """Episodic fine-tuning: steps per environment and iteration (batch = envs x steps)."""
    gamma: float | None = None
    """Episodic fine-tuning: discount (None: the env's task ``gamma`` if it has one, else 0.99)."""
    gae_lambda: float = 0.95
    """Episodic fine-tuning: the GAE lambda (Schulman et al. 2016, Eq. 16)."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "denoising_steps": POSITIVE_INT,
                "sigma_min": POSITIVE,
                "sigma_max": POSITIVE,
                "noise_inputs": one_of(*NOISE_INPUTS),
                "time_grid": one_of(*TIME_GRIDS),
                "mean_clip": optional(POSITIVE),
                "include_initial_log_prob": FLAG,
                "hidden": POSITIVE_INT,
                "bc_demos": POSITIVE_INT,
                "bc_steps": POSITIVE_INT,
                "bc_batch_size": POSITIVE_INT,
                "bc_lr": POSITIVE,
                "iterations": POSITIVE_INT,
                "batch_size": integer(2),
                "update_epochs": POSITIVE_INT,
                "minibatches": POSITIVE_INT,
                "lr": POSITIVE,
                "critic_lr": POSITIVE,
                "clip_coef": OPEN_UNIT,
                "ent_coef": NONNEGATIVE,
                "vf_coef": NONNEGATIVE,
                "max_grad_norm": POSITIVE,
                "log_prob_min": optional(real()),
                "log_prob_max": optional(real()),
                "normalize_advantages": FLAG,
                "critic_warmup": NONNEGATIVE_INT,
                "envs_per_run": POSITIVE_INT,
                "rollout_steps": POSITIVE_INT,
                "gamma": optional(DISCOUNT),
                "gae_lambda": real(0.0, 1.0),
            },
        )
        if self.sigma_min > self.sigma_max:
            raise ValueError(
                f"ReinFlowConfig.sigma_min must not exceed sigma_max; got sigma_min="
                f"{self.sigma_min!r} > sigma_max={self.sigma_max!r}"
            )
        if (
            self.log_prob_min is not None
            and self.log_prob_max is not None
            and self.log_prob_min >= self.log_prob_max
        ):
            raise ValueError(
                f"ReinFlowConfig.log_prob_min must be below log_prob_max; got "
                f"{self.log_prob_min!r} >= {self.log_prob_max!r}"
            )
        if self.minibatches > self.batch_size:
            raise ValueError(
                f"ReinFlowConfig.minibatches must not exceed batch_size = {self.batch_size}; "
                f"got {self.minibatches}"
            )


# ----------------------------------------------------------------------------------------------
# Networks: every parameter has a leading run axis (runs x ...)
# ----------------------------------------------------------------------------------------------


def _generators(seeds: Sequence[int], salt: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(int(s) * 7919 + salt) for s in seeds]


class FlowPolicy(nn.Module):
    """``runs`` ReinFlow policies: velocity ``v_theta(t, a, s)`` and noise ``sigma_theta'``.

    Parameters
    ----------
    obs_dim, act_dim : int
        State and action dimensions.
    config : ReinFlowConfig
        ``denoising_steps``, ``sigma_min``/``sigma_max``, ``noise_inputs``, ``time_grid``,
        ``mean_clip`` and ``hidden`` are used.
    seeds : sequence of int
        One seed per run; it initializes that run's networks.

    Notes
    -----
    Tensors carry a leading run axis: observations (R, B, obs_dim), chains (R, B, K+1, act_dim).
    """

    def __init__(self, obs_dim: int, act_dim: int, config: ReinFlowConfig, seeds: Sequence[int]):
        super().__init__()
        obs_dim = check_positive_int("obs_dim", obs_dim)
        act_dim = check_positive_int("act_dim", act_dim)
        check_instance("config", config, ReinFlowConfig)
        seeds = check_seeds(seeds, distinct=False)
        self.obs_dim, self.act_dim, self.config = obs_dim, act_dim, config
        h = config.hidden
        self.velocity = StackedMLP(
            (act_dim + obs_dim + 1, h, h, act_dim),
            _generators(seeds, 1),
            activation="mish",
            dtype=DTYPE,
        )
        n_in = obs_dim + 1 + (act_dim if config.noise_inputs == "t_a_s" else 0)
        self.noise = StackedMLP(
            (n_in, h, act_dim), _generators(seeds, 2), activation="tanh", dtype=DTYPE
        )
        self.register_buffer(
            "logvar_min", torch.tensor(2.0 * math.log(config.sigma_min), dtype=DTYPE)
        )
        self.register_buffer(
            "logvar_max", torch.tensor(2.0 * math.log(config.sigma_max), dtype=DTYPE)
        )

    @property
    def runs(self) -> int:
        return self.velocity.runs

    @property
    def steps(self) -> int:
        return self.config.denoising_steps

    def times(self) -> torch.Tensor:
        """The K flow times ``t_k`` of the Euler steps."""
        K = self.steps
        if self.config.time_grid == "linspace":
            return torch.linspace(0.0, 1.0, K, dtype=DTYPE)
        return torch.arange(K, dtype=DTYPE) / K

    def velocity_at(
        self, t: torch.Tensor | float, a: torch.Tensor, obs: torch.Tensor
    ) -> torch.Tensor:
        """``v_theta(t, a, s)``: ``a`` (R, N, act_dim), ``obs`` (R, N, obs_dim), ``t`` scalar or (R, N)."""
        t = torch.as_tensor(t, dtype=DTYPE).expand(a.shape[:-1]).unsqueeze(-1)
        return self.velocity(torch.cat([a, obs, t], dim=-1))

    def noise_std(
        self, t: torch.Tensor | float, a: torch.Tensor, obs: torch.Tensor
    ) -> torch.Tensor:
        """``sigma_theta'(t, a, s)`` in ``[sigma_min, sigma_max]`` (official ``process_noise``)."""
        t = torch.as_tensor(t, dtype=DTYPE).expand(a.shape[:-1]).unsqueeze(-1)
        parts = [t, a, obs] if self.config.noise_inputs == "t_a_s" else [t, obs]
        h = torch.tanh(self.noise(torch.cat(parts, dim=-1)))
        logvar = self.logvar_min + (self.logvar_max - self.logvar_min) * (h + 1.0) / 2.0
        return torch.exp(0.5 * logvar)

    def transition(
        self, k: int, a: torch.Tensor, obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``a + v(t_k, a, s) / K`` (clipped by ``mean_clip``) and std of step ``k``."""
        t = self.times()[k]
        mean = a + self.velocity_at(t, a, obs) / self.steps
        if self.config.mean_clip is not None:
            mean = mean.clamp(-self.config.mean_clip, self.config.mean_clip)
        return mean, self.noise_std(t, a, obs)

    def with_runs(self, seeds: Sequence[int], config: ReinFlowConfig | None = None) -> FlowPolicy:
        """A policy for ``len(seeds)`` runs: run 0's velocity net copied into each, and a fresh
        noise net per run (seeded by its seed), as ReinFlow builds ``NoisyFlowMLP`` around the
        pretrained flow; ``config`` (same ``hidden``) may change K and the noise bounds."""
        config = self.config if config is None else config
        check_instance("config", config, ReinFlowConfig)
        if config.hidden != self.config.hidden:
            raise ValueError(
                f"config.hidden must equal the policy's hidden = {self.config.hidden}; got "
                f"{config.hidden}"
            )
        seeds = check_seeds(seeds, distinct=False)
        out = FlowPolicy(self.obs_dim, self.act_dim, config, seeds)
        out.velocity = self.velocity.replicated(len(seeds))
        return out


# ----------------------------------------------------------------------------------------------
# The chain and its exact likelihood
# ----------------------------------------------------------------------------------------------


def _check_obs(policy: FlowPolicy, obs: object) -> torch.Tensor:
    if not isinstance(obs, torch.Tensor):
        obs = torch.as_tensor(as_float_array("obs", obs))
    if obs.ndim != 3 or obs.shape[0] != policy.runs or obs.shape[2] != policy.obs_dim:
        raise ValueError(
            f"obs must have shape (runs={policy.runs}, B, obs_dim={policy.obs_dim}); got "
            f"{tuple(obs.shape)}"
        )
    if not torch.isfinite(obs).all():
        raise ValueError("obs must be finite")
    return obs.to(DTYPE)


def sample_chain(
    policy: FlowPolicy,
    obs: torch.Tensor,
    *,
    initial: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    deterministic: bool = False,
) -> torch.Tensor:
    """Run the K noisy Euler steps: the chain ``(a_0, ..., a_K)``, shape (R, B, K+1, act_dim).

    Parameters
    ----------
    policy : FlowPolicy
    obs : tensor of shape (R, B, obs_dim)
    initial : tensor of shape (R, B, act_dim), optional
        ``a_0`` (drawn from N(0, I) with ``generator`` if omitted).
    noise : tensor of shape (R, B, K, act_dim), optional
        Standard-normal draws of the transitions (drawn if omitted); pass the same draws to
        compare policies under common random numbers.
    generator : torch.Generator, optional
    deterministic : bool
        Follow the means (the noise-free Euler flow from ``a_0``).
    """
    check_instance("policy", policy, FlowPolicy)
    obs = _check_obs(policy, obs)
    R, B = obs.shape[:2]
    K, d = policy.steps, policy.act_dim
    if initial is None:
        initial = torch.randn(R, B, d, generator=generator, dtype=DTYPE)
    elif tuple(initial.shape) != (R, B, d):
        raise ValueError(f"initial must have shape {(R, B, d)}; got {tuple(initial.shape)}")
    if noise is None and not deterministic:
        noise = torch.randn(R, B, K, d, generator=generator, dtype=DTYPE)
    elif noise is not None and tuple(noise.shape) != (R, B, K, d):
        raise ValueError(f"noise must have shape {(R, B, K, d)}; got {tuple(noise.shape)}")
    chain = [initial.to(DTYPE)]
    a = chain[0]
    for k in range(K):
        mean, std = policy.transition(k, a, obs)
        a = mean if deterministic else mean + std * noise[:, :, k]
        chain.append(a)
    return torch.stack(chain, dim=2)


def chain_log_prob(
    policy: FlowPolicy,
    obs: torch.Tensor,
    chain: torch.Tensor,
    *,
    include_initial: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact log-likelihood of chains and the Gaussian-transition entropy estimate.

    ``log pi = [log N(a_0; 0, I)] + sum_{k<K} log N(a_{k+1}; a_k + v(t_k, a_k, s)/K, sigma_k^2)``
    (Zhang et al. 2025, Sec. 4; official ``PPOFlow.get_logprobs``); the entropy estimate is
    ``([H(a_0)] + sum_k H(N(., sigma_k^2))) / (number of terms)``.

    Parameters
    ----------
    policy : FlowPolicy
    obs : tensor of shape (R, B, obs_dim)
    chain : tensor of shape (R, B, K+1, act_dim)
    include_initial : bool, optional
        Add the ``a_0`` terms; default ``policy.config.include_initial_log_prob``.

    Returns
    -------
    (log_prob, entropy) : tensors of shape (R, B), differentiable in the policy's parameters.
    """
    check_instance("policy", policy, FlowPolicy)
    obs = _check_obs(policy, obs)
    R, B = obs.shape[:2]
    K, d = policy.steps, policy.act_dim
    if not isinstance(chain, torch.Tensor) or tuple(chain.shape) != (R, B, K + 1, d):
        shape = tuple(chain.shape) if isinstance(chain, torch.Tensor) else type(chain).__name__
        raise ValueError(f"chain must be a tensor of shape {(R, B, K + 1, d)}; got {shape}")
    if not torch.isfinite(chain).all():
        raise ValueError("chain must be finite")
    if include_initial is None:
        include_initial = policy.config.include_initial_log_prob
    chain = chain.to(DTYPE)
    logp = torch.zeros(R, B, dtype=DTYPE)
    ent = torch.zeros(R, B, dtype=DTYPE)
    terms = 0
    if include_initial:
        a0 = chain[:, :, 0]
        logp = logp - 0.5 * (a0.pow(2) + LOG_2PI).sum(-1)
        ent = ent + 0.5 * d * (1.0 + LOG_2PI)
        terms += 1
    for k in range(K):
        mean, std = policy.transition(k, chain[:, :, k], obs)
        z = (chain[:, :, k + 1] - mean) / std
        logp = logp + (-0.5 * z.pow(2) - torch.log(std) - 0.5 * LOG_2PI).sum(-1)
        ent = ent + (torch.log(std) + 0.5 * (1.0 + LOG_2PI)).sum(-1)
        terms += 1
    return logp, ent / terms


def mean_actions(
    policy: FlowPolicy,
    obs: torch.Tensor,
    *,
    samples: int = 64,
    seed: int = 0,
    deterministic: bool = False,
) -> np.ndarray:
    """Monte-Carlo mean of the final action ``a_K`` per state, shape (R, B, act_dim), float64.

    Every run uses the same draws (common random numbers), so differences between runs are not
    blurred by sampling noise. ``deterministic``: the noise-free flow, averaged over ``a_0``.
    """
    check_instance("policy", policy, FlowPolicy)
    obs = _check_obs(policy, obs)
    samples = check_positive_int("samples", samples)
    seed = check_seed(seed)
    R, B = obs.shape[:2]
    g = torch.Generator().manual_seed(seed)
    a0 = torch.randn(samples, B, policy.act_dim, generator=g, dtype=DTYPE)
    eps = torch.randn(samples, B, policy.steps, policy.act_dim, generator=g, dtype=DTYPE)
    rep = obs.unsqueeze(1).expand(R, samples, B, policy.obs_dim).reshape(R, samples * B, -1)
    with torch.no_grad():
        chain = sample_chain(
            policy,
            rep,
            initial=a0.reshape(1, samples * B, -1).expand(R, -1, -1),
            noise=eps.reshape(1, samples * B, policy.steps, -1).expand(R, -1, -1, -1),
            deterministic=deterministic,
        )
    return chain[:, :, -1].reshape(R, samples, B, -1).mean(1).numpy()


# ----------------------------------------------------------------------------------------------
# Pretraining: conditional flow matching
# ----------------------------------------------------------------------------------------------


def flow_matching_loss(
    policy: FlowPolicy, obs: torch.Tensor, actions: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Conditional flow-matching loss with linear paths, per run (shape (R,)).

    ``E_{t, a_0} ||v(t, (1-t) a_0 + t a_1, s) - (a_1 - a_0)||^2`` with ``t ~ U[0, 1]``,
    ``a_0 ~ N(0, I)`` (Lipman et al. 2023, Eq. 23; rectified flow).
    """
    check_instance("policy", policy, FlowPolicy)
    obs = _check_obs(policy, obs)
    if not isinstance(actions, torch.Tensor) or actions.shape != (*obs.shape[:2], policy.act_dim):
        raise ValueError(
            f"actions must be a tensor of shape {(*tuple(obs.shape[:2]), policy.act_dim)}"
        )
    a1 = actions.to(DTYPE)
    a0 = torch.randn(a1.shape, generator=generator, dtype=DTYPE)
    t = torch.rand(a1.shape[:-1], generator=generator, dtype=DTYPE)
    xt = (1 - t).unsqueeze(-1) * a0 + t.unsqueeze(-1) * a1
    return (policy.velocity_at(t, xt, obs) - (a1 - a0)).pow(2).sum(-1).mean(-1)


@dataclass(frozen=True)
class PretrainResult:
    """A behaviour-cloned flow policy (one run) and its flow-matching loss curve."""

    policy: FlowPolicy = field(repr=False)
    losses: tuple[float, ...]
    seconds: float

    def summary(self) -> str:
        return (
            f"flow matching: loss {self.losses[0]:.4f} -> {np.mean(self.losses[-20:]):.4f} "
            f"in {len(self.losses)} steps ({self.seconds:.1f} s)"
        )


def _demos(task: object, config: ReinFlowConfig, g: torch.Generator):
    """``(obs, actions)`` float64 tensors: drawn from a :class:`PointReachTask`'s expert, or the
    user's pairs (two finite arrays with one row per pair)."""
    if isinstance(task, PointReachTask):
        obs = task.sample_states(config.bc_demos, g)
        return obs, task.expert_actions(obs, g)
    if not (isinstance(task, tuple) and len(task) == 2):
        raise ArgumentTypeError(
            "task must be a PointReachTask or a pair (obs, actions) of expert demonstrations; got "
            f"{type(task).__name__}"
        )
    obs = as_float_array("task[0] (demonstration states)", np.asarray(task[0]), shape=(None, None))
    acts = as_float_array("task[1] (demonstration actions)", np.asarray(task[1]))
    if acts.ndim != 2 or acts.shape[0] != obs.shape[0] or obs.shape[0] == 0:
        raise ValueError(
            "task must be a pair (obs (N, obs_dim), actions (N, act_dim)) with N >= 1 rows each; "
            f"got shapes {obs.shape} and {acts.shape}"
        )
    return torch.as_tensor(obs, dtype=DTYPE), torch.as_tensor(acts, dtype=DTYPE)


def pretrain_flow(
    task: PointReachTask | tuple[np.ndarray, np.ndarray],
    config: ReinFlowConfig,
    *,
    seed: int = 0,
) -> PretrainResult:
    """Behaviour cloning of an expert by conditional flow matching (one run).

    Parameters
    ----------
    task : PointReachTask or (obs, actions)
        A toy task (``config.bc_demos`` pairs are drawn from its expert) or expert demonstrations
        ``obs`` (N, obs_dim) and ``actions`` (N, act_dim), e.g. from
        :func:`trainers.reinflow_env.collect_demos`.
    config : ReinFlowConfig
        ``bc_steps`` Adam steps on :func:`flow_matching_loss`, minibatches of ``bc_batch_size``
        drawn with replacement, learning rate ``bc_lr``.
    seed : int
    """
    check_instance("config", config, ReinFlowConfig)
    seed = check_seed(seed)
    start = time.perf_counter()
    g = torch.Generator().manual_seed(seed)
    obs, acts = _demos(task, config, g)
    policy = FlowPolicy(obs.shape[1], acts.shape[1], config, [seed])
    opt = torch.optim.Adam(policy.velocity.parameters(), lr=config.bc_lr)
    losses = []
    n = obs.shape[0]
    mb = min(config.bc_batch_size, n)
    for _ in range(config.bc_steps):
        idx = torch.randint(n, (mb,), generator=g)
        loss = flow_matching_loss(policy, obs[idx][None], acts[idx][None], g).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return PretrainResult(policy, tuple(losses), time.perf_counter() - start)


# ----------------------------------------------------------------------------------------------
# The PPO loss on the chain likelihood
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReinFlowLoss:
    """The PPO loss terms; ``total`` is summed over runs (each run's mean over the batch)."""

    total: torch.Tensor
    pg: torch.Tensor
    """(R,) clipped policy loss ``mean max(-A r, -A clip(r, 1-eps, 1+eps))``."""
    value: torch.Tensor
    """(R,) ``0.5 mean (V - R)^2``."""
    entropy: torch.Tensor
    """(R,) mean entropy estimate."""
    approx_kl: torch.Tensor
    """(R,) ``mean((r - 1) - log r)`` (no gradient)."""
    clipfrac: torch.Tensor
    """(R,) fraction of ``|r - 1| > eps`` (no gradient)."""


def _finite(name: str, x: object, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if shape is not None and tuple(x.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}; got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(
            f"{name} must be finite; got {int((~torch.isfinite(x)).sum())} non-finite entries"
        )
    return x


def reinflow_ppo_loss(
    new_log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor,
    new_values: torch.Tensor,
    entropy: torch.Tensor,
    *,
    clip_coef: float = 0.2,
    ent_coef: float = 0.0,
    vf_coef: float = 0.5,
    log_prob_bounds: tuple[float | None, float | None] = (None, None),
    normalize_advantages: bool = True,
) -> ReinFlowLoss:
    """PPO's clipped loss on chain log-likelihoods (one-step episodes), per run.

    With ``A = returns - old_values`` (standardized per run with the unbiased std + 1e-8 when
    ``normalize_advantages``), ``r = exp(new - old)`` after clamping both log-likelihoods to
    ``log_prob_bounds``::

        pg = mean max(-A r, -A clip(r, 1 - eps, 1 + eps)),   value = 0.5 mean (V_new - R)^2,
        total = sum_runs (pg - ent_coef mean(entropy) + vf_coef value)

    (Schulman et al. 2017, Eq. 7 and 9; official ``PPOFlow.loss``).

    Parameters
    ----------
    new_log_prob, old_log_prob, returns, old_values, new_values, entropy : tensors (R, B)
        All finite (``returns`` are the rewards of one-step episodes).
    clip_coef : float in (0, 1)
    ent_coef, vf_coef : float >= 0
    log_prob_bounds : (low or None, high or None)
    normalize_advantages : bool

    Examples
    --------
    >>> z = torch.zeros(1, 2, dtype=torch.float64)
    >>> out = reinflow_ppo_loss(z, z, torch.tensor([[1.0, -1.0]]), z, z, z,
    ...                         normalize_advantages=False)
    >>> float(out.pg[0]), float(out.value[0])
    (0.0, 0.5)
    """
    new_log_prob = _finite("new_log_prob", new_log_prob)
    if new_log_prob.ndim != 2:
        raise ValueError(
            f"new_log_prob must have shape (runs, batch); got {tuple(new_log_prob.shape)}"
        )
    shape = tuple(new_log_prob.shape)
    old_log_prob = _finite("old_log_prob", old_log_prob, shape)
    returns = _finite("returns", returns, shape)
    old_values = _finite("old_values", old_values, shape)
    new_values = _finite("new_values", new_values, shape)
    entropy = _finite("entropy", entropy, shape)
    clip_coef = check_positive("clip_coef", clip_coef)
    if clip_coef >= 1:
        raise ValueError(f"clip_coef must be in (0, 1); got {clip_coef!r}")
    ent_coef = check_nonnegative("ent_coef", ent_coef)
    vf_coef = check_nonnegative("vf_coef", vf_coef)
    if not isinstance(log_prob_bounds, tuple) or len(log_prob_bounds) != 2:
        raise ValueError(f"log_prob_bounds must be a pair (low, high); got {log_prob_bounds!r}")
    lo, hi = log_prob_bounds
    if normalize_advantages and shape[1] < 2:
        raise ValueError("normalize_advantages needs a batch of at least 2 per run")

    adv = returns - old_values
    if normalize_advantages:
        adv = (adv - adv.mean(-1, keepdim=True)) / (adv.std(-1, keepdim=True) + 1e-8)
    new_lp, old_lp = new_log_prob, old_log_prob
    if lo is not None or hi is not None:  # official logprob_min / logprob_max
        new_lp, old_lp = new_lp.clamp(min=lo, max=hi), old_lp.clamp(min=lo, max=hi)
    # Policy loss (Eq. 7), per run; the per-run statistics CleanRL logs beside it
    pg = ppo_clip_loss(new_lp, old_lp, adv, clip_low=clip_coef)[0].mean(-1)
    with torch.no_grad():
        logratio = new_lp - old_lp
        ratio = logratio.exp()
        approx_kl = ((ratio - 1) - logratio).mean(-1)
        clipfrac = ((ratio - 1).abs() > clip_coef).to(DTYPE).mean(-1)
    # Value loss
    v_loss = 0.5 * (new_values - returns).pow(2).mean(-1)
    # Entropy bonus
    ent = entropy.mean(-1)
    total = (pg - ent_coef * ent + vf_coef * v_loss).sum()
    return ReinFlowLoss(total, pg, v_loss, ent, approx_kl, clipfrac)


# ----------------------------------------------------------------------------------------------
# Fine-tuning
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReinFlowResult:
    """Fine-tuned policies (one run per (seed, reward shift)) and their learning curves."""

    policy: FlowPolicy = field(repr=False)
    critic: nn.Module = field(repr=False)
    config: ReinFlowConfig
    seeds: tuple[int, ...]
    reward_shifts: np.ndarray = field(repr=False)
    """(R, d) reward offset of each run."""
    returns: np.ndarray = field(repr=False)
    """(iterations, R) mean reward of each iteration's batch."""
    seconds: float
    metrics: list[dict[str, float]] = field(repr=False)

    def summary(self) -> str:
        first, last = self.returns[0], self.returns[-1]
        return (
            f"ReinFlow K={self.config.denoising_steps}, sigma in [{self.config.sigma_min}, "
            f"{self.config.sigma_max}], {len(self.seeds)} runs: mean reward {first.mean():.4f} -> "
            f"{last.mean():.4f} ({self.seconds:.1f} s)"
        )


def _draw(
    task_fn: Callable[[torch.Generator], torch.Tensor],
    gens: dict[int, torch.Generator],
    seeds: Sequence[int],
) -> torch.Tensor:
    """One draw per distinct seed, shared by the runs with that seed (common random numbers)."""
    by_seed = {s: task_fn(g) for s, g in gens.items()}
    return torch.stack([by_seed[s] for s in seeds])


def _finetune_setup(
    pretrained: FlowPolicy, config: ReinFlowConfig, seeds: Sequence[int], obs_dim: int
) -> tuple[FlowPolicy, StackedMLP, tuple[torch.optim.Adam, torch.optim.Adam], dict]:
    """The pretrained flow copied into every run (a fresh bounded noise net each), a critic per
    run, the actor's and the critic's Adam, and one generator per distinct seed."""
    policy = pretrained.with_runs(seeds, config)  # refuses a config of another hidden width
    h = config.hidden
    critic = StackedMLP((obs_dim, h, h, 1), _generators(seeds, 3), activation="tanh", dtype=DTYPE)
    opts = (
        torch.optim.Adam(policy.parameters(), lr=config.lr, eps=1e-5),
        torch.optim.Adam(critic.parameters(), lr=config.critic_lr, eps=1e-5),
    )
    return policy, critic, opts, {s: torch.Generator().manual_seed(s) for s in dict.fromkeys(seeds)}


def _ppo_update(
    policy: FlowPolicy,
    critic: StackedMLP,
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    obs: torch.Tensor,
    chain: torch.Tensor,
    old_logp: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor,
    config: ReinFlowConfig,
    gens: dict[int, torch.Generator],
    seeds: Sequence[int],
    *,
    actor: bool = True,
) -> ReinFlowLoss:
    """``update_epochs`` x ``minibatches`` PPO steps on one batch per run (tensors (R, B, ...));
    the advantage is ``returns - old_values`` (the reward of one-step episodes, or GAE's
    ``A + V``). ``actor=False`` steps only the critic (warm-up). Returns the last minibatch's
    loss terms, detached."""
    R, B = old_logp.shape
    mb = B // config.minibatches
    actor_opt, critic_opt = opts
    for _ in range(config.update_epochs):
        perm = _draw(lambda g: torch.randperm(B, generator=g), gens, seeds)
        for j in range(config.minibatches):
            idx = perm[:, j * mb : (j + 1) * mb]

            def take(x, idx=idx):
                shape = idx.reshape(R, -1, *([1] * (x.ndim - 2))).expand(-1, -1, *x.shape[2:])
                return torch.gather(x, 1, shape)

            o = take(obs)
            new_logp, entropy = chain_log_prob(policy, o, take(chain))
            out = reinflow_ppo_loss(
                new_logp,
                take(old_logp),
                take(returns),
                take(old_values),
                critic(o).squeeze(-1),
                entropy,
                clip_coef=config.clip_coef,
                ent_coef=config.ent_coef,
                vf_coef=config.vf_coef,
                log_prob_bounds=(config.log_prob_min, config.log_prob_max),
                normalize_advantages=config.normalize_advantages,
            )
            actor_opt.zero_grad()
            critic_opt.zero_grad()
            out.total.backward()
            clip_grad_norm_per_run(list(critic.parameters()), config.max_grad_norm)
            critic_opt.step()
            if actor:
                clip_grad_norm_per_run(list(policy.parameters()), config.max_grad_norm)
                actor_opt.step()
    return ReinFlowLoss(*(getattr(out, f.name).detach() for f in dataclasses.fields(out)))


def finetune_reinflow(
    task: PointReachTask,
    pretrained: FlowPolicy,
    config: ReinFlowConfig,
    *,
    seeds: Sequence[int] = (0,),
    reward_shifts: np.ndarray | Sequence[Sequence[float]] | None = None,
    reward_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> ReinFlowResult:
    """PPO fine-tuning of a pretrained flow policy on the chain likelihood, many runs at once.

    Parameters
    ----------
    task : PointReachTask
    pretrained : FlowPolicy
        Its run 0's velocity net is copied into every run (e.g. :func:`pretrain_flow`'s).
    config : ReinFlowConfig
        ``denoising_steps``, the noise bounds and the PPO settings; the pretrained velocity net
        must have been built with the same ``hidden``.
    seeds : sequence of int
        One per run (repeats allowed: runs with one seed share every random draw).
    reward_shifts : array (R, d), optional
        Per-run offset of the reward optimum, added to the task's ``shift`` (zeros by default).
    reward_fn : callable, optional
        ``reward_fn(obs, actions) -> rewards`` on (R, B, d) tensors, replacing the task's
        reward (then ``reward_shifts`` must be omitted); non-finite rewards raise ``ValueError``.
    device : only ``"cpu"`` (or None) is supported: the nets are tiny.
    progress : bool
        Show a progress bar.
    """
    check_instance("task", task, PointReachTask)
    check_instance("pretrained", pretrained, FlowPolicy)
    check_instance("config", config, ReinFlowConfig)
    if pretrained.obs_dim != task.dim or pretrained.act_dim != task.dim:
        raise ValueError(
            f"pretrained must act on the task's dimension {task.dim}; got {pretrained.act_dim}"
        )
    seeds = tuple(check_seeds(seeds, distinct=False))
    R, d = len(seeds), task.dim
    if reward_fn is not None and reward_shifts is not None:
        raise ValueError("reward_shifts must be omitted when reward_fn is given")
    if reward_fn is not None and not callable(reward_fn):
        raise ArgumentTypeError(f"reward_fn must be callable; got {reward_fn!r}")
    shifts = (
        np.zeros((R, d))
        if reward_shifts is None
        else as_float_array("reward_shifts", reward_shifts, shape=(R, d))
    )
    if resolve_device(device).type != "cpu":
        raise ValueError(f"device must be 'cpu' (tiny networks); got {device!r}")
    check_instance("progress", progress, bool)
    start = time.perf_counter()
    torch.set_num_threads(1)

    # ALGO LOGIC: the pretrained flow, a fresh bounded noise net per run, and a critic
    policy, critic, opts, gens = _finetune_setup(pretrained, config, seeds, d)
    shift_t = torch.as_tensor(shifts, dtype=DTYPE).unsqueeze(1) + torch.as_tensor(task.shift)
    B, K = config.batch_size, config.denoising_steps
    log = MetricsLog(total=config.iterations, progress=progress)
    returns = np.zeros((config.iterations, R))
    for it in range(config.iterations):
        # rollout: fresh states, chains sampled by the current policy
        obs = _draw(lambda g: task.sample_states(B, g), gens, seeds)
        a0 = _draw(lambda g: torch.randn(B, d, generator=g, dtype=DTYPE), gens, seeds)
        eps = _draw(lambda g: torch.randn(B, K, d, generator=g, dtype=DTYPE), gens, seeds)
        with torch.no_grad():
            chain = sample_chain(policy, obs, initial=a0, noise=eps)
            old_logp, _ = chain_log_prob(policy, obs, chain)
            old_values = critic(obs).squeeze(-1)
            if reward_fn is None:
                rewards = task.reward(obs, chain[:, :, -1], shift_t)
            else:
                rewards = torch.as_tensor(reward_fn(obs, chain[:, :, -1]), dtype=DTYPE)
        if tuple(rewards.shape) != (R, B) or not torch.isfinite(rewards).all():
            raise ValueError(
                f"reward_fn must return finite rewards of shape {(R, B)}; got shape "
                f"{tuple(rewards.shape)} with {int((~torch.isfinite(rewards)).sum())} non-finite"
            )
        returns[it] = rewards.mean(-1).numpy()
        # PPO update
        out = _ppo_update(
            policy,
            critic,
            opts,
            obs,
            chain,
            old_logp,
            rewards,
            old_values,
            config,
            gens,
            seeds,
            actor=it >= config.critic_warmup,
        )
        log.log(
            it + 1,
            {
                "charts/reward": float(returns[it].mean()),
                "losses/pg": float(out.pg.mean()),
                "losses/value": float(out.value.mean()),
                "losses/entropy": float(out.entropy.mean()),
                "losses/approx_kl": float(out.approx_kl.mean()),
                "losses/clipfrac": float(out.clipfrac.mean()),
            },
        )
    log.close()
    return ReinFlowResult(
        policy, critic, config, seeds, shifts, returns, time.perf_counter() - start, log.rows
    )


def train_reinflow(
    task: PointReachTask,
    config: ReinFlowConfig,
    *,
    seeds: Sequence[int] = (0,),
    pretrain_seed: int = 0,
    reward_shifts: np.ndarray | Sequence[Sequence[float]] | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> tuple[PretrainResult, ReinFlowResult]:
    """Pretrain by flow matching (:func:`pretrain_flow`), then PPO fine-tune every run from it
    (:func:`finetune_reinflow`)."""
    pre = pretrain_flow(task, config, seed=pretrain_seed)
    return pre, finetune_reinflow(
        task,
        pre.policy,
        config,
        seeds=seeds,
        reward_shifts=reward_shifts,
        device=device,
        progress=progress,
    )
