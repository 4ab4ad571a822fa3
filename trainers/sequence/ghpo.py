"""GHPO: GRPO whose too-hard groups are regenerated with a growing prefix of the expert solution.

Guided Hybrid Policy Optimization (Liu et al. 2025, "GHPO: Adaptive Guidance for Stable and
Efficient LLM Reinforcement Learning", arXiv:2507.10628), as its official TRL fork codes it
(hkgc-1/GHPO, ``src/ghpo/ghpo_trainer.py``: ``GHPOTrainer._generate_and_score_completions``):

1. sample ``G`` completions of each of the round's ``batch_prompts`` prompts and score them;
2. a group is *too hard* iff every completion's accuracy reward is <= 0 (here: none is in the
   tie set, :func:`trainers.sequence.grpo.completion_correct`);
3. each too-hard group is regenerated (``G`` new completions replace the old ones) with a hint:
   the first ``round(f * |s|)`` tokens of the prompt's expert solution ``s`` (``task.solutions``,
   ``|s|`` its real tokens, EOS included; :func:`hint_lengths`) forced as context, for the
   first rung ``f`` of ``hint_ladder``;
4. groups still all wrong move up the ladder (0.25, 0.5, 0.75 in the code, hard-coded there);
   a group still wrong after the last rung keeps its last (zero-advantage) completions;
5. the loss is GRPO's (TRL's ``_compute_loss``: ``loss_type="bnpo"``, ``beta=0``,
   ``A = (r - mean) / (std + 1e-4)``) on the completions *conditioned on their hints*.

Token-level translation [reconstructed: the paper works on text]. The code appends a
*character* prefix of the solution text to the user prompt, after an instruction ("The
following text is the beginning part of the answer..."); here the hint is a *token* prefix of
the solution placed as the first ``k`` completion tokens: the policy samples the remaining
positions after ``prompt + hint`` (with the grammar ``task.allowed[k:]``), the reward scores
the whole completion ``hint + generated`` (the toy's verifier reads the whole trace), and the
hint tokens are context, never a loss target. Since a causal LM sees the same token sequence,
the log-probabilities of the generated tokens after ``prompt + hint`` are those of positions
``k..`` of the full completion after the prompt, so the loss uses the original prompts with
the hint positions masked out. ``k`` is at most ``|s| - 1``: the policy always writes at least
the last solution token. Python's (and the code's) ``round`` rounds halves to even.

Differences from the code, on purpose: (a) the hinted completion is always trained in the
context it was sampled in (the code rebuilds the prompts of the whole batch at every rung
from that rung's hints only, so a group rescued at an earlier rung is trained after its
un-hinted prompt whenever another group moves on; this reads as a bug); (b) the code marks a
placeholder group "2" for distributed synchronisation when no group is too hard, which
changes nothing and is dropped; (c) the unused ``hint_ratio`` of its config is not a field.

Sample budget: every regeneration samples ``G`` completions per too-hard group and counts in
``stats/samples``. To keep stacked runs equal to runs one by one, a regeneration call samples
all ``batch_prompts * G`` rows of the runs that need it (each from its own token generator,
the other runs from throw-away generators) and keeps the too-hard groups' rows; only these
count as samples.

Evaluation (:meth:`SequenceRunResult.distribution`) is without hints: the test prompts have
none, the train/test mismatch the method's critics point to.

References
----------
.. [1] Z. Liu et al., "GHPO: Adaptive Guidance for Stable and Efficient LLM Reinforcement
   Learning", arXiv:2507.10628, 2025 (difficulty detection and adaptive prompt refinement;
   the paper body was not available, so the code is the reference here); code hkgc-1/GHPO
   (``src/ghpo/ghpo_trainer.py``, ``recipes/Qwen2.5-Math-7B/ghpo/config_ghpo.yaml``).
.. [2] Z. Shao et al., "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3) (GRPO); TRL
   ``GRPOTrainer``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_open_unit
from trainers.runtime import Rule, check_instance
from trainers.sequence import common as C
from trainers.sequence.grpo import (
    GRPOConfig,
    _Streams,
    _train_rounds,
    completion_correct,
)
from trainers.sequence.sampling import Completions, sample
from trainers.sequence.tasks import SequenceTask

__all__ = ["GHPOConfig", "hint_lengths", "train_ghpo"]


def _ladder(name: str, value: Any) -> tuple[float, ...]:
    """A non-empty, strictly increasing tuple of fractions in (0, 1) (a JSON list accepted)."""
    if not isinstance(value, tuple | list):
        raise ArgumentTypeError(f"{name} must be a tuple of fractions in (0, 1); got {value!r}")
    if not value:
        raise ValueError(f"{name} must hold at least one rung; got {value!r}")
    rungs = tuple(check_open_unit(f"{name}[{i}]", v) for i, v in enumerate(value))
    if any(b <= a for a, b in itertools.pairwise(rungs)):
        raise ValueError(f"{name} must increase strictly; got {rungs}")
    return rungs


@dataclass(frozen=True)
class GHPOConfig(GRPOConfig):
    """Hyperparameters of :func:`train_ghpo`: :class:`GRPOConfig`'s (GHPO's defaults: TRL's
    ``bnpo`` token mean, ``beta=0``, std + 1e-4) and the hint ladder.

    A round samples ``batch_prompts * num_generations`` completions per run plus ``G`` per
    too-hard group and rung (at most ``len(hint_ladder)`` times the first batch). DAPO's and
    View-R1's switches (``dynamic_sampling``, ``overlong_buffer``, ``dads``, ``stcr``) are not
    part of GHPO and are refused.
    """

    loss_type: str = "bnpo"
    """Token aggregation (GHPO's TRL default 'bnpo': the token mean of the batch)."""
    hint_ladder: tuple[float, ...] = (0.25, 0.5, 0.75)
    """Fractions of the solution given as hint, rung by rung (increasing, in (0, 1))."""

    def _rules(self) -> dict[str, Rule]:
        return {**super()._rules(), "hint_ladder": _ladder}

    def __post_init__(self) -> None:
        super().__post_init__()
        C.refuse_unused(self, "GHPO", ("dynamic_sampling", "overlong_buffer", "dads", "stcr"))


def hint_lengths(task: SequenceTask, fraction: float) -> torch.Tensor:
    """(P,) long: the hint length ``min(round(fraction * |s_p|), |s_p| - 1)`` of each prompt,
    ``|s_p|`` the real tokens of its solution (EOS included); ``round`` halves to even, as
    Python's (GHPO's code takes ``round(len(hint) * fraction)`` characters).

    Examples
    --------
    >>> from trainers.sequence import tied_digit_sum
    >>> task = tied_digit_sum(n_digits=4, max_digit=2, sums=(4,))  # |s| = 6
    >>> [int(hint_lengths(task, f)[0]) for f in (0.25, 0.5, 0.75)]
    [2, 3, 4]
    """
    if not isinstance(task, SequenceTask):
        raise ArgumentTypeError(f"task must be a SequenceTask; got {type(task).__name__}")
    fraction = check_open_unit("fraction", fraction)
    if task.solutions is None:
        raise ValueError(f"task {task.name!r} has no solutions to take hints from")
    n = task.solution_mask.sum(-1)  # type: ignore[union-attr]
    k = torch.round(fraction * n.to(torch.float64)).long()
    return torch.minimum(k, n - 1).clamp(min=0)


def _sample_after(
    policy: nn.Module,
    contexts: torch.Tensor,
    task: SequenceTask,
    k: int,
    gens: list[torch.Generator],
    temperature: float,
) -> Completions:
    """Completion positions ``k..L-1`` sampled after ``contexts`` (N, B, Tp + k) = prompt +
    hint, with the grammar ``task.allowed[k:]`` (as :func:`common.sample_runs`)."""
    stacked = C.is_stacked(policy)
    out = sample(
        policy,
        contexts if stacked else contexts[0],
        max_new_tokens=task.completion_len - k,
        allowed=task.allowed[k:].to(contexts.device),
        eos_id=task.eos_id,
        pad_id=task.pad_id,
        temperature=temperature,
        generator=gens,
    )
    if not stacked:
        out = Completions(out.tokens[None], out.mask[None], out.logp[None])
    return out


@dataclass(frozen=True)
class _HintedRound:
    """A round's batch after the hint ladder."""

    prompts: torch.Tensor  # (N, B, Tp), the un-hinted prompts
    comps: Completions  # (N, B, L), full completions: hint + generated
    rewards: torch.Tensor  # (N, B) float64
    correct: torch.Tensor  # (N, B) bool
    hint_len: torch.Tensor  # (N, B) long, the hint tokens at the start of each completion
    loss_mask: torch.Tensor  # (N, B, L) bool, the generated real tokens
    all_wrong: torch.Tensor  # (N, Bp) bool, too hard before any hint
    hinted: torch.Tensor  # (N, Bp) bool, regenerated at least once
    first_reward: torch.Tensor  # (N,) mean reward of the un-hinted rollout
    samples: torch.Tensor  # (N,) long, completions sampled this round

    @property
    def scores(self) -> torch.Tensor:
        """The rewards (GHPO shapes none)."""
        return self.rewards

    @property
    def keep(self) -> torch.Tensor:
        """(N, Bp) bool: every group enters the loss."""
        return torch.ones_like(self.hinted)


def _hinted_round(
    policy: nn.Module,
    tasks: list[SequenceTask],
    cfg: GHPOConfig,
    streams: _Streams,
    dev: torch.device,
    lmax: int | None = None,
) -> _HintedRound:
    """Rollout, then the hint ladder on the too-hard groups (module notes, steps 1-4)."""
    N, Bp, G = len(tasks), cfg.batch_prompts, cfg.num_generations
    task = tasks[0]
    roll = C.group_rollout(
        policy,
        tasks,
        Bp,
        G,
        streams.prompts,
        streams.tokens,
        streams.noise,
        dev,
        temperature=cfg.temperature,
    )
    prompts = roll.prompts
    c = roll.completions
    tokens, mask, logp, rewards = c.tokens, c.mask, c.logp, roll.rewards
    correct = completion_correct(tasks, prompts, tokens, mask)
    first_reward = rewards.mean(-1)
    samples = torch.full((N,), Bp * G, dtype=torch.long)
    hint_len = torch.zeros(N, Bp * G, dtype=torch.long, device=dev)
    all_wrong = ~correct.reshape(N, Bp, G).any(-1)
    hinted = torch.zeros(N, Bp, dtype=torch.bool, device=dev)
    pidx = task._prompt_index(prompts.reshape(-1, task.prompt_len).cpu()).reshape(N, Bp * G)
    solutions = torch.stack([t.solutions for t in tasks])  # type: ignore[misc]  # (N, P, L)
    hints = solutions.gather(1, pidx[..., None].expand(-1, -1, task.completion_len)).to(dev)
    for frac in cfg.hint_ladder:
        wrong = ~correct.reshape(N, Bp, G).any(-1)  # (N, Bp)
        if not bool(wrong.any()):
            break
        need = wrong.repeat_interleave(G, dim=1).cpu()  # (N, B)
        k_rows = torch.stack([hint_lengths(t, frac) for t in tasks]).gather(1, pidx)
        for k in sorted(set(k_rows[need].tolist())):
            rows = need & (k_rows == k)
            active = rows.any(1).tolist()
            sub = streams.only(active)  # a run without rows here keeps its streams
            hint = hints[..., :k]
            gen = _sample_after(
                policy, torch.cat([prompts, hint], -1), task, k, sub.tokens, cfg.temperature
            )
            full = Completions(
                torch.cat([hint, gen.tokens], -1),
                torch.cat([torch.ones_like(hint, dtype=torch.bool), gen.mask], -1),
                torch.cat(
                    [torch.zeros(hint.shape, dtype=gen.logp.dtype, device=dev), gen.logp], -1
                ),
            )
            new_r = C.rewards_runs(tasks, prompts, full, sub.noise)
            new_c = completion_correct(tasks, prompts, full.tokens, full.mask)
            sel = rows.to(dev)
            tokens = torch.where(sel[..., None], full.tokens, tokens)
            mask = torch.where(sel[..., None], full.mask, mask)
            logp = torch.where(sel[..., None], full.logp.to(logp.dtype), logp)
            rewards = torch.where(sel.to(rewards.device), new_r.to(rewards.dtype), rewards)
            correct = torch.where(sel.to(correct.device), new_c, correct)
            hint_len = torch.where(sel, k, hint_len)
            samples += rows.sum(1)
        hinted |= wrong.to(dev)
    position = torch.arange(task.completion_len, device=dev)
    loss_mask = mask & (position >= hint_len[..., None])
    return _HintedRound(
        prompts,
        Completions(tokens, mask, logp),
        rewards,
        correct,
        hint_len,
        loss_mask,
        all_wrong,
        hinted,
        first_reward,
        samples,
    )


def train_ghpo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: GHPOConfig = GHPOConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) GHPO runs on a task (or one task per run) as one stacked model.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo`; every task needs ``solutions`` (the
        hints).
    cfg : GHPOConfig
    seeds, policy, ref_policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo` (run i draws its prompts, tokens,
        regenerations and reward noise from ``seeds[i]`` alone).

    Returns
    -------
    SequenceRunResult
        ``algorithm="ghpo"``. Metrics per round (means over the runs): ``charts/reward`` (mean
        reward of the un-hinted rollout), ``charts/score`` (mean reward of the training batch,
        hinted completions included), ``losses/loss``, ``stats/entropy``, ``stats/tokens``
        (generated tokens per completion), ``stats/clip_ratio``, ``stats/kl`` (when computed),
        ``stats/all_wrong_fraction`` (groups too hard before any hint),
        ``stats/hinted_fraction`` (groups regenerated with a hint),
        ``stats/still_wrong_fraction`` (groups too hard after the whole ladder),
        ``stats/hint_tokens`` (mean hint length of the hinted completions, 0 if none),
        ``stats/samples`` (cumulative completions sampled per run, regenerations included;
        ``stats/samples_max`` the largest run's).
    """
    check_instance("cfg", cfg, GHPOConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    for i, t in enumerate(tasks):
        if t.solutions is None:
            raise ValueError(
                f"train_ghpo takes its hints from task.solutions; task_or_tasks[{i}] "
                f"({t.name!r}) has no solutions"
            )
    return _train_rounds(
        tasks, seeds, cfg, policy, ref_policy, device, callback, _hinted_round, _hint_row, "ghpo"
    )


def _hint_row(rnd: _HintedRound, cfg: GHPOConfig) -> dict[str, torch.Tensor]:
    """GHPO's metrics of a round: how many groups were too hard, hinted, still wrong."""
    N, G = rnd.hinted.shape[0], cfg.num_generations
    still = ~rnd.correct.reshape(N, cfg.batch_prompts, G).any(-1)
    hinted_rows = rnd.hinted.repeat_interleave(G, dim=1)
    return {
        "stats/all_wrong_fraction": rnd.all_wrong.double().mean(),
        "stats/hinted_fraction": rnd.hinted.double().mean(),
        "stats/still_wrong_fraction": still.double().mean(),
        "stats/hint_tokens": C.masked_mean(rnd.hint_len.double(), hinted_rows),
    }
