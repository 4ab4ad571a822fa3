"""Sampling (temperature, top-k, nucleus sampling of Holtzman et al. 2020, allowed masks, EOS)
and teacher-forced log-probabilities: the KV-cache and recompute paths agree sample for
sample, and completion_logprobs reproduces the log-probabilities recorded while sampling."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tests.trainers.sequence.conftest import close as _close
from trainers.sequence import Completions, TinyCausalLM, completion_logprobs, sample
from trainers.sequence.sampling import _truncate

V, EOS = 6, 5
CFG = {"max_len": 16, "d_model": 16, "n_layers": 2, "n_heads": 2}


def _peaked(model: TinyCausalLM, scale: float = 20.0) -> TinyCausalLM:
    """Sharpen the freshly initialised (near-uniform) model so samples are far from uniform."""
    with torch.no_grad():
        model.head_w.mul_(scale)
    return model


class _NoCache(torch.nn.Module):
    """The same model without ``init_cache``: sampling recomputes the prefix every step."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(ids)


def _allowed(length: int) -> torch.Tensor:
    allowed = torch.ones(length, V, dtype=torch.bool)
    allowed[0, EOS] = False  # no empty completion
    allowed[1, 2] = False
    allowed[2, :3] = False
    return allowed


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"temperature": 0.7},
        {"top_k": 2},
        {"top_p": 0.6, "temperature": 1.5},
    ],
)
def test_kv_cache_and_recompute_paths_draw_identical_samples(options):
    model = _peaked(TinyCausalLM(V, seeds=[0, 1], **CFG), 5.0)
    prompts = torch.randint(0, V, (2, 16, 3), generator=torch.Generator().manual_seed(0))
    kw = {"max_new_tokens": 5, "allowed": _allowed(5), "eos_id": EOS, **options}
    a = sample(model, prompts, generator=torch.Generator().manual_seed(9), **kw)
    b = sample(_NoCache(model), prompts, generator=torch.Generator().manual_seed(9), **kw)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.mask, b.mask)
    _close(a.logp, b.logp, atol=1e-5)
    c = sample(model, prompts, generator=torch.Generator().manual_seed(10), **kw)
    assert not torch.equal(a.tokens, c.tokens)  # another seed, other samples


def test_one_generator_per_run_draws_each_run_as_its_unstacked_model():
    """With a generator per run, run i's completions are those of ``unstack(i)`` sampled alone
    with its generator (completions end at different steps, so the pads are compared too), and
    each generator advances by exactly max_new_tokens draws, whatever the other runs did."""
    seeds, B, L = (7, 8, 9), 8, 6
    model = _peaked(TinyCausalLM(V, seeds=[0, 1, 2], **CFG), 5.0)
    prompts = torch.randint(0, V, (3, B, 2), generator=torch.Generator().manual_seed(5))
    kw = {"max_new_tokens": L, "allowed": _allowed(L), "eos_id": EOS}
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    out = sample(model, prompts, generator=gens, **kw)
    ends = out.lengths
    assert (ends < L).any() and ends[ends < L].unique().numel() > 1, "needs early, varied EOS"
    for i, s in enumerate(seeds):
        one = sample(model.unstack(i), prompts[i], generator=torch.Generator().manual_seed(s), **kw)
        assert torch.equal(out.tokens[i], one.tokens) and torch.equal(out.mask[i], one.mask)
        _close(out.logp[i], one.logp, atol=1e-5)
        ref = torch.Generator().manual_seed(s)
        for _ in range(L):  # the draws of L steps, then the next numbers agree
            torch.rand((B, V), generator=ref, dtype=torch.float64)
        assert torch.equal(torch.rand(4, generator=gens[i]), torch.rand(4, generator=ref))
    # a single policy takes a list of one generator: the same samples as that generator
    single = model.unstack(1)
    a = sample(single, prompts[1], generator=[torch.Generator().manual_seed(8)], **kw)
    assert torch.equal(a.tokens, out.tokens[1]) and torch.equal(a.mask, out.mask[1])


@pytest.mark.parametrize("temperature", [1.0, 0.6, 2.0])
def test_completion_logprobs_reproduce_the_sampled_logp(temperature):
    model = _peaked(TinyCausalLM(V, seeds=[0, 1], **CFG), 3.0)
    prompts = torch.randint(0, V, (32, 2), generator=torch.Generator().manual_seed(1))
    allowed = _allowed(6)
    out = sample(
        model,
        prompts,
        max_new_tokens=6,
        allowed=allowed,
        eos_id=EOS,
        temperature=temperature,
        top_k=4,  # truncation is not part of the recorded logp
        generator=torch.Generator().manual_seed(2),
    )
    assert out.tokens.shape == (2, 32, 6)
    lp = completion_logprobs(
        model, prompts, out.tokens, out.mask, allowed=allowed, temperature=temperature
    )
    _close(lp, out.logp, atol=1e-5)
    assert lp.requires_grad
    # at another temperature the log-probs differ (the comparison could fail)
    other = completion_logprobs(
        model, prompts, out.tokens, out.mask, allowed=allowed, temperature=temperature * 1.5
    )
    assert (other - out.logp).abs().max() > 1e-3


def test_eos_ends_a_completion_with_pad_and_false_mask():
    model = _peaked(TinyCausalLM(V, seed=4, **CFG), 5.0)
    prompts = torch.randint(0, V, (64, 2), generator=torch.Generator().manual_seed(3))
    out = sample(
        model,
        prompts,
        max_new_tokens=6,
        eos_id=EOS,
        pad_id=1,
        generator=torch.Generator().manual_seed(4),
    )
    is_eos = out.tokens == EOS
    assert is_eos.any(), "the test needs completions that end early"
    first = torch.where(is_eos.any(-1), is_eos.float().argmax(-1), 6)  # index of the first EOS
    pos = torch.arange(6)
    expected_mask = pos <= first[:, None]
    assert torch.equal(out.mask, expected_mask)
    assert torch.equal(out.lengths, expected_mask.sum(-1))
    assert (out.tokens[~out.mask] == 1).all()
    assert (out.logp[~out.mask] == 0).all() and (out.logp[out.mask] < 0).all()


def test_sampling_stops_early_once_every_completion_has_ended():
    calls = []
    model = TinyCausalLM(V, seed=0, **CFG)

    def counting(ids):
        calls.append(ids.shape[-1])
        return model(ids)

    allowed = torch.ones(5, V, dtype=torch.bool)
    allowed[0, EOS] = False  # no empty completion
    allowed[1] = False
    allowed[1, EOS] = True  # position 1 must be EOS
    out = sample(
        counting,
        torch.zeros(4, 2, dtype=torch.long),
        max_new_tokens=5,
        allowed=allowed,
        eos_id=EOS,
        generator=torch.Generator().manual_seed(0),
    )
    assert len(calls) == 2 and out.tokens.shape == (4, 5)
    assert (out.tokens[:, 1] == EOS).all() and (out.mask.sum(-1) == 2).all()


def test_sampled_tokens_respect_allowed():
    model = TinyCausalLM(V, seed=1, **CFG)
    allowed = _allowed(4)
    out = sample(
        model,
        torch.zeros(200, 1, dtype=torch.long),
        max_new_tokens=4,
        allowed=allowed,
        eos_id=EOS,
        generator=torch.Generator().manual_seed(0),
    )
    ok = allowed[torch.arange(4), out.tokens]
    assert ok[out.mask].all()
    # a near-uniform model visits every allowed token
    assert out.tokens[:, 2][out.mask[:, 2]].unique().tolist() == [3, 4, 5]


def test_top_k_one_and_tiny_top_p_are_greedy():
    model = _peaked(TinyCausalLM(V, seed=2, **CFG), 5.0)
    prompts = torch.randint(0, V, (16, 2), generator=torch.Generator().manual_seed(5))
    greedy = []
    ids = prompts
    for _ in range(4):
        nxt = model(ids)[:, -1].argmax(-1, keepdim=True)
        greedy.append(nxt)
        ids = torch.cat([ids, nxt], -1)
    greedy = torch.cat(greedy, -1)
    for kw in ({"top_k": 1}, {"top_p": 1e-9}):
        out = sample(
            model, prompts, max_new_tokens=4, generator=torch.Generator().manual_seed(6), **kw
        )
        assert torch.equal(out.tokens, greedy)


# away from the exact boundaries 0.5 and 0.8, where float rounding decides
@pytest.mark.parametrize(
    ("top_p", "kept"),
    [(0.3, {0}), (0.49, {0}), (0.79, {0, 1}), (0.81, {0, 1, 2}), (0.96, {0, 1, 2, 3})],
)
def test_top_p_keeps_the_smallest_set_of_mass_at_least_p(top_p, kept):
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    z = torch.log(probs)[[2, 0, 3, 1]]  # shuffled: token 1 is the likeliest
    unshuffle = {0: 2, 1: 0, 2: 3, 3: 1}  # position in z -> rank
    out = _truncate(z.unsqueeze(0), None, top_p)[0]
    assert {unshuffle[i] for i in torch.isfinite(out).nonzero().flatten().tolist()} == kept


def test_top_k_keeps_the_k_likeliest():
    z = torch.tensor([[0.1, 2.0, -1.0, 1.5, 0.3]])
    out = _truncate(z, 2, None)
    assert torch.isfinite(out).nonzero()[:, 1].tolist() == [1, 3]


def test_entropy_is_that_of_the_masked_tempered_next_token_distribution():
    model = _peaked(TinyCausalLM(V, seed=3, **CFG), 3.0)
    prompts = torch.randint(0, V, (8, 2), generator=torch.Generator().manual_seed(7))
    allowed = _allowed(4)
    out = sample(
        model,
        prompts,
        max_new_tokens=4,
        allowed=allowed,
        eos_id=EOS,
        generator=torch.Generator().manual_seed(8),
    )
    lp, ent = completion_logprobs(
        model, prompts, out.tokens, out.mask, allowed=allowed, temperature=0.8, return_entropy=True
    )
    ids = torch.cat([prompts, out.tokens[:, :-1]], -1)
    z = (model(ids)[:, 1:] / 0.8).masked_fill(~allowed, float("-inf"))
    p = torch.softmax(z, -1)
    ref = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)
    _close(ent, torch.where(out.mask, ref, 0.0), atol=1e-5)
    (lp.sum() + ent.sum()).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_generic_policy_with_leading_dims_and_hf_output():
    model = TinyCausalLM(V, seed=0, **CFG)

    def hf_style(ids):
        return SimpleNamespace(logits=model(ids))

    prompts = torch.randint(0, V, (2, 3, 2), generator=torch.Generator().manual_seed(0))
    a = sample(hf_style, prompts, max_new_tokens=3, generator=torch.Generator().manual_seed(1))
    b = sample(model, prompts, max_new_tokens=3, generator=torch.Generator().manual_seed(1))
    assert isinstance(a, Completions) and a.tokens.shape == (2, 3, 3)
    assert torch.equal(a.tokens, b.tokens)
    lp = completion_logprobs(hf_style, prompts, a.tokens, a.mask)
    _close(lp, a.logp, atol=1e-5)


def test_completion_logprobs_refuses_a_real_token_that_allowed_forbids():
    model = TinyCausalLM(V, seed=0, **CFG)
    allowed = _allowed(3)
    tokens = torch.tensor([[EOS, 0, 0]])
    with pytest.raises(ValueError, match="allowed"):
        completion_logprobs(
            model,
            torch.zeros(1, 1, dtype=torch.long),
            tokens,
            torch.ones(1, 3, dtype=torch.bool),
            allowed=allowed,
        )
    # after the end (mask False) a forbidden pad is fine
    mask = torch.tensor([[True, False, False]])
    lp = completion_logprobs(
        model,
        torch.zeros(1, 1, dtype=torch.long),
        torch.tensor([[0, EOS, EOS]]),
        mask,
        allowed=allowed,
    )
    assert torch.isfinite(lp).all() and (lp[0, 1:] == 0).all()


def test_float64_policy_records_float64_logp_and_generic_policy_checks_allowed_width():
    model = TinyCausalLM(V, seed=0, dtype=torch.float64, **CFG)
    out = sample(model, torch.zeros(3, 1, dtype=torch.long), max_new_tokens=2)
    assert out.logp.dtype == torch.float64

    def generic(ids):  # no vocab_size attribute: the width is checked on the first logits
        return model(ids)

    with pytest.raises(ValueError, match="allowed"):
        sample(
            generic,
            torch.zeros(3, 1, dtype=torch.long),
            max_new_tokens=2,
            allowed=torch.ones(2, V + 1, dtype=torch.bool),
        )
