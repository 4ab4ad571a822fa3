"""TinyCausalLM (pre-LN causal transformer, Vaswani et al. 2017) and the policy protocol.

Stacked runs against single models (same outputs, same optimizer step), the KV cache against
full recomputation, causality, and policy_logits on Hugging Face-style outputs.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trainers.sequence.conftest import close as _close
from trainers.sequence import KVCache, TinyCausalLM, policy_logits

SEEDS = [3, 11, 7]
CFG = {"max_len": 12, "d_model": 16, "n_layers": 2, "n_heads": 2}


@pytest.mark.parametrize("tied", [False, True])
def test_stacked_run_equals_single_model_of_its_seed(tied):
    stacked = TinyCausalLM(9, seeds=SEEDS, tied=tied, **CFG)
    ids = torch.randint(0, 9, (len(SEEDS), 4, 7), generator=torch.Generator().manual_seed(0))
    out = stacked(ids)
    assert out.shape == (len(SEEDS), 4, 7, 9)
    for i, s in enumerate(SEEDS):
        single = TinyCausalLM(9, seed=s, tied=tied, **CFG)
        _close(out[i], single(ids[i]), atol=1e-5)
        _close(out[i], stacked.unstack(i)(ids[i]), atol=1e-5)
    # distinct seeds give distinct models
    assert (out[0] - out[1]).abs().max() > 1e-3


def _sgd_step(model: torch.nn.Module, lr: float = 0.05) -> None:
    """One plain gradient step (elementwise, like every torch optimizer: runs stay apart as
    long as their gradients do; torch.optim costs seconds of import on first use)."""
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
            p.grad = None


def test_stacked_and_single_models_stay_equal_after_identical_optimizer_steps():
    stacked = TinyCausalLM(9, seeds=SEEDS, **CFG)
    singles = [TinyCausalLM(9, seed=s, **CFG) for s in SEEDS]
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 9, (len(SEEDS), 5, 8), generator=gen)
    target = torch.randint(0, 9, (len(SEEDS), 5, 8), generator=gen)

    def loss_of(logits, tgt):
        return torch.nn.functional.cross_entropy(logits.reshape(-1, 9), tgt.reshape(-1))

    for _ in range(3):
        logits = stacked(ids)
        sum(loss_of(logits[i], target[i]) for i in range(len(SEEDS))).backward()
        grads = {n: p.grad.clone() for n, p in stacked.named_parameters()}
        for i, single in enumerate(singles):
            loss_of(single(ids[i]), target[i]).backward()
            for n, p in single.named_parameters():  # run i's gradient is its own slice
                _close(grads[n][i : i + 1], p.grad, atol=1e-5)
            _sgd_step(single)
        _sgd_step(stacked)
    out = stacked(ids)
    for i, single in enumerate(singles):
        _close(out[i], single(ids[i]), atol=1e-5)
        _close(stacked.unstack(i)(ids[i]), single(ids[i]), atol=1e-5)
    # the steps changed the model (the test could fail)
    assert (out[0] - TinyCausalLM(9, seed=SEEDS[0], **CFG)(ids[0])).abs().max() > 1e-3


def test_global_rng_initialisation_is_reproducible_under_manual_seed():
    torch.manual_seed(5)
    a = TinyCausalLM(6, **CFG)
    torch.manual_seed(5)
    b = TinyCausalLM(6, **CFG)
    c = TinyCausalLM(6, **CFG)
    ids = torch.arange(6).reshape(1, 6)
    _close(a(ids), b(ids), atol=0)
    assert (a(ids) - c(ids)).abs().max() > 1e-4
    assert a.n_runs is None and a.vocab_size == 6 and a.max_len == CFG["max_len"]


@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("seeds", [None, [0, 1]])
def test_kv_cache_decoding_equals_full_forward(seeds, grad):
    """Chunks of 3, 1, 3 and 2 tokens through the cache give the logits of one full forward,
    with gradients (the cache concatenates) and without (it writes into its buffers)."""
    model = TinyCausalLM(7, seed=None if seeds else 2, seeds=seeds, **CFG)
    lead = (2, 3) if seeds else (3,)
    ids = torch.randint(0, 7, (*lead, 9), generator=torch.Generator().manual_seed(3))
    full = model(ids)
    cache = model.init_cache(lead)
    assert isinstance(cache, KVCache)
    with torch.set_grad_enabled(grad):
        parts = [model(ids[..., a:b], cache=cache) for a, b in ((0, 3), (3, 4), (4, 7), (7, 9))]
    assert cache.length == 9
    assert parts[-1].requires_grad == grad
    _close(torch.cat(parts, dim=-2), full, atol=1e-5)


@settings(max_examples=10)
@given(cut=st.integers(0, 7), seed=st.integers(0, 2**16))
def test_logits_are_causal(cut, seed):
    model = TinyCausalLM(5, seed=0, **CFG)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 5, (2, 8), generator=gen)
    changed = ids.clone()
    changed[:, cut:] = torch.randint(0, 5, (2, 8 - cut), generator=gen)
    changed[:, cut] = (ids[:, cut] + 1) % 5  # at least one token differs
    a, b = model(ids), model(changed)
    _close(a[:, :cut], b[:, :cut], atol=1e-6)
    assert (a[:, cut:] - b[:, cut:]).abs().max() > 1e-7


def test_float64_model_and_leading_batch_dims():
    model = TinyCausalLM(4, seed=0, dtype=torch.float64, **CFG)
    out = model(torch.zeros(2, 3, 5, dtype=torch.long))
    assert out.dtype == torch.float64 and out.shape == (2, 3, 5, 4)


def test_stacked_model_refuses_ids_without_its_run_axis():
    model = TinyCausalLM(4, seeds=[0, 1], **CFG)
    with pytest.raises(ValueError, match="ids"):
        model(torch.zeros(3, 5, dtype=torch.long))


def test_cache_refuses_a_sequence_past_max_len():
    model = TinyCausalLM(4, seed=0, **CFG)
    cache = model.init_cache((2,))
    model(torch.zeros(2, 10, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="max_len"):
        model(torch.zeros(2, 3, dtype=torch.long), cache=cache)


class _HFStyle(torch.nn.Module):
    """A fake Hugging Face causal LM: returns an object with ``.logits``."""

    def __init__(self, vocab: int):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, vocab)

    def forward(self, ids):
        return SimpleNamespace(logits=self.emb(ids))


def test_policy_logits_unwraps_hugging_face_outputs():
    fake = _HFStyle(5)
    ids = torch.tensor([[1, 2, 3]])
    _close(policy_logits(fake, ids), fake.emb(ids))
    model = TinyCausalLM(5, seed=0, **CFG)
    _close(policy_logits(model, ids), model(ids))


@pytest.mark.parametrize(
    "output",
    [
        lambda ids: SimpleNamespace(logits="nope"),
        lambda ids: torch.zeros(*ids.shape, 4, dtype=torch.long),
        lambda ids: torch.zeros(*ids.shape[:-1], ids.shape[-1] + 1, 4),
        lambda ids: torch.zeros(*ids.shape),
    ],
    ids=["not-a-tensor", "integer-logits", "wrong-length", "no-vocab-axis"],
)
def test_policy_logits_refuses_malformed_outputs_naming_policy(output):
    with pytest.raises((TypeError, ValueError), match="policy"):
        policy_logits(output, torch.tensor([[1, 2]]))
