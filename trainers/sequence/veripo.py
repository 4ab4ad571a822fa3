"""VerIPO: GRPO stages alternating with DPO on verifier-selected rollouts, N seeds at once.

VerIPO (Li et al. 2025 [1]) trains a policy by iterating

    GRPO stage -> Rollout-Aware Verifier -> DPO stage -> GRPO stage -> ...

(the "Group-Slow-Search" / "Pair-Fast-Align" loop of the training table in the official
README [1]: GRPO with 8 responses per query at temperature 1, then DPO with ``beta = 0.1`` on
pairs a verifier picked from the rollouts, then GRPO again). [Reconstructed from that README
and third-party summaries: the paper body and the training code were not available.]
:func:`train_veripo` runs ``cycles`` DPO stages between ``cycles + 1`` GRPO stages:

- **GRPO stage**: :func:`trainers.sequence.grpo.train_grpo` (Shao et al. 2024 [2], TRL's loss)
  for that stage's share of ``steps`` rounds, at learning rate ``lr``, with a fresh optimizer;
- **Rollout-Aware Verifier** [reconstructed: the paper's verifier is a small LLM judge whose
  rules are unpublished; the rules here are THE TOOLKIT'S OWN, invented for verifiable toy
  tasks]: a fresh batch of ``num_generations`` completions of each of ``verifier_prompts``
  training prompts per run, sampled from the policy at the end of the GRPO stage, judged by
  :func:`verifier_pairs` with the rules ``verifier_rules``:

  * ``"accuracy"`` (rejecting): the run's task reward of the sample is ``>= accuracy_threshold``
    (the sampled reward, so a task's reward noise reaches the verifier);
  * ``"consistency"`` (rejecting, digit-sum tasks): the reasoning trace implies the emitted
    answer, ``sum of the digits == answer`` (:func:`trace_consistent`);
  * ``"no_repeat"`` (a tie-break preference, digit-sum tasks): among the accepted samples of a
    prompt only those with the fewest failed preferences are used as chosen; here, no two
    adjacent equal digits (the toolkit's stand-in for the paper's repetition filter).

  Chosen = accepted by every rejecting rule (and best on the preferences); rejected = failing
  a rejecting rule. Each prompt gives up to ``pairs_per_prompt`` distinct (chosen, rejected)
  pairs of its own samples, drawn uniformly; a prompt whose samples are all accepted or all
  rejected gives none.
- **DPO stage**: ``steps_dpo`` steps of ``-log sigma(beta [(l+ - l+_ref) - (l- - l-_ref)])``
  (Rafailov et al. 2023 [3], Eq. 7; :func:`trainers.losses.dpo_loss`) with ``beta =
  dpo_beta`` on ``dpo_batch_size`` of the run's pairs per step (drawn with replacement), the
  reference being the policy at the start of the DPO stage (``dpo_reference="stage"``) or the
  run's reference policy (``"initial"``) [reconstructed: the choice of reference is not stated
  in the available text], at learning rate ``dpo_lr`` (default ``lr``; the README's table
  halves it) with a fresh optimizer. A run without pairs skips the stage.

The paper's discarding of easy examples across iterations is not modelled.

Steps and samples. ``steps`` counts the GRPO rounds of all stages together (stage k of the
``cycles + 1`` gets ``steps // (cycles + 1)`` rounds, the first ``steps % (cycles + 1)`` one
more); a round samples ``batch_prompts * num_generations`` completions per run, the verifier
``verifier_prompts * num_generations`` per cycle, DPO none: a run samples
``steps * batch_prompts * num_generations + cycles * verifier_prompts * num_generations``
completions (``stats/samples``). The metrics' ``step`` is the position in the whole schedule,
where a GRPO round and a DPO step each count one, so the last step is
``steps + cycles * steps_dpo``; ``stats/stage`` is 0 in GRPO rows and 1 in DPO rows.
``cycles=0`` is :func:`~trainers.sequence.grpo.train_grpo` itself.

References
----------
.. [1] Y. Li et al., "VerIPO: Cultivating Long Reasoning in Video-LLMs via Verifier-Guided
   Iterative Policy Optimization", arXiv:2505.19000, 2025; its README (HITsz-TMG/VerIPO on
   GitHub) tabulates the training stages and their hyperparameters.
.. [2] Z. Shao et al., "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3) and §4.1.2 (GRPO).
.. [3] R. Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a
   Reward Model", NeurIPS 2023, Eq. (7).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_choice, check_positive_int, check_real
from trainers import losses as L
from trainers.runtime import (
    NONNEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    Rule,
    check_instance,
    one_of,
    optional,
    real,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.exact import SequenceDistribution, exact_distribution
from trainers.sequence.grpo import GRPOConfig, train_grpo
from trainers.sequence.tasks import SequenceTask

__all__ = [
    "VerIPOConfig",
    "inconsistency_rate",
    "trace_consistent",
    "train_veripo",
    "verifier_pairs",
]

#: The toolkit's verifier rules: the rejecting ones and the tie-break preferences.
REJECTING_RULES = ("accuracy", "consistency")
PREFERENCE_RULES = ("no_repeat",)
VERIFIER_RULES = REJECTING_RULES + PREFERENCE_RULES
#: Rules that read the reasoning trace of a digit-sum task.
_TRACE_RULES = ("consistency", "no_repeat")


def _check_rules(name: str, value: object) -> tuple[str, ...]:
    """A tuple (a list is accepted) of distinct rule names with at least one rejecting rule."""
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ArgumentTypeError(
            f"{name} must be a tuple of rule names from {VERIFIER_RULES}; got {value!r}"
        )
    rules = tuple(check_choice(f"{name}[{i}]", r, VERIFIER_RULES) for i, r in enumerate(value))
    if len(set(rules)) != len(rules):
        raise ValueError(f"{name} must not repeat a rule; got {rules}")
    if not any(r in REJECTING_RULES for r in rules):
        raise ValueError(
            f"{name} must hold a rejecting rule ({' or '.join(REJECTING_RULES)}), else no "
            f"sample is ever rejected; got {rules}"
        )
    return rules


@dataclass(frozen=True)
class VerIPOConfig(GRPOConfig):
    """Hyperparameters of :func:`train_veripo`: :class:`~trainers.sequence.grpo.GRPOConfig`'s,
    with which every GRPO stage runs :func:`~trainers.sequence.grpo.train_grpo`, and those of
    the verifier and the DPO stages.

    ``steps`` counts the GRPO rounds of all GRPO stages together (split evenly over the
    ``cycles + 1`` stages); ``num_generations`` and ``temperature`` are also the verifier's
    samples per prompt and sampling temperature (README: 8 and 1.0); ``lr`` is the GRPO
    stages' learning rate. GRPO's ``dynamic_sampling`` and ``sample_budget`` are refused: the
    schedule runs every round and counts ``batch_prompts * num_generations`` samples each.

    A run samples ``steps * batch_prompts * num_generations`` completions in its GRPO rounds
    and ``cycles * verifier_prompts * num_generations`` for the verifier; DPO samples none.
    """

    cycles: int = 1
    """DPO stages, each between two GRPO stages (0: plain GRPO)."""
    steps_dpo: int = 50
    """Optimizer steps of each DPO stage."""
    dpo_beta: float = 0.1
    """DPO temperature (README: 0.1)."""
    dpo_batch_size: int = 16
    """Verifier pairs per run per DPO step (drawn with replacement)."""
    dpo_lr: float | None = None
    """Learning rate of the DPO stages (None: lr; the README's table uses half the first
    GRPO lr)."""
    dpo_reference: str = "stage"
    """DPO reference: 'stage' (the policy at the start of the DPO stage) or 'initial' (the
    run's reference policy) [reconstructed]."""
    verifier_prompts: int = 8
    """Training prompts per run whose num_generations fresh samples the verifier judges."""
    verifier_rules: tuple[str, ...] = ("accuracy", "consistency", "no_repeat")
    """The toolkit's verifier rules [invented]: 'accuracy', 'consistency' (rejecting) and
    'no_repeat' (tie-break preference among the accepted); see :func:`verifier_pairs`."""
    accuracy_threshold: float = 0.5
    """'accuracy': a sampled reward >= this is correct."""
    pairs_per_prompt: int = 4
    """At most this many (chosen, rejected) pairs per verifier prompt."""

    def _rules(self) -> dict[str, Rule]:
        return {
            **super()._rules(),
            "cycles": NONNEGATIVE_INT,
            "steps_dpo": POSITIVE_INT,
            "dpo_beta": POSITIVE,
            "dpo_batch_size": POSITIVE_INT,
            "dpo_lr": optional(POSITIVE),
            "dpo_reference": one_of("stage", "initial"),
            "verifier_prompts": POSITIVE_INT,
            "verifier_rules": _check_rules,
            "accuracy_threshold": real(),
            "pairs_per_prompt": POSITIVE_INT,
        }

    def __post_init__(self) -> None:
        super().__post_init__()
        C.refuse_unused(self, "VerIPO", ("dynamic_sampling", "sample_budget"))
        if self.steps < self.cycles + 1:
            raise ValueError(
                f"VerIPOConfig.steps must give each of the cycles + 1 = {self.cycles + 1} GRPO "
                f"stages at least one round; got steps={self.steps}"
            )


# --------------------------------------------------------------------------------------------
# digit-sum traces: consistency and the exact inconsistency rate
# --------------------------------------------------------------------------------------------


def _digit_layout(task: object, name: str = "task") -> tuple[int, int, int, int, tuple[int, ...]]:
    """(n_digits, max_digit, first digit id, first answer id, sums) of a digit-sum task."""
    check_instance(name, task, SequenceTask)
    meta = task.meta  # type: ignore[attr-defined]
    try:
        n, m, sums = int(meta["n_digits"]), int(meta["max_digit"]), tuple(meta["sums"])
    except (KeyError, TypeError, ValueError):
        n = m = -1
        sums = ()
    digit_off = 2 + len(sums)
    answer_off = digit_off + m + 1
    vocab = task.vocab  # type: ignore[attr-defined]
    ok = (
        n >= 1
        and m >= 1
        and len(vocab) == answer_off + n * m + 1
        and vocab[digit_off] == "0"
        and vocab[answer_off] == "A=0"
        and task.completion_len == n + 2  # type: ignore[attr-defined]
    )
    if not ok:
        raise ValueError(
            f"{name} must be a digit-sum task (trainers.sequence.tasks.tied_digit_sum or a "
            f"perturbation of one) to read its reasoning trace; got {task!r}"
        )
    return n, m, digit_off, answer_off, sums


def _trace(task: SequenceTask, tokens: torch.Tensor, mask: torch.Tensor, name: str = "task"):
    """Digits (*, n) (-1 where not a digit), answer (*,) (-1 where not an answer), well-formed."""
    n, m, digit_off, answer_off, _ = _digit_layout(task, name)
    d = tokens[..., :n] - digit_off
    a = tokens[..., n] - answer_off
    ok = ((d >= 0) & (d <= m)).all(-1) & (a >= 0) & (a <= n * m) & mask[..., : n + 1].all(-1)
    return d, a, ok


def _check_tokens(tokens: object, mask: object, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        raise ArgumentTypeError(
            f"tokens must be a torch.long tensor (*, B, L); got {C.describe(tokens)}"
        )
    if tokens.ndim < 1 or tokens.shape[-1] != length:
        raise ValueError(
            f"tokens must have shape (*, {length}) (the task's completion length); got "
            f"{tuple(tokens.shape)}"
        )
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ArgumentTypeError(f"mask must be a torch.bool tensor; got {C.describe(mask)}")
    if mask.shape != tokens.shape:
        raise ValueError(
            f"mask must have the shape of tokens {tuple(tokens.shape)}; got {tuple(mask.shape)}"
        )
    return tokens, mask


def trace_consistent(task: SequenceTask, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Whether each completion's reasoning trace implies its answer: ``sum_i d_i == a``.

    For a digit-sum task (:func:`trainers.sequence.tasks.tied_digit_sum`, whose
    ``outcome_only`` variant rewards an answer without checking the trace): the digits
    ``d_i`` and the answer token ``A=a`` of each completion ``tokens`` (*, L) with ``mask``;
    False for a malformed completion. Returns a bool tensor (*,).
    """
    _digit_layout(task)
    tokens, mask = _check_tokens(tokens, mask, task.completion_len)
    d, a, ok = _trace(task, tokens, mask)
    return ok & (d.sum(-1) == a)


def _no_repeat(task: SequenceTask, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """No two adjacent equal digits (the toolkit's repetition rule), (*,) bool."""
    d, _, ok = _trace(task, tokens, mask)
    return ok & (d[..., 1:] != d[..., :-1]).all(-1)


def inconsistency_rate(
    task: SequenceTask, policy_or_distribution: object, *, among: str = "all"
) -> torch.Tensor:
    """Exact probability that a completion's trace contradicts its answer (``sum d != a``).

    VerIPO [1] reports the rate at which a model's thinking and its answer disagree; for a
    digit-sum task it is computed exactly by enumeration: ``sum_y pi(y|x) 1[sum d(y) != a(y)]``
    over :meth:`SequenceTask.completions`.

    Parameters
    ----------
    task : SequenceTask
        A digit-sum task (typically ``tied_digit_sum(..., outcome_only=True)``, whose reward
        cannot see the inconsistency).
    policy_or_distribution : SequenceDistribution or nn.Module
        The exact distribution (*, P, M) over ``task.completions()`` (e.g.
        ``result.distribution(task)``), or a policy whose exact distribution is computed.
    among : {"all", "correct_answer"}
        ``"all"``: the unconditional rate; ``"correct_answer"``: the rate among completions
        whose answer is the prompt's sum, ``P(sum d != a | a = S)`` ("right for the wrong
        reason"); NaN where the policy gives the correct answer probability 0.

    Returns
    -------
    Tensor (*, P) float64.
    """
    among = check_choice("among", among, ("all", "correct_answer"))
    _, _, _, _, sums = _digit_layout(task)
    if isinstance(policy_or_distribution, SequenceDistribution):
        dist = policy_or_distribution
    elif isinstance(policy_or_distribution, nn.Module):
        dist = exact_distribution(policy_or_distribution, task)
    else:
        raise ArgumentTypeError(
            "policy_or_distribution must be a SequenceDistribution or an nn.Module; got "
            f"{type(policy_or_distribution).__name__}"
        )
    tokens, mask = task.completions()
    if dist.logp.ndim < 2 or tuple(dist.logp.shape[-2:]) != (task.n_prompts, tokens.shape[0]):
        raise ValueError(
            f"policy_or_distribution must be a distribution (*, {task.n_prompts}, "
            f"{tokens.shape[0]}) over task.completions(); got {tuple(dist.logp.shape)}"
        )
    _, a, _ = _trace(task, tokens, mask)
    bad = ~trace_consistent(task, tokens, mask)  # (M,)
    probs = dist.probs
    if among == "all":
        return (probs * bad).sum(-1)
    target = torch.tensor(sums, dtype=torch.long)[task.prompts[:, 0] - 2]  # (P,) the sum S
    correct = a[None, :] == target[:, None]  # (P, M)
    mass = (probs * correct).sum(-1)
    return (probs * (correct & bad)).sum(-1) / mass  # NaN where the mass is 0 (documented)


# --------------------------------------------------------------------------------------------
# the Rollout-Aware Verifier [the toolkit's own rules]
# --------------------------------------------------------------------------------------------


def _labels(
    task: SequenceTask,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    rewards: torch.Tensor,
    rules: tuple[str, ...],
    threshold: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(accepted, preference score) of each completion: accepted by every rejecting rule, and
    the number of preference rules it satisfies."""
    accepted = torch.ones(tokens.shape[:-1], dtype=torch.bool, device=tokens.device)
    score = torch.zeros(tokens.shape[:-1], dtype=torch.long, device=tokens.device)
    if "accuracy" in rules:
        accepted &= rewards.to(tokens.device) >= threshold
    if "consistency" in rules:
        accepted &= trace_consistent(task, tokens, mask)
    if "no_repeat" in rules:
        score += _no_repeat(task, tokens, mask).long()
    return accepted, score


def verifier_pairs(
    task: SequenceTask,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    rewards: torch.Tensor,
    group_size: int,
    *,
    rules: Sequence[str] = ("accuracy", "consistency", "no_repeat"),
    accuracy_threshold: float = 0.5,
    pairs_per_prompt: int = 4,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The toolkit's Rollout-Aware Verifier [invented rules; VerIPO's are unpublished]: DPO
    pairs among the groups of one run's rollouts.

    Rows ``g * group_size .. (g + 1) * group_size - 1`` of ``tokens`` (B, L) are the samples
    of one prompt. A sample is *accepted* when it passes every rejecting rule in ``rules``
    (``"accuracy"``: ``reward >= accuracy_threshold``; ``"consistency"``:
    :func:`trace_consistent`) and *rejected* otherwise; the chosen of a group are its accepted
    samples that satisfy the most preference rules (``"no_repeat"``: no two adjacent equal
    digits), a tie-break among the accepted. Each group gives up to ``pairs_per_prompt``
    distinct (chosen, rejected) pairs of its own rows, drawn uniformly with ``generator``
    (one ``torch.rand((B / group_size, group_size ** 2))`` draw).

    Returns
    -------
    chosen, rejected : Tensor (n,) long
        Row indices into ``tokens`` (CPU), group by group.
    """
    check_instance("task", task, SequenceTask)
    rules = _check_rules("rules", rules)
    tokens, mask = _check_tokens(tokens, mask, task.completion_len)
    if any(r in _TRACE_RULES for r in rules):
        _digit_layout(task)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must have shape (B, L) (one run); got {tuple(tokens.shape)}")
    if not isinstance(rewards, torch.Tensor) or not rewards.is_floating_point():
        raise ArgumentTypeError(
            f"rewards must be a floating torch.Tensor (B,); got {C.describe(rewards)}"
        )
    if rewards.shape != tokens.shape[:1]:
        raise ValueError(
            f"rewards must have shape ({tokens.shape[0]},); got {tuple(rewards.shape)}"
        )
    if bool(torch.isnan(rewards).any()):
        raise ValueError("rewards must not hold NaN")
    g = check_positive_int("group_size", group_size)
    if tokens.shape[0] % g != 0:
        raise ValueError(
            f"group_size must divide the number of rows {tokens.shape[0]}; got {group_size}"
        )
    threshold = check_real("accuracy_threshold", accuracy_threshold)
    k = check_positive_int("pairs_per_prompt", pairs_per_prompt)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ArgumentTypeError(f"generator must be a torch.Generator or None; got {generator!r}")
    accepted, score = _labels(task, tokens, mask, rewards, rules, threshold)
    return _pairs(accepted.cpu(), score.cpu(), g, k, generator)


def _pairs(
    accepted: torch.Tensor,
    score: torch.Tensor,
    g: int,
    k: int,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    groups = accepted.shape[0] // g
    chosen, acc = _pool(accepted, score, g).view(groups, g), accepted.view(groups, g)
    valid = (chosen[:, :, None] & ~acc[:, None, :]).reshape(groups, g * g)
    u = torch.rand((groups, g * g), generator=generator, dtype=torch.float64)
    top, pos = torch.where(valid, u, torch.full_like(u, -1.0)).topk(min(k, g * g), dim=-1)
    keep = top >= 0
    base = (torch.arange(groups)[:, None] * g).expand_as(pos)[keep]
    return base + pos[keep] // g, base + pos[keep] % g


# --------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------


def _generators(seeds: list[int], offset: int, device: torch.device) -> list[torch.Generator]:
    """One generator per run for VerIPO's own streams (verifier, pairs, DPO batches)."""
    return [
        torch.Generator(device=device).manual_seed((int(s) * 1_000_003 + offset) % 2**63)
        for s in seeds
    ]


def _stage_seeds(seeds: list[int], stage: int) -> list[int]:
    """The seeds of GRPO stage ``stage``: the runs' seeds for the first, derived ones after."""
    if stage == 0:
        return list(seeds)
    return [(int(s) * 1_000_003 + 1_000 + stage) % 2**63 for s in seeds]


def _stage_config(cfg: VerIPOConfig, rounds: int) -> GRPOConfig:
    """The config of a GRPO stage of ``rounds`` rounds: ``cfg``'s GRPO fields, every round
    logged (the schedule keeps the rows it logs)."""
    grpo = {f.name: getattr(cfg, f.name) for f in fields(GRPOConfig)}
    return GRPOConfig(**{**grpo, "steps": rounds, "log_every": 1, "progress": False})


def train_veripo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: VerIPOConfig = VerIPOConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) VerIPO runs (GRPO <-> verifier-selected DPO) as one stacked model.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo`: run i's task scores its GRPO rollouts
        and its verifier's samples, and its training prompts are the ones it draws. The rules
        ``"consistency"`` and ``"no_repeat"`` need a digit-sum task.
    cfg : VerIPOConfig
    seeds, policy, device
        As in :func:`train_grpo`; GRPO stage k > 0 draws from seeds derived from the run's seed
        and k, the verifier and DPO from streams of their own.
    ref_policy : nn.Module, optional
        The reference of the GRPO stages' KL term (``beta``; default a copy of the initial
        policy). Each DPO stage's reference is the policy at its start
        (``dpo_reference="stage"``) or this one (``"initial"``).
    callback : callable, optional
        ``callback(step, policy)`` at every logged step of the schedule (GRPO rounds and DPO
        steps; ``log_every`` counts schedule steps).

    Returns
    -------
    SequenceRunResult
        ``algorithm="veripo"``. Rows of GRPO stages carry :func:`train_grpo`'s metrics; rows of
        DPO stages ``losses/loss`` (mean over the runs that have pairs, 0 when none has),
        ``rewards/margins``, ``rewards/accuracies`` (over runs with pairs), ``charts/reward``
        (the verifier batch's mean reward), ``verifier/chosen``, ``verifier/rejected`` (fractions
        of the verifier's samples), ``verifier/pairs`` (pairs per run) and, for digit-sum tasks,
        ``verifier/inconsistent`` (fraction of the verifier's samples whose trace contradicts
        the answer). Every row has ``stats/samples``, ``stats/stage`` (0 GRPO, 1 DPO) and
        ``stats/cycle``.
    """
    check_instance("cfg", cfg, VerIPOConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    task = tasks[0]
    digit_task = True
    try:
        _digit_layout(task, "task_or_tasks")
    except ValueError:
        if any(r in _TRACE_RULES for r in cfg.verifier_rules):
            raise
        digit_task = False
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    N, G = len(seeds), cfg.num_generations
    rounds = C.split_steps(cfg.steps, cfg.cycles + 1)
    total = cfg.steps + cfg.cycles * cfg.steps_dpo
    cpu = torch.device("cpu")
    v_prompt_gens = _generators(seeds, 101, cpu)
    v_token_gens = _generators(seeds, 102, dev)
    v_noise_gens = _generators(seeds, 103, cpu)
    pair_gens = _generators(seeds, 104, cpu)
    batch_gens = _generators(seeds, 105, cpu)
    log = MetricsLog(total, progress=cfg.progress)
    step, samples, tokens_seen = 0, 0, 0
    start = time.perf_counter()
    for k in range(cfg.cycles + 1):
        # --- GRPO stage k: train_grpo for its share of the rounds ---
        offset, per_round = step, cfg.batch_prompts * G

        def inner(local: int, pol: nn.Module, offset: int = offset) -> None:
            if callback is not None and C.should_log(offset + local, cfg, total):
                callback(offset + local, pol)

        res = train_grpo(
            tasks,
            _stage_config(cfg, rounds[k]),
            seeds=_stage_seeds(seeds, k),
            policy=policy,
            ref_policy=ref,
            device=dev,
            callback=inner,
        )
        for row in res.metrics:
            local = int(row["step"])
            if C.should_log(offset + local, cfg, total):
                out = {key: v for key, v in row.items() if key != "step"}
                out["stats/samples"] = samples + local * per_round
                out["stats/stage"] = 0
                out["stats/cycle"] = k
                log.log(offset + local, out)
        log.advance(rounds[k])
        step += rounds[k]
        samples += rounds[k] * per_round
        tokens_seen += res.tokens_seen
        if k == cfg.cycles:
            break

        # --- Rollout-Aware Verifier (the toolkit's rules) on a fresh batch ---
        roll = C.group_rollout(
            policy,
            tasks,
            cfg.verifier_prompts,
            G,
            v_prompt_gens,
            v_token_gens,
            v_noise_gens,
            dev,
            temperature=cfg.temperature,
        )
        comps = roll.completions
        samples += cfg.verifier_prompts * G
        tokens_seen += int(comps.mask.sum())
        accepted, score = _labels(
            task,
            comps.tokens,
            comps.mask,
            roll.rewards,
            cfg.verifier_rules,
            cfg.accuracy_threshold,
        )
        accepted, score = accepted.cpu(), score.cpu()
        pairs = [
            _pairs(accepted[i], score[i], G, cfg.pairs_per_prompt, pair_gens[i]) for i in range(N)
        ]
        counts = [int(c.numel()) for c, _ in pairs]
        verifier_row = {
            "charts/reward": roll.rewards.mean(),
            "verifier/chosen": sum(
                float(_pool(accepted[i], score[i], G).double().mean()) for i in range(N)
            )
            / N,
            "verifier/rejected": float((~accepted).double().mean()),
            "verifier/pairs": sum(counts) / N,
        }
        if digit_task:
            incons = ~trace_consistent(task, comps.tokens, comps.mask)
            verifier_row["verifier/inconsistent"] = float(incons.double().mean())

        # --- DPO stage: reference = the policy at its start (or the run's reference) ---
        dpo_ref = C.frozen_copy(policy) if cfg.dpo_reference == "stage" else ref
        params = [p for p in policy.parameters() if p.requires_grad]
        opt = C.make_optimizer(params, cfg.optimizer, cfg.dpo_lr or cfg.lr)
        has = torch.tensor([n > 0 for n in counts], device=dev)
        K = cfg.dpo_batch_size
        for _ in range(cfg.steps_dpo):
            rows = [
                torch.randint(max(n, 1), (K,), generator=g)
                for n, g in zip(counts, batch_gens, strict=True)
            ]
            idx = torch.stack(
                [
                    torch.cat([c[r], rj[r]]) if n > 0 else torch.zeros(2 * K, dtype=torch.long)
                    for (c, rj), r, n in zip(pairs, rows, counts, strict=True)
                ]
            ).to(dev)  # (N, 2K): chosen rows then rejected rows
            prompts = torch.take_along_dim(roll.prompts, idx[..., None], dim=1)
            tokens = torch.take_along_dim(comps.tokens, idx[..., None], dim=1)
            mask = torch.take_along_dim(comps.mask, idx[..., None], dim=1)
            seq = C.logprobs_runs(policy, prompts, tokens, mask, task).sum(-1)
            with torch.no_grad():
                ref_seq = C.logprobs_runs(dpo_ref, prompts, tokens, mask, task).sum(-1)
            per_pair, _ = L.dpo_loss(
                seq[:, :K], seq[:, K:], ref_seq[:, :K], ref_seq[:, K:], cfg.dpo_beta
            )
            loss = torch.where(has, per_pair.mean(-1), per_pair.new_zeros(()))
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            C.clip_gradients(policy, cfg.max_grad_norm)
            opt.step()
            step += 1
            tokens_seen += int(mask.sum())
            if C.should_log(step, cfg, total):
                with torch.no_grad():
                    margin = cfg.dpo_beta * (
                        (seq[:, :K] - ref_seq[:, :K]) - (seq[:, K:] - ref_seq[:, K:])
                    )
                    w = has.to(margin.dtype)
                    n_has = float(w.sum().clamp(min=1.0))
                    row = {
                        "losses/loss": float((loss.detach() * w).sum()) / n_has,
                        "rewards/margins": float((margin.mean(-1) * w).sum()) / n_has,
                        "rewards/accuracies": float(((margin > 0).to(w.dtype).mean(-1) * w).sum())
                        / n_has,
                        **verifier_row,
                        "stats/samples": samples,
                        "stats/stage": 1,
                        "stats/cycle": k,
                    }
                log.log(step, row)
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
        algorithm="veripo",
    )


def _pool(accepted: torch.Tensor, score: torch.Tensor, g: int) -> torch.Tensor:
    """The chosen pool of each group (accepted and best on the preferences), flat (B,)."""
    acc, sc = accepted.view(-1, g), score.view(-1, g)
    best = torch.where(acc, sc, torch.full_like(sc, -1)).amax(-1, keepdim=True)
    return (acc & (sc == best)).flatten()
