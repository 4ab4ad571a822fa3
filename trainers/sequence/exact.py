"""Exact distributions over completions: enumeration, prefix-shared scoring, KL-regularised optima.

With a small vocabulary and short completions every completion can be listed, and a policy's
probability of each one computed exactly instead of estimated from samples:

- :func:`enumerate_completions` lists every completion that a per-position vocabulary
  constraint ``allowed`` (L, V) permits, ended by EOS or by the length L, in lexicographic order.
- :func:`exact_logprobs` scores all of them for every prompt, sharing prefixes: completions that
  agree on their first L - 1 tokens need one forward pass together, since the logits at the
  last position give the probability of every last token at once.
- :class:`SequenceDistribution` holds the result (``logp`` (*, P, M) float64) with its entropy,
  total variation, KL divergence, restriction to a subset and mass of a subset;
  :func:`tv_distance` and :func:`kl_divergence` are the free-function forms.
- :func:`kl_regularized_optimum` is the maximiser of E_π r - β KL(π || π_ref),
  π* ∝ π_ref exp(r/β) (Peters & Schaal 2007; Ziebart 2010; Rafailov et al. 2023, Eq. 4), and
  :func:`reverse_kl_regularized_optimum` the maximiser of E_π r - β KL(π_ref || π),
  π*(y) = β π_ref(y) / (λ - r(y)).

References
----------
Rafailov, Sharma, Mitchell, Ermon, Manning, Finn. "Direct Preference Optimization: Your
Language Model is Secretly a Reward Model", NeurIPS 2023 (Eq. 4: the optimum of the
KL-constrained reward maximisation).
Peters, Schaal. "Reinforcement Learning by Reward-Weighted Regression for Operational Space
Control", ICML 2007. Peters, Mülling, Altün. "Relative Entropy Policy Search", AAAI 2010.
Ziebart. "Modeling Purposeful Adaptive Behavior with the Principle of Maximum Causal Entropy",
PhD thesis, CMU 2010.
Boyd, Vandenberghe. "Convex Optimization", 2004, Sec. 5.5.3 (KKT conditions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from theory.checks import ArgumentTypeError, check_int, check_positive, check_positive_int
from trainers.sequence.policy import Policy, policy_logits
from trainers.sequence.sampling import (
    _broadcast_runs,
    _check_allowed,
    _check_prompts,
    _check_vocab,
    _describe,
)

__all__ = [
    "SequenceDistribution",
    "enumerate_completions",
    "exact_distribution",
    "exact_logprobs",
    "kl_divergence",
    "kl_regularized_optimum",
    "reverse_kl_regularized_optimum",
    "tv_distance",
]


# ---------------------------------------------------------------------------- enumeration
def _count_completions(allowed: torch.Tensor, eos_id: int | None) -> int:
    """M = Σ_t (Π_{s<t} a_s) e_t + Π_{s<L} a_s, with a_t the allowed non-EOS tokens at t and
    e_t = 1 if EOS is allowed at t (Python ints: no overflow)."""
    total, open_prefixes = 0, 1
    for row in allowed.tolist():
        ends = 1 if eos_id is not None and eos_id < len(row) and row[eos_id] else 0
        total += open_prefixes * ends
        open_prefixes *= sum(row) - ends
    return total + open_prefixes


def enumerate_completions(
    allowed: torch.Tensor,
    *,
    eos_id: int | None = None,
    pad_id: int = 0,
    max_completions: int = 2_000_000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every completion that ``allowed`` permits, in lexicographic order.

    Parameters
    ----------
    allowed : Tensor (L, V) bool
        ``allowed[t, v]``: token v may appear at position t.
    eos_id : int, optional
        End of sequence: a completion ends at its first EOS (later positions hold ``pad_id``,
        mask False). Without EOS every completion has length L.
    pad_id : int
    max_completions : int
        Refuse (ValueError) when there are more completions than this.

    Returns
    -------
    tokens : Tensor (M, L) long
    mask : Tensor (M, L) bool
        M = Σ_t (Π_{s<t} a_s) e_t + Π_s a_s, where a_t counts the allowed non-EOS tokens at
        position t and e_t is 1 if EOS is allowed there.

    Examples
    --------
    >>> tok, mask = enumerate_completions(torch.ones(2, 2, dtype=torch.bool), eos_id=1)
    >>> tok.tolist(), mask.tolist()
    ([[0, 0], [0, 1], [1, 0]], [[True, True], [True, True], [True, False]])
    """
    if not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool:
        raise ArgumentTypeError(
            f"allowed must be a torch.bool tensor (L, V); got {_describe(allowed)}"
        )
    if allowed.ndim != 2 or allowed.shape[0] == 0 or allowed.shape[1] == 0:
        raise ValueError(
            f"allowed must have shape (L, V) with L, V >= 1; got {tuple(allowed.shape)}"
        )
    if not bool(allowed.any(-1).all()):
        raise ValueError("allowed must allow at least one token at every position")
    length, vocab = allowed.shape
    if eos_id is not None:
        eos_id = check_int("eos_id", eos_id, lo=0, hi=vocab - 1)
    pad_id = check_int("pad_id", pad_id, lo=0, hi=vocab - 1)
    max_completions = check_positive_int("max_completions", max_completions)
    allowed = allowed.cpu()
    n = _count_completions(allowed, eos_id)
    if n > max_completions:
        raise ValueError(
            f"allowed permits {n} completions, more than max_completions={max_completions}"
        )

    # grow the prefix tree level by level: an ended row gets one child (pad), an open row one
    # child per allowed token in increasing order, so rows stay in lexicographic order
    tokens = torch.zeros(1, 0, dtype=torch.long)
    mask = torch.zeros(1, 0, dtype=torch.bool)
    ended = torch.zeros(1, dtype=torch.bool)
    for t in range(length):
        choices = allowed[t].nonzero().squeeze(-1)  # allowed ids, increasing
        counts = torch.where(ended, 1, len(choices))
        parent = torch.repeat_interleave(torch.arange(len(ended)), counts)
        start = torch.cumsum(counts, 0) - counts
        offset = torch.arange(len(parent)) - start[parent]
        was_ended = ended[parent]
        offset = torch.where(was_ended, 0, offset)
        token = torch.where(was_ended, pad_id, choices[offset])
        tokens = torch.cat([tokens[parent], token[:, None]], dim=1)
        mask = torch.cat([mask[parent], ~was_ended[:, None]], dim=1)
        ended = was_ended | (token == eos_id) if eos_id is not None else was_ended
    assert len(tokens) == n
    return tokens, mask


# ---------------------------------------------------------------------------- exact scoring
def _group_prefixes(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct (first L-1 tokens, their mask) rows: (prefixes (G, L-1), inverse (M,))."""
    head = tokens[:, :-1] * 2 + mask[:, :-1]  # token and mask in one integer per position
    base = 2 * (int(tokens.max().item()) + 1) if tokens.numel() else 2
    width = head.shape[1]
    if width == 0:
        return tokens[:1, :0], torch.zeros(len(tokens), dtype=torch.long)
    if width * math.log2(base) < 62:  # one int64 key per row: a 1-D unique is much faster
        powers = base ** torch.arange(width - 1, -1, -1, dtype=torch.long)
        keys = (head * powers).sum(-1)
        _, first, inverse = _unique_first(keys)
    else:
        _, inverse = torch.unique(head, dim=0, return_inverse=True)
        first = torch.full((int(inverse.max()) + 1,), len(inverse), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(len(inverse)), reduce="amin")
    return tokens[first, :-1], inverse


def _unique_first(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Unique keys, the first row holding each, and each row's group index."""
    uniq, inverse = torch.unique(keys, return_inverse=True)
    first = torch.full((len(uniq),), len(keys), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(keys)), reduce="amin")
    return uniq, first, inverse


def exact_logprobs(
    policy: Policy,
    prompts: torch.Tensor,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    *,
    allowed: torch.Tensor | None = None,
    batch_size: int = 4096,
) -> torch.Tensor:
    """Exact sequence log-probabilities log π(y | x) of every completion y for every prompt x.

    log π(y | x) = Σ_t mask_t log softmax(z_t)[y_t] with z_t the policy's logits after
    (x, y_<t), masked by ``allowed`` (disallowed tokens get -inf), accumulated in float64.

    Parameters
    ----------
    policy : callable
        ids (*, T) -> logits (*, T, V). For a stacked :class:`TinyCausalLM` prompts (P, Tp) are
        shared by its N runs and the result is (N, P, M).
    prompts : Tensor (*, P, Tp) long
    tokens, mask : Tensor (M, L)
        Completions (e.g. from :func:`enumerate_completions`).
    allowed : Tensor (L, V) bool, optional
    batch_size : int
        (prompt, prefix) rows per forward pass (per run of a stacked model).

    Returns
    -------
    Tensor (*, P, M) float64
        -inf for a completion holding a token that ``allowed`` forbids (probability 0).

    Notes
    -----
    Prefix sharing: completions are grouped by their first L - 1 tokens (and mask); one forward
    of length Tp + L - 1 per (prompt, group) gives every position's next-token distribution,
    and the last position covers every last token of the group. The cost is P·G forwards of
    Tp + L - 1 tokens, G the number of distinct prefixes (G ≈ M / a_{L-1}, a_{L-1} the mean
    number of last tokens per prefix), instead of P·M; it grows with M (exponentially in L),
    linearly in P and in the model's per-token cost.
    """
    if not callable(policy):
        raise ArgumentTypeError(
            f"policy must be callable (ids -> logits); got {type(policy).__name__}"
        )
    prompts = _broadcast_runs(policy, _check_prompts(prompts))
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.long:
        raise ArgumentTypeError(
            f"tokens must be a torch.long tensor (M, L); got {_describe(tokens)}"
        )
    if tokens.ndim != 2 or tokens.shape[0] == 0 or tokens.shape[1] == 0:
        raise ValueError(f"tokens must have shape (M, L) with M, L >= 1; got {tuple(tokens.shape)}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ArgumentTypeError(f"mask must be a torch.bool tensor (M, L); got {_describe(mask)}")
    if mask.shape != tokens.shape:
        raise ValueError(
            f"mask must have the shape of tokens {tuple(tokens.shape)}; got {tuple(mask.shape)}"
        )
    if tokens.min().item() < 0:
        raise ValueError("tokens must hold token ids >= 0")
    length = tokens.shape[1]
    allowed = _check_allowed(allowed, length, "tokens.shape[1]")
    batch_size = check_positive_int("batch_size", batch_size)
    vocab = getattr(policy, "vocab_size", None)
    if isinstance(vocab, int):
        _check_vocab(allowed, vocab)
        if tokens.max().item() >= vocab:
            raise ValueError(f"tokens must be token ids in [0, {vocab}); got {tokens.max().item()}")

    device = prompts.device
    tokens, mask = tokens.to(device), mask.to(device)
    lead, n_prompts, tp = prompts.shape[:-2], prompts.shape[-2], prompts.shape[-1]
    prefixes, inverse = _group_prefixes(tokens.cpu(), mask.cpu())
    prefixes, inverse = prefixes.to(device), inverse.to(device)
    order = torch.argsort(inverse, stable=True)  # completions sorted by group
    bounds = torch.searchsorted(inverse[order], torch.arange(len(prefixes) + 1, device=device))
    groups_per_chunk = max(1, batch_size // n_prompts)
    out = torch.empty(*lead, n_prompts, len(tokens), dtype=torch.float64, device=device)
    positions = torch.arange(length, device=device)
    mask_allowed = None if allowed is None else allowed.to(device)

    for g0 in range(0, len(prefixes), groups_per_chunk):
        g1 = min(g0 + groups_per_chunk, len(prefixes))
        chunk = prefixes[g0:g1]  # (G_c, L-1)
        # ids (*, P, G_c, Tp + L - 1): every prompt followed by every prefix of the chunk
        ids = torch.cat(
            [
                prompts.unsqueeze(-2).expand(*lead, n_prompts, g1 - g0, tp),
                chunk.expand(*lead, n_prompts, *chunk.shape),
            ],
            dim=-1,
        )
        flat = ids.reshape(*lead, n_prompts * (g1 - g0), ids.shape[-1])
        with torch.no_grad():
            logits = policy_logits(policy, flat)[..., tp - 1 :, :]
        if g0 == 0:
            _check_vocab(allowed, logits.shape[-1])
            if tokens.max().item() >= logits.shape[-1]:
                raise ValueError(f"tokens must be token ids in [0, {logits.shape[-1]})")
        z = logits.double()
        if mask_allowed is not None:
            z = z.masked_fill(~mask_allowed, float("-inf"))
        table = torch.log_softmax(z, dim=-1)  # (*, P*G_c, L, V)
        table = table.reshape(*lead, n_prompts, g1 - g0, length, table.shape[-1])
        members = order[bounds[g0] : bounds[g1]]  # completions of this chunk's groups
        local = inverse[members] - g0
        lp = table[..., local[:, None], positions, tokens[members]]  # (*, P, m_c, L)
        lp = torch.where(mask[members], lp, torch.zeros((), dtype=lp.dtype, device=device))
        out[..., members] = lp.sum(-1)
    return out


# ---------------------------------------------------------------------------- distributions
def _check_logp(name: str, logp: object) -> torch.Tensor:
    if not isinstance(logp, torch.Tensor) or not logp.is_floating_point():
        raise ArgumentTypeError(f"{name} must be a floating torch.Tensor; got {_describe(logp)}")
    if logp.ndim < 1 or logp.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (*, M) with M >= 1; got {tuple(logp.shape)}")
    if bool(torch.isnan(logp).any()) or bool((logp == math.inf).any()):
        raise ValueError(f"{name} must hold log-probabilities (no NaN, no +inf)")
    return logp.double()


def _check_normalised(name: str, logp: torch.Tensor, atol: float = 1e-6) -> None:
    err = (torch.logsumexp(logp, dim=-1).exp() - 1.0).abs()
    if not bool((err <= atol).all()):
        raise ValueError(
            f"{name} must be normalised along its last axis (probabilities summing to 1 within "
            f"{atol}); the largest deviation is {err.max().item():.3g}"
        )


def _xlogy_terms(p: torch.Tensor, log_ratio: torch.Tensor) -> torch.Tensor:
    """p * log_ratio with 0 where p == 0 (whatever log_ratio is)."""
    return torch.where(p > 0, p * log_ratio, torch.zeros((), dtype=p.dtype, device=p.device))


def tv_distance(p_logp: torch.Tensor, q_logp: torch.Tensor) -> torch.Tensor:
    """Total variation ½ Σ_y |p(y) - q(y)| along the last axis, (*,) float64.

    ``p_logp`` and ``q_logp`` are log-probabilities (-inf allowed) of broadcastable shapes.
    """
    p_logp, q_logp = _check_logp("p_logp", p_logp), _check_logp("q_logp", q_logp)
    _check_broadcast(p_logp, q_logp)
    return 0.5 * (p_logp.exp() - q_logp.exp()).abs().sum(-1)


def kl_divergence(p_logp: torch.Tensor, q_logp: torch.Tensor) -> torch.Tensor:
    """KL(p || q) = Σ_y p(y) log(p(y)/q(y)) along the last axis, (*,) float64.

    Terms with p(y) = 0 are 0; the divergence is +inf where some y has p(y) > 0 = q(y)
    (support mismatch), never NaN.
    """
    p_logp, q_logp = _check_logp("p_logp", p_logp), _check_logp("q_logp", q_logp)
    _check_broadcast(p_logp, q_logp)
    p = p_logp.exp()
    mismatch = ((p > 0) & (q_logp == -math.inf)).any(-1)
    safe_q = torch.where(q_logp == -math.inf, torch.zeros_like(q_logp), q_logp)
    safe_p = torch.where(p_logp == -math.inf, torch.zeros_like(p_logp), p_logp)
    kl = _xlogy_terms(p, safe_p - safe_q).sum(-1).clamp(min=0.0)
    return torch.where(mismatch, torch.full_like(kl, math.inf), kl)


def _check_broadcast(p: torch.Tensor, q: torch.Tensor) -> None:
    try:
        torch.broadcast_shapes(p.shape, q.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"q_logp of shape {tuple(q.shape)} does not broadcast with p_logp of shape "
            f"{tuple(p.shape)}"
        ) from exc
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"q_logp must have as many completions as p_logp ({p.shape[-1]}); got {q.shape[-1]}"
        )


@dataclass(frozen=True)
class SequenceDistribution:
    """An exact distribution over M completions for each prompt (and run).

    ``logp`` (*, P, M) float64, normalised along the last axis (within 1e-6); -inf marks a
    completion of probability 0.
    """

    logp: torch.Tensor

    def __post_init__(self) -> None:
        logp = _check_logp("logp", self.logp)
        _check_normalised("logp", logp)
        object.__setattr__(self, "logp", logp)

    @property
    def probs(self) -> torch.Tensor:
        """Probabilities (*, P, M) float64."""
        return self.logp.exp()

    def entropy(self) -> torch.Tensor:
        """Shannon entropy -Σ_y π(y) log π(y), (*, P) float64."""
        logp = self.logp
        return -_xlogy_terms(logp.exp(), logp.clamp(min=-1e300)).sum(-1)

    def tv(self, other: SequenceDistribution) -> torch.Tensor:
        """Total variation distance to ``other``, (*, P)."""
        return tv_distance(self.logp, _as_logp("other", other))

    def kl(self, other: SequenceDistribution) -> torch.Tensor:
        """KL(self || other), (*, P); +inf where other misses part of self's support."""
        return kl_divergence(self.logp, _as_logp("other", other))

    def restrict(self, valid: torch.Tensor) -> SequenceDistribution:
        """π restricted to ``valid`` (a bool (P, M) or (*, P, M) subset) and renormalised:
        π̄(y) = π(y) 1[y ∈ valid] / π(valid). Every row's subset needs positive mass."""
        valid = self._check_subset("valid", valid)
        masked = self.logp.masked_fill(~valid, -math.inf)
        norm = torch.logsumexp(masked, dim=-1, keepdim=True)
        if bool((norm == -math.inf).any()):
            raise ValueError("valid must hold completions of positive probability in every row")
        return SequenceDistribution(masked - norm)

    def mass(self, subset: torch.Tensor) -> torch.Tensor:
        """π(subset) = Σ_{y ∈ subset} π(y), (*, P) float64."""
        subset = self._check_subset("subset", subset)
        return torch.where(subset, self.logp.exp(), torch.zeros((), dtype=torch.float64)).sum(-1)

    def _check_subset(self, name: str, subset: object) -> torch.Tensor:
        if not isinstance(subset, torch.Tensor) or subset.dtype != torch.bool:
            raise ArgumentTypeError(f"{name} must be a torch.bool tensor; got {_describe(subset)}")
        try:
            shape = torch.broadcast_shapes(subset.shape, self.logp.shape)
        except RuntimeError:
            shape = None
        if shape != self.logp.shape:
            raise ValueError(
                f"{name} must broadcast to the distribution's shape {tuple(self.logp.shape)}; "
                f"got {tuple(subset.shape)}"
            )
        return subset.to(self.logp.device)

    def summary(self) -> str:
        """One line: shape, mean entropy."""
        return (
            f"SequenceDistribution(shape={tuple(self.logp.shape)}, "
            f"mean entropy={self.entropy().mean().item():.4f} nats)"
        )


def _as_logp(name: str, other: object) -> torch.Tensor:
    if not isinstance(other, SequenceDistribution):
        raise ArgumentTypeError(
            f"{name} must be a SequenceDistribution; got {type(other).__name__}"
        )
    return other.logp


# ---------------------------------------------------------------------------- KL-regularised optima
def _check_optimum_args(
    ref_logp: object, rewards: object, beta: object
) -> tuple[torch.Tensor, torch.Tensor, float]:
    ref = _check_logp("ref_logp", ref_logp)
    _check_normalised("ref_logp", ref)
    if not isinstance(rewards, torch.Tensor) or not rewards.is_floating_point():
        raise ArgumentTypeError(
            f"rewards must be a floating torch.Tensor; got {_describe(rewards)}"
        )
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError("rewards must be finite")
    try:
        shape = torch.broadcast_shapes(ref.shape, rewards.shape)
    except RuntimeError:
        shape = None
    if shape is None or rewards.shape[-1] != ref.shape[-1]:
        raise ValueError(
            f"rewards of shape {tuple(rewards.shape)} must broadcast with ref_logp of shape "
            f"{tuple(ref.shape)}"
        )
    beta = check_positive("beta", beta)
    ref, r = torch.broadcast_tensors(ref, rewards.to(ref.device, torch.float64))
    return ref, r, beta


def kl_regularized_optimum(
    ref_logp: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """log π* of π* = argmax_π E_π r - β KL(π || π_ref) = π_ref exp(r/β) / Z.

    The Gibbs/Boltzmann solution of the KL-constrained reward maximisation (Peters & Schaal
    2007; Ziebart 2010; Rafailov et al. 2023, Eq. 4), computed with log-sum-exp in float64;
    its value is β log Z = β log E_{π_ref} exp(r/β).

    Parameters
    ----------
    ref_logp : Tensor (*, M)
        Normalised log-probabilities of π_ref (-inf allowed: π* keeps π_ref's support).
    rewards : Tensor broadcastable to ``ref_logp``
    beta : float > 0

    Returns
    -------
    Tensor (broadcast shape) float64, normalised along the last axis.
    """
    ref, r, beta = _check_optimum_args(ref_logp, rewards, beta)
    score = ref + r / beta
    return score - torch.logsumexp(score, dim=-1, keepdim=True)


def reverse_kl_regularized_optimum(
    ref_logp: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """log π* of π* = argmax_π E_π r - β KL(π_ref || π) over the simplex.

    Derivation (KKT, Boyd & Vandenberghe 2004, Sec. 5.5.3). The objective
    J(π) = Σ_y π(y) r(y) + β Σ_y π_ref(y) log π(y) + const is concave, so a point satisfying
    the KKT conditions is a global maximiser. With multiplier λ for Σ π = 1, stationarity on
    the support of π_ref reads r(y) + β π_ref(y)/π(y) - λ = 0, i.e.

        π(y) = β π_ref(y) / (λ - r(y)),   λ > max_{π_ref(y) > 0} r(y),

    and λ solves f(λ) = Σ_y β π_ref(y) / (λ - r(y)) = 1. f decreases from +inf to 0 on
    (r_max, inf), so the root is unique; it lies in [r_max + β π_ref(A), r_max + β] with A the
    argmax set (f >= 1 at the left end, f <= 1 at the right end). Off the support of π_ref the
    objective is linear in π(y) with slope r(y) - λ, so π(y) = 0 there unless
    r_0 = max_{π_ref(y) = 0} r(y) exceeds the root; then λ = r_0, the support gets
    Σ_y β π_ref(y)/(r_0 - r(y)) < 1 and the rest goes to the completions attaining r_0 (split
    equally: the maximiser is not unique then).

    λ - r_max is found by bisection on a log scale to relative precision 1e-12 (so λ to
    1e-12 absolute or better), in float64; π is renormalised at the end.

    Parameters
    ----------
    ref_logp : Tensor (*, M)
        Normalised log-probabilities of π_ref.
    rewards : Tensor broadcastable to ``ref_logp``
    beta : float > 0

    Returns
    -------
    Tensor (broadcast shape) float64, normalised along the last axis.
    """
    ref, r, beta = _check_optimum_args(ref_logp, rewards, beta)
    support = ref > -math.inf
    neg_inf = torch.tensor(-math.inf, dtype=torch.float64, device=ref.device)
    r_max = torch.where(support, r, neg_inf).amax(-1, keepdim=True)
    gap = torch.where(support, r_max - r, torch.zeros_like(r))  # r_max - r(y) >= 0
    ref_top = torch.where(support & (gap == 0), ref.exp(), torch.zeros_like(r)).sum(
        -1, keepdim=True
    )

    def f(delta: torch.Tensor) -> torch.Tensor:  # Σ β π_ref / (λ - r), λ = r_max + delta
        return torch.where(support, beta * ref.exp() / (gap + delta), torch.zeros_like(r)).sum(
            -1, keepdim=True
        )

    lo = torch.log(beta * ref_top)  # log delta: f(lo) >= 1
    hi = torch.full_like(lo, math.log(beta))  # f(hi) <= 1
    for _ in range(200):
        if bool(((hi - lo) <= 1e-12).all()):
            break
        mid = 0.5 * (lo + hi)
        above = f(mid.exp()) > 1.0
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    delta = (0.5 * (lo + hi)).exp()
    # completions off the support of π_ref with a reward above λ take the leftover mass
    r_off = torch.where(support, neg_inf, r).amax(-1, keepdim=True)
    off_wins = r_off > r_max + delta
    delta = torch.where(off_wins, r_off - r_max, delta)
    pi = torch.where(support, beta * ref.exp() / (gap + delta), torch.zeros_like(r))
    leftover = (1.0 - pi.sum(-1, keepdim=True)).clamp(min=0.0)
    top_off = (~support) & (r == r_off) & off_wins
    n_top = top_off.sum(-1, keepdim=True).clamp(min=1)
    pi = torch.where(top_off, leftover / n_top, pi)
    pi = pi / pi.sum(-1, keepdim=True)
    return torch.log(pi)


# ---------------------------------------------------------------------------- convenience
def exact_distribution(
    policy: Policy,
    task_or_prompts: object,
    *,
    allowed: torch.Tensor | None = None,
    eos_id: int | None = None,
    pad_id: int = 0,
    batch_size: int = 4096,
    max_completions: int = 2_000_000,
) -> SequenceDistribution:
    """The exact completion distribution of ``policy`` on a task or on prompts.

    ``task_or_prompts`` is a task (an object with ``prompts``, ``allowed``, ``eos_id`` and
    ``pad_id``, and optionally ``completions()`` returning the enumerated (tokens, mask)) or a
    prompts tensor (*, P, Tp), in which case ``allowed`` (L, V) is required and ``eos_id``,
    ``pad_id`` describe the completions. Returns a :class:`SequenceDistribution` (*, P, M)
    (N, P, M for a stacked model) over :func:`enumerate_completions`'s order.
    """
    if isinstance(task_or_prompts, torch.Tensor):
        prompts = task_or_prompts
        if allowed is None:
            raise ValueError("allowed (L, V) is required when task_or_prompts is a prompts tensor")
        tokens, mask = enumerate_completions(
            allowed, eos_id=eos_id, pad_id=pad_id, max_completions=max_completions
        )
    elif all(hasattr(task_or_prompts, a) for a in ("prompts", "allowed", "eos_id", "pad_id")):
        task = task_or_prompts
        if allowed is not None or eos_id is not None:
            raise ValueError("allowed and eos_id come from the task; do not pass them with a task")
        prompts, allowed = task.prompts, task.allowed
        if callable(getattr(task, "completions", None)):
            tokens, mask = task.completions()
        else:
            tokens, mask = enumerate_completions(
                allowed, eos_id=task.eos_id, pad_id=task.pad_id, max_completions=max_completions
            )
    else:
        raise ArgumentTypeError(
            "task_or_prompts must be a prompts tensor or a task with prompts, allowed, eos_id "
            f"and pad_id; got {type(task_or_prompts).__name__}"
        )
    logp = exact_logprobs(policy, prompts, tokens, mask, allowed=allowed, batch_size=batch_size)
    return SequenceDistribution(logp)
