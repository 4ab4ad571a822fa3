"""GRPO on sequence policies, as TRL's ``GRPOTrainer`` computes it, for N seeds at once, with
the switches of Dr. GRPO, DAPO (ByteDance) and APO (View-R1).

Each step (a generation round) draws ``batch_prompts`` training prompts per run, samples
``num_generations`` completions of each (a group), scores them with the run's task, and
minimises :func:`trainers.losses.grpo_token_loss` (TRL's ``_compute_loss``)
``num_iterations`` times:

- advantage of completion i of a group: ``A_i = r_i - mean_G r`` (``baseline="group"``, GRPO
  [1, §4.1.2]) or the leave-one-out ``r_i - mean_{j != i} r_j = G/(G-1) (r_i - mean_G r)``
  (``baseline="rloo"``, [4]), divided by the group's std + ``std_eps`` (``scale_rewards=
  "group"``), the run's batch std + ``std_eps`` (``"batch"``) or not at all (``"none"``, Dr.
  GRPO [2]);
- per token ``-min(rho A, clip(rho, 1 - epsilon, 1 + epsilon_high) A) + beta rho k3`` with the
  token aggregation ``loss_type`` (grpo / bnpo / dr_grpo / dapo, [1, 2, 3]);
- ``kl_in_reward = c > 0`` replaces the reward by ``r - c sum_t (log pi_old - log pi_ref)``
  (the sequence log-ratio of the sampled completion, detached): the KL penalty in the reward
  of PPO-max [5, §5.3], whose score-function gradient is unbiased for
  ``grad (E r - c KL(pi || pi_ref))`` at the sequence level [derived], so with
  ``scale_rewards="none"`` the runs tend to ``pi_ref exp(r / c) / Z`` (Rafailov et al. 2023,
  Eq. 4), where the k3 loss term (``beta``) does not (see :mod:`trainers.losses`);
- ``entropy_coef`` subtracts the exact per-token entropy, aggregated as the loss.

``steps`` counts generation rounds; each gives ``num_iterations`` optimizer steps (TRL's mu).
With ``num_iterations = 1`` the old policy is the current one detached (TRL): the ratio is 1.

DAPO (ByteDance) [3]
--------------------
"Decoupled Clip and Dynamic sAmpling Policy Optimization" (Yu et al. 2025), reference
implementation the verl recipe (volcengine/verl ``recipe/dapo``). Not to be confused with
*Direct Advantage* Policy Optimization (Liu et al. 2024, arXiv:2412.18279), a different,
step-level offline method with a critic, which the toolkit calls ``direct_advantage``.
:meth:`GRPOConfig.dapo` sets its four parts:

- clip-higher [3, §3.1]: ``epsilon = 0.2``, ``epsilon_high = 0.28``;
- dynamic sampling [3, §3.2] (``dynamic_sampling=True``): a group whose completions are all
  correct or all wrong (verl's ``filter_groups.metric="acc"``; ``filter_metric="reward"``
  compares the shaped rewards instead, verl's ``"score"``) is dropped, and the run draws
  further generation batches of ``batch_prompts`` groups from its own generators until it
  holds ``batch_prompts`` mixed groups or has drawn ``max_gen_batches`` batches. The kept
  groups are the first mixed ones in draw order (verl keeps ``batch[:train_batch_size]``).
  *When a run cannot fill its batch* verl raises; here the run keeps the mixed groups it
  found and pads the batch with dropped groups that carry zero advantage and no loss tokens
  (so under the token-mean ``loss_type`` 'bnpo'/'dapo' its loss is that of the groups found;
  under 'grpo'/'dr_grpo', whose normaliser counts completions, the gradient shrinks by the
  fraction found). A run that is full stops consuming its random numbers (the other runs'
  re-draws use throw-away generators for it), so stacked runs equal runs one by one;
- token-level loss [3, §3.3]: ``loss_type="dapo"`` (the token mean of the batch);
- overlong reward shaping [3, §3.4] (``overlong_buffer``): :func:`overlong_reward`,
  ``min(-(|y| - (L_max - L_buf)) / L_buf * penalty, 0)``, added to the reward. On a task whose
  completions all have one length (``tied_digit_sum``) it is a constant and changes nothing
  unless ``L_buf`` reaches into that length.

With no KL term (``beta = 0``) and verl's std epsilon 1e-6. The paper's ±1 task reward is not
reproduced (the toy's reward is 0/1; std-scaled advantages are invariant to that affine change,
but the overlong penalty weighs twice as much against a 0/1 reward: halve
``overlong_penalty`` to keep the paper's ratio).

APO of View-R1 [6]
------------------
"Asymmetric Policy Optimization" (Hong et al. 2025), reference implementation the OpenRLHF
fork Indolent-Kawhi/View-R1 (``openrlhf/trainer/ray/ppo_actor.py``: ``calculate_kl_weight``,
``ActorPPOTrainer.training_step``; ``openrlhf/trainer/ppo_utils/experience_maker.py``:
``compute_advantages_and_returns``). The formulas below are reconstructed from that code (the
paper body was not available). With ``c_i`` the correctness of completion i (membership in
the task's tie set, :func:`completion_correct`; the code's ``trunc(r_i)``, the same for its
0/1 accuracy + 0/0.5 format reward) and ``d = 1 - mean_G c`` the group's difficulty:

- DADS, Difficulty-Adaptive Divergence Shaping (``dads=True``): the KL loss becomes
  ``beta * mean_i(w_i * mean_t k3_{i,t})`` (OpenRLHF's k3, without TRL's ratio; a mean over
  completions of per-completion token means) with ``w_i = f(d)`` if ``A_i > 0`` else 1 and
  ``f(d) = 1 - exp(-e (1 - d))`` for ``0 < d < 1``, ``f(0) = f(1) = 1``
  (:func:`dads_weights`, :func:`dads_kl_loss`): the KL of the positive samples of hard
  prompts is relaxed. "Positive" is the sign of the advantage, as in the code
  (``advantage[0] > 0``), not correctness: under reward noise a wrong completion can be
  positive and get the relaxed weight (and STCR scales a wrong completion's advantage
  whatever its sign);
- STCR, Suboptimal Trajectory Complexity Regularization (``stcr=True``): ``A_i <- A_i (1 +
  w_i)`` with ``w_i = 1 - stcr_base^(-Delta_i)`` for ``Delta_i = (|y_i| - mean length of the
  group's correct completions) (1 - c_i) > 0``, else 0, and 0 for a group without a correct
  completion (:func:`stcr_factors`): wrong answers longer than the right ones are pushed down
  harder. On a task whose completions all have one length it changes nothing.

:meth:`GRPOConfig.apo_view_r1` sets both with ``beta = 1e-3``, std epsilon 1e-9 and the
token-mean PPO loss of OpenRLHF (``loss_type="bnpo"``).

References
----------
.. [1] Z. Shao et al., "DeepSeekMath", arXiv:2402.03300, 2024, Eq. (3) and §4.1.2; TRL
   ``GRPOTrainer`` (huggingface/trl, grpo_trainer.py).
.. [2] Z. Liu et al., "Understanding R1-Zero-Like Training: A Critical Perspective",
   arXiv:2503.20783, 2025, §3.1 (Dr. GRPO); code sail-sg/understand-r1-zero.
.. [3] Q. Yu et al., "DAPO: An Open-Source LLM Reinforcement Learning System at Scale",
   arXiv:2503.14476, 2025, §3.1 (clip-higher), §3.2 (dynamic sampling), §3.3 (token-level
   loss), §3.4 (overlong reward shaping); reference implementation volcengine/verl
   ``recipe/dapo`` (``dapo_ray_trainer.py``, ``run_dapo_qwen2.5_32b.sh``).
.. [4] W. Kool, H. van Hoof, M. Welling, "Buy 4 REINFORCE Samples, Get a Baseline for Free!",
   ICLR 2019 workshop; A. Ahmadian et al., "Back to Basics: Revisiting REINFORCE Style
   Optimization for Learning from Human Feedback in LLMs", ACL 2024 (RLOO).
.. [5] R. Zheng et al., "Secrets of RLHF in Large Language Models Part I: PPO",
   arXiv:2307.04964, 2023.
.. [6] Z. Hong et al., "Enhancing Reasoning Ability of MLLMs via Asymmetric Policy
   Optimization" (View-R1), arXiv:2506.21655, 2025; code Indolent-Kawhi/View-R1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_int, check_positive, check_real
from trainers import losses as L
from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    Rule,
    check_config,
    check_instance,
    integer,
    one_of,
    optional,
    real,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.sampling import Completions
from trainers.sequence.tasks import SequenceTask

__all__ = [
    "GRPOConfig",
    "completion_correct",
    "dads_kl_loss",
    "dads_weights",
    "overlong_reward",
    "stcr_factors",
    "train_grpo",
]


@dataclass(frozen=True)
class GRPOConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_grpo` (TRL's names and defaults where they apply).

    A round samples ``batch_prompts * num_generations`` completions per run; with
    ``dynamic_sampling`` a run may draw up to ``max_gen_batches`` times that (the metric
    ``stats/samples`` counts them all). Presets: :meth:`dr_grpo`, :meth:`dapo`,
    :meth:`apo_view_r1`.
    """

    steps: int = 200
    """Generation rounds (each gives ``num_iterations`` optimizer steps)."""
    batch_prompts: int = 8
    """Training prompts (groups) per run per round."""
    num_generations: int = 8
    """Completions per prompt (the group size G, >= 2; TRL default 8)."""
    num_iterations: int = 1
    """Optimizer steps per generation round (TRL's mu)."""
    loss_type: str = "dapo"
    """Token aggregation: 'grpo', 'bnpo', 'dr_grpo' or 'dapo' (TRL default)."""
    scale_rewards: str = "group"
    """Advantage scaling: 'group', 'batch' or 'none' (TRL)."""
    baseline: str = "group"
    """'group' (group mean, TRL) or 'rloo' (leave-one-out mean)."""
    std_eps: float = 1e-4
    """Added to the std of the advantage scaling (TRL 1e-4, verl 1e-6, View-R1 1e-9)."""
    epsilon: float = 0.2
    """Low-side ratio clip (TRL default 0.2)."""
    epsilon_high: float | None = None
    """High-side ratio clip (None: epsilon; DAPO 0.28)."""
    beta: float = 0.0
    """Weight of the k3 KL loss term to the reference (TRL default 0)."""
    kl_in_reward: float = 0.0
    """Coefficient c of the sequence KL penalty in the reward, r - c sum_t (log pi - log ref)."""
    entropy_coef: float = 0.0
    """Weight of the exact per-token entropy bonus."""
    temperature: float = 1.0
    """Sampling temperature (the log-probs of the loss use the same, as TRL)."""
    max_completion_length: int | None = None
    """L_max of 'dr_grpo' and of the overlong shaping (None: the task's completion length)."""
    dynamic_sampling: bool = False
    """DAPO's dynamic sampling: drop groups of equal accuracy and draw more (module notes)."""
    max_gen_batches: int = 10
    """Generation batches a run may draw per round with dynamic sampling (verl default 10)."""
    filter_metric: str = "accuracy"
    """What a kept group must vary in: 'accuracy' (verl's 'acc') or the shaped 'reward'."""
    overlong_buffer: int | None = None
    """DAPO's overlong buffer L_buf in tokens (None: no overlong shaping)."""
    overlong_penalty: float = 1.0
    """DAPO's overlong penalty factor (the shaping reaches -penalty at L_max)."""
    dads: bool = False
    """View-R1's difficulty-adaptive KL weights (needs beta > 0; module notes)."""
    stcr: bool = False
    """View-R1's length regularisation of wrong completions (module notes)."""
    sample_budget: int | None = None
    """Stop after the round in which the mean over runs of the completions sampled so far
    reaches this (re-draws and GHPO's regenerations count; None: run every step)."""
    stcr_base: float = 1.00001
    """Base b of STCR's w = 1 - b^(-Delta) (> 1). The published 1.00001 gives w ~ 1e-5 per token
    of excess length, a no-op at toy lengths: raise it (e.g. 1.5) to see the effect."""
    lr: float = 3e-3
    """Learning rate."""

    def _rules(self) -> dict[str, Rule]:
        """check_config rules of every field (a subclass adds its own)."""
        return {
            "steps": POSITIVE_INT,
            "batch_prompts": POSITIVE_INT,
            "num_generations": integer(2),
            "num_iterations": POSITIVE_INT,
            "loss_type": one_of(*L.LOSS_TYPES),
            "scale_rewards": one_of("group", "batch", "none"),
            "baseline": one_of("group", "rloo"),
            "std_eps": NONNEGATIVE,
            "epsilon": OPEN_UNIT,
            "epsilon_high": optional(POSITIVE),
            "beta": NONNEGATIVE,
            "kl_in_reward": NONNEGATIVE,
            "entropy_coef": NONNEGATIVE,
            "temperature": POSITIVE,
            "max_completion_length": optional(POSITIVE_INT),
            "dynamic_sampling": FLAG,
            "max_gen_batches": POSITIVE_INT,
            "filter_metric": one_of("accuracy", "reward"),
            "overlong_buffer": optional(POSITIVE_INT),
            "overlong_penalty": POSITIVE,
            "dads": FLAG,
            "stcr": FLAG,
            "stcr_base": real(1.0, lo_open=True),
            "sample_budget": optional(POSITIVE_INT),
            "lr": POSITIVE,
            **C.POLICY_OPTION_RULES,
        }

    def __post_init__(self) -> None:
        check_config(self, self._rules())
        name = type(self).__name__
        if self.dads and self.beta == 0:
            raise ValueError(
                f"{name}.dads weights the KL loss term, so it needs beta > 0; got beta=0"
            )
        lmax = self.max_completion_length
        if self.overlong_buffer is not None and lmax is not None and self.overlong_buffer > lmax:
            raise ValueError(
                f"{name}.overlong_buffer must be <= max_completion_length ({lmax}); got "
                f"{self.overlong_buffer}"
            )

    # -- presets ---------------------------------------------------------------------------

    @classmethod
    def dr_grpo(cls, **overrides: Any) -> GRPOConfig:
        """Dr. GRPO (Liu et al. 2025, arXiv:2503.20783, §3.1): no std scaling
        (``scale_rewards="none"``), the constant normaliser ``loss_type="dr_grpo"``, no KL
        (``beta=0``, the paper's examples); keyword overrides."""
        return cls(**{"scale_rewards": "none", "loss_type": "dr_grpo", "beta": 0.0, **overrides})

    @classmethod
    def dapo(cls, **overrides: Any) -> GRPOConfig:
        """DAPO (ByteDance; Yu et al. 2025, arXiv:2503.14476, §3.1-3.3; verl ``recipe/dapo``):
        clip-higher ``epsilon=0.2, epsilon_high=0.28``, token-mean ``loss_type="dapo"``, no KL
        (``beta=0``), dynamic sampling on accuracy with ``max_gen_batches=10``, verl's std
        epsilon 1e-6. Overlong shaping stays off (``overlong_buffer=None``; the recipe's
        4096 of 20480 tokens is a fifth of ``L_max``). Not Direct Advantage Policy
        Optimization (see the module notes); keyword overrides."""
        preset = {
            "epsilon": 0.2,
            "epsilon_high": 0.28,
            "loss_type": "dapo",
            "beta": 0.0,
            "dynamic_sampling": True,
            "max_gen_batches": 10,
            "filter_metric": "accuracy",
            "std_eps": 1e-6,
        }
        return cls(**{**preset, **overrides})

    @classmethod
    def apo_view_r1(cls, **overrides: Any) -> GRPOConfig:
        """APO of View-R1 (Hong et al. 2025, arXiv:2506.21655; its ``train_grpo.sh``): DADS and
        STCR on, k3 KL loss with ``beta=1e-3``, group std + 1e-9 (its ``group_norm``),
        ``epsilon=0.2``, OpenRLHF's token-mean PPO loss (``loss_type="bnpo"``). The
        published ``stcr_base=1.00001`` is kept (a no-op at toy lengths); keyword
        overrides."""
        preset = {
            "beta": 1e-3,
            "dads": True,
            "stcr": True,
            "std_eps": 1e-9,
            "epsilon": 0.2,
            "loss_type": "bnpo",
            "scale_rewards": "group",
        }
        return cls(**{**preset, **overrides})


# --------------------------------------------------------------------------------------------
# pure functions: correctness, overlong shaping, DADS, STCR
# --------------------------------------------------------------------------------------------


def _check_tensor(name: str, x: object, *, dtype_ok: Any = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if dtype_ok is not None and not dtype_ok(x):
        raise ArgumentTypeError(f"{name} has the wrong dtype {x.dtype}")
    return x


def _check_group_axis(name: str, x: torch.Tensor) -> None:
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(
            f"{name} must have a group axis (..., G) with G >= 1; got {tuple(x.shape)}"
        )


def completion_correct(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    prompts: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """(N, B) bool: completion b of run n is in its prompt's tie set (the maximal set of the
    task's verifier, :meth:`SequenceTask.valid_table`), run n judged by its own task.

    This is the noiseless accuracy of DAPO's group filter (verl's ``acc``), of View-R1's
    correctness ``c_i`` and GHPO's "all accuracy rewards <= 0": reward noise, tie-break bonuses
    and length penalties do not change it. A completion outside the task's grammar is wrong.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
    prompts : Tensor (N, B, Tp) long
    tokens : Tensor (N, B, L) long
    mask : Tensor (N, B, L) bool
    """
    _check_tensor("prompts", prompts, dtype_ok=lambda t: t.dtype == torch.long)
    _check_tensor("tokens", tokens, dtype_ok=lambda t: t.dtype == torch.long)
    _check_tensor("mask", mask, dtype_ok=lambda t: t.dtype == torch.bool)
    if tokens.ndim != 3:
        raise ValueError(f"tokens must have shape (N, B, L); got {tuple(tokens.shape)}")
    if mask.shape != tokens.shape:
        raise ValueError(
            f"mask must have the shape of tokens {tuple(tokens.shape)}; got {tuple(mask.shape)}"
        )
    if prompts.ndim != 3 or prompts.shape[:2] != tokens.shape[:2]:
        raise ValueError(
            f"prompts must have shape {tuple(tokens.shape[:2])} + (Tp,); got {tuple(prompts.shape)}"
        )
    n = tokens.shape[0]
    if isinstance(task_or_tasks, SequenceTask):
        tasks = [task_or_tasks] * n
    elif isinstance(task_or_tasks, Sequence) and not isinstance(task_or_tasks, str | bytes):
        tasks = list(task_or_tasks)
        for i, t in enumerate(tasks):
            if not isinstance(t, SequenceTask):
                raise ArgumentTypeError(
                    f"task_or_tasks[{i}] must be a SequenceTask; got {type(t).__name__}"
                )
        if len(tasks) != n:
            raise ValueError(f"task_or_tasks must hold one task per run ({n}); got {len(tasks)}")
    else:
        raise ArgumentTypeError(
            "task_or_tasks must be a SequenceTask or a sequence of them; got "
            f"{type(task_or_tasks).__name__}"
        )
    first = tasks[0]
    if tokens.shape[-1] != first.completion_len or prompts.shape[-1] != first.prompt_len:
        raise ValueError(
            f"tokens must have shape (N, B, {first.completion_len}) and prompts (N, B, "
            f"{first.prompt_len}) for this task; got {tuple(tokens.shape)} and "
            f"{tuple(prompts.shape)}"
        )
    p, t, m = prompts.cpu(), tokens.cpu(), mask.cpu()
    valid0 = first._valid()
    if all(task._valid() is valid0 for task in tasks):  # one lookup for all runs
        groups = [(first, list(range(n)))]
    else:
        groups = [(task, [i]) for i, task in enumerate(tasks)]
    out = torch.zeros(tokens.shape[:2], dtype=torch.bool)
    for task, runs in groups:
        tp, tt, tm = (x[runs].reshape(-1, x.shape[-1]) for x in (p, t, m))
        pi = task._prompt_index(tp)
        ci = task._completion_index(tt, tm)
        hit = task._valid()[pi.clamp(min=0), ci.clamp(min=0)] & (pi >= 0) & (ci >= 0)
        out[runs] = hit.reshape(len(runs), -1)
    return out.to(tokens.device)


def overlong_reward(
    lengths: torch.Tensor,
    max_completion_length: int,
    buffer: int,
    penalty: float = 1.0,
) -> torch.Tensor:
    """DAPO's soft overlong punishment (Yu et al. 2025, §3.4; verl ``DAPORewardManager``):
    ``min(-(|y| - (L_max - L_buf)) / L_buf * penalty, 0)``.

    0 up to ``L_max - L_buf`` tokens, then linear down to ``-penalty`` at ``L_max``; added to
    the task reward. ``lengths`` (any shape) count the real tokens of each completion, EOS
    included (verl's ``valid_response_length``); returns float64 of their shape.

    Examples
    --------
    >>> overlong_reward(torch.tensor([3, 4, 5, 6]), 6, 2).tolist()
    [0.0, 0.0, -0.5, -1.0]
    """
    _check_tensor("lengths", lengths)
    lmax = check_int("max_completion_length", max_completion_length, lo=1)
    buf = check_int("buffer", buffer, lo=1)
    if buf > lmax:
        raise ValueError(f"buffer must be <= max_completion_length ({lmax}); got {buf}")
    penalty = check_positive("penalty", penalty)
    exceed = lengths.to(torch.float64) - (lmax - buf)
    return torch.clamp(-exceed / buf * penalty, max=0.0)


def _dads_f(d: torch.Tensor) -> torch.Tensor:
    """View-R1's ``calculate_kl_weight``: ``1 - exp(-e (1 - d))`` on (0, 1), 1 at 0 and 1."""
    inner = 1.0 - torch.exp(-math.e * (1.0 - d))
    return torch.where((d <= 0) | (d >= 1), torch.ones_like(d), inner)


def dads_weights(advantages: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
    """View-R1's DADS weights of the KL loss (Hong et al. 2025; reconstructed from
    ``calculate_kl_weight`` and ``ActorPPOTrainer.training_step`` of Indolent-Kawhi/View-R1:
    the paper body was not available).

    ``w_i = f(d)`` for a completion with ``A_i > 0``, else 1, with the group's difficulty
    ``d = 1 - mean_G c`` (the fraction wrong) and ``f(d) = 1 - exp(-e (1 - d))`` for
    ``0 < d < 1``, ``f(0) = f(1) = 1``. ``f`` is discontinuous at 0: ``f(0+) = 1 - e^-e``
    ``~ 0.934``. A positive sample of a hard prompt (``d -> 1``) keeps little KL.

    Parameters
    ----------
    advantages : Tensor (..., G) floating
    correct : Tensor (..., G) bool
        ``c_i`` (:func:`completion_correct`).

    Returns
    -------
    Tensor (..., G) float64

    Examples
    --------
    >>> a = torch.tensor([[1.0, -1.0, -1.0, -1.0]])
    >>> c = torch.tensor([[True, False, False, False]])
    >>> [round(w, 4) for w in dads_weights(a, c)[0].tolist()]  # d = 3/4
    [0.4932, 1.0, 1.0, 1.0]
    """
    _check_tensor("advantages", advantages, dtype_ok=lambda t: t.is_floating_point())
    _check_tensor("correct", correct, dtype_ok=lambda t: t.dtype == torch.bool)
    _check_group_axis("advantages", advantages)
    if correct.shape != advantages.shape:
        raise ValueError(
            f"correct must have the shape of advantages {tuple(advantages.shape)}; got "
            f"{tuple(correct.shape)}"
        )
    g = correct.shape[-1]
    d = (g - correct.sum(-1, keepdim=True)).to(torch.float64) / g  # exact k/G
    f = _dads_f(d).expand(correct.shape)
    return torch.where(advantages.detach().to(torch.float64) > 0, f, torch.ones_like(f))


def dads_kl_loss(
    logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """View-R1's weighted KL loss, one per run: ``mean_i(w_i * mean_t k3_{i,t})``.

    ``k3 = exp(l_ref - l) - (l_ref - l) - 1`` per token (OpenRLHF's ``compute_approx_kl``,
    ``kl_estimator="k3"``, without TRL's ratio), its token mean over each completion's real
    tokens (``mask``), weighted by ``weights`` (:func:`dads_weights`) and averaged over the
    completions that have real tokens (Hong et al. 2025; ``ActorPPOTrainer.training_step``
    of Indolent-Kawhi/View-R1). The trainer multiplies it by ``beta``.

    Parameters
    ----------
    logp, ref_logp : Tensor (*, B, L) floating
        Per-token log-probabilities under the policy (with grad) and the reference.
    mask : Tensor (*, B, L) bool
    weights : Tensor (*, B)

    Returns
    -------
    Tensor (*)
    """
    m = L._check_token_tensors(mask, logp=logp, ref_logp=ref_logp)
    _check_tensor("weights", weights)
    if tuple(weights.shape) != tuple(logp.shape[:-1]):
        raise ValueError(
            f"weights must have shape {tuple(logp.shape[:-1])} (one per completion); got "
            f"{tuple(weights.shape)}"
        )
    k3 = L.k3_kl(logp, ref_logp.detach())
    n_tok = m.sum(-1)
    per_seq = (k3 * m).sum(-1) / n_tok.clamp(min=1.0)
    rows = (n_tok > 0).to(m.dtype)
    w = weights.detach().to(m.dtype)
    return (w * per_seq * rows).sum(-1) / rows.sum(-1).clamp(min=1.0)


def stcr_factors(
    lengths: torch.Tensor, correct: torch.Tensor, base: float = 1.00001
) -> torch.Tensor:
    """View-R1's STCR factors ``1 + w_i`` of the advantages (Hong et al. 2025; reconstructed
    from ``compute_advantages_and_returns`` of Indolent-Kawhi/View-R1: the paper body was not
    available).

    ``Delta_i = (|y_i| - Lbar_+) (1 - c_i)`` with ``Lbar_+`` the mean length of the group's
    correct completions; ``w_i = 1 - base^(-Delta_i)`` for ``Delta_i > 0``, else 0; ``w = 0``
    for a group with no correct completion. The code's ``+ 1e-9`` in ``Lbar_+``'s denominator
    is left out (it only matters for a group without correct completions, where ``w = 0``).

    Parameters
    ----------
    lengths : Tensor (..., G)
        Completion lengths in tokens.
    correct : Tensor (..., G) bool
    base : float > 1
        The published ``1.00001`` gives ``w ~ 1e-5 Delta``.

    Returns
    -------
    Tensor (..., G) float64, in [1, 2).

    Examples
    --------
    >>> ln = torch.tensor([[2, 4, 3, 6]])
    >>> c = torch.tensor([[True, True, False, False]])  # Lbar_+ = 3: Delta = 0, 0, 0, 3
    >>> stcr_factors(ln, c, base=2.0).tolist()
    [[1.0, 1.0, 1.0, 1.875]]
    """
    _check_tensor("lengths", lengths)
    _check_tensor("correct", correct, dtype_ok=lambda t: t.dtype == torch.bool)
    _check_group_axis("lengths", lengths)
    if correct.shape != lengths.shape:
        raise ValueError(
            f"correct must have the shape of lengths {tuple(lengths.shape)}; got "
            f"{tuple(correct.shape)}"
        )
    base = check_real("base", base, lo=1.0, lo_open=True)
    ln = lengths.to(torch.float64)
    c = correct.to(torch.float64)
    n_ok = c.sum(-1, keepdim=True)
    mean_ok = (ln * c).sum(-1, keepdim=True) / n_ok.clamp(min=1.0)
    delta = (ln - mean_ok) * (1.0 - c)
    w = -torch.expm1(-delta.clamp(min=0.0) * math.log(base))  # 1 - base^(-Delta)
    w = torch.where((delta > 0) & (n_ok > 0), w, torch.zeros_like(w))
    return 1.0 + w


# --------------------------------------------------------------------------------------------
# one generation round (with DAPO's dynamic sampling)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Streams:
    """Each run's generators: training prompts (CPU), tokens (device), reward noise (CPU)."""

    prompts: list[torch.Generator]
    tokens: list[torch.Generator]
    noise: list[torch.Generator]

    @classmethod
    def of(cls, seeds: list[int], device: torch.device) -> _Streams:
        cpu = torch.device("cpu")
        return cls(
            C.generators(seeds, "prompts", cpu),
            C.generators(seeds, "tokens", device),
            C.generators(seeds, "noise", cpu),
        )

    def only(self, active: list[bool]) -> _Streams:
        """These streams for the active runs, throw-away generators for the others (whose
        draws are discarded), so an inactive run's own streams do not advance."""

        def mix(gens: list[torch.Generator]) -> list[torch.Generator]:
            return [
                g if a else torch.Generator(device=g.device)
                for g, a in zip(gens, active, strict=True)
            ]

        return _Streams(mix(self.prompts), mix(self.tokens), mix(self.noise))


@dataclass(frozen=True)
class _Round:
    """The training batch of one round: ``N`` runs x ``Bp`` groups x ``G`` completions."""

    prompts: torch.Tensor  # (N, B, Tp)
    comps: Completions  # (N, B, L)
    rewards: torch.Tensor  # (N, B) float64, the task's reward
    scores: torch.Tensor  # (N, B) float64, the reward after the overlong shaping
    correct: torch.Tensor | None  # (N, B) bool
    keep: torch.Tensor  # (N, Bp) bool, the groups that enter the loss
    first_reward: torch.Tensor  # (N,) mean reward of the first generation batch
    samples: torch.Tensor  # (N,) long, completions sampled this round
    gen_batches: torch.Tensor  # (N,) long, generation batches drawn this round

    @property
    def loss_mask(self) -> torch.Tensor:
        """(N, B, L) bool: the real tokens of the kept groups (the loss's tokens)."""
        rows = self.keep.repeat_interleave(self.comps.mask.shape[1] // self.keep.shape[1], dim=1)
        return self.comps.mask & rows[..., None]


def _shaped(cfg: GRPOConfig, rewards: torch.Tensor, mask: torch.Tensor, lmax: int) -> torch.Tensor:
    if cfg.overlong_buffer is None:
        return rewards
    shaping = overlong_reward(mask.sum(-1), lmax, cfg.overlong_buffer, cfg.overlong_penalty)
    return rewards + shaping.to(rewards.device)


def _draw(
    policy: nn.Module,
    tasks: list[SequenceTask],
    cfg: GRPOConfig,
    streams: _Streams,
    dev: torch.device,
    lmax: int,
    need_correct: bool,
) -> tuple[C.GroupRollout, torch.Tensor, torch.Tensor | None]:
    """One generation batch of every run: the rollout, the shaped scores, the correctness."""
    roll = C.group_rollout(
        policy,
        tasks,
        cfg.batch_prompts,
        cfg.num_generations,
        streams.prompts,
        streams.tokens,
        streams.noise,
        dev,
        temperature=cfg.temperature,
    )
    scores = _shaped(cfg, roll.rewards, roll.completions.mask, lmax)
    correct = None
    if need_correct:
        c = roll.completions
        correct = completion_correct(tasks, roll.prompts, c.tokens, c.mask)
    return roll, scores, correct


def _mixed_groups(
    cfg: GRPOConfig, scores: torch.Tensor, correct: torch.Tensor | None
) -> torch.Tensor:
    """(N, Bp) bool: the groups DAPO keeps, whose metric is not the same for all G."""
    n, g = scores.shape[0], cfg.num_generations
    if cfg.filter_metric == "accuracy":
        c = correct.reshape(n, -1, g)  # type: ignore[union-attr]
        return c.any(-1) & ~c.all(-1)
    s = scores.reshape(n, -1, g)
    return (s != s[..., :1]).any(-1)


def _round(
    policy: nn.Module,
    tasks: list[SequenceTask],
    cfg: GRPOConfig,
    streams: _Streams,
    dev: torch.device,
    lmax: int,
) -> _Round:
    """The round's batch: one generation batch, or DAPO's dynamic sampling (module notes)."""
    N, Bp, G = len(tasks), cfg.batch_prompts, cfg.num_generations
    need_correct = (
        cfg.dads or cfg.stcr or (cfg.dynamic_sampling and cfg.filter_metric == "accuracy")
    )
    roll, scores, correct = _draw(policy, tasks, cfg, streams, dev, lmax, need_correct)
    first_reward = roll.rewards.mean(-1)
    ones = torch.ones(N, dtype=torch.long)
    if not cfg.dynamic_sampling:
        keep = torch.ones(N, Bp, dtype=torch.bool, device=roll.rewards.device)
        c = roll.completions
        return _Round(
            roll.prompts, c, roll.rewards, scores, correct, keep, first_reward, ones * Bp * G, ones
        )

    # --- dynamic sampling [3, §3.2]: the mixed groups first, in draw order; the rest pad ---
    valid = _mixed_groups(cfg, scores, correct).cpu()
    order = torch.argsort((~valid).to(torch.int8), dim=1, stable=True)  # (N, Bp)
    rows = (order[..., None] * G + torch.arange(G)).reshape(N, Bp * G).to(dev)
    runs = torch.arange(N, device=dev)[:, None]
    c = roll.completions
    buf: dict[str, torch.Tensor] = {
        "prompts": roll.prompts[runs, rows],
        "tokens": c.tokens[runs, rows],
        "mask": c.mask[runs, rows],
        "logp": c.logp[runs, rows],
        "rewards": roll.rewards[runs, rows.to(roll.rewards.device)],
        "scores": scores[runs, rows.to(scores.device)],
    }
    if correct is not None:
        buf["correct"] = correct[runs, rows.to(correct.device)]
    filled = valid.sum(1)
    samples, batches = ones * Bp * G, ones.clone()
    n_batches = 1
    while bool((filled < Bp).any()) and n_batches < cfg.max_gen_batches:
        active = (filled < Bp).tolist()
        roll, scores, correct = _draw(
            policy, tasks, cfg, streams.only(active), dev, lmax, need_correct
        )
        c = roll.completions
        new = {
            "prompts": roll.prompts,
            "tokens": c.tokens,
            "mask": c.mask,
            "logp": c.logp,
            "rewards": roll.rewards,
            "scores": scores,
        }
        if correct is not None:
            new["correct"] = correct
        valid = _mixed_groups(cfg, scores, correct).cpu()
        for i in (filled < Bp).nonzero().flatten().tolist():
            take = valid[i].nonzero().flatten()[: Bp - int(filled[i])].tolist()
            if take:
                lo = int(filled[i])
                for key, x in new.items():
                    dst = buf[key][i].reshape(Bp, G, *x.shape[2:])
                    dst[lo : lo + len(take)] = x[i].reshape(Bp, G, *x.shape[2:])[take]
                filled[i] += len(take)
        act = torch.tensor(active)
        samples[act] += Bp * G
        batches[act] += 1
        n_batches += 1
    comps = Completions(buf["tokens"], buf["mask"], buf["logp"])
    keep = (torch.arange(Bp)[None, :] < filled[:, None]).to(dev)
    return _Round(
        buf["prompts"],
        comps,
        buf["rewards"],
        buf["scores"],
        buf.get("correct"),
        keep,
        first_reward,
        samples,
        batches,
    )


# --------------------------------------------------------------------------------------------
# the loss
# --------------------------------------------------------------------------------------------


def _advantages(scores: torch.Tensor, cfg: GRPOConfig) -> torch.Tensor:
    """Advantages (N, Bp, G) of the scores (N, Bp, G): group baseline, optional scaling."""
    adv = L.group_advantages(scores, scale=cfg.scale_rewards, eps=cfg.std_eps)  # type: ignore[arg-type]
    if cfg.baseline == "rloo":  # r_i - mean_{j != i} r_j = G/(G-1) (r_i - mean_G r)
        g = scores.shape[-1]
        adv = adv * (g / (g - 1))
    return adv


def _policy_loss(
    cfg: GRPOConfig,
    logp: torch.Tensor,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    adv: torch.Tensor,
    mask: torch.Tensor,
    entropy: torch.Tensor,
    lmax: int,
    kl_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One loss per run: TRL's clipped token loss with its k3 x ratio KL term [1] (or, with
    ``dads``, View-R1's weighted per-completion k3 mean [6]) and the entropy bonus, over the
    real tokens in ``mask``."""
    loss, stats = L.grpo_token_loss(
        logp,
        old_logp,
        ref_logp,
        adv.to(logp.dtype),
        mask,
        loss_type=cfg.loss_type,
        epsilon=cfg.epsilon,
        epsilon_high=cfg.epsilon_high,
        beta=0.0 if cfg.dads else cfg.beta,
        max_completion_length=lmax,
    )
    if cfg.dads:
        loss = loss + cfg.beta * dads_kl_loss(logp, ref_logp, mask, kl_weights)  # type: ignore[arg-type]
    if cfg.entropy_coef > 0:
        ent = L.aggregate_token_loss(entropy, mask, cfg.loss_type, max_completion_length=lmax)
        loss = loss - cfg.entropy_coef * ent
    return loss, stats


def _max_length(cfg: GRPOConfig, task: SequenceTask) -> int:
    """``L_max``: ``max_completion_length`` (checked against the task) or the task's length."""
    name = type(cfg).__name__
    lmax = cfg.max_completion_length
    if lmax is not None and lmax < task.completion_len:
        raise ValueError(
            f"{name}.max_completion_length must be >= the task's completion length "
            f"{task.completion_len}; got {lmax}"
        )
    lmax = task.completion_len if lmax is None else lmax
    if cfg.overlong_buffer is not None and cfg.overlong_buffer > lmax:
        raise ValueError(
            f"{name}.overlong_buffer must be <= the maximal completion length {lmax}; got "
            f"{cfg.overlong_buffer}"
        )
    return lmax


def _algorithm(cfg: GRPOConfig) -> str:
    """The result's short name: 'dapo' with dynamic sampling, 'apo_view_r1' with DADS or
    STCR, else 'grpo'."""
    if cfg.dynamic_sampling:
        return "dapo"
    return "apo_view_r1" if cfg.dads or cfg.stcr else "grpo"


def train_grpo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: GRPOConfig = GRPOConfig(),
    *,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) GRPO runs on a task (or one task per run) as one stacked model.

    Dr. GRPO, DAPO (ByteDance) and View-R1's APO are configurations of this trainer
    (:meth:`GRPOConfig.dr_grpo`, :meth:`GRPOConfig.dapo`, :meth:`GRPOConfig.apo_view_r1`).

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        One task for all runs, or one per run with the same prompts, vocabulary and grammar
        (a reward perturbation per run, e.g. an epsilon sweep, in one call).
    cfg : GRPOConfig
    seeds : sequence of int
        Run i initialises (default policy) and draws its prompts, tokens and reward noise from
        ``seeds[i]`` alone (dynamic sampling's re-draws too).
    policy : nn.Module, optional
        Trained in place. Default: ``TinyCausalLM(seeds=seeds)`` of the config's size. A module
        with ``n_runs`` is a stack of that many runs; any other module is one run (then
        ``seeds`` holds one seed).
    ref_policy : nn.Module, optional
        The frozen reference of ``beta`` and ``kl_in_reward`` (default: a copy of the initial
        policy).
    device : str or torch.device, optional
        Default: CUDA where present.
    callback : callable, optional
        ``callback(step, policy)`` after every logged round (:data:`trainers.sequence.common.Callback`).

    Returns
    -------
    SequenceRunResult
        Metrics per round (means over the runs): ``charts/reward`` (mean raw reward of the
        round's first generation batch, the unfiltered on-policy sample), ``charts/score``
        (the reward of the training batch's kept groups after overlong shaping and the KL
        penalty),
        ``losses/loss``, ``stats/kl`` (k3 to the reference, when it is computed),
        ``stats/entropy``, ``stats/tokens`` (mean completion length in the loss), clip
        ratios, ``stats/samples`` (cumulative completions sampled per run; ``stats/samples_max``
        the largest run's), and with dynamic sampling ``stats/redraws`` (generation batches
        beyond the first this round) and ``stats/kept_fraction`` (groups found / batch_prompts).
    """
    check_instance("cfg", cfg, GRPOConfig)
    if type(cfg) is not GRPOConfig:  # a subclass belongs to its own method's trainer
        raise ArgumentTypeError(
            f"cfg must be a GRPOConfig; got {type(cfg).__name__} (train it with its own trainer)"
        )
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    return _train_rounds(
        tasks, seeds, cfg, policy, ref_policy, device, callback, _round, _dynamic_row,
        _algorithm(cfg),
    )  # fmt: skip


def _dynamic_row(rnd: _Round, cfg: GRPOConfig) -> dict[str, torch.Tensor]:
    """DAPO's dynamic-sampling metrics of a round (none without it)."""
    if not cfg.dynamic_sampling:
        return {}
    return {
        "stats/redraws": (rnd.gen_batches - 1).double().mean(),
        "stats/kept_fraction": rnd.keep.double().mean(),
    }


def _train_rounds(
    tasks: list[SequenceTask],
    seeds: list[int],
    cfg: GRPOConfig,
    policy: nn.Module | None,
    ref_policy: nn.Module | None,
    device: str | torch.device | None,
    callback: C.Callback | None,
    draw: Any,
    extra_row: Any,
    algorithm: str,
) -> C.SequenceRunResult:
    """The GRPO training loop, shared with GHPO (:mod:`trainers.sequence.ghpo`).

    ``draw(policy, tasks, cfg, streams, dev, lmax)`` gives a round: ``prompts``, ``comps``,
    ``scores`` (N, B), ``keep`` (N, Bp), ``loss_mask`` (N, B, L), ``correct``,
    ``first_reward`` and ``samples``; ``extra_row(round, cfg)`` the method's own metrics.
    """
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    task = tasks[0]
    lmax = _max_length(cfg, task)
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    need_ref = cfg.beta > 0 or cfg.kl_in_reward > 0
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = C.make_optimizer(params, cfg.optimizer, cfg.lr)
    streams = _Streams.of(seeds, dev)
    N, Bp, G = len(seeds), cfg.batch_prompts, cfg.num_generations
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    samples = torch.zeros(N, dtype=torch.long)
    start = time.perf_counter()
    for step in range(cfg.steps):
        # --- rollout: Bp groups per run (DAPO: mixed groups, re-drawn [3, §3.2]) ---
        rnd = draw(policy, tasks, cfg, streams, dev, lmax)
        samples += rnd.samples
        prompts, comps = rnd.prompts, rnd.comps
        keep_rows = rnd.keep.repeat_interleave(G, dim=1)  # (N, B)
        mask = rnd.loss_mask  # the loss's tokens
        ref_logp = None
        if need_ref:
            with torch.no_grad():
                ref_logp = C.logprobs_runs(
                    ref, prompts, comps.tokens, comps.mask, task, temperature=cfg.temperature
                )
        scores = rnd.scores
        if cfg.kl_in_reward > 0:
            # --- sequence KL penalty in the reward: r - c sum_t (log pi_old - log pi_ref) ---
            log_ratio = ((comps.logp - ref_logp) * mask).sum(-1)  # type: ignore[operator]
            scores = scores - cfg.kl_in_reward * log_ratio.to(scores.dtype)
        # --- group advantages (GRPO [1, §4.1.2]; RLOO [4]; Dr. GRPO's "none" [2]) ---
        adv = _advantages(scores.reshape(N, Bp, G), cfg)
        if cfg.stcr:  # --- View-R1's STCR [6] ---
            lengths = comps.mask.sum(-1).reshape(N, Bp, G)
            correct = rnd.correct.reshape(N, Bp, G)  # type: ignore[union-attr]
            adv = adv * stcr_factors(lengths, correct, cfg.stcr_base).to(adv.dtype)
        adv = (adv.reshape(N, Bp * G) * keep_rows).to(adv.dtype)
        kl_weights = None
        if cfg.dads:  # --- View-R1's DADS [6] ---
            c = rnd.correct.reshape(N, Bp, G)  # type: ignore[union-attr]
            kl_weights = dads_weights(adv.reshape(N, Bp, G), c).reshape(N, Bp * G)
        old_logp = comps.logp if cfg.num_iterations > 1 else None
        for _ in range(cfg.num_iterations):
            logp, entropy = C.logprobs_runs(
                policy,
                prompts,
                comps.tokens,
                comps.mask,
                task,
                temperature=cfg.temperature,
                entropy=True,
            )
            loss, stats = _policy_loss(
                cfg, logp, old_logp, ref_logp, adv, mask, entropy, lmax, kl_weights
            )
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            C.clip_gradients(policy, cfg.max_grad_norm)
            opt.step()
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        spent = C.budget_spent(samples, cfg.sample_budget)
        if C.should_log(step + 1, cfg) or spent:
            row = {
                "charts/reward": rnd.first_reward.mean(),
                "charts/score": C.masked_mean(scores, keep_rows),
                "losses/loss": loss.detach().mean(),
                "stats/entropy": C.masked_mean(entropy.detach(), mask),
                "stats/tokens": n_tok / max(int(keep_rows.sum()), 1),
                "stats/clip_ratio": stats["clip_ratio/region_mean"],
                "stats/samples": samples.double().mean(),
                "stats/samples_max": samples.max(),
                **extra_row(rnd, cfg),
            }
            if ref_logp is not None:
                row["stats/kl"] = stats["kl"]
            log.log(step + 1, row)
            C.notify(callback, step + 1, policy)
        log.advance()
        if spent:
            break
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
