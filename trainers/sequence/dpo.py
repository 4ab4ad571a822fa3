"""DPO and IPO on completion pairs of a sequence task, N seeds at once; preference oracles.

A pair is ``(prompt, chosen, rejected)`` given as indices into ``task.prompts`` and
``task.completions()``. Given pairs are shared by all runs (or given per run); without them
each run draws its own from a Bradley-Terry oracle on its task's exact reward table
(:func:`bradley_terry_pairs`): a uniform training prompt, two distinct uniform completions
``a, b`` (redrawn while their rewards tie, by default) and the label
``P(a > b) = sigma(scale (r(a) - r(b)))`` (Bradley & Terry 1952; Rafailov et al. 2023, Eq. 1).

Each step takes ``batch_size`` pairs per run and minimises, with sequence log-probabilities
``l = sum_t log pi(y_t | x, y_<t)`` under the policy and the frozen reference,

- ``loss_type="sigmoid"``: ``-(1-e) log sigma(beta m) - e log sigma(-beta m)``,
  ``m = (l+ - l+_ref) - (l- - l-_ref)`` (Rafailov et al. 2023, Eq. 7;
  :func:`trainers.losses.dpo_loss`);
- ``loss_type="ipo"``: ``(m - 1/(2 beta))^2`` on log-probabilities averaged over each
  completion's tokens, as TRL's ``loss_type="ipo"`` (Azar et al. 2024, Eq. 17;
  :func:`trainers.losses.ipo_loss`).

General preferences (for the iterative methods of :mod:`trainers.sequence.iterative_po`):
:func:`preference_oracle` gives ``P(y > y' | x)`` for every pair of completions of a task,
either Bradley-Terry on the reward table or an *intransitive* variant with rock-paper-scissors
cycles inside each prompt's tie set (a construction of this toolkit, to exercise the Nash
view of general preferences of Munos et al. 2024 and Rosset et al. 2024), with the task's
label flips; :func:`preference_table` is its dense (P, M, M) table and
:func:`on_policy_pairs` labels two completions sampled from a policy per prompt.

References
----------
R. A. Bradley, M. E. Terry, "Rank Analysis of Incomplete Block Designs: I. The Method of Paired
Comparisons", Biometrika 39, 1952.
R. Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a Reward
Model", NeurIPS 2023, Eq. (1), (7).
M. G. Azar et al., "A General Theoretical Paradigm to Understand Learning from Human
Preferences", AISTATS 2024, Eq. (17).
R. Munos et al., "Nash Learning from Human Feedback", ICML 2024, arXiv:2312.00886 (general,
possibly intransitive preferences P(y > y' | x)).
C. Rosset et al., "Direct Nash Optimization: Teaching Language Models to Self-Improve with
General Preferences", arXiv:2404.03715, 2024.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_probability,
    check_seed,
)
from trainers import losses as L
from trainers.runtime import (
    FLAG,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    real,
    setup,
)
from trainers.sequence import common as C
from trainers.sequence.sampling import Completions
from trainers.sequence.tasks import SequenceTask

__all__ = [
    "ORACLES",
    "PreferenceOracle",
    "SequenceDPOConfig",
    "bradley_terry_pairs",
    "on_policy_pairs",
    "preference_oracle",
    "preference_table",
    "train_sequence_dpo",
]

Pairs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

#: The preference oracles of :func:`preference_oracle`.
ORACLES = ("bradley_terry", "intransitive")

#: Most classes (distinct (reward, cycle class) values) a class matrix is built for.
_MAX_CLASSES = 4096


@dataclass(frozen=True)
class SequenceDPOConfig(C.PolicyOptions):
    """Hyperparameters of :func:`train_sequence_dpo` (TRL's names and defaults where they
    apply)."""

    loss_type: str = "sigmoid"
    """'sigmoid' (DPO) or 'ipo'."""
    beta: float = 0.1
    """DPO temperature / IPO's tau (TRL default 0.1)."""
    label_smoothing: float = 0.0
    """Probability that a label is flipped (conservative DPO; 'sigmoid' only)."""
    steps: int = 200
    """Optimizer steps."""
    batch_size: int = 32
    """Pairs per run per step (drawn with replacement)."""
    n_pairs: int = 2048
    """Oracle pairs drawn per run when no pairs are given."""
    oracle_scale: float = 1.0
    """Bradley-Terry oracle: P(a > b) = sigmoid(oracle_scale (r(a) - r(b)))."""
    oracle_drop_ties: bool = True
    """The oracle redraws pairs of equal reward (their labels are coin flips)."""
    lr: float = 1e-3
    """Learning rate."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "loss_type": one_of("sigmoid", "ipo"),
                "beta": POSITIVE,
                "label_smoothing": real(0.0, 0.5, hi_open=True),
                "steps": POSITIVE_INT,
                "batch_size": POSITIVE_INT,
                "n_pairs": POSITIVE_INT,
                "oracle_scale": POSITIVE,
                "oracle_drop_ties": FLAG,
                "lr": POSITIVE,
                **C.POLICY_OPTION_RULES,
            },
        )
        if self.label_smoothing > 0 and self.loss_type != "sigmoid":
            raise ValueError(
                "SequenceDPOConfig.label_smoothing applies to loss_type='sigmoid' only; got "
                f"loss_type={self.loss_type!r}"
            )


def bradley_terry_pairs(
    task: SequenceTask, n: int, *, seed: int = 0, scale: float = 1.0, drop_ties: bool = True
) -> Pairs:
    """``n`` preference pairs from a Bradley-Terry oracle on ``task``'s exact reward table.

    A uniform training prompt, two distinct uniform completions ``a != b`` of
    ``task.completions()`` and the label ``P(a preferred) = sigmoid(scale (r(a) - r(b)))``
    (Bradley & Terry 1952). With ``drop_ties`` the pair is redrawn until ``r(a) != r(b)``
    (prompts whose completions all have one reward give no pair); a tied pair's label is a
    coin flip that carries no preference. A task with ``label_flip = q``
    (:func:`trainers.sequence.tasks.label_flips`) reports each label flipped with probability
    ``q``. Returns ``(prompt, chosen, rejected)`` long tensors
    (n,), indices into ``task.prompts`` and ``task.completions()``.
    """
    check_instance("task", task, SequenceTask)
    n = check_positive_int("n", n)
    seed = check_seed(seed)
    scale = check_positive("scale", scale)
    drop_ties = check_bool("drop_ties", drop_ties)
    table = task.reward_table()
    M = table.shape[1]
    if M < 2:
        raise ValueError(f"task must have at least two completions to compare; got {M}")
    ids = task.train_prompt_ids
    if drop_ties:
        ids = ids[table[ids].amax(-1) > table[ids].amin(-1)]
        if ids.numel() == 0:
            raise ValueError(
                "task gives every completion of each training prompt one reward: with "
                "drop_ties=True there is no pair to compare"
            )
    g = torch.Generator().manual_seed(seed)
    p = ids[torch.randint(ids.numel(), (n,), generator=g)]
    a = torch.randint(M, (n,), generator=g)
    b = (a + torch.randint(1, M, (n,), generator=g)) % M
    while drop_ties:  # redraw the tied pairs (each round keeps a fixed fraction of them)
        tied = (table[p, a] == table[p, b]).nonzero().flatten()
        if tied.numel() == 0:
            break
        a[tied] = torch.randint(M, (tied.numel(),), generator=g)
        b[tied] = (a[tied] + torch.randint(1, M, (tied.numel(),), generator=g)) % M
    prob = torch.sigmoid(scale * (table[p, a] - table[p, b]))
    q = task.label_flip  # the oracle's label noise (trainers.sequence.tasks.label_flips)
    prob = (1 - q) * prob + q * (1 - prob)
    win = torch.rand(n, generator=g, dtype=torch.float64) < prob
    return p, torch.where(win, a, b), torch.where(win, b, a)


# --------------------------------------------------------------------------------------------
# general preference oracles
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PreferenceOracle:
    """``P(y > y' | x)`` for every pair of completions of a task (build it with
    :func:`preference_oracle`).

    The probability depends on a completion only through its *class*: its exact reward and,
    for the intransitive oracle, its cycle class in the prompt's tie set. With
    ``d = r(y) - r(y')`` and ``B = sigmoid(scale d)`` (Bradley & Terry 1952):

    - ``kind="bradley_terry"``: ``P(y > y' | x) = B``;
    - ``kind="intransitive"``: the tie set of each prompt (:meth:`SequenceTask.valid_table`)
      is cut into three cycle classes, the ``k``-th tied completion in the order of
      ``task.completions()`` getting class ``k mod 3``; for two tied completions of classes
      ``c, c'``, ``P = (1 - strength) B + strength R(c, c')`` with the rock-paper-scissors
      ``R = 1`` if ``c' = c + 1 (mod 3)``, ``0`` if ``c = c' + 1 (mod 3)``, ``1/2`` if
      ``c = c'``; any other pair gets ``B``. A prompt with three or more tied completions then
      has a preference cycle (class 0 beats 1 beats 2 beats 0) and no Condorcet winner; with
      ``strength = 1`` and equal rewards in the tie set, the Nash equilibrium of the tie set
      puts mass 1/3 on each class (Munos et al. 2024). Two tied completions give no cycle.
      This construction is this toolkit's, not a paper's.

    The oracle *reports* the opposite with probability ``label_flip`` (the task's
    :func:`trainers.sequence.tasks.label_flips`): ``P_q = (1 - q) P + q (1 - P)``, used where
    ``flips=True``. Every table satisfies ``P(y > y') + P(y' > y) = 1`` and
    ``P(y > y) = 1/2``.

    Attributes
    ----------
    kind : str
    scale, strength, label_flip : float
    classes : Tensor (P, M) long
        The class of every completion for every prompt, in ``[0, K)``.
    class_reward : Tensor (K,) float64
        The exact reward of each class.
    class_cycle : Tensor (K,) long
        The cycle class (0, 1, 2) of each class, -1 outside the tie sets (always -1 for
        Bradley-Terry).
    """

    kind: str
    scale: float
    strength: float
    label_flip: float
    classes: torch.Tensor
    class_reward: torch.Tensor
    class_cycle: torch.Tensor

    @property
    def n_prompts(self) -> int:
        return self.classes.shape[0]

    @property
    def n_completions(self) -> int:
        return self.classes.shape[1]

    @property
    def n_classes(self) -> int:
        return self.class_reward.numel()

    def _pref(self, ca: torch.Tensor, cb: torch.Tensor, flips: bool) -> torch.Tensor:
        """P(class ca > class cb), elementwise (float64)."""
        ra, rb = self.class_reward[ca], self.class_reward[cb]
        p = torch.sigmoid(self.scale * (ra - rb))
        if self.kind == "intransitive":
            za, zb = self.class_cycle[ca], self.class_cycle[cb]
            d = (zb - za) % 3  # 1: a beats b; 2: b beats a; 0: same class
            rps = torch.where(
                d == 1,
                torch.ones_like(p),
                torch.where(d == 2, torch.zeros_like(p), torch.full_like(p, 0.5)),
            )
            both = (za >= 0) & (zb >= 0)
            p = torch.where(both, (1 - self.strength) * p + self.strength * rps, p)
        if flips and self.label_flip > 0:
            q = self.label_flip
            p = (1 - q) * p + q * (1 - p)
        return p

    def matrix(self, *, flips: bool = True) -> torch.Tensor:
        """(K, K) float64: ``P(class i > class j)``; ``flips`` mixes in the label flips."""
        flips = check_bool("flips", flips)
        K = self.n_classes
        if K > _MAX_CLASSES:
            raise ValueError(
                f"the oracle has {K} classes (distinct rewards); a class matrix is built for at "
                f"most {_MAX_CLASSES}: use prob() on the pairs you need"
            )
        idx = torch.arange(K)
        return self._pref(idx[:, None], idx[None, :], flips)

    def prob(self, prompts: object, a: object, b: object, *, flips: bool = True) -> torch.Tensor:
        """``P(a > b | prompt)`` elementwise: prompt indices into ``task.prompts`` and
        completion indices into ``task.completions()`` (integer arrays that broadcast);
        float64 of the broadcast shape."""
        flips = check_bool("flips", flips)
        p = self._index("prompts", prompts, self.n_prompts)
        ia = self._index("a", a, self.n_completions)
        ib = self._index("b", b, self.n_completions)
        try:
            p, ia, ib = torch.broadcast_tensors(p, ia, ib)
        except RuntimeError as e:
            raise ValueError(
                f"prompts, a and b must broadcast; got shapes {tuple(p.shape)}, "
                f"{tuple(ia.shape)}, {tuple(ib.shape)}"
            ) from e
        return self._pref(self.classes[p, ia], self.classes[p, ib], flips)

    def dense(self, *, flips: bool = True, max_entries: int = 10**7) -> torch.Tensor:
        """(P, M, M) float64: ``P(y_a > y_b | x_p)`` for every prompt and pair (refused when
        ``P M^2 > max_entries``)."""
        flips = check_bool("flips", flips)
        max_entries = check_positive_int("max_entries", max_entries)
        P, M = self.classes.shape
        if P * M * M > max_entries:
            raise ValueError(
                f"the dense table has P M^2 = {P * M * M} entries, more than max_entries="
                f"{max_entries}"
            )
        c = self.classes
        return self._pref(c[:, :, None], c[:, None, :], flips)

    def class_masses(self, logp: object) -> torch.Tensor:
        """(*, P, K) float64: the probability of each class under ``exp(logp)`` (*, P, M)."""
        return self._masses("logp", logp)

    def _masses(self, name: str, logp: object) -> torch.Tensor:
        lp = self._logp(name, logp)
        probs = lp.double().exp()
        idx = self.classes.to(probs.device).expand(*probs.shape)
        out = torch.zeros(
            *probs.shape[:-1], self.n_classes, dtype=torch.float64, device=probs.device
        )
        return out.scatter_add_(-1, idx, probs)

    def expected_win(self, logp: object, *, flips: bool = True) -> torch.Tensor:
        """(*, P, M) float64: ``r(x, y) = E_{y' ~ pi(.|x)} P(y > y' | x)``, the win rate of
        each completion against the policy ``pi = exp(logp)`` (*, P, M) (the "reward" of
        Rosset et al. 2024, Algorithm 1), exact by enumeration over the classes."""
        mass = self.class_masses(logp)  # (*, P, K)
        table = self.matrix(flips=flips).to(mass.device)  # (K, K)
        per_class = mass @ table.T  # (*, P, K): sum_c' P(c > c') mass(c')
        idx = self.classes.to(mass.device).expand(*mass.shape[:-1], self.n_completions)
        return per_class.gather(-1, idx)

    def win_rate(self, logp: object, other_logp: object, *, flips: bool = False) -> torch.Tensor:
        """(*, P) float64: ``P(pi > pi' | x) = sum_{y, y'} pi(y|x) pi'(y'|x) P(y > y' | x)`` of
        the policy ``exp(logp)`` against ``exp(other_logp)`` (each (*, P, M)), exact; 1/2 when
        the two are equal. ``flips=False`` (default) measures under the clean preference."""
        a = self._masses("logp", logp)
        b = self._masses("other_logp", other_logp)
        table = self.matrix(flips=flips).to(a.device)
        return ((a @ table) * b).sum(-1)

    def _index(self, name: str, x: object, hi: int) -> torch.Tensor:
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise ArgumentTypeError(f"{name} must hold integer indices; got dtype {t.dtype}")
        t = t.long().cpu()
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= hi):
            raise ValueError(f"{name} must lie in [0, {hi}); got [{int(t.min())}, {int(t.max())}]")
        return t

    def _logp(self, name: str, logp: object) -> torch.Tensor:
        if not isinstance(logp, torch.Tensor) or not logp.is_floating_point():
            raise ArgumentTypeError(f"{name} must be a floating torch.Tensor (*, P, M)")
        if logp.ndim < 2 or tuple(logp.shape[-2:]) != tuple(self.classes.shape):
            raise ValueError(
                f"{name} must have shape (*, P, M) = (*, {self.n_prompts}, "
                f"{self.n_completions}); got {tuple(logp.shape)}"
            )
        if bool(torch.isnan(logp).any()) or bool((logp == float("inf")).any()):
            raise ValueError(f"{name} must hold log-probabilities (no NaN, no +inf)")
        return logp


def preference_oracle(
    task: SequenceTask,
    kind: str = "bradley_terry",
    *,
    scale: float = 1.0,
    strength: float = 1.0,
) -> PreferenceOracle:
    """The general preference oracle ``P(y > y' | x)`` of ``task`` (see
    :class:`PreferenceOracle`).

    Parameters
    ----------
    task : SequenceTask
        Its exact reward table, tie sets and ``label_flip``.
    kind : {"bradley_terry", "intransitive"}
    scale : float
        Bradley-Terry inverse temperature (> 0): ``sigmoid(scale (r(y) - r(y')))``.
    strength : float
        Weight in [0, 1] of the rock-paper-scissors cycle among tied completions
        (``"intransitive"`` only; 0 gives Bradley-Terry back).
    """
    check_instance("task", task, SequenceTask)
    kind = check_choice("kind", kind, ORACLES)
    scale = check_positive("scale", scale)
    strength = check_probability("strength", strength)
    rewards = task.reward_table()  # (P, M) float64
    if kind == "intransitive":
        valid = task.valid_table()
        rank = valid.long().cumsum(-1) - 1
        cycle = torch.where(valid, rank % 3, torch.full_like(rank, -1))
    else:
        cycle = torch.full(rewards.shape, -1, dtype=torch.long)
    keys = torch.stack([rewards.flatten(), cycle.flatten().double()], dim=-1)
    uniq, inverse = torch.unique(keys, dim=0, return_inverse=True)
    return PreferenceOracle(
        kind=kind,
        scale=scale,
        strength=strength,
        label_flip=float(task.label_flip),
        classes=inverse.reshape(rewards.shape),
        class_reward=uniq[:, 0].contiguous(),
        class_cycle=uniq[:, 1].long(),
    )


def preference_table(
    task: SequenceTask,
    kind: str = "bradley_terry",
    *,
    scale: float = 1.0,
    strength: float = 1.0,
    flips: bool = True,
    max_entries: int = 10**7,
) -> torch.Tensor:
    """(P, M, M) float64: ``P(y_a > y_b | x_p)`` of :func:`preference_oracle` for every prompt
    and pair of completions of ``task`` (with its label flips unless ``flips=False``);
    refused when ``P M^2 > max_entries``.

    Examples
    --------
    The three tied answers of "two digits summing to 2" beat each other in a cycle:

    >>> from trainers.sequence import tied_digit_sum
    >>> task = tied_digit_sum(n_digits=2, max_digit=2, sums=(2,))
    >>> tab = preference_table(task, "intransitive")
    >>> a, b, c = task.valid_table()[0].nonzero().flatten().tolist()
    >>> task.decode(task.completions()[0][[a, b, c]])
    ['0 2 A=2 <eos>', '1 1 A=2 <eos>', '2 0 A=2 <eos>']
    >>> tab[0, a, b].item(), tab[0, b, c].item(), tab[0, c, a].item()
    (1.0, 1.0, 1.0)
    """
    oracle = preference_oracle(task, kind, scale=scale, strength=strength)
    return oracle.dense(flips=flips, max_entries=max_entries)


def _oracles(
    tasks: list[SequenceTask], kind: str, scale: float, strength: float
) -> list[PreferenceOracle]:
    """One oracle per run (built once per distinct task object)."""
    built: dict[int, PreferenceOracle] = {}
    out = []
    for t in tasks:
        if id(t) not in built:
            built[id(t)] = preference_oracle(t, kind, scale=scale, strength=strength)
        out.append(built[id(t)])
    return out


# --------------------------------------------------------------------------------------------
# on-policy samples and their labels
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidates:
    """``k`` completions sampled per drawn prompt: prompt indices (N, B), completion indices
    (N, B, k) (CPU), and the prompts (N, B k, Tp) and completions (N, B k, L) on the device
    (prompt j's k samples are rows j k .. j k + k - 1)."""

    prompt_idx: torch.Tensor
    comp_idx: torch.Tensor
    prompts: torch.Tensor
    completions: Completions


def _sample_candidates(
    policy: nn.Module,
    tasks: list[SequenceTask],
    n_prompts: int,
    k: int,
    prompt_gens: list[torch.Generator],
    token_gens: list[torch.Generator],
    device: torch.device,
    *,
    prompt_idx: torch.Tensor | None = None,
) -> _Candidates:
    """``n_prompts`` training prompts per run (run i among ``tasks[i]``'s), ``k`` completions
    of each from ``policy`` (run i's tokens from ``token_gens[i]``); ``prompt_idx`` (N, B)
    replaces the prompt draw."""
    task = tasks[0]
    idx = C.draw_prompts(tasks, n_prompts, prompt_gens) if prompt_idx is None else prompt_idx
    prompts = C.as_batch(task, idx.repeat_interleave(k, dim=1), device)
    comps = C.sample_runs(policy, prompts, task, token_gens)
    n, length = comps.tokens.shape[0], comps.tokens.shape[-1]
    comp = task._completion_index(
        comps.tokens.reshape(-1, length).cpu(), comps.mask.reshape(-1, length).cpu()
    )
    if bool((comp < 0).any()):  # the sampler obeys the grammar, so this is a bug
        raise RuntimeError("sampled a completion that task.completions() does not list")
    return _Candidates(idx, comp.reshape(n, idx.shape[1], k), prompts, comps)


def _label_pairs(
    oracles: list[PreferenceOracle],
    cand: _Candidates,
    oracle_gens: list[torch.Generator],
    drop_ties: bool,
) -> list[Pairs]:
    """Pairs (prompt, chosen, rejected) per run from the two samples of each prompt, each
    labelled by one verdict drawn from the oracle (label flips included; one uniform per
    pair from run i's ``oracle_gens[i]``, drawn before any pair is dropped). Pairs of one
    completion twice are dropped, and, with ``drop_ties``, the pairs the clean oracle rates
    1/2 (equal rewards under Bradley-Terry: a coin-flip label that carries no preference)."""
    out = []
    for i, (oracle, g) in enumerate(zip(oracles, oracle_gens, strict=True)):
        p, a, b = cand.prompt_idx[i], cand.comp_idx[i, :, 0], cand.comp_idx[i, :, 1]
        u = torch.rand(p.numel(), generator=g, dtype=torch.float64)
        win = u < oracle.prob(p, a, b)
        keep = a != b
        if drop_ties:
            keep &= oracle.prob(p, a, b, flips=False) != 0.5
        chosen, rejected = torch.where(win, a, b), torch.where(win, b, a)
        out.append((p[keep], chosen[keep], rejected[keep]))
    return out


def _policy_device(policy: nn.Module) -> torch.device:
    p = next(policy.parameters(), None)
    return torch.device("cpu") if p is None else p.device


def on_policy_pairs(
    policy: nn.Module,
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    n_prompts: int,
    *,
    seeds: Sequence[int] = (0,),
    oracle: str = "bradley_terry",
    scale: float = 1.0,
    strength: float = 1.0,
    drop_ties: bool = True,
) -> list[Pairs]:
    """Preference pairs sampled from ``policy`` itself: the data of one round of iterative DPO.

    Run i draws ``n_prompts`` training prompts of its task (uniform, with replacement), samples
    two completions of each from its policy (temperature 1) and asks the oracle
    (:func:`preference_oracle` on its task, ``oracle``, ``scale``, ``strength``, with the
    task's label flips) for one verdict: ``a`` is chosen with probability
    ``P_q(a > b | x)``. Pairs of one completion twice are dropped, and with ``drop_ties`` those
    the clean oracle rates exactly 1/2. Run i's draws come from generators seeded by
    ``seeds[i]`` alone (streams ``prompts``, ``tokens``, ``oracle``), so a run's pairs do not
    depend on the runs stacked with it.

    Returns
    -------
    list of N (prompt, chosen, rejected)
        Long tensors (n_i,), ``n_i <= n_prompts`` (possibly 0), indices into ``task.prompts``
        and ``task.completions()``: the per-run ``pairs`` of :func:`train_sequence_dpo`.
    """
    if not isinstance(policy, nn.Module):
        raise ArgumentTypeError(f"policy must be an nn.Module; got {type(policy).__name__}")
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    n_prompts = check_positive_int("n_prompts", n_prompts)
    drop_ties = check_bool("drop_ties", drop_ties)
    oracle = check_choice("oracle", oracle, ORACLES)
    oracles = _oracles(tasks, oracle, scale, strength)
    dev = _policy_device(policy)
    cand = _sample_candidates(
        policy,
        tasks,
        n_prompts,
        2,
        C.generators(seeds, "prompts", torch.device("cpu")),
        C.generators(seeds, "tokens", dev),
        dev,
    )
    return _label_pairs(
        oracles, cand, C.generators(seeds, "oracle", torch.device("cpu")), drop_ties
    )


def _check_pairs(
    pairs: object, n_prompts: int, n_completions: int, *, name: str = "pairs"
) -> Pairs:
    """``pairs`` as three checked long tensors (prompt, chosen, rejected) of one length."""
    if not isinstance(pairs, tuple | list) or len(pairs) != 3:
        raise ArgumentTypeError(
            f"{name} must be a tuple (prompt, chosen, rejected) of three integer arrays; got "
            f"{type(pairs).__name__}"
        )
    out = []
    for part, x, hi in zip(
        ("prompt", "chosen", "rejected"),
        pairs,
        (n_prompts, n_completions, n_completions),
        strict=True,
    ):
        arr = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        if arr.is_floating_point() or arr.is_complex() or arr.dtype == torch.bool:
            raise ArgumentTypeError(f"{name} ({part}) must be integers; got dtype {arr.dtype}")
        if arr.ndim != 1 or arr.numel() == 0:
            raise ValueError(
                f"{name} ({part}) must be a non-empty 1-d array; got {tuple(arr.shape)}"
            )
        if int(arr.min()) < 0 or int(arr.max()) >= hi:
            raise ValueError(
                f"{name} ({part}) must lie in [0, {hi}); got [{int(arr.min())}, {int(arr.max())}]"
            )
        out.append(arr.long().cpu())
    p, w, lo = out
    if not p.shape == w.shape == lo.shape:
        raise ValueError(
            f"{name} must be three equal-length arrays; got {p.numel()}, {w.numel()}, {lo.numel()}"
        )
    if bool((w == lo).any()):
        k = int((w == lo).nonzero()[0, 0])
        raise ValueError(f"{name}: pair {k} has chosen == rejected == {int(w[k])}")
    return p, w, lo


def _run_pairs(pairs: object, n_runs: int, n_prompts: int, n_completions: int) -> list[Pairs]:
    """``pairs`` shared by the runs (one (prompt, chosen, rejected) tuple) or a list of one
    such tuple per run, checked; a list of N per-run tuples."""
    if isinstance(pairs, list) and pairs and all(isinstance(x, tuple) for x in pairs):
        if len(pairs) != n_runs:
            raise ValueError(
                f"pairs given per run must hold one (prompt, chosen, rejected) tuple per run "
                f"({n_runs}); got {len(pairs)}"
            )
        return [
            _check_pairs(x, n_prompts, n_completions, name=f"pairs[{i}]")
            for i, x in enumerate(pairs)
        ]
    return [_check_pairs(pairs, n_prompts, n_completions)] * n_runs


def _dpo_step(
    policy: nn.Module,
    ref: nn.Module,
    task: SequenceTask,
    comp_tokens: torch.Tensor,
    comp_mask: torch.Tensor,
    run_pairs: list[Pairs],
    gens: list[torch.Generator],
    opt: torch.optim.Optimizer,
    *,
    batch_size: int,
    beta: float,
    loss_type: str,
    label_smoothing: float,
    max_grad_norm: float | None,
    device: torch.device,
    soft: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, int]:
    """One optimizer step of DPO (or IPO) on ``batch_size`` pairs per run, drawn with
    replacement from the run's pairs with its generator ``gens[i]``.

    ``soft`` (one float64 tensor per run, aligned with its pairs) replaces the label smoothing
    by a per-pair probability that the label is flipped: the loss becomes the cross-entropy
    with the soft label ``1 - soft``. A run without pairs draws nothing and gets loss 0 (no
    gradient). Returns the loss per run (N,), the DPO statistics, the mean token entropy of
    the batch and its number of real tokens.
    """
    K = batch_size
    sizes = [rp[0].numel() for rp in run_pairs]
    rows = [
        torch.randint(n, (K,), generator=g) if n > 0 else torch.zeros(K, dtype=torch.long)
        for n, g in zip(sizes, gens, strict=True)
    ]
    # a run without pairs compares completion 0 of prompt 0 with itself, with weight 0
    empty: Pairs = (torch.zeros(1, dtype=torch.long),) * 3
    use = [rp if n > 0 else empty for rp, n in zip(run_pairs, sizes, strict=True)]
    p_idx = torch.stack([rp[0][r] for rp, r in zip(use, rows, strict=True)])
    c_idx = torch.stack([torch.cat([rp[1][r], rp[2][r]]) for rp, r in zip(use, rows, strict=True)])
    prompts = C.as_batch(task, torch.cat([p_idx, p_idx], dim=1), device)
    tokens, mask = comp_tokens[c_idx].to(device), comp_mask[c_idx].to(device)
    logp, entropy = C.logprobs_runs(policy, prompts, tokens, mask, task, entropy=True)
    with torch.no_grad():
        ref_logp = C.logprobs_runs(ref, prompts, tokens, mask, task)
    seq, ref_seq = logp.sum(-1), ref_logp.sum(-1)
    if loss_type == "ipo":  # TRL averages the log-probs over each completion's tokens
        n = mask.sum(-1).clamp(min=1).to(seq.dtype)
        seq, ref_seq = seq / n, ref_seq / n
        per_pair, stats = L.ipo_loss(seq[:, :K], seq[:, K:], ref_seq[:, :K], ref_seq[:, K:], beta)
    else:
        smoothing: float | torch.Tensor = label_smoothing
        if soft is not None:
            smoothing = torch.stack(
                [
                    s[r] if n > 0 else torch.full((K,), 0.5, dtype=torch.float64)
                    for s, r, n in zip(soft, rows, sizes, strict=True)
                ]
            ).to(device=device, dtype=seq.dtype)
        per_pair, stats = L.dpo_loss(
            seq[:, :K],
            seq[:, K:],
            ref_seq[:, :K],
            ref_seq[:, K:],
            beta,
            label_smoothing=smoothing,
        )
    loss = per_pair.mean(-1)  # (N,)
    if min(sizes) == 0:
        has = torch.tensor([n > 0 for n in sizes], device=device, dtype=loss.dtype)
        loss = loss * has
    opt.zero_grad(set_to_none=True)
    loss.sum().backward()
    C.clip_gradients(policy, max_grad_norm)
    opt.step()
    return loss.detach(), stats, C.masked_mean(entropy.detach(), mask), int(mask.sum())


def train_sequence_dpo(
    task_or_tasks: SequenceTask | Sequence[SequenceTask],
    cfg: SequenceDPOConfig = SequenceDPOConfig(),
    *,
    pairs: Pairs | list[Pairs] | None = None,
    seeds: Sequence[int] = (0,),
    policy: nn.Module | None = None,
    ref_policy: nn.Module | None = None,
    device: str | torch.device | None = None,
    callback: C.Callback | None = None,
) -> C.SequenceRunResult:
    """Train N = len(seeds) DPO (or IPO) runs on completion pairs as one stacked model.

    Parameters
    ----------
    task_or_tasks : SequenceTask or sequence of N SequenceTask
        As in :func:`trainers.sequence.grpo.train_grpo`; without ``pairs`` each run's oracle
        uses its own task's reward table.
    cfg : SequenceDPOConfig
    pairs : (prompt, chosen, rejected), or a list of N such tuples, optional
        Integer arrays of one length: prompt indices into ``task.prompts`` and two distinct
        completion indices into ``task.completions()``. One tuple is shared by all runs; a
        list holds one tuple per run (e.g. from :func:`on_policy_pairs`). Default:
        :func:`bradley_terry_pairs` on each run's task (``cfg.n_pairs``,
        ``cfg.oracle_scale``, ``cfg.oracle_drop_ties``), seeded by the run's seed.
    seeds, policy, ref_policy, device, callback
        As in :func:`trainers.sequence.grpo.train_grpo`.

    Returns
    -------
    SequenceRunResult
        Metrics per step: ``losses/loss``, TRL's ``rewards/chosen``, ``rewards/rejected``,
        ``rewards/margins``, ``rewards/accuracies``, ``stats/entropy`` (mean token entropy of
        the batch), ``stats/tokens``.
    """
    check_instance("cfg", cfg, SequenceDPOConfig)
    tasks, seeds = C.resolve_runs(task_or_tasks, seeds, policy)
    callback = C.check_callback(callback)
    C.check_ref_policy(ref_policy)
    task = tasks[0]
    comp_tokens, comp_mask = task.completions()
    if pairs is not None:
        run_pairs = _run_pairs(pairs, len(seeds), task.n_prompts, comp_tokens.shape[0])
    else:
        pair_seeds = C.stream_seeds(seeds, "oracle")
        run_pairs = [
            bradley_terry_pairs(
                t, cfg.n_pairs, seed=s, scale=cfg.oracle_scale, drop_ties=cfg.oracle_drop_ties
            )
            for t, s in zip(tasks, pair_seeds, strict=True)
        ]
    dev = setup(seeds[0], device)
    policy = C.build_policy(task, seeds, policy, cfg, dev)
    ref = C.frozen_copy(policy) if ref_policy is None else ref_policy.to(dev)
    opt = C.make_optimizer(
        [p for p in policy.parameters() if p.requires_grad], cfg.optimizer, cfg.lr
    )
    gens = C.generators(seeds, "pairs", torch.device("cpu"))
    log = MetricsLog(cfg.steps, progress=cfg.progress)
    tokens_seen = 0
    start = time.perf_counter()
    for step in range(cfg.steps):
        # --- a batch of K pairs per run; chosen and rejected in one forward (N, 2K, L) ---
        loss, stats, entropy, n_tok = _dpo_step(
            policy,
            ref,
            task,
            comp_tokens,
            comp_mask,
            run_pairs,
            gens,
            opt,
            batch_size=cfg.batch_size,
            beta=cfg.beta,
            loss_type=cfg.loss_type,
            label_smoothing=cfg.label_smoothing,
            max_grad_norm=cfg.max_grad_norm,
            device=dev,
        )
        tokens_seen += n_tok
        if C.should_log(step + 1, cfg):
            log.log(
                step + 1,
                {
                    "losses/loss": loss.mean(),
                    **stats,
                    "stats/entropy": entropy,
                    "stats/tokens": n_tok / (len(seeds) * 2 * cfg.batch_size),
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
        algorithm="dpo",
    )
