"""What the sequence trainers share: runs, random streams, rollouts and the result.

A *run* is one seed's training. The default policy of every trainer is one
:class:`~trainers.sequence.policy.TinyCausalLM` holding all runs stacked (``seeds=[...]``): ids
``(N, B, T)`` map to logits ``(N, B, T, V)``, each run's loss is a slice of one ``(N,)``
vector, and the gradient of its sum is each run's own gradient; Adam is elementwise, so one
optimizer step is N independent steps. A user module (``policy=...``) without ``n_runs`` is
trained as a single run (``N = 1``).

Each run draws everything random from its own generators, seeded by its seed alone: the
training prompts, the sampled tokens and the reward noise. :func:`sample_runs` calls
:func:`trainers.sequence.sampling.sample` with one generator per run: each run draws one
``torch.rand((B, V))`` per position from its own generator (the Gumbel-max trick), and with
per-run generators sampling never stops early, so a run consumes the same random numbers
whether it is trained alone or in a stack: stacked training of seeds ``[a, b]`` equals
training ``a`` and ``b`` one by one up to floating-point round-off
(``tests/trainers/sequence/test_grpo.py``).

:class:`SequenceRunResult` is what every trainer returns: the trained policy, the frozen
reference, the config, the seeds, the metrics table, the number of completion tokens seen and
the wall time; :meth:`SequenceRunResult.distribution` is the exact (N, P, M) distribution of
the trained runs over every completion of a task.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_seeds
from trainers.batched import clip_grad_norm_per_run
from trainers.runtime import FLAG, POSITIVE, POSITIVE_INT, one_of, optional
from trainers.sequence.exact import SequenceDistribution, exact_logprobs
from trainers.sequence.policy import TinyCausalLM
from trainers.sequence.sampling import Completions, completion_logprobs, sample
from trainers.sequence.tasks import SequenceTask

__all__ = ["Callback", "SequenceRunResult"]

#: ``callback(step, policy)``: called by every sequence trainer after each logged step (the
#: step count so far and the policy being trained, in training mode); what it measures it
#: keeps itself (e.g. an exact distribution every few steps).
Callback = Callable[[int, nn.Module], None]

#: The random streams of a run (each seeded by the run's seed and its offset here).
_STREAMS = {
    "prompts": 1,
    "tokens": 2,
    "noise": 3,
    "pairs": 4,
    "critic": 5,
    "oracle": 6,
    "targets": 7,
}


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyOptions:
    """Options every sequence trainer's config shares: the optimizer and the default policy.

    Each config (``GRPOConfig``, ``PPOSeqConfig``, ``SequenceDPOConfig``, ``SFTConfig``)
    extends it and validates these fields with :data:`POLICY_OPTION_RULES`.
    """

    optimizer: str = "adam"
    """'adam' or 'sgd'."""
    max_grad_norm: float | None = 1.0
    """Clip each run's gradient norm (TRL default 1.0; None: off)."""
    d_model: int = 32
    """Width of the default TinyCausalLM."""
    n_layers: int = 2
    """Depth of the default TinyCausalLM."""
    n_heads: int = 2
    """Attention heads of the default TinyCausalLM."""
    dtype: str = "float32"
    """'float32' or 'float64' (parameters of the default policy)."""
    log_every: int = 1
    """Log metrics every this many steps (generation rounds for GRPO)."""
    progress: bool = False
    """Show a progress bar."""


#: check_config rules of the :class:`PolicyOptions` fields.
POLICY_OPTION_RULES = {
    "optimizer": one_of("adam", "sgd"),
    "max_grad_norm": optional(POSITIVE),
    "d_model": POSITIVE_INT,
    "n_layers": POSITIVE_INT,
    "n_heads": POSITIVE_INT,
    "dtype": one_of("float32", "float64"),
    "log_every": POSITIVE_INT,
    "progress": FLAG,
}


@dataclass(frozen=True)
class SequenceRunResult:
    """N trained runs of one sequence trainer.

    Attributes
    ----------
    policy : nn.Module
        The trained policy: a stacked :class:`TinyCausalLM` (N runs) or the user's module.
    ref_policy : nn.Module or None
        The frozen reference (the initial policy unless one was given; None for SFT).
    config : dataclass
        The trainer's config.
    seeds : tuple of int
        One per run.
    metrics : list of dict
        One row per logged step: ``step`` and namespaced scalars (``charts/reward``,
        ``losses/loss``, ``stats/kl``, ``stats/entropy``, ``stats/tokens``, ...), each the mean
        over the runs.
    tokens_seen : int
        Completion tokens (real, EOS included) processed by all runs together.
    wall_s : float
        Wall time of the training loop in seconds.
    algorithm : str
        ``"grpo"``, ``"ppo"``, ``"dpo"`` or ``"sft"``.
    """

    policy: nn.Module
    ref_policy: nn.Module | None
    config: Any
    seeds: tuple[int, ...]
    metrics: list[dict[str, float]] = field(repr=False)
    tokens_seen: int
    wall_s: float
    algorithm: str

    @property
    def n_runs(self) -> int:
        return len(self.seeds)

    def distribution(self, task: SequenceTask) -> SequenceDistribution:
        """The exact distribution of each trained run over every completion of ``task``:
        ``logp`` (N, P, M) float64 (at temperature 1), by
        :func:`trainers.sequence.exact.exact_logprobs`."""
        return _exact(self.policy, task, "task")

    def ref_distribution(self, task: SequenceTask) -> SequenceDistribution:
        """The exact distribution of the reference, (N, P, M) (or (1, P, M) for a single
        reference module)."""
        if self.ref_policy is None:
            raise ValueError(f"this {self.algorithm} result has no reference policy")
        return _exact(self.ref_policy, task, "task")

    def summary(self) -> str:
        """One line: algorithm, runs, steps, final reward/loss, tokens, throughput."""
        last = self.metrics[-1] if self.metrics else {}
        parts = [
            f"{self.algorithm}: {self.n_runs} run(s) x {int(last.get('step', 0))} steps "
            f"in {self.wall_s:.2f} s"
        ]
        for key in ("charts/reward", "losses/loss", "stats/kl", "stats/entropy"):
            if key in last and math.isfinite(last[key]):
                parts.append(f"{key.split('/')[-1]} {last[key]:.4g}")
        rate = self.tokens_seen / self.wall_s if self.wall_s > 0 else float("nan")
        parts.append(f"{self.tokens_seen} tokens ({rate:.0f}/s)")
        return "; ".join(parts)


def _exact(policy: nn.Module, task: object, name: str) -> SequenceDistribution:
    if not isinstance(task, SequenceTask):
        raise ArgumentTypeError(f"{name} must be a SequenceTask; got {type(task).__name__}")
    device = _device_of(policy)
    tokens, mask = task.completions()
    with torch.no_grad():
        logp = exact_logprobs(
            policy,
            task.prompts.to(device),
            tokens.to(device),
            mask.to(device),
            allowed=task.allowed.to(device),
        )
    if getattr(policy, "n_runs", None) is None:
        logp = logp.unsqueeze(0)
    return SequenceDistribution(logp.cpu())


# --------------------------------------------------------------------------------------------
# runs: tasks, policies, random streams
# --------------------------------------------------------------------------------------------


def resolve_runs(
    task_or_tasks: object, seeds: object, policy: object
) -> tuple[list[SequenceTask], list[int]]:
    """The task of each run and the seeds, checked.

    ``task_or_tasks`` is one task (shared by all runs) or a sequence of N tasks, one per run,
    with the same prompts, vocabulary, grammar and EOS/pad (the reward, its noise, the label
    flips and the training prompts may differ).
    ``policy`` (a user module) fixes N: its ``n_runs`` if it is stacked, else 1.
    """
    seeds = check_seeds(seeds, distinct=False)
    n_policy = None
    if policy is not None:
        if not isinstance(policy, nn.Module):
            raise ArgumentTypeError(
                f"policy must be an nn.Module (ids -> logits) or None; got {type(policy).__name__}"
            )
        n_policy = getattr(policy, "n_runs", None) or 1
        if len(seeds) != n_policy:
            raise ValueError(
                f"seeds must hold one seed per run of policy ({n_policy}); got {len(seeds)} "
                "(a module without n_runs trains as one run)"
            )
    if isinstance(task_or_tasks, SequenceTask):
        return [task_or_tasks] * len(seeds), seeds
    if isinstance(task_or_tasks, str | bytes) or not isinstance(task_or_tasks, Sequence):
        raise ArgumentTypeError(
            "task_or_tasks must be a SequenceTask or a sequence of them (one per seed); got "
            f"{type(task_or_tasks).__name__}"
        )
    tasks = list(task_or_tasks)
    for i, t in enumerate(tasks):
        if not isinstance(t, SequenceTask):
            raise ArgumentTypeError(
                f"task_or_tasks[{i}] must be a SequenceTask; got {type(t).__name__}"
            )
    if len(tasks) != len(seeds):
        raise ValueError(
            f"task_or_tasks must hold one task per seed ({len(seeds)}); got {len(tasks)}"
        )
    first = tasks[0]
    for i, t in enumerate(tasks[1:], 1):
        same = (
            t.vocab == first.vocab
            and t.eos_id == first.eos_id
            and t.pad_id == first.pad_id
            and t.prompts.shape == first.prompts.shape
            and bool((t.prompts == first.prompts).all())
            and t.allowed.shape == first.allowed.shape
            and bool((t.allowed == first.allowed).all())
        )
        if not same:
            raise ValueError(
                f"task_or_tasks[{i}] must share the prompts, vocabulary, grammar (allowed), "
                "EOS/pad of task_or_tasks[0]; only the reward, its noise, the oracle's label "
                "flips and the training prompts (train_mask) may differ"
            )
    return tasks, seeds


def build_policy(
    task: SequenceTask,
    seeds: list[int],
    policy: nn.Module | None,
    config: Any,
    device: torch.device,
) -> nn.Module:
    """The user's ``policy`` moved to ``device``, or a stacked :class:`TinyCausalLM` of the
    config's size with one run per seed (run i initialised from ``seeds[i]``)."""
    if policy is not None:
        return policy.to(device)
    model = TinyCausalLM(
        task.vocab_size,
        max_len=task.prompt_len + task.completion_len,
        d_model=config.d_model,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        seeds=seeds,
        dtype=getattr(torch, config.dtype),
    )
    return model.to(device)


def frozen_copy(policy: nn.Module) -> nn.Module:
    """A deep copy of ``policy`` with gradients off (the reference of a run)."""
    ref = copy.deepcopy(policy)
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref.eval()


def is_stacked(policy: nn.Module) -> bool:
    return isinstance(getattr(policy, "n_runs", None), int)


def _device_of(policy: nn.Module) -> torch.device:
    p = next(policy.parameters(), None)
    return torch.device("cpu") if p is None else p.device


def generators(seeds: list[int], stream: str, device: torch.device) -> list[torch.Generator]:
    """One generator per run for ``stream``, seeded by the run's seed and the stream only."""
    k = _STREAMS[stream]
    return [
        torch.Generator(device=device).manual_seed((int(s) * 1_000_003 + k) % 2**63) for s in seeds
    ]


def draw_prompts(
    tasks: SequenceTask | list[SequenceTask], n: int, gens: list[torch.Generator]
) -> torch.Tensor:
    """(N, n) indices of training prompts, drawn uniformly with replacement, run i from
    ``gens[i]`` (CPU generators) among the training prompts of its task (``tasks[i]``, or
    the one task of every run)."""
    if isinstance(tasks, SequenceTask):
        tasks = [tasks] * len(gens)
    out = []
    for t, g in zip(tasks, gens, strict=True):
        ids = t.train_prompt_ids
        out.append(ids[torch.randint(ids.numel(), (n,), generator=g)])
    return torch.stack(out)


def stream_seeds(seeds: list[int], stream: str) -> list[int]:
    """One integer seed per run for ``stream`` (a critic's initialisation, oracle pairs),
    derived from the run's seed alone and distinct from the policy's."""
    k = _STREAMS[stream]
    return [(int(s) * 1_000_003 + k) % 2**63 for s in seeds]


def check_callback(callback: object) -> Callback | None:
    """``callback`` if it is None or callable, else a TypeError naming it."""
    if callback is not None and not callable(callback):
        raise ArgumentTypeError(
            f"callback must be callable (step, policy) -> None or None; got {callback!r}"
        )
    return callback  # type: ignore[return-value]


def check_ref_policy(ref_policy: object) -> None:
    """A TypeError naming ``ref_policy`` unless it is None or an ``nn.Module``."""
    if ref_policy is not None and not isinstance(ref_policy, nn.Module):
        raise ArgumentTypeError(
            f"ref_policy must be an nn.Module or None; got {type(ref_policy).__name__}"
        )


def refuse_unused(config: Any, method: str, names: Sequence[str]) -> None:
    """A ValueError naming the first field of ``names`` that ``config`` does not hold at its
    default: a switch a config inherits (from ``GRPOConfig``) that ``method`` does not use."""
    defaults = {f.name: f.default for f in fields(config)}
    for name in names:
        value = getattr(config, name)
        if value != defaults[name]:
            raise ValueError(
                f"{type(config).__name__}.{name} is not part of {method}; got {name}={value!r}"
            )


def should_log(step: int, config: Any, last: int | None = None) -> bool:
    """Whether step ``step`` (counted from 1) is logged: every ``config.log_every`` steps and
    the last one, ``last`` (default ``config.steps``)."""
    last = config.steps if last is None else last
    return step % config.log_every == 0 or step == last


def notify(callback: Callback | None, step: int, policy: nn.Module) -> None:
    """Call ``callback(step, policy)`` (outside autograd) if there is one."""
    if callback is not None:
        with torch.no_grad():
            callback(step, policy)


def split_steps(steps: int, parts: int) -> list[int]:
    """``steps`` split over ``parts`` consecutive stages: ``steps // parts`` each, the first
    ``steps % parts`` one more."""
    return [steps // parts + (1 if k < steps % parts else 0) for k in range(parts)]


def describe(x: object) -> str:
    """What ``x`` is, for an error message: a tensor's dtype and shape, else its type."""
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__


# --------------------------------------------------------------------------------------------
# rollouts
# --------------------------------------------------------------------------------------------


def sample_runs(
    policy: nn.Module,
    prompts: torch.Tensor,
    task: SequenceTask,
    gens: list[torch.Generator],
    *,
    temperature: float = 1.0,
) -> Completions:
    """Sample one completion per prompt row of every run: prompts (N, B, Tp) -> (N, B, L).

    :func:`trainers.sequence.sampling.sample` with the task's grammar, EOS and pad, and one
    generator per run (``gens``), so a run's samples do not depend on the runs stacked with
    it. A single (unstacked) policy takes ``prompts[0]`` and ``gens[0]``.
    """
    stacked = is_stacked(policy)
    out = sample(
        policy,
        prompts if stacked else prompts[0],
        max_new_tokens=task.completion_len,
        allowed=task.allowed.to(prompts.device),
        eos_id=task.eos_id,
        pad_id=task.pad_id,
        temperature=temperature,
        generator=gens,
    )
    if not stacked:
        out = Completions(out.tokens[None], out.mask[None], out.logp[None])
    return out


def logprobs_runs(
    policy: nn.Module,
    prompts: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    task: SequenceTask,
    *,
    temperature: float = 1.0,
    entropy: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced per-token log-probs (N, B, L) (and entropies) of every run, with grad;
    :func:`trainers.sequence.sampling.completion_logprobs` on the run axis."""
    stacked = is_stacked(policy)
    allowed = task.allowed.to(tokens.device)
    if stacked:
        return completion_logprobs(
            policy,
            prompts,
            tokens,
            mask,
            allowed=allowed,
            temperature=temperature,
            return_entropy=entropy,
        )
    out = completion_logprobs(
        policy,
        prompts[0],
        tokens[0],
        mask[0],
        allowed=allowed,
        temperature=temperature,
        return_entropy=entropy,
    )
    if entropy:
        return out[0][None], out[1][None]
    return out[None]  # type: ignore[index]


@dataclass(frozen=True)
class GroupRollout:
    """One round of group sampling: prompts (N, B, Tp), completions and rewards (N, B)."""

    prompts: torch.Tensor
    completions: Completions
    rewards: torch.Tensor


def group_rollout(
    policy: nn.Module,
    tasks: list[SequenceTask],
    n_prompts: int,
    n_generations: int,
    prompt_gens: list[torch.Generator],
    token_gens: list[torch.Generator],
    noise_gens: list[torch.Generator],
    device: torch.device,
    *,
    temperature: float = 1.0,
) -> GroupRollout:
    """``n_prompts`` training prompts per run, ``n_generations`` completions of each (a group,
    consecutive rows), scored by each run's task: the rollout of GRPO and its variants."""
    task = tasks[0]
    idx = draw_prompts(tasks, n_prompts, prompt_gens).repeat_interleave(n_generations, dim=1)
    prompts = as_batch(task, idx, device)
    comps = sample_runs(policy, prompts, task, token_gens, temperature=temperature)
    return GroupRollout(prompts, comps, rewards_runs(tasks, prompts, comps, noise_gens))


def rewards_runs(
    tasks: list[SequenceTask],
    prompts: torch.Tensor,
    comps: Completions,
    noise_gens: list[torch.Generator],
) -> torch.Tensor:
    """(N, B) float64 rewards, run i scored by ``tasks[i].reward`` (which refuses a
    non-finite ``reward_fn`` output by name), its noise from ``noise_gens[i]``.

    Runs that share one task object are scored in one call on their stacked completions (a
    reward is a function of each completion alone); a noisy task's noise is then drawn per run
    from the run's generator, exactly as ``tasks[i].reward(..., generator=noise_gens[i])``
    draws it."""
    out = torch.empty(prompts.shape[:2], dtype=torch.float64, device=comps.tokens.device)
    groups: dict[int, list[int]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault(id(task), []).append(i)
    for idx in groups.values():
        task, rows = tasks[idx[0]], torch.tensor(idx, device=prompts.device)
        r = task._mean_reward(prompts[rows], comps.tokens[rows], comps.mask[rows])
        if task.noise_sigma > 0:
            noise = torch.stack(
                [torch.randn(r.shape[1], generator=noise_gens[i], dtype=torch.float64) for i in idx]
            )
            r = r + task.noise_sigma * noise.to(r.device)
        out[torch.tensor(idx, device=out.device)] = r
    return out


def make_optimizer(params: list[torch.Tensor], name: str, lr: float) -> torch.optim.Optimizer:
    """Adam or SGD over ``params`` (elementwise, so N stacked runs update independently).

    The fused implementation where the parameters' device has one (one kernel over every
    tensor: on CPU several times faster than the per-tensor loop at these sizes)."""
    cls = torch.optim.Adam if name == "adam" else torch.optim.SGD
    try:
        return cls(params, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):  # no fused kernel for this device or dtype
        return cls(params, lr=lr)


def clip_gradients(policy: nn.Module, max_norm: float | None, *others: nn.Module) -> None:
    """Clip each run's gradient norm to ``max_norm`` (per run for a stacked model); with
    ``others`` (e.g. a critic stacked like the policy), one norm over all their parameters."""
    if max_norm is None:
        return
    params = [p for m in (policy, *others) for p in m.parameters() if p.grad is not None]
    if not params:
        return
    if is_stacked(policy):
        clip_grad_norm_per_run(params, max_norm)
    else:
        torch.nn.utils.clip_grad_norm_(params, max_norm)


def budget_spent(samples: torch.Tensor, budget: int | None) -> bool:
    """Whether the mean over runs of ``samples`` (completions sampled per run so far) has
    reached ``budget`` (never when ``budget`` is None): a trainer whose rounds sample a varying
    number of completions stops there, so that methods compare at one sample budget."""
    return budget is not None and float(samples.double().mean()) >= budget


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over the True entries of ``mask`` (0 if there are none)."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def as_batch(task: SequenceTask, idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Prompts (N, n, Tp) of the prompt indices ``idx`` (N, n), on ``device``."""
    return task.prompts[idx].to(device)
