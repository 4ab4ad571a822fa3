"""Iterative (batched on-policy) preference optimisation: Accelerated Preference Optimization and DNO.

Both methods repeat *rounds*. Round ``t`` freezes the current policy ``pi_t`` (a copy), samples
completions of drawn training prompts from it (each run from its own generators), asks a
preference oracle about them (:func:`trainers.sequence.dpo.preference_oracle` on the run's
task, with its label flips) and then takes ``inner_steps`` optimizer steps of a DPO-type loss
with ``pi_t`` as the reference, starting from ``pi_t``: the reference moves every round, so
the KL to the initial policy is not bounded by the loss (Rosset et al. 2024).

- :func:`train_accelerated_po` (He, Yuan & Gu 2024): each round is one round of iterative DPO
  on one on-policy pair per prompt, i.e. a proximal step ``hat pi_{t+1} = argmin DPO(.; pi_t)``
  (whose population solution is ``pi_t exp(r / beta) / Z``), followed by Nesterov
  extrapolation (Nesterov 1983; Güler 1992) of the parameters,
  ``theta_{t+1} = hat theta_{t+1} + alpha (hat theta_{t+1} - hat theta_t)``; ``alpha = 0`` is
  iterative DPO (Xu et al. 2023; Yuan et al. 2024).
- :func:`train_dno` (Rosset et al. 2024): ``variant="soft"`` regresses the policy's pairwise
  log-ratio onto the soft label of the win rates against ``pi_t`` (Algorithm 1);
  ``variant="prct"`` trains DPO on the best-vs-worst of K samples per prompt, kept when
  their score margin is large (Algorithm 2, DNO-Prct).

**Both are reconstructed**: the papers' bodies were not available (abstracts only; no official
code was found), so their algorithms were reconstructed from the abstracts and from recall;
every uncertain choice is a config field, and the defaults say what was chosen:

- the round structure (both): ``steps`` counts optimizer steps, ``ceil(steps / inner_steps)``
  rounds; each round's minibatches of ``batch_size`` pairs are drawn with replacement from
  its pairs; ``reset_optimizer`` (a fresh Adam per round, default) and ``drop_ties`` (AccPO:
  pairs the oracle rates 1/2 carry no preference and are dropped, default);
- AccPO: ``alpha`` (0.3), ``extrapolation="parameters"`` (the policy-space form
  ``log pi_{t+1} = (1 + alpha) log hat pi_{t+1} - alpha log hat pi_t`` has the per-token
  analogue on the logits, not implemented: see :class:`AccPOConfig`);
- DNO: where the step size enters the soft regression (``beta`` on the log-ratios,
  ``target_scale`` on the score gap), how ``r_t`` is estimated (``reward_estimate``: from the
  round's samples, leave-one-out, by default; exact by enumeration for small tasks), how the
  oracle is queried (``verdicts``), every pair ``i < j`` of a prompt's samples in the soft
  variant, K = 5 samples, ``margin`` and ``teacher`` in the practical one.

Each round logs ``stats/win_rate_vs_previous``, the win rate ``P(pi_{t+1} > pi_t)`` of the
new iterate against the previous one under the run's *clean* oracle (label flips off), at
the round's last step: exact by enumeration (:meth:`PreferenceOracle.win_rate`) when the task
has at most ``exact_max`` (prompt, completion) pairs, else estimated from
``win_rate_samples`` sampled pairs per run (``win_rate="auto"``); averaged over *all* prompts
of the task. DNO's "monotonic improvement" is the claim that it stays >= 1/2.

References
----------
F. He, H. Yuan, Q. Gu, "Accelerated Preference Optimization for Large Language Model
Alignment", arXiv:2410.06293, 2024 (abstract: iterative preference optimisation is a proximal
point method; Nesterov momentum accelerates it).
C. Rosset, C.-A. Cheng, A. Mitra, M. Santacroce, A. Awadallah, T. Xie, "Direct Nash
Optimization: Teaching Language Models to Self-Improve with General Preferences",
arXiv:2404.03715, 2024, Algorithms 1 and 2.
Y. Nesterov, "A method for solving the convex programming problem with convergence rate
O(1/k^2)", Soviet Math. Dokl. 27, 1983. O. Güler, "New proximal point algorithms for convex
minimization", SIAM J. Optim. 2(4), 1992.
J. Xu et al., "Some things are more CRINGE than others: Iterative preference optimization with
the pairwise cringe loss", arXiv:2312.16682, 2023. W. Yuan et al., "Self-Rewarding Language
Models", arXiv:2401.10020, 2024 (iterative DPO).
R. Rafailov et al., "Direct Preference Optimization", NeurIPS 2023, Eq. (7).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    MetricsLog,
    check_config,
    check_instance,
    integer,
    one_of,
    optional,
    real,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence import dpo as D
from trainers.sequence.exact import exact_logprobs
from trainers.sequence.tasks import SequenceTask

__all__ = ["AccPOConfig", "DNOConfig", "train_accelerated_po", "train_dno"]


# --------------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _IterativeOptions(C.PolicyOptions):
    """The round structure, oracle and measurement shared by the iterative methods."""

    steps: int = 200
    """Optimizer steps in all: ceil(steps / inner_steps) rounds of inner_steps steps (the
    last round may be shorter)."""
    inner_steps: int = 10
    """Optimizer steps per round (on the round's fixed on-policy data, reference pi_t)."""
    prompts_per_iteration: int = 32
    """Training prompts drawn per run per round (with replacement)."""
    batch_size: int = 32
    """Pairs per run per optimizer step, drawn with replacement from the round's pairs."""
    beta: float = 0.1
    """Coefficient of the log-ratios to pi_t in the loss (DPO's beta; TRL default 0.1)."""
    lr: float = 1e-3
    """Learning rate."""
    reset_optimizer: bool = True
    """A fresh optimizer every round (each round is a new training run started from pi_t)
    [reconstructed]; False keeps the Adam moments across rounds."""
    oracle: str = "bradley_terry"
    """Preference oracle: 'bradley_terry' or 'intransitive' (see preference_oracle)."""
    oracle_scale: float = 20.0
    """Bradley-Terry inverse temperature: sigmoid(scale (r - r')); 20 (temperature 0.05) makes
    a 0/1-reward judge almost deterministic (sigmoid(20) = 1 - 2e-9)."""
    oracle_strength: float = 1.0
    """Weight of the rock-paper-scissors cycle among tied answers ('intransitive')."""
    win_rate: str = "auto"
    """How stats/win_rate_vs_previous is measured: 'exact' (enumeration), 'sampled'
    (win_rate_samples pairs per run, not counted in stats/samples), 'auto' (exact when the
    task has at most exact_max (prompt, completion) pairs) or 'off'."""
    win_rate_samples: int = 256
    """Sampled pairs per run per round of the sampled win rate."""
    exact_max: int = 20_000
    """Largest P M for which 'auto' enumerates (exact_logprobs costs O(P M) forwards)."""


_ITERATIVE_RULES = {
    "steps": POSITIVE_INT,
    "inner_steps": POSITIVE_INT,
    "prompts_per_iteration": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "beta": POSITIVE,
    "lr": POSITIVE,
    "reset_optimizer": FLAG,
    "oracle": one_of(*D.ORACLES),
    "oracle_scale": POSITIVE,
    "oracle_strength": PROBABILITY,
    "win_rate": one_of("auto", "exact", "sampled", "off"),
    "win_rate_samples": POSITIVE_INT,
    "exact_max": POSITIVE_INT,
    **C.POLICY_OPTION_RULES,
}


@dataclass(frozen=True)
class AccPOConfig(_IterativeOptions):
    """Hyperparameters of :func:`train_accelerated_po` [reconstructed from the abstract of
    He, Yuan & Gu 2024: the paper body was not available].

    Sample budget: a round samples ``2 prompts_per_iteration`` completions per run (at its
    first step), so a step samples ``2 prompts_per_iteration / inner_steps`` on average.
    """

    alpha: float = 0.3
    """Nesterov momentum in [0, 1) [reconstructed: about 0.3]; 0 is iterative DPO."""
    extrapolation: str = "parameters"
    """'parameters': theta_{t+1} = hat theta_{t+1} + alpha (hat theta_{t+1} - hat theta_t).
    The paper's policy-space step log pi_{t+1} = (1 + alpha) log hat pi_{t+1} - alpha log
    hat pi_t + const has the per-token analogue z_{t+1} = (1 + alpha) z(hat theta_{t+1}) -
    alpha z(hat theta_t) on the logits; it is not implemented (the extrapolated policy would
    not be one network, so the next round could not start from it)."""
    drop_ties: bool = True
    """Drop the pairs the clean oracle rates 1/2 (equal rewards: coin-flip labels)."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                **_ITERATIVE_RULES,
                "alpha": real(0.0, 1.0, hi_open=True),
                "extrapolation": one_of("parameters"),
                "drop_ties": FLAG,
            },
        )


@dataclass(frozen=True)
class DNOConfig(_IterativeOptions):
    """Hyperparameters of :func:`train_dno` [reconstructed from the abstract of Rosset et al.
    2024 and recall of its Algorithms 1 and 2: the paper body was not available].

    Sample budget: a round samples ``n_samples prompts_per_iteration`` completions per run (at
    its first step; the teacher's answers are not samples).
    """

    variant: str = "soft"
    """'soft' (Algorithm 1: soft-label regression on every pair of samples) or 'prct'
    (Algorithm 2: DPO on the best vs the worst sample of each prompt)."""
    n_samples: int | None = None
    """Completions sampled per prompt (>= 2); None: 2 for 'soft', 5 for 'prct' (Algorithm 2
    samples 5)."""
    target_scale: float = 1.0
    """'soft': the soft label of a pair is sigmoid(target_scale (r_t(y1) - r_t(y2)))
    [reconstructed: where DNO's step size eta enters is uncertain]; with beta on the
    log-ratios the minimiser over all policies is pi_t exp(target_scale r_t / beta) / Z."""
    reward_estimate: str = "batch"
    """r_t(x, y) = E_{y' ~ pi_t} P(y > y' | x): 'batch' (mean over the prompt's other samples,
    leave-one-out: unbiased, uses only the round's samples) or 'exact' (enumeration of pi_t,
    for small tasks)."""
    verdicts: str = "auto"
    """How the batch estimate queries the oracle: 'probability' (P(y > y'), label flips
    mixed in), 'sampled' (one 0/1 verdict per pair drawn from it) or 'auto' ('probability'
    for 'soft', 'sampled' for 'prct', whose argmax would not see probability-mixed flips)."""
    margin: float = 0.0
    """'prct': keep a prompt's (best, worst) pair only if score(best) - score(worst) >
    margin (the scores are win rates in [0, 1]; "large-margin filtering"). With sampled
    verdicts two equally good samples get a coin-flip verdict, so margin 0 keeps some pairs
    of tied samples (as a real judge would); with 'probability' verdicts they score equal."""
    teacher: bool = False
    """'prct': add the task's expert solution of each prompt as a candidate (Algorithm 2's
    gold response; scored against the samples, never counted as a sample)."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                **_ITERATIVE_RULES,
                "variant": one_of("soft", "prct"),
                "n_samples": optional(integer(2)),
                "target_scale": POSITIVE,
                "reward_estimate": one_of("batch", "exact"),
                "verdicts": one_of("auto", "probability", "sampled"),
                "margin": NONNEGATIVE,
                "teacher": FLAG,
            },
        )
        if self.variant == "soft" and (self.teacher or self.margin != 0):
            raise ValueError(
                "DNOConfig.teacher and DNOConfig.margin apply to variant='prct' only; got "
                f"teacher={self.teacher}, margin={self.margin} with variant='soft'"
            )

    @property
    def samples_per_prompt(self) -> int:
        """``n_samples``, or the variant's default (2 'soft', 5 'prct')."""
        if self.n_samples is not None:
            return self.n_samples
        return 2 if self.variant == "soft" else 5

    @property
    def sampled_verdicts(self) -> bool:
        """Whether the batch estimate draws 0/1 verdicts."""
        if self.verdicts == "auto":
            return self.variant == "prct"
        return self.verdicts == "sampled"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _derived_seeds(seeds: list[int], t: int, tag: str) -> list[int]:
    """One seed per run for round ``t`` and purpose ``tag``, from the run's seed alone."""
    out = []
    for s in seeds:
        h = hashlib.blake2b(f"{tag}:{int(s)}:{int(t)}".encode(), digest_size=8).digest()
        out.append(int.from_bytes(h, "little") % 2**63)
    return out


def _iteration_seeds(seeds: list[int], t: int) -> list[int]:
    """The seeds of round ``t``: its prompts, tokens, oracle verdicts and minibatch rows are
    drawn from ``C.generators(_iteration_seeds(seeds, t), stream)``."""
    return _derived_seeds(seeds, t, "iteration")


def _extrapolate(
    params: list[torch.Tensor], hat_prev: list[torch.Tensor], alpha: float
) -> list[torch.Tensor]:
    """Nesterov extrapolation in place: ``theta <- hat + alpha (hat - hat_prev)`` with ``hat``
    the current values of ``params``; returns the ``hat`` values (the next ``hat_prev``)."""
    hats = []
    with torch.no_grad():
        for p, prev in zip(params, hat_prev, strict=True):
            hat = p.detach().clone()
            if alpha != 0:
                p.add_(hat - prev, alpha=alpha)
            hats.append(hat)
    return hats


def _exact_logp(policy: nn.Module, task: SequenceTask) -> torch.Tensor:
    """(N, P, M) float64 exact log-probabilities of every completion (CPU)."""
    dev = D._policy_device(policy)
    tokens, mask = task.completions()
    with torch.no_grad():
        lp = exact_logprobs(
            policy,
            task.prompts.to(dev),
            tokens.to(dev),
            mask.to(dev),
            allowed=task.allowed.to(dev),
        )
    if not C.is_stacked(policy):
        lp = lp.unsqueeze(0)
    return lp.cpu()


def _sampled_win_rates(
    policy: nn.Module,
    opponents: list[nn.Module],
    tasks: list[SequenceTask],
    oracles: list[D.PreferenceOracle],
    seeds: list[int],
    t: int,
    n: int,
    dev: torch.device,
) -> list[torch.Tensor]:
    """Per opponent, (N,) estimates of ``P(policy > opponent)`` under each run's clean oracle:
    ``n`` uniform prompts (all prompts) per run, one completion of each from the policy and
    one from the opponent."""
    task = tasks[0]
    pg = C.generators(_derived_seeds(seeds, t, "win_rate"), "prompts", torch.device("cpu"))
    idx = torch.stack([torch.randint(task.n_prompts, (n,), generator=g) for g in pg])
    mine = D._sample_candidates(
        policy,
        tasks,
        n,
        1,
        pg,
        C.generators(_derived_seeds(seeds, t, "win_rate"), "tokens", dev),
        dev,
        prompt_idx=idx,
    )
    out = []
    for k, opp in enumerate(opponents):
        theirs = D._sample_candidates(
            opp,
            tasks,
            n,
            1,
            pg,
            C.generators(_derived_seeds(seeds, t, f"win_rate_opponent{k}"), "tokens", dev),
            dev,
            prompt_idx=idx,
        )
        out.append(
            torch.stack(
                [
                    o.prob(
                        idx[i], mine.comp_idx[i, :, 0], theirs.comp_idx[i, :, 0], flips=False
                    ).mean()
                    for i, o in enumerate(oracles)
                ]
            )
        )
    return out


@dataclass(frozen=True)
class _Round:
    """One round's training data: pairs per run, optional soft labels (probability that the
    label is flipped, per pair), the candidates and the number of completions sampled."""

    pairs: list[D.Pairs]
    soft: list[torch.Tensor] | None
    candidates: D._Candidates
    n_sampled: int


#: make_round(policy, tasks, oracles, round_seeds, device, logp_t) -> _Round
RoundMaker = Callable[..., _Round]


def _round_generators(
    it: list[int], dev: torch.device
) -> tuple[list[torch.Generator], list[torch.Generator], list[torch.Generator]]:
    cpu = torch.device("cpu")
    return (
        C.generators(it, "prompts", cpu),
        C.generators(it, "tokens", dev),
        C.generators(it, "oracle", cpu),
    )


def _train_iterative(
    task_or_tasks: object,
    cfg: _IterativeOptions,
    seeds: object,
    policy: nn.Module | None,
    ref_policy: nn.Module | None,
    device: str | torch.device | None,
    callback: object,
    *,
    make_round: RoundMaker,
    alpha: float,
    need_exact_policy: bool,
    algorithm: str,
) -> C.SequenceRunResult:
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    task = tasks[0]
    oracles = D._oracles(tasks, cfg.oracle, cfg.oracle_scale, cfg.oracle_strength)
    small = task.n_prompts * task.completions()[0].shape[0] <= cfg.exact_max
    few_classes = all(o.n_classes <= D._MAX_CLASSES for o in oracles)
    mode = cfg.win_rate
    if mode == "auto":
        mode = "exact" if small and few_classes else "sampled"
    if (mode == "exact" or need_exact_policy) and not few_classes:
        raise ValueError(
            f"exact enumeration needs an oracle of at most {D._MAX_CLASSES} classes "
            "(distinct rewards); use win_rate='sampled' and reward_estimate='batch'"
        )
    comp_tokens, comp_mask = task.completions()
    tables: dict[int, torch.Tensor] = {}
    for t in tasks:
        tables.setdefault(id(t), t.reward_table())
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    initial = C.frozen_copy(policy)
    ref = initial if ref_policy is None else ref_policy.to(dev)
    params = [p for p in policy.parameters() if p.requires_grad]
    hat_prev = [p.detach().clone() for p in params]  # hat theta_0 = theta_0
    logp_t = _exact_logp(policy, task) if mode == "exact" or need_exact_policy else None
    logp_0 = logp_t if mode == "exact" else None
    N = len(seeds)
    n_rounds = math.ceil(cfg.steps / cfg.inner_steps)
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    opt = None
    samples = tokens_seen = step = 0
    start = time.perf_counter()
    for t in range(n_rounds):
        it = _iteration_seeds(seeds, t)
        if need_exact_policy and logp_t is None:
            logp_t = _exact_logp(policy, task)
        anchor = C.frozen_copy(policy)  # pi_t: the reference of this round
        rnd = make_round(policy, tasks, oracles, it, dev, logp_t)
        samples += rnd.n_sampled
        cand = rnd.candidates
        with torch.no_grad():  # the round's samples: their exact reward, KL(pi_t || pi_ref)
            reward = torch.stack(
                [
                    tables[id(tk)][cand.prompt_idx[i, :, None], cand.comp_idx[i]].mean()
                    for i, tk in enumerate(tasks)
                ]
            ).mean()
            comps = cand.completions
            ref_lp = C.logprobs_runs(ref, cand.prompts, comps.tokens, comps.mask, task)
            kl = (comps.logp.sum(-1) - ref_lp.sum(-1)).double().mean()
        n_pairs = sum(p[0].numel() for p in rnd.pairs) / N
        if opt is None or cfg.reset_optimizer:
            opt = C.make_optimizer(params, cfg.optimizer, cfg.lr)
        gens = C.generators(it, "pairs", torch.device("cpu"))
        n_inner = min(cfg.inner_steps, cfg.steps - step)
        for k in range(n_inner):
            loss, stats, entropy, n_tok = D._dpo_step(
                policy,
                anchor,
                task,
                comp_tokens,
                comp_mask,
                rnd.pairs,
                gens,
                opt,
                batch_size=cfg.batch_size,
                beta=cfg.beta,
                loss_type="sigmoid",
                label_smoothing=0.0,
                max_grad_norm=cfg.max_grad_norm,
                device=dev,
                soft=rnd.soft,
            )
            tokens_seen += n_tok
            step += 1
            end = k == n_inner - 1
            row: dict[str, float | torch.Tensor] = {}
            if end:
                # --- Nesterov extrapolation of the parameters (alpha = 0: iterative DPO) ---
                if alpha > 0:
                    hat_prev = _extrapolate(params, hat_prev, alpha)
                # --- the new iterate against the previous one (and the initial policy) ---
                if mode == "exact":
                    logp_new = _exact_logp(policy, task)
                    w_prev = torch.stack(
                        [o.win_rate(logp_new[i], logp_t[i]).mean() for i, o in enumerate(oracles)]
                    )
                    w_init = torch.stack(
                        [o.win_rate(logp_new[i], logp_0[i]).mean() for i, o in enumerate(oracles)]
                    )
                    logp_t = logp_new
                elif mode == "sampled":
                    w_prev, w_init = _sampled_win_rates(
                        policy,
                        [anchor, initial],
                        tasks,
                        oracles,
                        seeds,
                        t,
                        cfg.win_rate_samples,
                        dev,
                    )
                if mode != "off":
                    row["stats/win_rate_vs_previous"] = w_prev.mean()
                    row["stats/win_rate_vs_previous_min"] = w_prev.min()
                    row["stats/win_rate_vs_initial"] = w_init.mean()
                if mode != "exact":
                    logp_t = None
            if C.should_log(step, cfg) or end:
                log.log(
                    step,
                    {
                        "losses/loss": loss.mean(),
                        **stats,
                        "charts/reward": reward,
                        "stats/entropy": entropy,
                        "stats/kl": kl,
                        "stats/samples": samples,
                        "stats/pairs": n_pairs,
                        "stats/iteration": t + 1,
                        "stats/tokens": n_tok / (N * 2 * cfg.batch_size),
                        **row,
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
        algorithm=algorithm,
    )


# --------------------------------------------------------------------------------------------
# Accelerated Preference Optimization
# --------------------------------------------------------------------------------------------


def train_accelerated_po(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: AccPOConfig = AccPOConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Accelerated Preference Optimization (He, Yuan & Gu 2024), N runs as one stacked model.

    [Reconstructed from the paper's abstract (iterative preference optimisation as a proximal
    point method, accelerated by Nesterov momentum): the paper body was not available.] Round
    ``t = 0, 1, ...``:

    1. each run draws ``prompts_per_iteration`` training prompts of its task and samples two
       completions of each from the current iterate ``pi_t``; the oracle (``cfg.oracle`` on
       the run's task, ``oracle_scale``, label flips) gives one verdict per pair
       (:func:`trainers.sequence.dpo.on_policy_pairs`; identical and, with ``drop_ties``,
       tied pairs are dropped);
    2. proximal step: ``inner_steps`` steps of DPO (Rafailov et al. 2023, Eq. 7) on those
       pairs with the frozen ``pi_t`` as the reference, giving ``hat theta_{t+1}``;
    3. extrapolation: ``theta_{t+1} = hat theta_{t+1} + alpha (hat theta_{t+1} -
       hat theta_t)`` (``hat theta_0 = theta_0``).

    ``alpha = 0`` is iterative DPO: exactly :func:`on_policy_pairs` then
    :func:`train_sequence_dpo` with ``pi_t`` as reference and seeds ``_iteration_seeds(seeds,
    t)``, round after round (tested).

    Parameters
    ----------
    task_or_tasks, seeds, policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo` (run i uses its own task's oracle,
        label flips and training prompts).
    cfg : AccPOConfig
    ref_policy : nn.Module, optional
        Not in the loss (the reference is ``pi_t``); ``stats/kl`` estimates
        ``KL(pi_t || ref_policy)`` on the round's samples. Default: the initial policy.

    Returns
    -------
    SequenceRunResult
        ``algorithm="accpo"``. Metrics per logged step (and at each round's end): DPO's
        ``losses/loss`` and ``rewards/*``, ``charts/reward`` (exact mean reward of the round's
        samples), ``stats/kl``, ``stats/entropy``, ``stats/samples`` (completions sampled per
        run so far), ``stats/pairs`` (the round's pairs per run), ``stats/iteration``; at a
        round's last step ``stats/win_rate_vs_previous`` (mean over runs; ``_min``: the
        lowest run) and ``stats/win_rate_vs_initial``.
    """
    check_instance("cfg", cfg, AccPOConfig)

    def make_round(policy, tasks, oracles, it, dev, logp_t):
        pg, tg, og = _round_generators(it, dev)
        cand = D._sample_candidates(policy, tasks, cfg.prompts_per_iteration, 2, pg, tg, dev)
        pairs = D._label_pairs(oracles, cand, og, cfg.drop_ties)
        return _Round(pairs, None, cand, 2 * cfg.prompts_per_iteration)

    return _train_iterative(
        task_or_tasks,
        cfg,
        seeds,
        policy,
        ref_policy,
        device,
        callback,
        make_round=make_round,
        alpha=cfg.alpha,
        need_exact_policy=False,
        algorithm="accpo",
    )


# --------------------------------------------------------------------------------------------
# DNO
# --------------------------------------------------------------------------------------------


def _dno_scores(
    oracles: list[D.PreferenceOracle],
    cand: D._Candidates,
    extra: torch.Tensor | None,
    og: list[torch.Generator],
    cfg: DNOConfig,
    logp_t: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The candidates (N, B, K') (the K samples, then the teacher's answer if ``extra`` (N, B)
    is given) and their scores r_t(x, y) (N, B, K') float64.

    'exact': ``E_{y' ~ pi_t} P_q(y > y' | x)`` by enumeration. 'batch': the mean of
    ``P_q(y > y_j)`` (or of one 0/1 verdict drawn from it, ``cfg.sampled_verdicts``) over the
    prompt's samples ``y_j`` other than ``y`` itself (the teacher's answer is compared with all
    K samples). Run i's verdicts take one ``torch.rand((B, K, K))`` (and ``(B, K)`` for the
    teacher) from ``og[i]``.
    """
    comp = cand.comp_idx
    if extra is not None:
        comp = torch.cat([comp, extra[..., None]], dim=-1)
    B, K = cand.comp_idx.shape[1:]
    scores = []
    for i, o in enumerate(oracles):
        p = cand.prompt_idx[i]  # (B,)
        if cfg.reward_estimate == "exact":
            r = o.expected_win(logp_t[i])  # (P, M)
            scores.append(r[p[:, None], comp[i]])
            continue
        samp = cand.comp_idx[i]  # (B, K)
        prob = o.prob(p[:, None, None], comp[i][:, :, None], samp[:, None, :])  # (B, K', K)
        if cfg.sampled_verdicts:
            u = torch.rand((B, K, K), generator=og[i], dtype=torch.float64)
            upper = torch.triu(torch.ones(K, K, dtype=torch.bool), 1)
            v = (u < prob[:, :K]).double()
            v = torch.where(upper, v, 1 - v.transpose(-1, -2))  # v_ji = 1 - v_ij
            if extra is not None:
                ut = torch.rand((B, 1, K), generator=og[i], dtype=torch.float64)
                v = torch.cat([v, (ut < prob[:, K:]).double()], dim=1)
            prob = v
        own = torch.eye(K, dtype=torch.bool)
        if extra is not None:
            own = torch.cat([own, torch.zeros(1, K, dtype=torch.bool)])
        counts = (~own).sum(-1).to(torch.float64)  # K - 1 for the samples, K for the teacher
        scores.append(prob.masked_fill(own, 0.0).sum(-1) / counts)
    return comp, torch.stack(scores)


def _soft_pairs(
    prompt_idx: torch.Tensor, comp: torch.Tensor, scores: torch.Tensor, k: int, target_scale: float
) -> tuple[D.Pairs, torch.Tensor]:
    """DNO Algorithm 1's pairs of one run: every pair ``i < j`` of each prompt's ``k`` samples
    (``comp`` (B, k') completion indices, ``scores`` (B, k') r_t), with the probability that
    its label is flipped, ``1 - sigmoid(c (r_i - r_j)) = sigmoid(-c (r_i - r_j))``; pairs of
    one completion twice are dropped."""
    a, b = torch.triu_indices(k, k, 1)
    ca, cb = comp[:, a], comp[:, b]  # (B, k (k - 1) / 2)
    dr = scores[:, a] - scores[:, b]
    keep = ca != cb
    p = prompt_idx[:, None].expand_as(ca)
    return (p[keep], ca[keep], cb[keep]), torch.sigmoid(-target_scale * dr)[keep]


def _prct_pairs(
    prompt_idx: torch.Tensor, comp: torch.Tensor, scores: torch.Tensor, margin: float
) -> D.Pairs:
    """DNO-Prct's pairs of one run: per prompt the best and the worst candidate by score (the
    first on ties), kept when ``score(best) - score(worst) > margin`` and they differ."""
    rows = torch.arange(comp.shape[0])
    best, worst = scores.argmax(-1), scores.argmin(-1)
    cw, cl = comp[rows, best], comp[rows, worst]
    keep = (scores[rows, best] - scores[rows, worst] > margin) & (cw != cl)
    return prompt_idx[keep], cw[keep], cl[keep]


def train_dno(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: DNOConfig = DNOConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Direct Nash Optimization (Rosset et al. 2024), N runs as one stacked model.

    [Reconstructed from the paper's abstract ("a batched on-policy algorithm using a
    regression-based objective", "monotonic improvement across iterations") and recall of its
    Algorithms 1 and 2: the paper body was not available.] Round ``t``: each run draws
    ``prompts_per_iteration`` training prompts and samples ``K = cfg.samples_per_prompt``
    completions of each from ``pi_t``; with the general preference ``P(y > y' | x)``
    (:func:`trainers.sequence.dpo.preference_oracle`, label flips included) each sample gets
    the score ``r_t(x, y) = E_{y' ~ pi_t} P(y > y' | x)`` (``cfg.reward_estimate``), then
    ``inner_steps`` steps minimise, with ``pi_t`` (frozen) as the reference:

    - ``variant="soft"`` (Algorithm 1), over every pair ``i < j`` of a prompt's samples:
      ``-[s log sigma(beta dl) + (1 - s) log sigma(-beta dl)]`` with the soft label
      ``s = sigmoid(target_scale (r_t(y_i) - r_t(y_j)))`` and
      ``dl = log pi(y_i)/pi_t(y_i) - log pi(y_j)/pi_t(y_j)``: a regression whose minimiser
      over all policies is the soft policy iteration ``pi_t exp(target_scale r_t / beta) / Z``;
    - ``variant="prct"`` (Algorithm 2, DNO-Prct): per prompt the best and the worst candidate by
      score (the K samples, plus the task's expert answer with ``teacher``; first index on
      ties), kept if ``score(best) - score(worst) > margin``, and DPO (Rafailov et al. 2023,
      Eq. 7) on the kept pairs.

    Pairs of one completion twice are dropped. A run left without pairs in a round gets no
    gradient in that round.

    Parameters
    ----------
    task_or_tasks, seeds, policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo`.
    cfg : DNOConfig
    ref_policy : nn.Module, optional
        Not in the loss; ``stats/kl`` estimates ``KL(pi_t || ref_policy)``. Default: the
        initial policy.

    Returns
    -------
    SequenceRunResult
        ``algorithm="dno"``; the metrics of :func:`train_accelerated_po`.
    """
    check_instance("cfg", cfg, DNOConfig)
    K = cfg.samples_per_prompt
    B = cfg.prompts_per_iteration

    def make_round(policy, tasks, oracles, it, dev, logp_t):
        pg, tg, og = _round_generators(it, dev)
        cand = D._sample_candidates(policy, tasks, B, K, pg, tg, dev)
        extra = None
        if cfg.teacher:
            extra = torch.stack([teachers[id(t)][cand.prompt_idx[i]] for i, t in enumerate(tasks)])
        comp, scores = _dno_scores(oracles, cand, extra, og, cfg, logp_t)
        pairs, soft = [], []
        for i in range(len(tasks)):
            p = cand.prompt_idx[i]
            if cfg.variant == "soft":
                pr, lab = _soft_pairs(p, comp[i], scores[i], K, cfg.target_scale)
                pairs.append(pr)
                soft.append(lab)
            else:
                pairs.append(_prct_pairs(p, comp[i], scores[i], cfg.margin))
        return _Round(pairs, soft if cfg.variant == "soft" else None, cand, K * B)

    teachers: dict[int, torch.Tensor] = {}
    if cfg.teacher:
        tasks, _ = C.resolve_runs(task_or_tasks, seeds, policy)
        for t in tasks:
            if t.solutions is None:
                raise ValueError(
                    "DNOConfig.teacher needs expert solutions: the task has no solutions"
                )
            if id(t) not in teachers:
                idx = t._completion_index(t.solutions, t.solution_mask)
                if bool((idx < 0).any()):
                    raise ValueError("the task's solutions must be completions it lists")
                teachers[id(t)] = idx

    return _train_iterative(
        task_or_tasks,
        cfg,
        seeds,
        policy,
        ref_policy,
        device,
        callback,
        make_round=make_round,
        alpha=0.0,
        need_exact_policy=cfg.reward_estimate == "exact",
        algorithm="dno",
    )
