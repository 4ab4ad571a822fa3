"""Verifiable sequence tasks whose correct answers tie, with exact reward tables and perturbations.

A :class:`SequenceTask` is a set of prompts, a per-position grammar ``allowed`` (L, V), an
EOS/pad convention and a verifiable reward ``reward_fn(prompts, tokens, mask) -> (B,)``. Its
completions are few enough to enumerate (:func:`trainers.sequence.exact.enumerate_completions`),
so the reward of every (prompt, completion) pair is an exact (P, M) table
(:meth:`SequenceTask.reward_table`) and the *tie sets*, the completions the verifier rewards
maximally, are an exact (P, M) bool table (:meth:`SequenceTask.valid_table`). In the language
model case of Xu (2025, §3.1) actions are tokens and a completion is a path through a
deterministic MDP; a task with many equally valid answers is the situation of Prop 2.9/2.10,
where the optimal set is not a singleton and the reward-to-policy map is discontinuous.

Tasks
-----
- :func:`tied_digit_sum`: write ``n_digits`` digits summing to ``S``, then the answer ``S``; a
  rule-based accuracy reward (DeepSeek-AI 2025, §2.2.2). Every digit string with the right sum
  is correct, so each prompt has many tied answers; ``outcome_only=True`` checks only the
  answer token.
- :func:`shortest_paths`: a fixed small graph; the prompt is (source, target) and the answer
  a shortest path. Several shortest paths tie, and validity depends on the whole trace.

Reward components and perturbations (each perturbation returns a new task with the same
prompts, grammar, verifier and tie sets)
--------------------------------------------------------------------------------------
- :func:`format_reward`, :func:`length_reward`: the format and length components.
- :func:`length_penalty`: ``r - alpha * length / L``, a length tie-breaker (the L1/LCPO length
  reward discussed by Xu 2025, §5).
- :func:`tie_break`: ``r + eps * 1[y in F]`` with ``F`` a fixed random half of each tie set
  (Xu 2025, Prop 3.2: an ``eps``-small reward change selects one tied answer).
- :func:`reward_noise`: ``r + N(0, sigma^2)`` per sampled completion (a stochastic reward).
- :func:`drop_prompts`: a fraction of the training prompts is removed (Xu 2025, §5.6: about
  200 ambiguous prompts removed from the training data).
- :func:`routed_rewards`: K reward models over prompt classes, hard or soft routed
  (Xu 2025, §4: ``R_eff(s, a) = sum_k w_k(s) R_k(s, a)``).

Rewards are float64 throughout, so a tie-break ``eps`` as small as ``1e-12`` survives.

References
----------
.. [1] Xu, "The Policy Cliff: A Theoretical Analysis of Reward-Policy Maps in Large Language
   Models", arXiv:2507.20150, 2025.
.. [2] DeepSeek-AI, "DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via Reinforcement
   Learning", arXiv:2501.12948, 2025, §2.2.2 (accuracy and format rewards).
.. [3] Aggarwal & Welleck, "L1: Controlling How Long A Reasoning Model Thinks With
   Reinforcement Learning", arXiv:2503.04697, 2025 (length-controlled rewards).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from theory.checks import (
    ArgumentTypeError,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_positive_int,
    check_real,
    check_seed,
)

__all__ = [
    "RewardFn",
    "SequenceTask",
    "drop_prompts",
    "format_reward",
    "label_flips",
    "length_penalty",
    "length_reward",
    "reward_noise",
    "routed_rewards",
    "shortest_paths",
    "tie_break",
    "tied_digit_sum",
]

#: ``reward_fn(prompts (B, Tp) long, tokens (B, L) long, mask (B, L) bool) -> (B,) float``.
RewardFn = Callable[[Tensor, Tensor, Tensor], Tensor]

#: Rows of (prompt, completion) pairs per call of the reward function in :meth:`reward_table`.
_TABLE_BATCH = 1 << 16
#: Relative tolerance of "maximal reward" in :meth:`SequenceTask.valid_table`.
_TIE_RTOL = 1e-12
#: Solutions are checked against the exact tie sets at construction up to this many pairs.
_EAGER_PAIRS = 1 << 20


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _as_ids(name: str, value: object, ndim: int | None = None) -> Tensor:
    """An integer tensor (bool and floats refused) as torch.long, without a copy if possible."""
    if isinstance(value, Tensor):
        t = value
    elif isinstance(value, np.ndarray | list | tuple):
        try:
            t = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError) as err:
            raise ArgumentTypeError(f"{name} must be an integer tensor; got {value!r}") from err
    else:
        raise ArgumentTypeError(f"{name} must be an integer tensor; got {type(value).__name__}")
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ArgumentTypeError(f"{name} must hold integer token ids; got dtype {t.dtype}")
    if ndim is not None and t.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {tuple(t.shape)}")
    return t if t.dtype == torch.long else t.long()


def _as_bool(name: str, value: object, shape: tuple[int, ...] | None = None) -> Tensor:
    """A bool tensor of the given shape."""
    if isinstance(value, np.ndarray | list | tuple):
        value = torch.as_tensor(np.asarray(value))
    if not isinstance(value, Tensor):
        raise ArgumentTypeError(f"{name} must be a bool tensor; got {type(value).__name__}")
    if value.dtype != torch.bool:
        raise ArgumentTypeError(f"{name} must be a bool tensor; got dtype {value.dtype}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {tuple(value.shape)}")
    return value


def _check_range(name: str, t: Tensor, hi: int) -> None:
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= hi):
        raise ValueError(
            f"{name} must hold ids in [0, {hi - 1}]; got values in [{int(t.min())}, {int(t.max())}]"
        )


def _check_callable(name: str, fn: object) -> None:
    if not callable(fn):
        raise ArgumentTypeError(f"{name} must be callable; got {fn!r}")


def _evaluate(name: str, fn: RewardFn, prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
    """``fn(prompts, tokens, mask)`` as float64 (B,), refused by ``name`` unless finite."""
    out = fn(prompts, tokens, mask)
    if not isinstance(out, Tensor):
        raise ArgumentTypeError(f"{name} must return a tensor; got {type(out).__name__}")
    if out.is_complex():
        raise ArgumentTypeError(f"{name} must return real rewards; got dtype {out.dtype}")
    if tuple(out.shape) != (tokens.shape[0],):
        raise ValueError(
            f"{name} must return one reward per completion, shape ({tokens.shape[0]},); "
            f"got {tuple(out.shape)}"
        )
    out = out.to(torch.float64)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} returned non-finite rewards: {out[~torch.isfinite(out)][:5]}")
    return out


def _eos_mask(tokens: Tensor, eos_id: int | None) -> Tensor:
    """True up to and including the first EOS (everything if there is no EOS)."""
    if eos_id is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    is_eos = (tokens == eos_id).long()
    before = torch.cumsum(is_eos, dim=-1) - is_eos  # EOS tokens strictly before t
    return before == 0


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


# ---------------------------------------------------------------------------------------------
# the task
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class SequenceTask:
    """A verifiable sequence task: prompts, a per-position grammar and a reward.

    Parameters
    ----------
    name : str
    vocab : tuple of str
        Token strings, distinct; ``V = len(vocab)``.
    prompts : Tensor (P, Tp) long
        Token ids in ``[0, V)``; every prompt has the same length.
    allowed : Tensor (L, V) bool
        ``allowed[t, v]``: token ``v`` may appear at completion position ``t``; every position
        allows at least one token. Sampling, teacher forcing and enumeration mask the rest.
    eos_id : int or None
        End of sequence: a completion ends at its first EOS (pad after it). ``None``: every
        completion has exactly ``L`` tokens.
    pad_id : int
        The token after the end of a completion.
    reward_fn : callable
        ``reward_fn(prompts (B, Tp), tokens (B, L), mask (B, L)) -> (B,)`` real, finite.
    prompt_class : Tensor (P,) long, optional
        A class per prompt (>= 0), used by :func:`routed_rewards`; default all 0.
    solutions, solution_mask : Tensor (P, L) long / bool, optional
        One canonical expert completion per prompt (for supervised warm starts); the mask
        defaults to the EOS convention. Each solution must respect the grammar and be in the
        prompt's tie set (checked at construction when the task has at most ``2**20``
        (prompt, completion) pairs).
    train_mask : Tensor (P,) bool, optional
        The prompts trainers sample from (:attr:`train_prompt_ids`); evaluation uses all
        prompts. Default all True; at least one True.
    verifier : callable, optional
        The reward whose maximal set defines the tie sets (:meth:`valid_table`); default
        ``reward_fn``. Perturbations keep the verifier of the task they perturb, so the tie
        sets of a perturbed task are those of the unperturbed one.
    favoured : Tensor (P, M) bool, optional
        The favoured subset ``F`` of each tie set set by :func:`tie_break` (a subset of
        :meth:`valid_table`).
    noise_sigma : float, default 0
        Standard deviation of the Gaussian noise :meth:`reward` adds to every sampled reward
        (:func:`reward_noise`); :meth:`reward_table` is the noiseless mean.
    noise_seed : int, default 0
        Seed of the noise stream (a fresh stream per task object).
    label_flip : float, default 0
        Probability that a preference oracle on this task reports the opposite of its label
        (:func:`label_flips`; read by :func:`trainers.sequence.dpo.bradley_terry_pairs` and the
        preference trainers). Rewards are unaffected.
    meta : mapping, optional
        Read-only facts about the instance (the graph of :func:`shortest_paths`, ...).

    Notes
    -----
    Tensors are kept on the CPU and not copied; do not modify them in place. Tables are cached
    per task (and shared with the tasks derived from it where they agree) and returned as copies.
    """

    name: str
    vocab: tuple[str, ...]
    prompts: Tensor
    allowed: Tensor
    eos_id: int | None
    pad_id: int
    reward_fn: RewardFn
    prompt_class: Tensor | None = None
    solutions: Tensor | None = None
    solution_mask: Tensor | None = None
    train_mask: Tensor | None = None
    verifier: RewardFn | None = None
    favoured: Tensor | None = None
    noise_sigma: float = 0.0
    noise_seed: int = 0
    label_flip: float = 0.0
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: tables keyed by what they depend on (shared with derived tasks; see ``_cached``)
    _cache: dict = field(default_factory=dict)
    #: the noise generator of this task object
    _noise: dict = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if not isinstance(self.name, str) or not self.name:
            raise ArgumentTypeError(f"name must be a non-empty string; got {self.name!r}")
        if isinstance(self.vocab, str) or not isinstance(self.vocab, Iterable):
            raise ArgumentTypeError(f"vocab must be a sequence of strings; got {self.vocab!r}")
        vocab = tuple(self.vocab)
        if len(vocab) < 2 or not all(isinstance(v, str) for v in vocab):
            raise ValueError(f"vocab must hold at least two strings; got {vocab!r}")
        if len(set(vocab)) != len(vocab):
            raise ValueError("vocab must hold distinct strings")
        V = len(vocab)
        set_("vocab", vocab)

        prompts = _as_ids("prompts", self.prompts, ndim=2).cpu()
        if prompts.shape[0] < 1 or prompts.shape[1] < 1:
            raise ValueError(f"prompts must have shape (P >= 1, Tp >= 1); got {prompts.shape}")
        _check_range("prompts", prompts, V)
        set_("prompts", prompts)
        P = prompts.shape[0]

        allowed = _as_bool("allowed", self.allowed).cpu()
        if allowed.dim() != 2 or allowed.shape[0] < 1 or allowed.shape[1] != V:
            raise ValueError(f"allowed must have shape (L >= 1, V={V}); got {allowed.shape}")
        empty = (~allowed.any(dim=1)).nonzero().flatten().tolist()
        if empty:
            raise ValueError(f"allowed must allow a token at every position; none at {empty}")
        set_("allowed", allowed)
        L = allowed.shape[0]

        if self.eos_id is not None:
            set_("eos_id", check_int("eos_id", self.eos_id, lo=0, hi=V - 1))
        set_("pad_id", check_int("pad_id", self.pad_id, lo=0, hi=V - 1))
        _check_callable("reward_fn", self.reward_fn)
        if self.verifier is not None:
            _check_callable("verifier", self.verifier)

        if self.prompt_class is None:
            set_("prompt_class", torch.zeros(P, dtype=torch.long))
        else:
            pc = _as_ids("prompt_class", self.prompt_class, ndim=1).cpu()
            if pc.shape != (P,):
                raise ValueError(f"prompt_class must have shape ({P},); got {tuple(pc.shape)}")
            if pc.numel() and int(pc.min()) < 0:
                raise ValueError(f"prompt_class must be >= 0; got min {int(pc.min())}")
            set_("prompt_class", pc)

        if self.train_mask is None:
            set_("train_mask", torch.ones(P, dtype=torch.bool))
        else:
            tm = _as_bool("train_mask", self.train_mask, (P,)).cpu()
            if not bool(tm.any()):
                raise ValueError("train_mask must keep at least one training prompt")
            set_("train_mask", tm)

        sigma = check_nonnegative("noise_sigma", self.noise_sigma)
        set_("noise_sigma", sigma)
        set_("noise_seed", check_seed(self.noise_seed, "noise_seed"))
        flip = check_nonnegative("label_flip", self.label_flip)
        if flip >= 0.5:
            raise ValueError(f"label_flip must be in [0, 0.5); got {flip}")
        set_("label_flip", flip)
        if not isinstance(self.meta, Mapping):
            raise ArgumentTypeError(f"meta must be a mapping; got {type(self.meta).__name__}")
        if not isinstance(self.meta, MappingProxyType):
            set_("meta", MappingProxyType(dict(self.meta)))
        if not isinstance(self._cache, dict):
            raise ArgumentTypeError("_cache must be a dict")

        self._check_solutions(P, L, V)
        if self.favoured is not None:
            valid = self.valid_table()
            fav = _as_bool("favoured", self.favoured, tuple(valid.shape)).cpu()
            if bool((fav & ~valid).any()):
                raise ValueError("favoured must be a subset of the tie sets (valid_table())")
            set_("favoured", fav)

    def _check_solutions(self, P: int, L: int, V: int) -> None:
        if self.solutions is None:
            if self.solution_mask is not None:
                raise ValueError("solution_mask was given without solutions")
            return
        sol = _as_ids("solutions", self.solutions, ndim=2).cpu()
        if tuple(sol.shape) != (P, L):
            raise ValueError(f"solutions must have shape ({P}, {L}); got {tuple(sol.shape)}")
        _check_range("solutions", sol, V)
        if self.solution_mask is None:
            smask = _eos_mask(sol, self.eos_id)
        else:
            smask = _as_bool("solution_mask", self.solution_mask, (P, L)).cpu()
        object.__setattr__(self, "solutions", sol)
        object.__setattr__(self, "solution_mask", smask)
        ok = _format_ok(sol, smask, self.allowed, self.eos_id, self.pad_id)
        if not bool(ok.all()):
            bad = (~ok).nonzero().flatten().tolist()
            raise ValueError(f"solutions break the grammar (allowed, EOS, pad) at prompts {bad}")
        if P * self._count_completions() <= _EAGER_PAIRS:
            idx = self._completion_index(sol, smask)
            valid = self.valid_table()
            hit = valid[torch.arange(P), idx.clamp(min=0)] & (idx >= 0)
            if not bool(hit.all()):
                bad = (~hit).nonzero().flatten().tolist()
                raise ValueError(f"solutions are not rewarded maximally at prompts {bad}")

    # -- sizes -------------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def completion_len(self) -> int:
        """``L``, the maximal completion length."""
        return self.allowed.shape[0]

    @property
    def prompt_len(self) -> int:
        return self.prompts.shape[1]

    @property
    def n_prompts(self) -> int:
        return self.prompts.shape[0]

    @property
    def train_prompt_ids(self) -> Tensor:
        """Indices of the training prompts (``train_mask``), ascending."""
        return self.train_mask.nonzero().flatten()

    def __repr__(self) -> str:
        return (
            f"SequenceTask(name={self.name!r}, n_prompts={self.n_prompts}, "
            f"prompt_len={self.prompt_len}, completion_len={self.completion_len}, "
            f"vocab_size={self.vocab_size}, n_train={int(self.train_mask.sum())}, "
            f"noise_sigma={self.noise_sigma})"
        )

    # -- caching -----------------------------------------------------------------------------

    def _cached(self, key: str, deps: tuple, build: Callable[[], Any]) -> Any:
        """A value depending only on ``deps``: objects compared by identity (kept alive by the
        cache, so an id cannot be reused) or plain values compared by equality."""
        ck = (key, *(d if isinstance(d, int | float | None) else id(d) for d in deps))
        hit = self._cache.get(ck)
        if hit is not None and all(a is b or a == b for a, b in zip(hit[0], deps, strict=True)):
            return hit[1]
        value = build()
        self._cache[ck] = (deps, value)
        return value

    # -- completions and tables --------------------------------------------------------------

    def _count_completions(self) -> int:
        """M without enumerating: EOS ends a completion; full-length ones need no EOS."""
        free = self.allowed.clone()
        if self.eos_id is not None:
            free[:, self.eos_id] = False
        n_free = free.sum(dim=1).tolist()
        total, prefixes = 0, 1
        for t in range(self.completion_len):
            if self.eos_id is not None and bool(self.allowed[t, self.eos_id]):
                total += prefixes
            prefixes *= n_free[t]
        return total + prefixes

    def _completions(self) -> tuple[Tensor, Tensor]:
        from trainers.sequence.exact import enumerate_completions

        return self._cached(
            "completions",
            (self.allowed, self.eos_id, self.pad_id),
            lambda: enumerate_completions(self.allowed, eos_id=self.eos_id, pad_id=self.pad_id),
        )

    def completions(self) -> tuple[Tensor, Tensor]:
        """All completions the grammar allows: ``(tokens (M, L) long, mask (M, L) bool)`` in
        the lexicographic order of :func:`trainers.sequence.exact.enumerate_completions`."""
        tokens, mask = self._completions()
        return tokens.clone(), mask.clone()

    def _table(self, fn: RewardFn, name: str) -> Tensor:
        def build() -> Tensor:
            tokens, mask = self._completions()
            M = tokens.shape[0]
            P = self.n_prompts
            pair = torch.arange(P * M)
            out = torch.empty(P * M, dtype=torch.float64)
            for lo in range(0, P * M, _TABLE_BATCH):
                rows = pair[lo : lo + _TABLE_BATCH]
                p, m = rows // M, rows % M
                out[lo : lo + rows.numel()] = _evaluate(
                    name, fn, self.prompts[p], tokens[m], mask[m]
                )
            return out.reshape(P, M)

        return self._cached(
            "table", (fn, self.prompts, self.allowed, self.eos_id, self.pad_id), build
        )

    def reward_table(self) -> Tensor:
        """(P, M) float64: the exact (noiseless) reward of every completion for every prompt."""
        return self._table(self.reward_fn, "reward_fn").clone()

    def _valid(self) -> Tensor:
        verifier = self.reward_fn if self.verifier is None else self.verifier
        name = "reward_fn" if self.verifier is None else "verifier"
        table = self._table(verifier, name)

        def build() -> Tensor:
            best = table.max(dim=1, keepdim=True).values
            return table >= best - _TIE_RTOL * best.abs().clamp(min=1.0)

        return self._cached("valid", (table,), build)

    def valid_table(self) -> Tensor:
        """(P, M) bool: the tie sets, the completions with the maximal reward of the verifier
        (``verifier``, default ``reward_fn``), up to a relative ``1e-12``."""
        return self._valid().clone()

    # -- lookups -----------------------------------------------------------------------------

    def _completion_index(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """(B,) long: the index in :meth:`completions` of each row, -1 if not enumerated."""
        comp_tokens, comp_mask = self._completions()
        V, L = self.vocab_size, self.completion_len
        base = V + 1  # the extra symbol V marks positions after the end

        def encode(t: Tensor, m: Tensor) -> Tensor:
            return torch.where(m, t, torch.full_like(t, V))

        if base**L < 2**62:
            weights = torch.tensor([base ** (L - 1 - i) for i in range(L)], dtype=torch.long)

            def build() -> tuple[Tensor, Tensor]:
                keys = (encode(comp_tokens, comp_mask) * weights).sum(dim=1)
                return torch.sort(keys)

            sorted_keys, order = self._cached("index", (comp_tokens,), build)
            dev = tokens.device
            in_range = ((tokens >= 0) & (tokens < V) | ~mask).all(dim=1)
            q = (encode(tokens.clamp(0, V - 1), mask) * weights.to(dev)).sum(dim=1)
            sk = sorted_keys.to(dev)
            pos = torch.searchsorted(sk, q).clamp(max=sk.numel() - 1)
            hit = (sk[pos] == q) & in_range
            return torch.where(hit, order.to(dev)[pos], torch.full_like(q, -1))
        # long completions: match rows with torch.unique
        enc = torch.cat([encode(comp_tokens, comp_mask), encode(tokens.cpu(), mask.cpu())])
        _, inv = torch.unique(enc, dim=0, return_inverse=True)
        M = comp_tokens.shape[0]
        lookup = torch.full((int(inv.max()) + 1,), -1, dtype=torch.long)
        lookup[inv[:M]] = torch.arange(M)
        return lookup[inv[M:]].to(tokens.device)

    def _prompt_index(self, prompts: Tensor) -> Tensor:
        """(B,) long: the index of each prompt row in :attr:`prompts`, -1 if absent."""
        eq = (prompts[:, None, :] == self.prompts.to(prompts.device)[None]).all(dim=-1)
        found = eq.any(dim=1)
        return torch.where(
            found, eq.long().argmax(dim=1), torch.full_like(found, -1, dtype=torch.long)
        )

    # -- rewards -----------------------------------------------------------------------------

    def reward(
        self,
        prompts: Tensor,
        tokens: Tensor,
        mask: Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The reward of sampled completions: ``reward_fn`` plus the task's noise.

        Parameters
        ----------
        prompts : Tensor (*, B, Tp) long
        tokens : Tensor (*, B, L) long
        mask : Tensor (*, B, L) bool
        generator : torch.Generator, optional
            Source of the noise when ``noise_sigma > 0`` (default: the task's own stream,
            seeded with ``noise_seed``).

        Returns
        -------
        Tensor (*, B) float64 on the device of ``tokens``. Raises ValueError/TypeError naming
        ``reward_fn`` when it returns something other than B finite real numbers.
        """
        out = self._mean_reward(prompts, tokens, mask)
        if self.noise_sigma > 0:
            if generator is None:
                if "gen" not in self._noise:
                    self._noise["gen"] = torch.Generator().manual_seed(self.noise_seed)
                generator = self._noise["gen"]
            noise = torch.randn(out.numel(), generator=generator, dtype=torch.float64)
            out = out + self.noise_sigma * noise.to(out.device).reshape(out.shape)
        return out

    def _mean_reward(self, prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        """``reward_fn`` of the completions, checked, without the noise: (*, B) float64."""
        prompts = _as_ids("prompts", prompts)
        tokens = _as_ids("tokens", tokens)
        mask = _as_bool("mask", mask)
        L, Tp = self.completion_len, self.prompt_len
        if tokens.dim() < 2 or tokens.shape[-1] != L:
            raise ValueError(f"tokens must have shape (*, B, {L}); got {tuple(tokens.shape)}")
        if tokens.numel() == 0:
            raise ValueError("tokens must hold at least one completion")
        if tuple(mask.shape) != tuple(tokens.shape):
            raise ValueError(
                f"mask must have the shape of tokens {tuple(tokens.shape)}; got {tuple(mask.shape)}"
            )
        lead = tuple(tokens.shape[:-1])
        if tuple(prompts.shape) != (*lead, Tp):
            raise ValueError(f"prompts must have shape {(*lead, Tp)}; got {tuple(prompts.shape)}")
        out = _evaluate(
            "reward_fn",
            self.reward_fn,
            prompts.reshape(-1, Tp),
            tokens.reshape(-1, L),
            mask.reshape(-1, L).to(tokens.device),
        )
        return out.reshape(lead)

    def decode(self, tokens: Tensor, mask: Tensor | None = None) -> list[str]:
        """Token strings joined by spaces, one string per row of ``tokens`` (L,) or (B, L);
        positions where ``mask`` is False are left out (default: up to the first EOS)."""
        t = _as_ids("tokens", tokens)
        if t.dim() not in (1, 2):
            raise ValueError(f"tokens must be 1-D or 2-D; got shape {tuple(t.shape)}")
        t = t.reshape(-1, t.shape[-1]).cpu()
        _check_range("tokens", t, self.vocab_size)
        if mask is None:
            m = _eos_mask(t, self.eos_id)
        else:
            m = _as_bool("mask", mask, tuple(_as_ids("tokens", tokens).shape)).reshape(t.shape)
        return [
            " ".join(
                self.vocab[v] for v, keep in zip(row.tolist(), mr.tolist(), strict=True) if keep
            )
            for row, mr in zip(t, m.cpu(), strict=True)
        ]

    def with_reward(self, reward_fn: RewardFn, name: str | None = None) -> SequenceTask:
        """The same task with another reward. The tie sets stay those of this task's verifier;
        prompts, grammar, solutions, ``train_mask``, ``favoured`` and the noise are kept."""
        _check_callable("reward_fn", reward_fn)
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentTypeError(f"name must be a non-empty string; got {name!r}")
        return dataclasses.replace(
            self,
            reward_fn=reward_fn,
            name=name or f"{self.name}'",
            verifier=self.reward_fn if self.verifier is None else self.verifier,
        )


# ---------------------------------------------------------------------------------------------
# reward components
# ---------------------------------------------------------------------------------------------


def _format_ok(
    tokens: Tensor, mask: Tensor, allowed: Tensor, eos_id: int | None, pad_id: int
) -> Tensor:
    """(B,) bool: the completion follows the grammar and the EOS/pad convention."""
    L, V = allowed.shape
    in_vocab = ((tokens >= 0) & (tokens < V)).all(dim=1)
    t = tokens.clamp(0, V - 1)
    pos = torch.arange(L, device=tokens.device).expand_as(t)
    ok_token = allowed.to(tokens.device)[pos, t] | ~mask
    prefix = (mask[:, 1:] <= mask[:, :-1]).all(dim=1) & mask[:, 0]
    padded = ((tokens == pad_id) | mask).all(dim=1)
    ok = in_vocab & ok_token.all(dim=1) & prefix & padded
    if eos_id is not None:
        # mask must be exactly "up to and including the first EOS", and the EOS must be there
        ok &= (mask == _eos_mask(t, eos_id)).all(dim=1)
        last = (mask.sum(dim=1) - 1).clamp(min=0)
        ok &= t.gather(1, last[:, None]).squeeze(1) == eos_id
    return ok


def _check_task(task: object) -> SequenceTask:
    if not isinstance(task, SequenceTask):
        raise ArgumentTypeError(f"task must be a SequenceTask; got {type(task).__name__}")
    return task


def format_reward(task: SequenceTask) -> RewardFn:
    """The format component: 1 iff a completion follows ``task``'s grammar, else 0.

    A completion is well formed when every real token is allowed at its position, the mask
    covers a prefix ending at the first EOS (when the task has one), and pad follows. This is
    the rule-based format reward of DeepSeek-AI (2025, §2.2.2) for a token grammar. Returns a
    reward function ``(prompts, tokens, mask) -> (B,)`` float64.
    """
    _check_task(task)
    allowed, eos_id, pad_id = task.allowed, task.eos_id, task.pad_id

    def reward(prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        return _format_ok(tokens, mask, allowed, eos_id, pad_id).to(torch.float64)

    return reward


def length_reward(task: SequenceTask) -> RewardFn:
    """The length component: ``length / L`` in ``(0, 1]``, with ``length = mask.sum()`` the
    number of real tokens (EOS included) and ``L = task.completion_len``.

    :func:`length_penalty` subtracts ``alpha`` times it. Returns a reward function
    ``(prompts, tokens, mask) -> (B,)`` float64.
    """
    _check_task(task)
    L = task.completion_len

    def reward(prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        return mask.sum(dim=-1).to(torch.float64) / L

    return reward


# ---------------------------------------------------------------------------------------------
# perturbations
# ---------------------------------------------------------------------------------------------


def length_penalty(task: SequenceTask, alpha: float) -> SequenceTask:
    """``r(x, y) - alpha * length(y) / L``: a length tie-breaker.

    Among tied completions of different lengths the shorter one wins for ``alpha > 0`` (the
    longer for ``alpha < 0``); completions of equal length stay tied. Xu (2025, §5) reads the
    L1/LCPO reward ``1[y = y_gold] - alpha |n_gold - n_y|`` (Aggarwal & Welleck 2025) as such a
    tie-breaker. The tie sets (:meth:`SequenceTask.valid_table`) are the unpenalised ones.

    Parameters
    ----------
    task : SequenceTask
    alpha : float
        Finite; 0 returns the same rewards.
    """
    _check_task(task)
    alpha = check_real("alpha", alpha)
    base, length = task.reward_fn, length_reward(task)

    def reward(prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        r = _evaluate("reward_fn", base, prompts, tokens, mask)
        return r - alpha * length(prompts, tokens, mask)

    return task.with_reward(reward, f"{task.name}|length_penalty({alpha:g})")


def _favoured_sets(valid: Tensor, fraction: float, seed: int) -> Tensor:
    rng = np.random.default_rng(seed)
    fav = torch.zeros_like(valid)
    for p in range(valid.shape[0]):
        members = valid[p].nonzero().flatten().numpy()
        n = members.size
        k = 0 if n < 2 else min(max(_round_half_up(fraction * n), 1), n - 1)
        fav[p, torch.from_numpy(rng.permutation(members)[:k])] = True
    return fav


def tie_break(
    task: SequenceTask, eps: float, *, fraction: float = 0.5, seed: int = 0
) -> SequenceTask:
    """``r(x, y) + eps * 1[y in F_x]`` with ``F_x`` a fixed random part of each tie set.

    Xu (2025, Prop 3.2): when two answers tie, an ``eps``-small change of the reward makes
    one of them strictly better, so the optimal policy jumps (Prop 2.10) while the reward
    moves by ``eps`` in the sup norm. Here ``F_x`` holds ``round(fraction * n_x)`` of the
    ``n_x`` tied completions of prompt ``x``, clipped to ``[1, n_x - 1]`` so that every tie of
    two or more is split into two non-empty parts (a unique answer is not favoured). The
    result exposes ``F`` as ``task.favoured`` (P, M) bool; its tie sets are ``task``'s.

    Parameters
    ----------
    task : SequenceTask
    eps : float
        Finite, >= 0.
    fraction : float, default 0.5
        In (0, 1).
    seed : int, default 0
        Seed of the choice of ``F`` (numpy Generator).

    Examples
    --------
    >>> task = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
    >>> broken = tie_break(task, 1e-3)
    >>> task.valid_table().sum(dim=1).tolist(), broken.favoured.sum(dim=1).tolist()
    ([3, 2], [2, 1])
    >>> (broken.reward_table() - task.reward_table()).max().item()
    0.001
    """
    _check_task(task)
    eps = check_nonnegative("eps", eps)
    fraction = check_open_unit("fraction", fraction)
    seed = check_seed(seed)
    fav = _favoured_sets(task._valid(), fraction, seed)
    base = task.reward_fn

    def reward(prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        r = _evaluate("reward_fn", base, prompts, tokens, mask)
        p, m = task._prompt_index(prompts), task._completion_index(tokens, mask)
        hit = (p >= 0) & (m >= 0)
        f = fav.to(tokens.device)[p.clamp(min=0), m.clamp(min=0)] & hit
        return r + eps * f.to(torch.float64)

    name = f"{task.name}|tie_break({eps:g}, seed={seed})"
    return dataclasses.replace(task.with_reward(reward, name), favoured=fav)


def reward_noise(task: SequenceTask, sigma: float, *, seed: int) -> SequenceTask:
    """``r(x, y) + N(0, sigma^2)``, drawn afresh for every sampled completion.

    The noise enters through :meth:`SequenceTask.reward` (a stochastic reward, as a learned
    reward model's scoring noise); :meth:`SequenceTask.reward_table` stays the noiseless mean
    ``E[r + noise] = r`` and the tie sets are unchanged. Noise on a noisy task adds up:
    ``sigma_total = sqrt(sigma_old^2 + sigma^2)``, with the new ``seed``.

    Parameters
    ----------
    task : SequenceTask
    sigma : float
        Finite, >= 0.
    seed : int
        Seed of the task's noise stream (torch.Generator).
    """
    _check_task(task)
    sigma = check_nonnegative("sigma", sigma)
    seed = check_seed(seed)
    total = math.hypot(task.noise_sigma, sigma)
    return dataclasses.replace(
        task.with_reward(task.reward_fn, f"{task.name}|noise({sigma:g}, seed={seed})"),
        noise_sigma=total,
        noise_seed=seed,
    )


def label_flips(task: SequenceTask, q: float) -> SequenceTask:
    """A preference oracle on ``task`` that reports the opposite label with probability ``q``.

    The preference-side counterpart of :func:`reward_noise`: a Bradley-Terry oracle's label
    (:func:`trainers.sequence.dpo.bradley_terry_pairs`) is flipped independently with
    probability ``q``, so ``P(a reported preferred) = (1 - q) s + q (1 - s)`` with
    ``s = sigmoid(scale (r(a) - r(b)))``. Rewards, tie sets and the reward table are
    unchanged; flips on a flipped task compose, ``q_total = q_old (1 - q) + q (1 - q_old)``.

    Parameters
    ----------
    task : SequenceTask
    q : float
        In [0, 0.5) (at 0.5 the labels carry no preference).

    Examples
    --------
    >>> label_flips(tied_digit_sum(), 0.1).label_flip
    0.1
    """
    _check_task(task)
    q = check_nonnegative("q", q)
    if q >= 0.5:
        raise ValueError(f"q must be in [0, 0.5); got {q}")
    old = task.label_flip
    return dataclasses.replace(
        task.with_reward(task.reward_fn, f"{task.name}|flip({q:g})"),
        label_flip=old * (1 - q) + q * (1 - old),
    )


def drop_prompts(
    task: SequenceTask,
    fraction: float,
    *,
    seed: int,
    among: Sequence[int] | Tensor | None = None,
) -> SequenceTask:
    """Remove a random fraction of the training prompts (evaluation keeps all of them).

    Xu (2025, §5.6) compares a model with one trained after about 200 ambiguous prompts were
    removed. Of the candidate prompts (the training prompts, or those among ``among``, e.g.
    the ambiguous ones), ``round(fraction * n_candidates)`` chosen at random leave
    ``train_mask``; :attr:`SequenceTask.train_prompt_ids` lists the rest. At least one
    training prompt must remain.

    Parameters
    ----------
    task : SequenceTask
    fraction : float
        In (0, 1).
    seed : int
        Seed of the choice (numpy Generator).
    among : sequence of int, optional
        Prompt indices the dropped ones are drawn from (default: all training prompts).

    Examples
    --------
    >>> task = drop_prompts(tied_digit_sum(), 0.3, seed=0)  # round(0.3 * 9) = 3 dropped
    >>> task.n_prompts, task.train_prompt_ids.numel()
    (9, 6)
    """
    _check_task(task)
    fraction = check_open_unit("fraction", fraction)
    seed = check_seed(seed)
    P = task.n_prompts
    candidates = task.train_mask.clone()
    if among is not None:
        idx = _as_ids("among", among, ndim=1)
        if idx.numel() == 0:
            raise ValueError("among must name at least one prompt")
        _check_range("among", idx, P)
        chosen = torch.zeros(P, dtype=torch.bool)
        chosen[idx] = True
        candidates &= chosen
    pool = candidates.nonzero().flatten().numpy()
    n_drop = _round_half_up(fraction * pool.size)
    if n_drop >= int(task.train_mask.sum()):
        raise ValueError(
            f"fraction={fraction} would drop all {int(task.train_mask.sum())} training prompts"
        )
    dropped = np.random.default_rng(seed).choice(pool, size=n_drop, replace=False)
    train = task.train_mask.clone()
    train[torch.from_numpy(dropped).long()] = False
    return dataclasses.replace(
        task, train_mask=train, name=f"{task.name}|drop({fraction:g}, seed={seed})"
    )


def _router_table(router: Tensor, K: int) -> Callable[[Tensor], Tensor]:
    def route(classes: Tensor) -> Tensor:
        if int(classes.max()) >= router.shape[0]:
            raise ValueError(
                f"router covers classes 0..{router.shape[0] - 1}; got class {int(classes.max())}"
            )
        return router.to(classes.device)[classes]

    return route


def _routing_weights(out: object, classes: Tensor, K: int) -> Tensor:
    """The router's answer as (B, K) float64 weights, refused by name unless valid."""
    if not isinstance(out, Tensor):
        raise ArgumentTypeError(f"router must return a tensor; got {type(out).__name__}")
    B = classes.shape[0]
    if out.dtype == torch.bool or out.is_complex():
        raise ArgumentTypeError(f"router must return indices or weights; got dtype {out.dtype}")
    if not out.is_floating_point():
        if tuple(out.shape) != (B,):
            raise ValueError(f"router must return ({B},) model indices; got {tuple(out.shape)}")
        if int(out.min()) < 0 or int(out.max()) >= K:
            raise ValueError(
                f"router must return model indices in [0, {K - 1}]; got "
                f"[{int(out.min())}, {int(out.max())}]"
            )
        return torch.nn.functional.one_hot(out.long(), K).to(torch.float64)
    w = out.to(torch.float64)
    if tuple(w.shape) != (B, K):
        raise ValueError(f"router must return ({B}, {K}) weights; got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError("router weights must be finite and >= 0")
    if bool(((w.sum(dim=1) - 1).abs() > 1e-6).any()):
        raise ValueError("router weights must sum to 1 for every prompt")
    return w


def routed_rewards(
    task: SequenceTask,
    reward_fns: Sequence[RewardFn],
    router: Callable[[Tensor], Tensor] | Sequence | Tensor | None = None,
    *,
    prompt_class: Sequence[int] | Tensor | None = None,
    name: str | None = None,
) -> SequenceTask:
    """K reward models over prompt classes: ``R_eff(x, y) = sum_k w_k(x) R_k(x, y)``.

    Xu (2025, §4): one policy is trained on prompt classes scored by separate reward models;
    the paper models it as optimal for the effective reward with fixed weights ``w_k(x) >= 0``,
    ``sum_k w_k(x) = 1`` (a frozen router). Hard routing (one model per class) is the one-hot
    case; soft weights on boundary classes mix two models, and conflicting models create ties
    in ``R_eff`` (§4.6). The effective reward is the new task's verifier (its tie sets), and
    ``meta["routing_weights"]`` holds the (P, K) weights ``w_k(x)`` of the prompts.

    Parameters
    ----------
    task : SequenceTask
        Supplies prompts, grammar and (unless ``prompt_class`` is given) the classes.
    reward_fns : sequence of callables
        The K >= 1 reward models, each ``(prompts, tokens, mask) -> (B,)``.
    router : callable, tensor or sequence, optional
        A callable mapping prompt classes (B,) long to model indices (B,) long or weights
        (B, K) float; or a table indexed by class: (C,) model indices or (C, K) weights.
        Default: class k is scored by model k.
    prompt_class : sequence of int, optional
        Classes of the P prompts (default ``task.prompt_class``).
    name : str, optional
    """
    _check_task(task)
    if callable(reward_fns) or isinstance(reward_fns, str) or not isinstance(reward_fns, Iterable):
        raise ArgumentTypeError(
            f"reward_fns must be a sequence of reward functions; got {type(reward_fns).__name__}"
        )
    fns = tuple(reward_fns)
    if not fns:
        raise ValueError("reward_fns must hold at least one reward function")
    for k, fn in enumerate(fns):
        _check_callable(f"reward_fns[{k}]", fn)
    K = len(fns)
    if prompt_class is None:
        classes = task.prompt_class
    else:
        classes = _as_ids("prompt_class", prompt_class, ndim=1).cpu()
        if classes.shape != (task.n_prompts,):
            raise ValueError(
                f"prompt_class must have shape ({task.n_prompts},); got {tuple(classes.shape)}"
            )
        if int(classes.min()) < 0:
            raise ValueError(f"prompt_class must be >= 0; got min {int(classes.min())}")
    if router is None:
        route: Callable[[Tensor], Tensor] = _router_table(torch.arange(K), K)
    elif callable(router) and not isinstance(router, Tensor):
        route = router
    else:
        if isinstance(router, str):
            raise ArgumentTypeError(f"router must be callable or a table; got {router!r}")
        try:
            table = torch.as_tensor(np.asarray(router))
        except (TypeError, ValueError) as err:
            raise ArgumentTypeError(f"router must be callable or a table; got {router!r}") from err
        if table.dim() not in (1, 2) or table.numel() == 0:
            raise ValueError(f"router table must be (C,) or (C, K); got {tuple(table.shape)}")
        route = _router_table(table, K)
    # the router is fixed, independent of R and of the policy (Xu 2025, §4.6): evaluate it once
    try:
        weights = _routing_weights(route(classes.clone()), classes, K)
    except (IndexError, RuntimeError) as err:
        raise ValueError(f"router failed on the prompt classes: {err}") from err
    base = task

    def reward(prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        p = base._prompt_index(prompts)
        if bool((p < 0).any()):
            raise ValueError("prompts must be prompts of the task (routed rewards need a class)")
        rs = torch.stack(
            [_evaluate(f"reward_fns[{k}]", fn, prompts, tokens, mask) for k, fn in enumerate(fns)],
            dim=1,
        )  # (B, K)
        return (weights.to(rs.device)[p] * rs).sum(dim=1)  # Xu 2025, §4: R_eff

    if name is not None and (not isinstance(name, str) or not name):
        raise ArgumentTypeError(f"name must be a non-empty string; got {name!r}")
    return dataclasses.replace(
        task,
        reward_fn=reward,
        verifier=None,
        favoured=None,
        solutions=None,
        solution_mask=None,
        prompt_class=classes,
        name=name or f"{task.name}|routed(K={K})",
        meta={**task.meta, "routing_weights": weights},
    )


# ---------------------------------------------------------------------------------------------
# tasks
# ---------------------------------------------------------------------------------------------


def tied_digit_sum(
    n_digits: int = 4,
    max_digit: int = 4,
    sums: Iterable[int] = range(4, 13),
    *,
    outcome_only: bool = False,
) -> SequenceTask:
    """Write ``n_digits`` digits that sum to ``S``, then the answer ``S``: many tied answers.

    The prompt is one token ``S=s``. The completion has fixed length ``n_digits + 2``: digits
    ``d_i`` in ``{0..max_digit}`` (positions ``0..n_digits-1``), an answer token ``A=a`` with
    ``a`` in ``{0..n_digits * max_digit}``, then EOS. The strict reward is
    ``1[sum_i d_i = S and a = S]``, a rule-based accuracy reward (DeepSeek-AI 2025, §2.2.2)
    that checks the trace; ``outcome_only=True`` rewards ``1[a = S]`` (the answer alone). Each
    prompt's tie set holds every digit string with the right sum: for the default 4 digits in
    ``{0..4}`` and ``S = 4..12`` that is 35, 52, 68, 80, 85, 80, 68, 52, 35 completions
    (625 for every ``S`` when ``outcome_only``).

    Vocabulary: ``<pad>`` (0), ``<eos>`` (1), the sum tokens ``S=s``, the digits ``0..max_digit``,
    the answers ``A=0..A=n_digits*max_digit``. The solutions are the lexicographically smallest
    strictly correct completions (``0 0 0 4 A=4 <eos>`` for ``S = 4``).

    Parameters
    ----------
    n_digits : int, default 4
        >= 1.
    max_digit : int, default 4
        >= 1.
    sums : iterable of int, default range(4, 13)
        The prompts, distinct, each in ``[0, n_digits * max_digit]``.
    outcome_only : bool, default False

    Examples
    --------
    >>> task = tied_digit_sum()
    >>> task.valid_table().sum(dim=1).tolist()
    [35, 52, 68, 80, 85, 80, 68, 52, 35]
    >>> task.decode(task.solutions[:2])
    ['0 0 0 4 A=4 <eos>', '0 0 1 4 A=5 <eos>']
    """
    n = check_positive_int("n_digits", n_digits)
    m = check_positive_int("max_digit", max_digit)
    if not isinstance(outcome_only, bool):
        raise ArgumentTypeError(f"outcome_only must be a bool; got {outcome_only!r}")
    if isinstance(sums, str) or not isinstance(sums, Iterable):
        raise ArgumentTypeError(f"sums must be a sequence of integers; got {sums!r}")
    S = tuple(check_int(f"sums[{i}]", s, lo=0, hi=n * m) for i, s in enumerate(sums))
    if not S:
        raise ValueError("sums must hold at least one sum")
    if len(set(S)) != len(S):
        raise ValueError(f"sums must be distinct; got {S}")

    pad, eos = 0, 1
    sum_off = 2
    digit_off = sum_off + len(S)
    answer_off = digit_off + m + 1
    vocab = (
        "<pad>",
        "<eos>",
        *(f"S={s}" for s in S),
        *(str(d) for d in range(m + 1)),
        *(f"A={a}" for a in range(n * m + 1)),
    )
    V = len(vocab)
    L = n + 2
    allowed = torch.zeros(L, V, dtype=torch.bool)
    allowed[:n, digit_off : digit_off + m + 1] = True
    allowed[n, answer_off:] = True
    allowed[n + 1, eos] = True
    sum_of_token = torch.full((V,), -1, dtype=torch.long)
    sum_of_token[sum_off : sum_off + len(S)] = torch.tensor(S)

    def reward(prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        target = sum_of_token.to(prompts.device)[prompts[:, 0].clamp(0, V - 1)]
        target = torch.where((prompts[:, 0] >= 0) & (prompts[:, 0] < V), target, -1)
        d = tokens[:, :n] - digit_off
        a = tokens[:, n] - answer_off
        well_formed = (
            ((d >= 0) & (d <= m)).all(dim=1)
            & (a >= 0)
            & (a <= n * m)
            & (tokens[:, n + 1] == eos)
            & mask.all(dim=1)
        )
        correct = well_formed & (a == target)
        if not outcome_only:
            correct &= d.sum(dim=1) == target
        return correct.to(torch.float64)

    prompts = (sum_off + torch.arange(len(S))).reshape(-1, 1)
    solutions = torch.full((len(S), L), eos, dtype=torch.long)
    for i, s in enumerate(S):
        left = s
        for j in range(n):  # smallest digit that still lets the rest reach the sum
            digit = max(0, left - (n - 1 - j) * m)
            solutions[i, j] = digit_off + digit
            left -= digit
        solutions[i, n] = answer_off + s
    return SequenceTask(
        name=f"tied_digit_sum(n_digits={n}, max_digit={m}{', outcome_only' if outcome_only else ''})",
        vocab=vocab,
        prompts=prompts,
        allowed=allowed,
        eos_id=eos,
        pad_id=pad,
        reward_fn=reward,
        solutions=solutions,
        meta={"sums": S, "n_digits": n, "max_digit": m, "outcome_only": outcome_only},
    )


def _random_graph(rng: np.random.Generator, n: int, n_edges: int) -> np.ndarray:
    """A connected graph: a random spanning tree plus random extra edges; (n, n) bool."""
    adj = np.zeros((n, n), dtype=bool)
    order = rng.permutation(n)
    for i in range(1, n):
        u, v = order[i], order[rng.integers(i)]
        adj[u, v] = adj[v, u] = True
    missing = np.argwhere(np.triu(~adj, k=1))
    for u, v in missing[rng.choice(len(missing), size=n_edges - (n - 1), replace=False)]:
        adj[u, v] = adj[v, u] = True
    return adj


def _distances_and_counts(adj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All-pairs BFS distances and numbers of shortest paths (-1 / 0 when unreachable)."""
    n = adj.shape[0]
    dist = np.full((n, n), -1, dtype=np.int64)
    count = np.zeros((n, n), dtype=np.int64)
    for s in range(n):
        dist[s, s], count[s, s] = 0, 1
        frontier = [s]
        while frontier:
            nxt: list[int] = []
            for u in frontier:
                for v in np.flatnonzero(adj[u]):
                    if dist[s, v] < 0:
                        dist[s, v] = dist[s, u] + 1
                        nxt.append(int(v))
                    if dist[s, v] == dist[s, u] + 1:
                        count[s, v] += count[s, u]
            frontier = nxt
    return dist, count


def shortest_paths(
    n_nodes: int = 6,
    n_edges: int = 8,
    max_len: int | None = None,
    *,
    seed: int = 0,
    outcome_only: bool = False,
) -> SequenceTask:
    """Find a shortest path in a fixed small graph: several shortest paths tie.

    The graph is connected and random (a random spanning tree plus random edges, numpy
    Generator with ``seed``; drawn again until some pair of vertices at distance >= 2 has at
    least two shortest paths). The prompts are the ordered pairs ``(source, target)`` with
    ``dist >= 2`` and at least two shortest paths; ``prompt_class = dist - 2``. The
    completion is the path after the source, ``v_1 ... v_k = target``, then EOS, padded to
    ``max_len``. The reward is 1 iff every step is an edge, the path ends at the target and
    ``k = dist(source, target)``: validity depends on the whole trace. With
    ``outcome_only=True`` any walk to the target is rewarded (then :func:`length_penalty`
    breaks the ties in favour of the shortest ones).

    Vocabulary: ``<pad>`` (0), ``<eos>`` (1), ``v0 .. v{n-1}``. Completion position 0 holds a
    vertex, the last position EOS, the others a vertex or EOS. ``meta`` holds the edges,
    distances and path counts; the solutions are the lexicographically smallest shortest
    paths.

    Parameters
    ----------
    n_nodes : int, default 6
        >= 4.
    n_edges : int, default 8
        In ``[n_nodes, n_nodes (n_nodes - 1) / 2 - 1]`` (a tree has unique paths, a complete
        graph no pair at distance 2).
    max_len : int, optional
        Completion length ``L``; default the largest prompt distance + 2 (one spare vertex).
        At least the largest prompt distance + 1.
    seed : int, default 0
    outcome_only : bool, default False

    Examples
    --------
    >>> task = shortest_paths()
    >>> task.decode(task.prompts[:1]), int(task.meta["distances"][0, 5])
    (['v0 v5'], 3)
    >>> tokens, mask = task.completions()
    >>> task.decode(tokens[task.valid_table()[0]], mask[task.valid_table()[0]])
    ['v4 v1 v5 <eos>', 'v4 v3 v5 <eos>']
    """
    n = check_int("n_nodes", n_nodes, lo=4)
    e = check_int("n_edges", n_edges, lo=n, hi=n * (n - 1) // 2 - 1)
    seed = check_seed(seed)
    if not isinstance(outcome_only, bool):
        raise ArgumentTypeError(f"outcome_only must be a bool; got {outcome_only!r}")
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        adj = _random_graph(rng, n, e)
        dist, count = _distances_and_counts(adj)
        pairs = np.argwhere((dist >= 2) & (count >= 2))
        if len(pairs):
            break
    else:
        raise ValueError(
            f"n_edges={e}: no graph with a pair having two shortest paths in 1000 draws"
        )
    d_max = int(dist[pairs[:, 0], pairs[:, 1]].max())
    if max_len is None:
        L = d_max + 2
    else:
        L = check_int("max_len", max_len, lo=d_max + 1)

    pad, eos, off = 0, 1, 2
    vocab = ("<pad>", "<eos>", *(f"v{i}" for i in range(n)))
    V = n + 2
    allowed = torch.zeros(L, V, dtype=torch.bool)
    allowed[:, off:] = True
    allowed[1:, eos] = True
    allowed[L - 1, :] = False
    allowed[L - 1, eos] = True
    # node of every token (-1 = none) and adjacency / distances with a row n for "none"
    node_of = torch.full((V,), n, dtype=torch.long)
    node_of[off:] = torch.arange(n)
    adj_t = torch.zeros(n + 1, n + 1, dtype=torch.bool)
    adj_t[:n, :n] = torch.from_numpy(adj)
    dist_t = torch.full((n + 1, n + 1), -1, dtype=torch.long)
    dist_t[:n, :n] = torch.from_numpy(dist)

    def reward(prompts: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        dev = tokens.device
        nodes, A, D = node_of.to(dev), adj_t.to(dev), dist_t.to(dev)
        src = nodes[prompts[:, 0].clamp(0, V - 1)]
        tgt = nodes[prompts[:, 1].clamp(0, V - 1)]
        path = torch.cat([src[:, None], nodes[tokens.clamp(0, V - 1)]], dim=1)  # (B, L + 1)
        k = mask.sum(dim=1) - 1  # vertices before the EOS
        ends = tokens.gather(1, k.clamp(min=0)[:, None]).squeeze(1) == eos
        steps = A[path[:, :-1], path[:, 1:]]  # (B, L): step i goes path[i] -> path[i+1]
        in_path = torch.arange(L, device=dev)[None, :] < k[:, None]
        walk = (steps | ~in_path).all(dim=1)
        last = path.gather(1, k.clamp(min=0)[:, None]).squeeze(1)
        ok = (k >= 1) & ends & walk & (last == tgt) & (tgt < n)
        ok &= ((tokens >= 0) & (tokens < V)).all(dim=1) & ((prompts >= 0) & (prompts < V)).all(1)
        if not outcome_only:
            ok &= k == D[src, tgt]
        return ok.to(torch.float64)

    prompts = torch.from_numpy(pairs + off).long()
    solutions = torch.full((len(pairs), L), pad, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        u = int(s)
        for j in range(int(dist[s, t])):  # the smallest neighbour one step closer to t
            u = int(next(v for v in np.flatnonzero(adj[u]) if dist[v, t] == dist[u, t] - 1))
            solutions[i, j] = off + u
        solutions[i, int(dist[s, t])] = eos
    edges = tuple((int(u), int(v)) for u, v in np.argwhere(np.triu(adj, k=1)))
    return SequenceTask(
        name=f"shortest_paths(n_nodes={n}, n_edges={e}, seed={seed}"
        f"{', outcome_only' if outcome_only else ''})",
        vocab=vocab,
        prompts=prompts,
        allowed=allowed,
        eos_id=eos,
        pad_id=pad,
        reward_fn=reward,
        prompt_class=torch.from_numpy(dist[pairs[:, 0], pairs[:, 1]] - 2).long(),
        solutions=solutions,
        meta={"edges": edges, "distances": dist, "n_shortest_paths": count, "n_nodes": n},
    )
