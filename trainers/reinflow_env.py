"""ReinFlow on gymnasium environments: experts, demonstrations, and PPO with GAE over episodes.

:mod:`trainers.reinflow` fine-tunes a flow policy on one-step tasks; this module runs the same
policy, loss and update on multi-step episodes, as ReinFlow does on its locomotion and
manipulation benchmarks (Zhang et al. 2025, Sec. 5):

1. an **expert** acts in the environment: the closed-form controller of an LQ task
   (:func:`lq_expert`, a Gaussian around a scaled LQR gain) or an energy-shaping swing-up
   controller for gymnasium's ``Pendulum-v1`` (:func:`pendulum_expert`);
2. :func:`collect_demos` records its (state, action) pairs, and
   :func:`trainers.reinflow.pretrain_flow` clones them by flow matching;
3. :func:`finetune_reinflow_env` fine-tunes many runs at once (seeds x environment variants,
   e.g. perturbed rewards), each with ``envs_per_run`` environments stepped ``rollout_steps``
   times per iteration. The action is the chain's last point ``a_K``, clipped to the action
   bounds before it reaches the environment (the stored chain, and so the likelihood, is
   unclipped, as in CleanRL's continuous PPO). Advantages are GAE (Schulman et al. 2016,
   Eq. 16) with ``gamma`` and ``gae_lambda``; the PPO loss on the chain likelihood is
   :func:`trainers.reinflow.reinflow_ppo_loss` with ``returns = A + V``. A truncated episode
   bootstraps: its last reward gets ``+ gamma V(s_T)`` (the time limit is not a terminal state).

Runs that share a seed share every random draw (initial states and environment noise, chain
noise, minibatch order), so a clean run and its perturbed twin differ only by the perturbation.

References
----------
.. [1] T. Zhang, C. Yu, S. Su, Y. Wang, "ReinFlow: Fine-tuning Flow Matching Policy with Online
   Reinforcement Learning", NeurIPS 2025, arXiv:2505.22094, Sec. 4-5.
.. [2] J. Schulman, P. Moritz, S. Levine, M. Jordan, P. Abbeel, "High-Dimensional Continuous
   Control Using Generalized Advantage Estimation", ICLR 2016, Eq. (16).
.. [3] K. J. Åström, K. Furuta, "Swinging up a pendulum by energy control", Automatica 36(2),
   2000 (the energy-pumping law ``u ~ (E* - E) sign(omega)`` of :func:`pendulum_expert`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import gymnasium as gym
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
from theory.continuous import LQTask, soft_lq_policy
from trainers.continuous_envs import make_continuous_env, make_continuous_envs
from trainers.losses import gae
from trainers.reinflow import (
    DTYPE,
    FlowPolicy,
    ReinFlowConfig,
    _draw,
    _finetune_setup,
    _ppo_update,
    chain_log_prob,
    sample_chain,
)
from trainers.runtime import MetricsLog, check_instance

__all__ = [
    "EpisodicReinFlowResult",
    "collect_demos",
    "evaluate_flow",
    "finetune_reinflow_env",
    "lq_expert",
    "pendulum_expert",
]

Expert = Callable[[np.ndarray, np.random.Generator], np.ndarray]
EnvSpec = str | Callable[[], gym.Env]


# ----------------------------------------------------------------------------------------------
# Experts
# ----------------------------------------------------------------------------------------------


def lq_expert(task: LQTask, *, gain_scale: float = 1.0, std: float = 0.1) -> Expert:
    """The LQ controller ``u = -gain_scale K x + N(0, std^2 I)``, ``K`` the optimal gain.

    ``K`` is the mean gain of :func:`theory.continuous.soft_lq_policy` (the LQR gain: it does
    not depend on the temperature). ``gain_scale != 1`` makes a suboptimal expert that
    fine-tuning can improve on; ``std > 0`` gives flow matching a distribution to match.

    Returns
    -------
    callable ``expert(obs (N, n), rng) -> actions (N, m)``

    Examples
    --------
    >>> from theory.continuous import lq_task
    >>> ex = lq_expert(lq_task(1.0, 1.0, 1.0, 1.0, gamma=0.5), gain_scale=0.5, std=1e-9)
    >>> round(float(ex(np.array([[1.0]]), np.random.default_rng(0))[0, 0]), 6)
    -0.207107
    """
    if not isinstance(task, LQTask):
        raise ArgumentTypeError(f"task must be an LQTask; got {type(task).__name__}")
    gain_scale = check_positive("gain_scale", gain_scale)
    std = check_positive("std", std)
    K = gain_scale * soft_lq_policy(task, 1.0).K

    def expert(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, task.n)
        return -obs @ K.T + std * rng.standard_normal((obs.shape[0], task.m))

    return expert


def pendulum_expert(
    *,
    pump: float = 0.5,
    kp: float = 10.0,
    kd: float = 2.0,
    catch: float = 0.85,
    std: float = 0.1,
    max_torque: float = 2.0,
) -> Expert:
    """A swing-up controller for gymnasium's ``Pendulum-v1`` (observation ``(cos, sin, omega)``).

    ``Pendulum-v1`` integrates ``omega' = 15 sin(theta) + 3 u`` (g = 10, m = l = 1), so the
    energy ``E = omega^2 / 2 + 15 cos(theta)`` (15 upright at rest) changes as ``E' = 3 u omega``
    [derived]. Away from the top (``cos theta <= catch``) the expert pumps energy,
    ``u = pump (15 - E) sign(omega)`` (Åström and Furuta 2000); near it, a PD law
    ``u = -(kp theta + kd omega)`` catches and holds the pendulum. Gaussian noise of ``std`` is
    added and the torque clipped to ``max_torque``. Noise-free, it averages a return of about
    -143 over seeds 0-19 (a random policy: about -1200).
    """
    pump = check_positive("pump", pump)
    kp = check_positive("kp", kp)
    kd = check_nonnegative("kd", kd)
    catch = float(as_float_array("catch", catch, shape=()))
    if not -1.0 < catch < 1.0:
        raise ValueError(f"catch must be a cosine in (-1, 1); got {catch!r}")
    std = check_nonnegative("std", std)
    max_torque = check_positive("max_torque", max_torque)

    def expert(obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, 3)
        c, s, w = obs.T
        theta = np.arctan2(s, c)
        energy = 0.5 * w**2 + 15.0 * c
        swing = pump * (15.0 - energy) * np.where(w >= 0, 1.0, -1.0)
        u = np.where(c > catch, -(kp * theta + kd * w), swing)
        u = u + std * rng.standard_normal(u.shape)
        return np.clip(u, -max_torque, max_torque)[:, None]

    return expert


# ----------------------------------------------------------------------------------------------
# Demonstrations and evaluation
# ----------------------------------------------------------------------------------------------


def _env_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def collect_demos(
    env: EnvSpec, expert: Expert, *, episodes: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Roll the expert for ``episodes`` full episodes; its (state, action) pairs.

    The action recorded is the expert's (before the environment clips it). Episode ``i`` is
    reset with a seed drawn from ``(seed, i)``; the expert's noise uses ``seed``.

    Returns
    -------
    (obs, actions) : float64 arrays (N, obs_dim) and (N, act_dim)
    """
    if not callable(expert):
        raise ArgumentTypeError(f"expert must be callable; got {type(expert).__name__}")
    episodes = check_positive_int("episodes", episodes)
    seed = check_seed(seed)
    if isinstance(env, gym.Env):
        raise ArgumentTypeError(
            "env must be an env id or a factory (collect_demos builds and closes its own env); "
            "got an env instance: pass `lambda: env_like_this` instead"
        )
    e = make_continuous_env(env)
    rng = np.random.default_rng(seed)
    act_shape = e.action_space.shape
    obs_rows, act_rows = [], []
    for i in range(episodes):
        obs, _ = e.reset(seed=_env_seed(seed, i))
        done = False
        while not done:
            o = np.asarray(obs, dtype=np.float64).reshape(-1)
            a = np.asarray(expert(o[None], rng), dtype=np.float64).reshape(-1)
            if a.shape != (int(np.prod(act_shape)),) or not np.all(np.isfinite(a)):
                raise ValueError(
                    f"expert must return finite actions of shape (1, {int(np.prod(act_shape))}); "
                    f"got {a.tolist()}"
                )
            obs_rows.append(o)
            act_rows.append(a)
            obs, _, term, trunc, _ = e.step(a.reshape(act_shape).astype(e.action_space.dtype))
            done = term or trunc
    e.close()
    return np.asarray(obs_rows), np.asarray(act_rows)


def _build_envs(env: EnvSpec | Sequence[EnvSpec], runs: int, per_run: int) -> list[list[gym.Env]]:
    """``per_run`` envs per run from one spec, or from one spec per run."""
    specs = list(env) if isinstance(env, list | tuple) else [env] * runs
    if len(specs) != runs:
        raise ValueError(f"env must be one env spec or one per run ({runs}); got {len(specs)}")
    flat = make_continuous_envs([s for s in specs for _ in range(per_run)])
    return [flat[r * per_run : (r + 1) * per_run] for r in range(runs)]


def _obs_tensor(rows: list[list[np.ndarray]]) -> torch.Tensor:
    return torch.as_tensor(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(rows[0]), -1))


def evaluate_flow(
    env: EnvSpec | Sequence[EnvSpec],
    policy: FlowPolicy,
    *,
    episodes: int = 8,
    seed: int = 0,
    deterministic: bool = False,
) -> np.ndarray:
    """Undiscounted episode returns of every run of ``policy``, shape (runs, episodes).

    Episode ``i`` of every run starts from the same seed, and every run gets the same chain noise
    (common random numbers across runs); actions are the chain's last point, clipped to the action bounds. ``deterministic`` follows
    the noise-free flow from a random ``a_0``.
    """
    check_instance("policy", policy, FlowPolicy)
    episodes = check_positive_int("episodes", episodes)
    seed = check_seed(seed)
    check_instance("deterministic", deterministic, bool)
    R, K, d = policy.runs, policy.steps, policy.act_dim
    envs = [row[0] for row in _build_envs(env, R, 1)]
    low, high = envs[0].action_space.low, envs[0].action_space.high
    g = torch.Generator().manual_seed(seed)
    out = np.zeros((R, episodes))
    for i in range(episodes):
        obs = [e.reset(seed=_env_seed(seed, i))[0] for e in envs]
        live = np.ones(R, dtype=bool)
        while live.any():
            o = _obs_tensor([[x] for x in obs])
            a0 = torch.randn(1, 1, d, generator=g, dtype=DTYPE).expand(R, 1, d)
            eps = torch.randn(1, 1, K, d, generator=g, dtype=DTYPE).expand(R, 1, K, d)
            with torch.no_grad():
                chain = sample_chain(policy, o, initial=a0, noise=eps, deterministic=deterministic)
            a = chain[:, 0, -1]
            acts = np.clip(a.numpy(), low, high)
            for r in np.flatnonzero(live):
                obs[r], rew, term, trunc, _ = envs[r].step(acts[r].astype(np.float32))
                out[r, i] += float(rew)
                live[r] = not (term or trunc)
    for e in envs:
        e.close()
    return out


# ----------------------------------------------------------------------------------------------
# Fine-tuning over episodes
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodicReinFlowResult:
    """Fine-tuned flow policies (one run per entry of ``seeds``) and their learning curves."""

    policy: FlowPolicy = field(repr=False)
    critic: nn.Module = field(repr=False)
    config: ReinFlowConfig
    seeds: tuple[int, ...]
    step_rewards: np.ndarray = field(repr=False)
    """(iterations, R) mean per-step reward of each iteration's rollout (before bootstrapping)."""
    episode_returns: tuple[tuple[float, ...], ...] = field(repr=False)
    """Per run, the undiscounted returns of the episodes completed during training."""
    seconds: float
    metrics: list[dict[str, float]] = field(repr=False)

    def summary(self) -> str:
        first, last = self.step_rewards[0], self.step_rewards[-1]
        return (
            f"ReinFlow (episodic) K={self.config.denoising_steps}, sigma in "
            f"[{self.config.sigma_min}, {self.config.sigma_max}], {len(self.seeds)} runs: mean "
            f"step reward {first.mean():.4f} -> {last.mean():.4f} ({self.seconds:.1f} s)"
        )


def finetune_reinflow_env(
    env: EnvSpec | Sequence[EnvSpec],
    pretrained: FlowPolicy,
    config: ReinFlowConfig,
    *,
    seeds: Sequence[int] = (0,),
    progress: bool = False,
) -> EpisodicReinFlowResult:
    """PPO fine-tuning of a pretrained flow policy over episodes (GAE), many runs at once.

    Parameters
    ----------
    env : env id, factory, or a sequence of them (one per run)
        ``Box`` observations and ``Box`` actions with finite bounds. One spec serves every run;
        a sequence gives each run its own variant (e.g. a perturbed reward). Each run builds
        ``config.envs_per_run`` copies.
    pretrained : FlowPolicy
        Run 0's velocity net is copied into every run (e.g. :func:`trainers.reinflow.pretrain_flow`'s).
    config : ReinFlowConfig
        ``iterations``, ``envs_per_run``, ``rollout_steps`` (batch = their product, split into
        ``minibatches``), ``gamma``, ``gae_lambda``, ``critic_warmup`` and the PPO settings.
    seeds : sequence of int
        One per run; repeats share every random draw.
    progress : bool

    Raises
    ------
    ValueError
        Mismatched dimensions or spaces, or a non-finite reward (named ``reward``, with the run).
    """
    check_instance("pretrained", pretrained, FlowPolicy)
    check_instance("config", config, ReinFlowConfig)
    check_instance("progress", progress, bool)
    seeds = tuple(check_seeds(seeds, distinct=False))
    R, E, T = len(seeds), config.envs_per_run, config.rollout_steps
    if config.minibatches > E * T:
        raise ValueError(
            f"config.minibatches must not exceed envs_per_run x rollout_steps = {E * T}; got "
            f"{config.minibatches}"
        )
    envs = _build_envs(env, R, E)
    space = envs[0][0].action_space
    obs_dim, d = int(np.prod(envs[0][0].observation_space.shape)), int(np.prod(space.shape))
    if (pretrained.obs_dim, pretrained.act_dim) != (obs_dim, d):
        raise ValueError(
            f"pretrained must map obs_dim {obs_dim} to act_dim {d} (the env's); got "
            f"{pretrained.obs_dim} -> {pretrained.act_dim}"
        )
    gamma = config.gamma
    if gamma is None:
        task = getattr(envs[0][0].unwrapped, "task", None)
        gamma = float(task.gamma) if hasattr(task, "gamma") else 0.99
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    start = time.perf_counter()
    torch.set_num_threads(1)

    # ALGO LOGIC: the pretrained flow, a fresh bounded noise net per run, and a critic
    policy, critic, opts, gens = _finetune_setup(pretrained, config, seeds, obs_dim)
    K = config.denoising_steps
    obs = [
        [e.reset(seed=_env_seed(seeds[r], i))[0] for i, e in enumerate(row)]
        for r, row in enumerate(envs)
    ]
    next_done = torch.zeros(R, E, dtype=DTYPE)
    ep_ret = np.zeros((R, E))
    episode_returns: list[list[float]] = [[] for _ in range(R)]
    step_rewards = np.zeros((config.iterations, R))
    log = MetricsLog(total=config.iterations, progress=progress)
    for it in range(config.iterations):
        b_obs = torch.zeros(T, R, E, obs_dim, dtype=DTYPE)
        b_chain = torch.zeros(T, R, E, K + 1, d, dtype=DTYPE)
        b_logp, b_val, b_rew, b_done = (torch.zeros(T, R, E, dtype=DTYPE) for _ in range(4))
        for t in range(T):
            o = _obs_tensor(obs)
            a0 = _draw(lambda g: torch.randn(E, d, generator=g, dtype=DTYPE), gens, seeds)
            eps = _draw(lambda g: torch.randn(E, K, d, generator=g, dtype=DTYPE), gens, seeds)
            with torch.no_grad():
                chain = sample_chain(policy, o, initial=a0, noise=eps)
                b_logp[t] = chain_log_prob(policy, o, chain)[0]
                b_val[t] = critic(o).squeeze(-1)
            b_obs[t], b_chain[t], b_done[t] = o, chain, next_done
            acts = np.clip(chain[:, :, -1].numpy(), low, high)
            final_obs = []  # (r, i, obs at a truncation) to bootstrap from
            for r in range(R):
                for i, e in enumerate(envs[r]):
                    nxt, rew, term, trunc, _ = e.step(
                        acts[r, i].reshape(space.shape).astype(space.dtype)
                    )
                    if not math.isfinite(float(rew)):
                        raise ValueError(
                            f"reward must be finite; run {r} (seed {seeds[r]}) got {rew} at "
                            f"iteration {it}, step {t}"
                        )
                    b_rew[t, r, i] = float(rew)
                    ep_ret[r, i] += float(rew)
                    next_done[r, i] = float(term or trunc)
                    if trunc and not term:
                        final_obs.append((r, i, nxt))
                    if term or trunc:
                        episode_returns[r].append(float(ep_ret[r, i]))
                        ep_ret[r, i] = 0.0
                        nxt, _ = e.reset()
                    obs[r][i] = nxt
            step_rewards[it] += b_rew[t].mean(-1).numpy() / T
            if final_obs:  # a time limit is not a terminal state: bootstrap through it
                fo = torch.zeros(R, E, obs_dim, dtype=DTYPE)
                for r, i, x in final_obs:
                    fo[r, i] = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1))
                with torch.no_grad():
                    v_final = critic(fo).squeeze(-1)
                for r, i, _ in final_obs:
                    b_rew[t, r, i] += gamma * v_final[r, i]
        with torch.no_grad():
            next_value = critic(_obs_tensor(obs)).squeeze(-1)
        _, ret = gae(b_rew, b_val, b_done, next_value, next_done, gamma, config.gae_lambda)

        def flat(x: torch.Tensor) -> torch.Tensor:  # (T, R, E, ...) -> (R, E * T, ...)
            return x.transpose(0, 1).reshape(R, T * E, *x.shape[3:])

        out = _ppo_update(
            policy,
            critic,
            opts,
            flat(b_obs),
            flat(b_chain),
            flat(b_logp),
            flat(ret),
            flat(b_val),
            config,
            gens,
            seeds,
            actor=it >= config.critic_warmup,
        )
        recent = [np.mean(x[-E:]) for x in episode_returns if x]
        log.log(
            it + 1,
            {
                "charts/episodic_return": float(np.mean(recent)) if recent else 0.0,
                "losses/pg": float(out.pg.mean()),
                "losses/value": float(out.value.mean()),
                "losses/entropy": float(out.entropy.mean()),
                "losses/approx_kl": float(out.approx_kl.mean()),
                "losses/clipfrac": float(out.clipfrac.mean()),
            },
        )
    log.close()
    for row in envs:
        for e in row:
            e.close()
    return EpisodicReinFlowResult(
        policy,
        critic,
        config,
        seeds,
        step_rewards,
        tuple(tuple(x) for x in episode_returns),
        time.perf_counter() - start,
        log.rows,
    )
