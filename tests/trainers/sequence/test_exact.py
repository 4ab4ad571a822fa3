"""Exact completion distributions: enumeration against brute force, prefix-shared scoring
against per-completion teacher forcing and against 20k samples, distances, and the optima of
KL-regularised reward maximisation (Rafailov et al. 2023, Eq. 4; the reverse-KL optimum from
its KKT conditions, Boyd & Vandenberghe 2004, Sec. 5.5.3)."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tests.trainers.sequence.conftest import close as _close
from trainers.sequence import (
    SequenceDistribution,
    TinyCausalLM,
    completion_logprobs,
    enumerate_completions,
    exact_distribution,
    exact_logprobs,
    kl_divergence,
    kl_regularized_optimum,
    reverse_kl_regularized_optimum,
    sample,
    tv_distance,
)

V = 5
CFG = {"max_len": 10, "d_model": 16, "n_layers": 1, "n_heads": 2}


def _peaked(model: TinyCausalLM, scale: float) -> TinyCausalLM:
    with torch.no_grad():
        model.head_w.mul_(scale)
    return model


#: A float64 model with far-from-uniform next-token distributions.
MODEL64 = _peaked(TinyCausalLM(V, seed=0, dtype=torch.float64, **CFG), 25.0)


@st.composite
def allowed_masks(draw, *, max_len: int = 4, vocab: int = V):
    """A random (L, V) allowed mask (every row allows a token) and an EOS id or None."""
    length = draw(st.integers(1, max_len))
    rows = [
        draw(st.lists(st.booleans(), min_size=vocab, max_size=vocab).filter(any))
        for _ in range(length)
    ]
    eos = draw(st.one_of(st.none(), st.integers(0, vocab - 1)))
    return torch.tensor(rows), eos


def _keys(tokens: torch.Tensor, base: int) -> torch.Tensor:
    powers = base ** torch.arange(tokens.shape[1] - 1, -1, -1)
    return (tokens * powers).sum(-1)


# ---------------------------------------------------------------------------- enumeration
@settings(max_examples=40)
@given(case=allowed_masks(), pad=st.integers(0, V - 1))
def test_enumeration_is_every_allowed_completion_in_lexicographic_order(case, pad):
    allowed, eos = case
    length = allowed.shape[0]
    tokens, mask = enumerate_completions(allowed, eos_id=eos, pad_id=pad)
    # brute force: every sequence of allowed tokens, cut after its first EOS
    expected = set()
    for seq in itertools.product(range(V), repeat=length):
        cut = seq.index(eos) + 1 if eos is not None and eos in seq else length
        if all(allowed[t, seq[t]] for t in range(cut)):
            expected.add(seq[:cut])
    got = [tuple(row[: int(m.sum())]) for row, m in zip(tokens.tolist(), mask, strict=True)]
    assert set(got) == expected and len(got) == len(expected)
    # the count formula M = Σ_t (Π_{s<t} a_s) e_t + Π_s a_s
    ends = [int(eos is not None and bool(allowed[t, eos])) for t in range(length)]
    a = [int(allowed[t].sum()) - ends[t] for t in range(length)]
    formula = sum(math.prod(a[:t]) * ends[t] for t in range(length)) + math.prod(a)
    assert len(tokens) == formula
    # mask: a prefix of True; pad after; lexicographic order (strictly increasing keys)
    assert (mask.int().diff(dim=1) <= 0).all()
    assert (tokens[~mask] == pad).all()
    assert (_keys(tokens, V).diff() > 0).all()


def test_enumeration_refuses_more_than_max_completions():
    allowed = torch.ones(4, 3, dtype=torch.bool)
    assert len(enumerate_completions(allowed, max_completions=81)[0]) == 81
    with pytest.raises(ValueError, match="max_completions"):
        enumerate_completions(allowed, max_completions=80)


# ---------------------------------------------------------------------------- exact scoring
@settings(max_examples=10)
@given(case=allowed_masks(max_len=4))
def test_exact_probabilities_sum_to_one_and_equal_brute_force_teacher_forcing(case):
    allowed, eos = case
    tokens, mask = enumerate_completions(allowed, eos_id=eos)
    prompts = torch.tensor([[1, 2], [4, 0]])
    logp = exact_logprobs(MODEL64, prompts, tokens, mask, allowed=allowed, batch_size=7)
    assert logp.shape == (2, len(tokens)) and logp.dtype == torch.float64
    _close(logp.exp().sum(-1), torch.ones(2, dtype=torch.float64), atol=1e-6)
    # brute force: teacher forcing of every (prompt, completion) pair separately
    m = len(tokens)
    brute = completion_logprobs(
        MODEL64,
        prompts[:, None, :].expand(2, m, 2),
        tokens.expand(2, m, -1),
        mask.expand(2, m, -1),
        allowed=allowed,
    ).sum(-1)
    _close(logp, brute.detach(), atol=1e-10)


def test_exact_probabilities_of_a_float32_model_sum_to_one():
    model = _peaked(TinyCausalLM(V, seed=1, **CFG), 10.0)
    allowed = torch.ones(5, V, dtype=torch.bool)
    allowed[0, 4] = False
    tokens, mask = enumerate_completions(allowed, eos_id=4)
    logp = exact_logprobs(model, torch.tensor([[0], [3]]), tokens, mask, allowed=allowed)
    assert (logp.exp().sum(-1) - 1).abs().max() < 1e-6


def test_one_forward_row_per_distinct_prefix():
    rows = []

    def counting(ids):
        rows.append(ids.shape[0])
        return MODEL64(ids)

    allowed = torch.ones(3, V, dtype=torch.bool)
    tokens, mask = enumerate_completions(allowed, eos_id=4)  # 4*4*5 + 4 + 1 = 85 completions
    prefixes = {tuple(r[:2]) for r in tokens.tolist()}
    logp = exact_logprobs(counting, torch.tensor([[0], [1], [2]]), tokens, mask, batch_size=12)
    assert sum(rows) == 3 * len(prefixes) < 3 * len(tokens)
    assert max(rows) <= 12
    full = exact_logprobs(MODEL64, torch.tensor([[0], [1], [2]]), tokens, mask, batch_size=10_000)
    _close(logp, full, atol=1e-12)


def test_stacked_model_gives_one_distribution_per_run():
    seeds = [2, 5]
    stacked = TinyCausalLM(V, seeds=seeds, **CFG)
    allowed = torch.ones(3, V, dtype=torch.bool)
    tokens, mask = enumerate_completions(allowed, eos_id=0)
    prompts = torch.tensor([[1], [2], [3]])
    logp = exact_logprobs(stacked, prompts, tokens, mask, allowed=allowed)
    assert logp.shape == (2, 3, len(tokens))
    for i, s in enumerate(seeds):
        single = exact_logprobs(
            TinyCausalLM(V, seed=s, **CFG), prompts, tokens, mask, allowed=allowed
        )
        _close(logp[i], single, atol=1e-5)


def test_twenty_thousand_samples_agree_with_the_exact_distribution():
    """Pearson chi-square of 20k samples against the exact distribution (cells with expected
    count < 5 pooled); at the 1e-3 level, and the same samples reject another model's
    distribution. TV is also within sqrt(M/n), twice the bound 0.5 sqrt(M/n) on its mean."""
    model = _peaked(TinyCausalLM(V, seed=3, **CFG), 25.0)
    allowed = torch.ones(4, V, dtype=torch.bool)
    allowed[0, 4] = False
    allowed[2, 1] = False
    prompt = torch.tensor([[2, 1]])
    tokens, mask = enumerate_completions(allowed, eos_id=4)
    exact = exact_logprobs(model, prompt, tokens, mask, allowed=allowed)[0].exp().numpy()
    n = 20_000
    out = sample(
        model,
        prompt.expand(n, 2),
        max_new_tokens=4,
        allowed=allowed,
        eos_id=4,
        generator=torch.Generator().manual_seed(0),
    )
    index = torch.searchsorted(_keys(tokens, V), _keys(out.tokens, V))
    assert torch.equal(tokens[index], out.tokens)
    counts = np.bincount(index.numpy(), minlength=len(tokens))

    def chi2_pvalue(p):
        big = n * p >= 5
        obs = np.append(counts[big], counts[~big].sum())
        exp = np.append(n * p[big], n * p[~big].sum())
        keep = exp > 0
        return stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum()).pvalue

    assert exact.max() > 5 / len(tokens)  # far from uniform
    assert chi2_pvalue(exact) > 1e-3
    assert 0.5 * np.abs(counts / n - exact).sum() < math.sqrt(len(tokens) / n)
    other = _peaked(TinyCausalLM(V, seed=4, **CFG), 25.0)
    wrong = exact_logprobs(other, prompt, tokens, mask, allowed=allowed)[0].exp().numpy()
    assert chi2_pvalue(wrong) < 1e-6


def test_exact_distribution_of_a_task_and_of_prompts():
    allowed = torch.ones(3, V, dtype=torch.bool)
    prompts = torch.tensor([[0], [1]])
    task = SimpleNamespace(prompts=prompts, allowed=allowed, eos_id=2, pad_id=0)
    a = exact_distribution(MODEL64, task)
    b = exact_distribution(MODEL64, prompts, allowed=allowed, eos_id=2)
    tokens, mask = enumerate_completions(allowed, eos_id=2)
    _close(a.logp, b.logp)
    _close(a.logp, exact_logprobs(MODEL64, prompts, tokens, mask, allowed=allowed))


# ---------------------------------------------------------------------------- distributions
def test_distances_entropy_restrict_and_mass_on_a_hand_example():
    p = SequenceDistribution(torch.log(torch.tensor([[0.5, 0.25, 0.25, 0.0]], dtype=torch.float64)))
    q = SequenceDistribution(
        torch.log(torch.tensor([[0.25, 0.25, 0.25, 0.25]], dtype=torch.float64))
    )
    _close(p.entropy(), torch.tensor([1.5 * math.log(2)], dtype=torch.float64))
    _close(p.tv(q), torch.tensor([0.25], dtype=torch.float64))
    _close(p.kl(q), torch.tensor([0.5 * math.log(2)], dtype=torch.float64))
    assert q.kl(p).item() == math.inf  # q puts mass where p has none
    valid = torch.tensor([[False, True, True, True]])
    _close(p.mass(valid), torch.tensor([0.5], dtype=torch.float64))
    r = p.restrict(valid)
    _close(r.probs, torch.tensor([[0, 0.5, 0.5, 0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="valid"):
        p.restrict(torch.tensor([[False, False, False, True]]))


@settings(max_examples=30)
@given(seed=st.integers(0, 2**16), m=st.integers(2, 8), zeros=st.integers(0, 3))
def test_kl_and_tv_agree_with_numpy_and_report_support_mismatch(seed, m, zeros):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(m)), rng.dirichlet(np.ones(m))
    p[: min(zeros, m - 1)] = 0.0
    q[m - min(zeros, m - 1) :] = 0.0
    p, q = p / p.sum(), q / q.sum()
    with np.errstate(divide="ignore"):
        lp, lq = torch.tensor(np.log(p)), torch.tensor(np.log(q))
    mismatch = bool(((p > 0) & (q == 0)).any())
    kl = kl_divergence(lp, lq).item()
    if mismatch:
        assert kl == math.inf
    else:
        ref = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True) if pi > 0)
        assert kl == pytest.approx(ref, abs=1e-12)
    assert tv_distance(lp, lq).item() == pytest.approx(0.5 * np.abs(p - q).sum(), abs=1e-12)
    assert not math.isnan(kl_divergence(lq, lp).item())


# ---------------------------------------------------------------------------- KL-regularised optima
def _forward_objective(pi, ref, r, beta):  # E_π r - β KL(π || π_ref)
    terms = np.where(pi > 0, pi * np.log(np.where(pi > 0, pi, 1) / ref), 0.0)
    return float((pi * r).sum() - beta * terms.sum())


def _reverse_objective(pi, ref, r, beta):  # E_π r - β KL(π_ref || π)
    on = ref > 0
    if (pi[on] <= 0).any():
        return -math.inf
    return float((pi * r).sum() - beta * (ref[on] * np.log(ref[on] / pi[on])).sum())


def test_kl_regularized_optimum_is_the_gibbs_distribution():
    # two completions: π*(y1) = e / (1 + e) for π_ref uniform, r = (1, 0), β = 1
    ref = torch.log(torch.tensor([0.5, 0.5], dtype=torch.float64))
    pi = kl_regularized_optimum(ref, torch.tensor([1.0, 0.0], dtype=torch.float64), 1.0).exp()
    e = math.e
    _close(pi, torch.tensor([e / (1 + e), 1 / (1 + e)], dtype=torch.float64))
    # in general its value is β log E_ref exp(r/β) and it beats random points of the simplex
    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(6))
    r = rng.normal(size=6)
    beta = 0.3
    pi = kl_regularized_optimum(torch.tensor(np.log(ref)), torch.tensor(r), beta).exp().numpy()
    value = _forward_objective(pi, ref, r, beta)
    assert value == pytest.approx(beta * math.log((ref * np.exp(r / beta)).sum()), abs=1e-12)
    for q in rng.dirichlet(np.ones(6), size=200):
        assert _forward_objective(q, ref, r, beta) <= value + 1e-12


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**16),
    m=st.integers(2, 8),
    beta=st.floats(0.01, 10.0),
    ties=st.booleans(),
)
def test_reverse_kl_optimum_beats_perturbations_on_the_simplex(seed, m, beta, ties):
    rng = np.random.default_rng(seed)
    ref = rng.dirichlet(np.ones(m))
    r = rng.normal(size=m)
    if ties:
        r[: m // 2 + 1] = r.max()
    logp = reverse_kl_regularized_optimum(torch.tensor(np.log(ref)), torch.tensor(r), beta)
    pi = logp.exp().numpy()
    assert abs(pi.sum() - 1) < 1e-12 and (pi > 0).all()
    # stationarity: r(y) + β π_ref(y)/π(y) is the same λ for every y
    lam = r + beta * ref / pi
    assert np.ptp(lam) < 1e-8 * max(1.0, abs(lam).max())
    value = _reverse_objective(pi, ref, r, beta)
    for q in rng.dirichlet(np.ones(m), size=50):
        for t in (1.0, 0.1, 1e-3):
            assert _reverse_objective((1 - t) * pi + t * q, ref, r, beta) <= value + 1e-9


def test_reverse_kl_optimum_puts_leftover_mass_off_the_reference_support():
    # π_ref = (1/2, 1/2, 0), r = (0, 0, 2), β = 1: λ = 2, π = (1/4, 1/4, 1/2)
    ref = torch.log(torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
    pi = reverse_kl_regularized_optimum(
        ref, torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64), 1.0
    )
    _close(pi.exp(), torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64))
    # with a small off-support reward the support equation wins: π = π_ref
    pi = reverse_kl_regularized_optimum(
        ref, torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64), 1.0
    )
    _close(pi.exp(), torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64))
