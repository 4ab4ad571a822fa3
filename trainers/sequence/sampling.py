"""Sampling completions from a policy and teacher-forced per-token log-probabilities.

:func:`sample` draws completions of at most ``max_new_tokens`` tokens after each prompt,
batched over any leading dimensions, with temperature, top-k and nucleus (top-p) truncation
(Holtzman et al. 2020), a per-position vocabulary constraint ``allowed`` (L, V) (disallowed
tokens get logit -inf before the softmax) and an end-of-sequence token: after the first EOS a
completion holds ``pad_id`` and its mask is False. It uses the policy's KV cache when the
policy has ``init_cache`` (:class:`trainers.sequence.policy.TinyCausalLM`) and otherwise
recomputes the whole prefix each step; both consume the generator identically, so they give
the same samples. The log-probability recorded for each sampled token is that of the
tempered, allowed-masked distribution, without the top-k/top-p truncation (the convention of
TRL's GRPO trainer, von Werra et al. 2020).

:func:`completion_logprobs` recomputes those log-probabilities with gradients by teacher
forcing (one forward over ``cat(prompts, tokens[..., :-1])``), optionally with the exact
per-token entropy.

References
----------
Holtzman, Buys, Du, Forbes, Choi. "The Curious Case of Neural Text Degeneration", ICLR 2020
(nucleus sampling, Sec. 3.1: the smallest set of tokens whose probability mass is >= p).
Fan, Lewis, Dauphin. "Hierarchical Neural Story Generation", ACL 2018 (top-k sampling).
Gumbel, "Statistical theory of extreme values", 1954; Maddison, Tarlow, Minka. "A* Sampling",
NeurIPS 2014 (the Gumbel-max trick: argmax(logits + Gumbel noise) ~ softmax(logits)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_int,
    check_positive,
    check_positive_int,
    check_real,
)
from trainers.sequence.policy import Policy, TinyCausalLM, policy_logits

__all__ = ["Completions", "completion_logprobs", "sample"]


@dataclass(frozen=True)
class Completions:
    """Sampled completions: ``tokens`` (*, B, L) long, ``mask`` (*, B, L) bool (True up to and
    including the first EOS), ``logp`` (*, B, L) float (log-prob of each sampled token under
    the tempered, allowed-masked policy; 0 where ``mask`` is False)."""

    tokens: torch.Tensor
    mask: torch.Tensor
    logp: torch.Tensor

    def __post_init__(self) -> None:
        _check_tokens_mask(self.tokens, self.mask)
        if not isinstance(self.logp, torch.Tensor) or not self.logp.is_floating_point():
            raise ArgumentTypeError("logp must be a floating torch.Tensor")
        if self.logp.shape != self.tokens.shape:
            raise ValueError(
                f"logp must have the shape of tokens {tuple(self.tokens.shape)}; "
                f"got {tuple(self.logp.shape)}"
            )

    @property
    def lengths(self) -> torch.Tensor:
        """Number of real tokens (EOS included) of each completion, (*, B) long."""
        return self.mask.sum(-1)


# ---------------------------------------------------------------------------- validation
def _check_tokens_mask(tokens: object, mask: object) -> None:
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        raise ArgumentTypeError(f"tokens must be a torch.long tensor; got {_describe(tokens)}")
    if tokens.ndim < 2 or tokens.shape[-1] == 0:
        raise ValueError(f"tokens must have shape (*, B, L) with L >= 1; got {tuple(tokens.shape)}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ArgumentTypeError(f"mask must be a torch.bool tensor; got {_describe(mask)}")
    if mask.shape != tokens.shape:
        raise ValueError(
            f"mask must have the shape of tokens {tuple(tokens.shape)}; got {tuple(mask.shape)}"
        )


def _describe(x: object) -> str:
    return f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__


def _check_prompts(prompts: object) -> torch.Tensor:
    if not isinstance(prompts, torch.Tensor) or prompts.dtype != torch.long:
        raise ArgumentTypeError(f"prompts must be a torch.long tensor; got {_describe(prompts)}")
    if prompts.ndim < 2 or prompts.shape[-1] == 0 or prompts.shape[-2] == 0:
        raise ValueError(
            f"prompts must have shape (*, B, Tp) with B, Tp >= 1; got {tuple(prompts.shape)}"
        )
    if prompts.numel() and prompts.min().item() < 0:
        raise ValueError("prompts must hold token ids >= 0")
    return prompts


def _broadcast_runs(policy: Policy, prompts: torch.Tensor) -> torch.Tensor:
    """Prompts (B, Tp) shared by the N runs of a stacked policy become (N, B, Tp)."""
    n = getattr(policy, "n_runs", None)
    if isinstance(n, int) and prompts.ndim == 2:
        return prompts.expand(n, *prompts.shape)
    if isinstance(n, int) and prompts.shape[0] != n:
        raise ValueError(
            f"prompts must have shape (B, Tp) or (N, *, B, Tp) with the run axis N={n} of the "
            f"stacked policy; got {tuple(prompts.shape)}"
        )
    return prompts


def _check_allowed(allowed: object, length: int, name_len: str) -> torch.Tensor | None:
    if allowed is None:
        return None
    if not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool:
        raise ArgumentTypeError(
            f"allowed must be a torch.bool tensor (L, V); got {_describe(allowed)}"
        )
    if allowed.ndim != 2 or allowed.shape[0] != length:
        raise ValueError(
            f"allowed must have shape (L, V) with L = {name_len} = {length}; "
            f"got {tuple(allowed.shape)}"
        )
    if not bool(allowed.any(-1).all()):
        raise ValueError("allowed must allow at least one token at every position")
    return allowed


def _check_vocab(allowed: torch.Tensor | None, v: int) -> None:
    if allowed is not None and allowed.shape[-1] != v:
        raise ValueError(
            f"allowed must have one column per token of the policy's vocabulary ({v}); "
            f"got {allowed.shape[-1]}"
        )


def _masked(
    logits: torch.Tensor, allowed_t: torch.Tensor | None, temperature: float
) -> torch.Tensor:
    """Tempered logits in float32 (or wider), -inf where ``allowed_t`` is False."""
    z = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    if temperature != 1.0:
        z = z / temperature
    if allowed_t is not None:
        z = z.masked_fill(~allowed_t.to(z.device), float("-inf"))
    return z


def _truncate(z: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Top-k, then top-p (Holtzman et al. 2020, Sec. 3.1) truncation of logits (*, V):
    removed tokens get -inf. Top-k keeps ties with the k-th largest logit (as Hugging Face's
    ``TopKLogitsWarper``); top-p keeps the smallest prefix of the sorted distribution whose
    mass is >= p, and always the most likely token."""
    if top_k is not None and top_k < z.shape[-1]:
        kth = torch.topk(z, top_k, dim=-1).values[..., -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_z, order = torch.sort(z, dim=-1, descending=True)
        probs = torch.softmax(sorted_z, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs
        drop_sorted = mass_before >= top_p
        drop_sorted[..., 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        z = z.masked_fill(drop, float("-inf"))
    return z


# ---------------------------------------------------------------------------- sampling
@torch.no_grad()
def sample(
    policy: Policy,
    prompts: torch.Tensor,
    *,
    max_new_tokens: int,
    allowed: torch.Tensor | None = None,
    eos_id: int | None = None,
    pad_id: int = 0,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
) -> Completions:
    """Sample completions of at most ``max_new_tokens`` tokens after each prompt.

    Parameters
    ----------
    policy : callable
        ids (*, T) -> logits (*, T, V) (or an object with ``.logits``). A stacked
        :class:`~trainers.sequence.policy.TinyCausalLM` takes prompts (N, B, Tp); prompts
        (B, Tp) are then shared by its N runs.
    prompts : Tensor (*, B, Tp) long
        One prompt per row, all of length Tp (no padding).
    max_new_tokens : int
        Completion length L.
    allowed : Tensor (L, V) bool, optional
        ``allowed[t, v]``: token v may appear at completion position t; the others get logit
        -inf before the softmax (every row allows at least one token).
    eos_id : int, optional
        End-of-sequence token: it ends a completion (its mask is True; later positions hold
        ``pad_id`` with mask False). Sampling stops once every completion has ended.
    pad_id : int
        Token written after the end of a completion.
    temperature : float
        Logits are divided by it (> 0).
    top_k, top_p : optional
        Keep the k most likely tokens, then the smallest set of mass >= p (Holtzman et al. 2020).
    generator : torch.Generator or sequence of N torch.Generator, optional
        Source of randomness (torch's global RNG if None): one ``torch.rand((*, B, V))`` per
        step, turned into Gumbel noise (Gumbel-max trick), so the KV-cache and recompute paths
        draw the same numbers. A sequence holds one generator per run of a stacked policy
        (N = its ``n_runs``; N = 1 for a single policy): run i draws its
        ``torch.rand((*, B, V))`` from ``generator[i]`` alone, so its completions equal
        ``sample(policy.unstack(i), prompts[i], generator=generator[i])`` whatever runs are
        stacked with it. With a sequence the loop never stops early: every generator advances
        by exactly ``max_new_tokens`` draws (a lone run with one generator may stop once its
        completions have ended; its tokens are the same, since after EOS they are pad).

    Returns
    -------
    Completions
        tokens, mask, logp (per-token log-prob under the tempered, allowed-masked policy,
        before top-k/top-p; 0 where mask is False), each (*, B, L).
    """
    if not callable(policy):
        raise ArgumentTypeError(
            f"policy must be callable (ids -> logits); got {type(policy).__name__}"
        )
    prompts = _broadcast_runs(policy, _check_prompts(prompts))
    length = check_positive_int("max_new_tokens", max_new_tokens)
    allowed = _check_allowed(allowed, length, "max_new_tokens")
    if eos_id is not None:
        eos_id = check_int("eos_id", eos_id, lo=0)
    pad_id = check_int("pad_id", pad_id, lo=0)
    temperature = check_positive("temperature", temperature)
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k)
    if top_p is not None:
        top_p = check_real("top_p", top_p, lo=0.0, hi=1.0, lo_open=True)
    gens = _check_generators(generator, policy)
    vocab = getattr(policy, "vocab_size", None)
    if isinstance(vocab, int):
        _check_ids_in_vocab(vocab, allowed, eos_id, pad_id)
    max_len = getattr(policy, "max_len", None)
    if isinstance(max_len, int) and prompts.shape[-1] + length - 1 > max_len:
        raise ValueError(
            f"prompts of length {prompts.shape[-1]} and max_new_tokens={length} need "
            f"{prompts.shape[-1] + length - 1} positions, more than the policy's max_len={max_len}"
        )

    device = prompts.device
    batch = prompts.shape[:-1]
    tokens = torch.full((*batch, length), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((*batch, length), dtype=torch.bool, device=device)
    logp = None  # allocated at the first step, in the logits' dtype
    ended = torch.zeros(batch, dtype=torch.bool, device=device)
    cache = policy.init_cache(batch) if hasattr(policy, "init_cache") else None
    # a TinyCausalLM checks the prompts at t = 0; the tokens it is fed later were drawn here
    # from the allowed vocabulary, so it takes them unchecked (no host sync per token)
    trusted = isinstance(policy, TinyCausalLM)

    for t in range(length):
        if cache is None:
            ids = torch.cat([prompts, tokens[..., :t]], dim=-1)
            next_logits = policy_logits(policy, ids)[..., -1, :]
        elif t == 0:
            next_logits = policy_logits(lambda x: policy(x, cache=cache), prompts)[..., -1, :]
        elif trusted:
            next_logits = policy._logits(tokens[..., t - 1 : t], cache)[..., -1, :]
        else:
            step = tokens[..., t - 1 : t]
            next_logits = policy_logits(lambda x: policy(x, cache=cache), step)[..., -1, :]
        if t == 0:
            _check_ids_in_vocab(next_logits.shape[-1], allowed, eos_id, pad_id)
        z = _masked(next_logits, None if allowed is None else allowed[t], temperature)
        logp_all = torch.log_softmax(z, dim=-1)
        if logp is None:
            logp = torch.zeros((*batch, length), dtype=logp_all.dtype, device=device)
        # Gumbel-max: argmax(z + G) with G = -log(-log U) is a draw from softmax(z)
        u = _uniforms(z.shape, gens, device)
        gumbel = -torch.log(-torch.log(u.clamp(min=1e-300)))
        choice = torch.argmax(_truncate(z, top_k, top_p).double() + gumbel, dim=-1)
        alive = ~ended
        tokens[..., t] = torch.where(alive, choice, pad_id)
        mask[..., t] = alive
        lp = logp_all.gather(-1, choice.unsqueeze(-1)).squeeze(-1)
        logp[..., t] = torch.where(alive, lp, 0.0)
        if eos_id is not None:
            ended = ended | (alive & (choice == eos_id))
            if not isinstance(gens, list) and bool(ended.all()):
                break
    return Completions(tokens, mask, logp)


def _check_generators(
    generator: object, policy: Policy
) -> torch.Generator | list[torch.Generator] | None:
    """``generator`` as None, one generator, or a list of one generator per run."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, str | bytes) or not isinstance(generator, Sequence):
        raise ArgumentTypeError(
            "generator must be a torch.Generator or a sequence of them (one per run); got "
            f"{type(generator).__name__}"
        )
    gens = list(generator)
    for i, g in enumerate(gens):
        if not isinstance(g, torch.Generator):
            raise ArgumentTypeError(
                f"generator[{i}] must be a torch.Generator; got {type(g).__name__}"
            )
    n = getattr(policy, "n_runs", None)
    runs = n if isinstance(n, int) else 1
    if len(gens) != runs:
        raise ValueError(
            f"generator must hold one generator per run of the policy ({runs}); got {len(gens)}"
        )
    return gens


def _uniforms(
    shape: torch.Size, gens: torch.Generator | list[torch.Generator] | None, device: torch.device
) -> torch.Tensor:
    """U(0, 1) float64 of ``shape``: one draw from ``gens``, or, with one generator per run,
    each run's slice (the leading run axis of a stacked policy) drawn from its own."""
    if not isinstance(gens, list):
        return torch.rand(shape, generator=gens, device=device, dtype=torch.float64)
    if len(gens) == 1:  # the same numbers as one draw of run 0's slice
        return torch.rand(shape, generator=gens[0], device=device, dtype=torch.float64)
    return torch.stack(
        [torch.rand(shape[1:], generator=g, device=device, dtype=torch.float64) for g in gens]
    )


def _check_ids_in_vocab(
    vocab: int, allowed: torch.Tensor | None, eos_id: int | None, pad_id: int
) -> None:
    _check_vocab(allowed, vocab)
    if eos_id is not None and eos_id >= vocab:
        raise ValueError(f"eos_id must be a token id in [0, {vocab}); got {eos_id}")
    if pad_id >= vocab:
        raise ValueError(f"pad_id must be a token id in [0, {vocab}); got {pad_id}")


# ---------------------------------------------------------------------------- teacher forcing
def completion_logprobs(
    policy: Policy,
    prompts: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    *,
    allowed: torch.Tensor | None = None,
    temperature: float = 1.0,
    return_entropy: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced per-token log-probs of ``tokens`` after ``prompts``, with gradients.

    One forward over ``cat(prompts, tokens[..., :-1])``; the logits at positions
    Tp - 1 .. Tp + L - 2 predict tokens 0 .. L - 1. They are divided by ``temperature`` and
    masked by ``allowed`` as in :func:`sample`, so at equal temperature the result equals the
    ``logp`` that :func:`sample` recorded.

    Parameters
    ----------
    policy : callable
        As in :func:`sample` (prompts (B, Tp) are shared by the runs of a stacked model).
    prompts : Tensor (*, B, Tp) long
    tokens : Tensor (*, B, L) long
    mask : Tensor (*, B, L) bool
        Real tokens; every real token must be allowed at its position.
    allowed : Tensor (L, V) bool, optional
    temperature : float
    return_entropy : bool
        Also return the exact entropy of each position's next-token distribution (tempered and
        allowed-masked), 0 where ``mask`` is False.

    Returns
    -------
    Tensor (*, B, L), or (logp, entropy)
        Float32 (or the logits' dtype if wider); 0 where ``mask`` is False.
    """
    if not callable(policy):
        raise ArgumentTypeError(
            f"policy must be callable (ids -> logits); got {type(policy).__name__}"
        )
    prompts = _broadcast_runs(policy, _check_prompts(prompts))
    _check_tokens_mask(tokens, mask)
    if tokens.shape[:-1] != prompts.shape[:-1]:
        raise ValueError(
            f"tokens must have shape {tuple(prompts.shape[:-1])} + (L,) to match prompts; "
            f"got {tuple(tokens.shape)}"
        )
    length = tokens.shape[-1]
    allowed = _check_allowed(allowed, length, "tokens.shape[-1]")
    temperature = check_positive("temperature", temperature)
    return_entropy = check_bool("return_entropy", return_entropy)
    lo, hi = (int(x) for x in torch.aminmax(tokens)) if tokens.numel() else (0, -1)
    if lo < 0:
        raise ValueError("tokens must hold token ids >= 0")
    vocab = getattr(policy, "vocab_size", None)
    if isinstance(vocab, int) and hi >= vocab:
        raise ValueError(f"tokens must be token ids in [0, {vocab}); got {hi}")

    tp = prompts.shape[-1]
    ids = torch.cat([prompts, tokens[..., :-1]], dim=-1)
    logits = policy_logits(policy, ids)[..., tp - 1 :, :]  # (*, B, L, V)
    vocab = logits.shape[-1]
    _check_vocab(allowed, vocab)
    if hi >= vocab:
        raise ValueError(f"tokens must be token ids in [0, {vocab}); got {hi}")
    if allowed is not None:
        allowed = allowed.to(tokens.device)
        ok = allowed[torch.arange(length, device=tokens.device), tokens]  # (*, B, L)
        if bool((mask & ~ok).any()):
            raise ValueError("tokens hold a real (mask True) token that allowed forbids")
    z = _masked(logits, allowed, temperature)
    logp_all = torch.log_softmax(z, dim=-1)
    lp = logp_all.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    lp = torch.where(mask, lp, torch.zeros_like(lp))
    if not return_entropy:
        return lp
    # H = -sum_v p_v log p_v over the allowed tokens (p_v = 0 elsewhere; keep the graph finite)
    finite_logp = logp_all if allowed is None else logp_all.masked_fill(~allowed, 0.0)
    ent = -(logp_all.exp() * finite_logp).sum(-1)
    return lp, torch.where(mask, ent, torch.zeros_like(ent))
