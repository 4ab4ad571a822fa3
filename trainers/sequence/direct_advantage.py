"""Direct Advantage Policy Optimization: offline, step-level, with a separately trained critic.

Not ByteDance's DAPO (Yu et al. 2025, arXiv:2503.14476, "Decoupled Clip and Dynamic sAmpling
Policy Optimization", the ``loss_type="dapo"`` of :func:`trainers.sequence.grpo.train_grpo`):
this module is the *Direct Advantage* Policy Optimization of Liu et al. 2024 [1], named
``direct_advantage`` to keep the two apart.

The method [1] works on a step-level MDP (state = prompt and the steps so far, action = the
next step) in two decoupled stages, repeated by its iterative variant:

- **Stage A (critic)**: the value of a state under the data policy ``pi_ref``,
  ``V(s) = P(correct | s, continue with pi_ref)``. Here ``critic="exact"`` computes it exactly by
  enumeration of the reference's distribution over the task's completions,
  ``V(s) = sum_{y extends s} pi_ref(y | s) r(y)`` with ``r`` the task's noiseless (mean) reward
  table (:func:`exact_state_values`), and ``critic="mc"`` estimates it from ``n_mc`` rollouts of
  ``pi_ref`` from ``s`` scored by the task's (possibly noisy) reward; the estimates themselves
  are the critic (the paper fits a critic network to such outcomes; no network here).
  ``critic_noise = sigma`` adds ``N(0, sigma^2)`` to every non-terminal critic value (a fixed
  noisy critic: one draw per distinct prefix and iteration for ``"exact"``, one per estimate
  for ``"mc"``); a terminal state's value is the verifier's (the reward).
- **Stage B (policy)**: states ``s`` are the step boundaries of ``n_rollouts`` offline
  rollouts of ``pi_ref`` per run; at each state ``candidates = M`` next steps
  ``a_j ~ pi_ref(. | s)`` are sampled and scored by the frozen critic,
  ``A_j = V(s + a_j) - V(s)``, and the policy minimises, with
  ``l_j = log pi_theta(a_j | s) - log pi_ref(a_j | s)`` (summed over the step's tokens),

  * ``centred=True`` (default): ``(1/M) sum_j ([l_j - mean_k l_k] - [A_j - mean_k A_k] / beta)^2``,
  * ``centred=False``: ``(1/M) sum_j (l_j - A_j / beta)^2``

  (:func:`direct_advantage_loss`). [Reconstructed from the paper's abstract and third-party
  summaries ("a quadratic loss that aligns scaled advantages with log-policy ratios"): the
  paper body was not available.] The target is the KL-regularised improvement
  ``pi*(a | s) = pi_ref(a | s) exp(A(s, a) / beta) / Z(s)`` (Peters & Schaal 2007; Rafailov et
  al. 2023, Eq. 4). The centred form does not involve ``log Z(s)``: with ``a_j`` i.i.d.
  ``pi_ref(.|s)`` and ``f = l - A / beta`` its expectation is ``(M - 1)/M Var_{pi_ref}(f)``, zero
  exactly when ``f`` is constant on the support of ``pi_ref``, i.e. at ``pi*`` [derived]. The
  uncentred form also asks ``log Z(s) = 0``, which a normalised policy cannot meet in general.
- **Iterations** (iterative variant [1]): iteration ``k > 0`` repeats A and B with the policy
  at its start as the data, critic and ratio policy ``pi_ref``.

A *step* is ``step_tokens`` tokens (default 1: a step is one token; a step ends early at EOS).

Steps and samples. ``steps`` counts the optimizer steps of Stage B over all iterations (split
evenly, ``steps // iterations`` each, the first ``steps % iterations`` one more), each on
``batch_states`` states per run (with replacement, all ``M`` candidates of each). Sampling
happens once per iteration, before its optimizer steps: a run samples ``n_rollouts``
rollouts, ``M`` candidate steps per state (a rollout of length ``l`` has ``ceil(l /
step_tokens)`` states) and, with ``critic="mc"``, ``n_mc`` continuations per non-terminal
state and per non-terminal candidate. ``stats/samples`` counts every sampled sequence, a
rollout, a candidate step or a continuation, one each (mean over runs): the budget is set by
``n_rollouts``, ``candidates``, ``n_mc`` and ``iterations``, not by ``steps``. The exact critic
samples nothing (it enumerates).

References
----------
.. [1] J. Liu et al., "Improving Multi-Step Reasoning Abilities of Large Language Models with
   Direct Advantage Policy Optimization", arXiv:2412.18279, 2024.
.. [2] J. Peters, S. Schaal, "Reinforcement Learning by Reward-Weighted Regression for
   Operational Space Control", ICML 2007.
.. [3] R. Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a
   Reward Model", NeurIPS 2023, Eq. (4).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_bool, check_positive
from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.exact import exact_logprobs
from trainers.sequence.policy import policy_logits
from trainers.sequence.sampling import Completions
from trainers.sequence.tasks import SequenceTask

__all__ = [
    "DirectAdvantageConfig",
    "direct_advantage_loss",
    "exact_state_values",
    "train_direct_advantage",
]


@dataclass(frozen=True)
class DirectAdvantageConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_direct_advantage`.

    ``steps`` are optimizer steps and sample nothing; each iteration samples, per run,
    ``n_rollouts`` rollouts, ``candidates`` steps per state and (``critic="mc"``) ``n_mc``
    continuations per non-terminal state and candidate (``stats/samples``).
    """

    steps: int = 200
    """Optimizer steps of Stage B over all iterations (split evenly)."""
    iterations: int = 1
    """Rounds of Stage A + B; round k > 0 uses the policy at its start as pi_ref."""
    n_rollouts: int = 32
    """Offline rollouts of pi_ref per run per iteration (their step boundaries are the states)."""
    candidates: int = 4
    """M, candidate next steps per state sampled from pi_ref (>= 2 for the centred loss)."""
    step_tokens: int = 1
    """Tokens per step (1: a step is one token)."""
    batch_states: int = 16
    """States per run per optimizer step (drawn with replacement, all their candidates)."""
    beta: float = 0.1
    """Temperature of the target pi_ref exp(A / beta) / Z [reconstructed]."""
    centred: bool = True
    """Z-free centred loss (True) or the uncentred (l - A / beta)^2 (False) [reconstructed]."""
    critic: str = "exact"
    """'exact' (enumeration of pi_ref's distribution) or 'mc' (n_mc rollouts per state)."""
    n_mc: int = 16
    """Monte-Carlo continuations per state of critic='mc'."""
    critic_noise: float = 0.0
    """Standard deviation of the Gaussian noise added to the non-terminal critic values."""
    lr: float = 1e-3
    """Learning rate (a fresh optimizer per iteration)."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "steps": POSITIVE_INT,
                "iterations": POSITIVE_INT,
                "n_rollouts": POSITIVE_INT,
                "candidates": POSITIVE_INT,
                "step_tokens": POSITIVE_INT,
                "batch_states": POSITIVE_INT,
                "beta": POSITIVE,
                "centred": FLAG,
                "critic": one_of("exact", "mc"),
                "n_mc": POSITIVE_INT,
                "critic_noise": NONNEGATIVE,
                "lr": POSITIVE,
                **C.POLICY_OPTION_RULES,
            },
        )
        if self.centred and self.candidates < 2:
            raise ValueError(
                "DirectAdvantageConfig.candidates must be >= 2 for the centred loss (one "
                f"candidate has no spread to centre); got {self.candidates}"
            )
        if self.steps < self.iterations:
            raise ValueError(
                f"DirectAdvantageConfig.steps must give each of the {self.iterations} iterations "
                f"at least one optimizer step; got steps={self.steps}"
            )


# --------------------------------------------------------------------------------------------
# the loss
# --------------------------------------------------------------------------------------------


def direct_advantage_loss(
    log_ratio: torch.Tensor, advantages: torch.Tensor, beta: float, *, centred: bool = True
) -> torch.Tensor:
    """Per-state quadratic loss aligning log-ratios with scaled advantages [reconstructed].

    ``centred=True``: ``(1/M) sum_j ([l_j - mean_k l_k] - [A_j - mean_k A_k] / beta)^2``;
    ``centred=False``: ``(1/M) sum_j (l_j - A_j / beta)^2``, with ``l_j = log pi(a_j|s) -
    log pi_ref(a_j|s)`` of ``M`` candidate steps of a state (Liu et al. 2024,
    arXiv:2412.18279; the form is reconstructed, the paper body was not available). With
    ``a_j ~ pi_ref`` the centred loss is minimised by ``pi_ref exp(A / beta) / Z``.

    Parameters
    ----------
    log_ratio : Tensor (*, M) floating
    advantages : Tensor (*, M), the shape of ``log_ratio`` (detached)
    beta : float > 0
    centred : bool

    Returns
    -------
    Tensor (*,): the loss of each state.
    """
    if not isinstance(log_ratio, torch.Tensor) or not log_ratio.is_floating_point():
        raise ArgumentTypeError(
            f"log_ratio must be a floating torch.Tensor; got {C.describe(log_ratio)}"
        )
    if not isinstance(advantages, torch.Tensor) or not advantages.is_floating_point():
        raise ArgumentTypeError(
            f"advantages must be a floating torch.Tensor; got {C.describe(advantages)}"
        )
    if log_ratio.ndim < 1 or log_ratio.shape[-1] < 1:
        raise ValueError(
            f"log_ratio must have shape (*, M) with M >= 1; got {tuple(log_ratio.shape)}"
        )
    if advantages.shape != log_ratio.shape:
        raise ValueError(
            f"advantages must have the shape of log_ratio {tuple(log_ratio.shape)}; got "
            f"{tuple(advantages.shape)}"
        )
    beta = check_positive("beta", beta)
    centred = check_bool("centred", centred)
    if centred and log_ratio.shape[-1] < 2:
        raise ValueError("log_ratio must hold M >= 2 candidates per state for the centred loss")
    target = advantages.detach().to(log_ratio.dtype) / beta
    diff = log_ratio - target
    if centred:
        diff = diff - diff.mean(-1, keepdim=True)
    return (diff**2).mean(-1)


# --------------------------------------------------------------------------------------------
# sampling with forced prefixes (rectangular over the runs, one draw per position per run)
# --------------------------------------------------------------------------------------------


def _logits_runs(policy: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    if C.is_stacked(policy):
        return policy_logits(policy, ids)
    return policy_logits(policy, ids[0])[None]


@torch.no_grad()
def _extend(
    policy: nn.Module,
    task: SequenceTask,
    prompts: torch.Tensor,
    tokens: torch.Tensor,
    start: torch.Tensor,
    stop: torch.Tensor,
    gens: list[torch.Generator],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep ``tokens[..., :start]`` and sample positions ``start .. stop - 1`` from ``policy``
    (unless the completion has ended at EOS); pad after. Rows (N, B); every run draws one
    ``torch.rand((B, V))`` per position from its generator (Gumbel-max, as
    :func:`trainers.sequence.sampling.sample`), so a run's draws do not depend on the others.
    Uses the policy's KV cache where it has one (``init_cache``).
    Returns (tokens, mask, ended) with ``ended`` True where the completion ended at EOS."""
    L, eos, pad = task.completion_len, task.eos_id, task.pad_id
    dev = tokens.device
    pos = torch.arange(L, device=dev)
    keep = pos < start[..., None]
    out = torch.where(keep, tokens, torch.full_like(tokens, pad))
    mask = keep.clone()
    ended = torch.zeros(tokens.shape[:-1], dtype=torch.bool, device=dev)
    if eos is not None:
        ended = (keep & (tokens == eos)).any(-1)
    allowed = task.allowed.to(dev)
    B, V = tokens.shape[1], task.vocab_size
    stacked = C.is_stacked(policy)
    cache = None
    if hasattr(policy, "init_cache"):
        cache = policy.init_cache(tuple(tokens.shape[:-1] if stacked else tokens.shape[1:-1]))
    last = int(stop.max()) if stop.numel() else 0
    for t in range(L):
        u = torch.stack(
            [torch.rand((B, V), generator=g, device=dev, dtype=torch.float64) for g in gens]
        )
        need = ~ended & (start <= t) & (stop > t)
        if t >= last:
            continue
        if cache is not None:  # feed the next token (a prompt first) and keep the cache in step
            x = prompts if t == 0 else out[..., t - 1 : t]
            z = policy_logits(lambda ids: policy(ids, cache=cache), x if stacked else x[0])
            z = z[..., -1, :] if stacked else z[None, ..., -1, :]
        elif bool(need.any()):
            z = _logits_runs(policy, torch.cat([prompts, out[..., :t]], dim=-1))[..., -1, :]
        else:
            continue
        z = z.double().masked_fill(~allowed[t], float("-inf"))
        gumbel = -torch.log(-torch.log(u.clamp(min=1e-300)))
        choice = torch.argmax(z + gumbel, dim=-1)
        out[..., t] = torch.where(need, choice, out[..., t])
        mask[..., t] |= need
        if eos is not None:
            ended |= need & (choice == eos)
    return out, mask, ended


# --------------------------------------------------------------------------------------------
# Stage A: critics
# --------------------------------------------------------------------------------------------


def _check_exact_size(task: SequenceTask) -> None:
    L, V = task.completion_len, task.vocab_size
    if (V + 1) ** L >= 2**62:
        raise ValueError(
            f"critic='exact' keys prefixes by one int64: (vocab + 1)^L = {V + 1}^{L} is too "
            "large for this task; use critic='mc'"
        )


class _ExactCritic:
    """V^{pi}(prefix) of every prefix of every completion, per run and prompt, by enumeration.

    A prefix is keyed by its tokens with the positions from its length on replaced by the
    sentinel V (so prefixes of different lengths never collide); ``values`` (N, P, K) over the
    sorted keys, ``terminal`` (K,) marks complete completions (their value is the reward).
    """

    def __init__(self, policy: nn.Module, tasks: list[SequenceTask], device: torch.device):
        task = tasks[0]
        L, V = task.completion_len, task.vocab_size
        _check_exact_size(task)
        self.L, self.V = L, V
        self.weights = torch.tensor([(V + 1) ** (L - 1 - i) for i in range(L)], dtype=torch.long)
        tokens, mask = task.completions()
        # trailing positions that allow one token only are forced (log-prob 0), and a completion
        # is determined by the positions before them: scoring without them needs far fewer
        # prefix groups (tied_digit_sum: the EOS position; 625 instead of 10625 by default)
        width = L
        while width > 1 and int(task.allowed[width - 1].sum()) == 1:
            width -= 1
        logp = exact_logprobs(
            policy,
            task.prompts.to(device),
            tokens[:, :width].to(device),
            mask[:, :width].to(device),
            allowed=task.allowed[:width].to(device),
        ).cpu()
        if logp.ndim == 2:
            logp = logp[None]
        rewards = torch.stack([t.reward_table() for t in tasks])  # (N, P, M) noiseless
        N, P, _ = rewards.shape
        lengths = mask.sum(-1)
        pos = torch.arange(L)
        keys, values, terminal = [], [], []
        for t in range(L + 1):
            sel = lengths >= t  # completions with a prefix of length t
            enc = torch.where(pos < t, tokens[sel], V)
            uniq, inv = torch.unique((enc * self.weights).sum(-1), return_inverse=True)
            lp, r = logp[..., sel], rewards[..., sel]
            index = inv.expand(N, P, -1)
            top = torch.full((N, P, len(uniq)), -math.inf, dtype=torch.float64)
            top = top.scatter_reduce(-1, index, lp, reduce="amax")
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
            w = torch.exp(lp - top.gather(-1, index))  # pi(y) / max pi over the group
            den = torch.zeros_like(top).scatter_add(-1, index, w)
            num = torch.zeros_like(top).scatter_add(-1, index, w * r)
            values.append(torch.where(den > 0, num / den.clamp(min=1e-300), torch.zeros_like(den)))
            keys.append(uniq)
            done = torch.zeros(len(uniq), dtype=torch.bool)
            done[inv[lengths[sel] == t]] = True
            terminal.append(done)
        all_keys = torch.cat(keys)
        order = torch.argsort(all_keys)
        self.keys = all_keys[order]
        self.values = torch.cat(values, dim=-1)[..., order]
        self.terminal = torch.cat(terminal)[order]

    def noise(self, sigma: float, gens: list[torch.Generator]) -> torch.Tensor:
        """(N, P, K) N(0, sigma^2) on the non-terminal prefixes, run i from ``gens[i]``."""
        P, K = self.values.shape[1:]
        z = torch.stack([torch.randn((P, K), generator=g, dtype=torch.float64) for g in gens])
        return sigma * z * (~self.terminal).to(z.dtype)

    def index(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(*,) key positions of the prefixes ``tokens[..., :lengths]``."""
        pos = torch.arange(self.L)
        enc = torch.where(pos < lengths[..., None], tokens, self.V)
        q = (enc * self.weights).sum(-1)
        at = torch.searchsorted(self.keys, q).clamp(max=self.keys.numel() - 1)
        if not bool((self.keys[at] == q).all()):
            raise ValueError("tokens hold a prefix that no completion of the task has")
        return at

    def lookup(
        self,
        prompt_ids: torch.Tensor,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        noise: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Values (N, B) and terminal flags of the prefixes of rows (N, B)."""
        at = self.index(tokens.cpu(), lengths.cpu())
        table = self.values if noise is None else self.values + noise
        vals = table[torch.arange(table.shape[0])[:, None], prompt_ids.cpu(), at]
        return vals, self.terminal[at]


def exact_state_values(
    policy: nn.Module,
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    prompt_ids: torch.Tensor,
    tokens: torch.Tensor,
    lengths: torch.Tensor,
) -> torch.Tensor:
    """Exact ``V^pi(x, y_<t) = sum_{y extends y_<t} pi(y | x, y_<t) r(x, y)`` by enumeration.

    The critic of :func:`train_direct_advantage` with ``critic="exact"``: every completion of
    the task is scored by :func:`trainers.sequence.exact.exact_logprobs` and the (noiseless)
    reward table of each run's task is averaged over the completions extending each prefix,
    weighted by ``pi``; a complete completion's value is its reward.

    Parameters
    ----------
    policy : nn.Module
        A stacked model (N runs) or a single one (N = 1).
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        One task, or one per run (its reward table is run i's).
    prompt_ids : Tensor (N, B) long
        Prompt indices into ``task.prompts``.
    tokens : Tensor (N, B, L) long
        Prefixes: the first ``lengths`` tokens of each row count.
    lengths : Tensor (N, B) long
        Prefix lengths in ``[0, L]``.

    Returns
    -------
    Tensor (N, B) float64.
    """
    if not isinstance(policy, nn.Module):
        raise ArgumentTypeError(f"policy must be an nn.Module; got {type(policy).__name__}")
    n = getattr(policy, "n_runs", None) or 1
    tasks, _ = C.resolve_runs(task_or_tasks, list(range(n)), policy)
    task = tasks[0]
    for name, x, dims in (("prompt_ids", prompt_ids, 2), ("lengths", lengths, 2)):
        if not isinstance(x, torch.Tensor) or x.dtype != torch.long:
            raise ArgumentTypeError(
                f"{name} must be a torch.long tensor (N, B); got {C.describe(x)}"
            )
        if x.ndim != dims or x.shape[0] != n:
            raise ValueError(f"{name} must have shape ({n}, B); got {tuple(x.shape)}")
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        raise ArgumentTypeError(
            f"tokens must be a torch.long tensor (N, B, L); got {C.describe(tokens)}"
        )
    if tuple(tokens.shape) != (*prompt_ids.shape, task.completion_len):
        raise ValueError(
            f"tokens must have shape {(*prompt_ids.shape, task.completion_len)}; got "
            f"{tuple(tokens.shape)}"
        )
    if lengths.shape != prompt_ids.shape:
        raise ValueError(
            f"lengths must have the shape of prompt_ids {tuple(prompt_ids.shape)}; got "
            f"{tuple(lengths.shape)}"
        )
    if prompt_ids.numel() and (
        int(prompt_ids.min()) < 0 or int(prompt_ids.max()) >= task.n_prompts
    ):
        raise ValueError(f"prompt_ids must lie in [0, {task.n_prompts})")
    if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > task.completion_len):
        raise ValueError(f"lengths must lie in [0, {task.completion_len}]")
    param = next(policy.parameters(), None)
    critic = _ExactCritic(policy, tasks, torch.device("cpu") if param is None else param.device)
    return critic.lookup(prompt_ids, tokens, lengths)[0]


def _mc_values(
    policy: nn.Module,
    tasks: list[SequenceTask],
    prompts: torch.Tensor,
    tokens: torch.Tensor,
    lengths: torch.Tensor,
    n_mc: int,
    token_gens: list[torch.Generator],
    noise_gens: list[torch.Generator],
) -> torch.Tensor:
    """(N, B) mean reward of ``n_mc`` continuations of each prefix sampled from ``policy``."""
    N, B = lengths.shape
    L = tasks[0].completion_len
    rep = lambda x: x.repeat_interleave(n_mc, dim=1)  # noqa: E731
    p = rep(prompts)
    stop = torch.full((N, B * n_mc), L, dtype=torch.long, device=tokens.device)
    full, mask, _ = _extend(policy, tasks[0], p, rep(tokens), rep(lengths), stop, token_gens)
    comps = Completions(full, mask, torch.zeros(full.shape, dtype=torch.float64))
    rewards = C.rewards_runs(tasks, p, comps, noise_gens)
    return rewards.reshape(N, B, n_mc).mean(-1).cpu()


# --------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------


@dataclass
class _Data:
    """One iteration's offline data per run: S states, each with M candidate steps."""

    prompts: torch.Tensor  # (N, S*M, Tp)
    tokens: torch.Tensor  # (N, S*M, L) prefix + step
    mask: torch.Tensor  # (N, S*M, L) real tokens of prefix + step
    step_mask: torch.Tensor  # (N, S*M, L) the step's tokens
    ref_logp: torch.Tensor  # (N, S, M) log pi_ref of the step
    advantages: torch.Tensor  # (N, S, M)
    valid: list[torch.Tensor]  # per run: indices of the real states
    reward: float  # mean reward of the rollouts
    samples: float  # sampled sequences, mean over runs


def _collect(
    data_policy: nn.Module,
    tasks: list[SequenceTask],
    cfg: DirectAdvantageConfig,
    gens: dict[str, list[torch.Generator]],
    dev: torch.device,
) -> _Data:
    task = tasks[0]
    N, R, M, k = len(gens["tokens"]), cfg.n_rollouts, cfg.candidates, cfg.step_tokens
    L, pad = task.completion_len, task.pad_id
    # --- offline rollouts of pi_ref ---
    pidx = C.draw_prompts(tasks, R, gens["prompts"])  # (N, R)
    prompts = C.as_batch(task, pidx, dev)
    blank = torch.full((N, R, L), pad, dtype=torch.long, device=dev)
    zero = torch.zeros((N, R), dtype=torch.long, device=dev)
    roll, roll_mask, _ = _extend(data_policy, task, prompts, blank, zero, zero + L, gens["tokens"])
    comps = Completions(roll, roll_mask, torch.zeros(roll.shape, dtype=torch.float64))
    reward = float(C.rewards_runs(tasks, prompts, comps, gens["noise"]).mean())
    # --- states: the step boundaries t = 0, k, 2k, ... < length of each rollout ---
    ns = -(-L // k)
    t_state = torch.arange(ns, device=dev) * k
    length = roll_mask.sum(-1)  # (N, R)
    state_ok = (t_state < length[..., None]).reshape(N, R * ns)
    s_pidx = pidx.repeat_interleave(ns, dim=1)  # (N, S)
    s_prompts = prompts.repeat_interleave(ns, dim=1)
    s_tokens = roll.repeat_interleave(ns, dim=1)
    # a step boundary past the end of a rollout is not a state (never trained on, not counted);
    # its prefix is clamped to the whole rollout so that every row stays a real prefix
    s_len = torch.minimum(t_state.repeat(R).expand(N, -1), length.repeat_interleave(ns, dim=1))
    S = R * ns
    # --- M candidate steps per state ---
    rep = lambda x: x.repeat_interleave(M, dim=1)  # noqa: E731
    c_prompts, c_start = rep(s_prompts), rep(s_len)
    c_tokens, c_mask, c_eos = _extend(
        data_policy,
        task,
        c_prompts,
        rep(s_tokens),
        c_start,
        (c_start + k).clamp(max=L),
        gens["tokens"],
    )
    c_len = c_mask.sum(-1)
    step_mask = c_mask & (torch.arange(L, device=dev) >= c_start[..., None])
    n_states = state_ok.sum(-1).double().cpu()  # per run
    samples = R + n_states * M
    # --- Stage A: the critic's values ---
    if cfg.critic == "exact":
        critic = _ExactCritic(data_policy, tasks, dev)
        noise = critic.noise(cfg.critic_noise, gens["critic"]) if cfg.critic_noise > 0 else None
        v_s, _ = critic.lookup(s_pidx, s_tokens, s_len, noise)
        v_sa, _ = critic.lookup(rep(s_pidx), c_tokens, c_len, noise)
    else:
        c_terminal = (c_eos | (c_len == L)).cpu()
        v_s = _mc_values(
            data_policy, tasks, s_prompts, s_tokens, s_len, cfg.n_mc, gens["tokens"], gens["noise"]
        )
        v_sa = _mc_values(
            data_policy, tasks, c_prompts, c_tokens, c_len, cfg.n_mc, gens["tokens"], gens["noise"]
        )
        if cfg.critic_noise > 0:
            for i, g in enumerate(gens["critic"]):
                v_s[i] += cfg.critic_noise * torch.randn(S, generator=g, dtype=torch.float64)
                z = cfg.critic_noise * torch.randn(S * M, generator=g, dtype=torch.float64)
                v_sa[i] += torch.where(c_terminal[i], torch.zeros_like(z), z)
        live = (~c_terminal).reshape(N, S, M) & state_ok.cpu()[..., None]
        samples = samples + cfg.n_mc * (n_states.cpu() + live.sum((-1, -2)).double())
    adv = (v_sa.reshape(N, S, M) - v_s[..., None]).to(dev)
    with torch.no_grad():
        ref_lp = C.logprobs_runs(data_policy, c_prompts, c_tokens, c_mask, task)
    ref_logp = (ref_lp * step_mask).sum(-1).reshape(N, S, M)
    return _Data(
        prompts=c_prompts,
        tokens=c_tokens,
        mask=c_mask,
        step_mask=step_mask,
        ref_logp=ref_logp,
        advantages=adv,
        valid=[state_ok[i].nonzero().flatten().cpu() for i in range(N)],
        reward=reward,
        samples=float(samples.mean()),
    )


def train_direct_advantage(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: DirectAdvantageConfig = DirectAdvantageConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) Direct Advantage Policy Optimization runs as one stacked model.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo`: run i's task gives its rollouts'
        prompts, its critic's rewards (the noiseless table for ``critic="exact"``, the sampled,
        possibly noisy reward for ``"mc"``).
    cfg : DirectAdvantageConfig
    seeds, policy, device
        As in :func:`train_grpo`.
    ref_policy : nn.Module, optional
        ``pi_ref`` of the first iteration: the data, critic and ratio policy (default a copy of
        the initial policy). Later iterations use the policy at their start.
    callback : callable, optional
        ``callback(step, policy)`` after every logged optimizer step.

    Returns
    -------
    SequenceRunResult
        ``algorithm="direct_advantage"``; per logged step ``losses/loss``, ``charts/reward``
        (mean reward of the iteration's rollouts of pi_ref), ``stats/samples``,
        ``stats/iteration``, ``stats/entropy`` (at the candidates' tokens), ``stats/log_ratio``
        (mean ``l_j``) and ``stats/advantage`` (mean ``|A_j|``) of the batch.
    """
    check_instance("cfg", cfg, DirectAdvantageConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    task = tasks[0]
    if cfg.critic == "exact":
        _check_exact_size(task)
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    cpu = torch.device("cpu")
    gens = {
        "prompts": C.generators(seeds, "prompts", cpu),
        "tokens": C.generators(seeds, "tokens", dev),
        "noise": C.generators(seeds, "noise", cpu),
        "critic": C.generators(seeds, "critic", cpu),
        "batches": C.generators(seeds, "pairs", cpu),
    }
    N, B, M = len(seeds), cfg.batch_states, cfg.candidates
    per_iter = C.split_steps(cfg.steps, cfg.iterations)
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    step, samples, tokens_seen = 0, 0.0, 0
    start = time.perf_counter()
    for it in range(cfg.iterations):
        data_policy = ref if it == 0 else C.frozen_copy(policy)
        data = _collect(data_policy, tasks, cfg, gens, dev)
        samples += data.samples
        params = [p for p in policy.parameters() if p.requires_grad]
        opt = C.make_optimizer(params, cfg.optimizer, cfg.lr)
        for _ in range(per_iter[it]):
            states = torch.stack(
                [
                    v[torch.randint(v.numel(), (B,), generator=g)]
                    for v, g in zip(data.valid, gens["batches"], strict=True)
                ]
            ).to(dev)  # (N, B)
            rows = (states[..., None] * M + torch.arange(M, device=dev)).reshape(N, B * M)
            idx = rows[..., None]
            tokens = torch.take_along_dim(data.tokens, idx, dim=1)
            mask = torch.take_along_dim(data.mask, idx, dim=1)
            step_mask = torch.take_along_dim(data.step_mask, idx, dim=1)
            prompts = torch.take_along_dim(data.prompts, idx, dim=1)
            lp, ent = C.logprobs_runs(policy, prompts, tokens, mask, task, entropy=True)
            ref_lp = torch.take_along_dim(data.ref_logp, states[..., None], dim=1)
            adv = torch.take_along_dim(data.advantages, states[..., None], dim=1)
            log_ratio = (lp * step_mask).sum(-1).reshape(N, B, M) - ref_lp.to(lp.dtype)
            loss = direct_advantage_loss(log_ratio, adv, cfg.beta, centred=cfg.centred).mean(-1)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            C.clip_gradients(policy, cfg.max_grad_norm)
            opt.step()
            step += 1
            tokens_seen += int(mask.sum())
            if C.should_log(step, cfg):
                log.log(
                    step,
                    {
                        "losses/loss": loss.detach().mean(),
                        "charts/reward": data.reward,
                        "stats/samples": samples,
                        "stats/iteration": it,
                        "stats/entropy": C.masked_mean(ent.detach(), step_mask),
                        "stats/log_ratio": log_ratio.detach().mean(),
                        "stats/advantage": adv.abs().mean(),
                    },
                )
                C.notify(callback, step, policy)
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
        algorithm="direct_advantage",
    )
