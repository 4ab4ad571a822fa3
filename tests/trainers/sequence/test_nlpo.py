"""NLPO on sequence policies: the learned top-p mask, the delayed mask model, the adaptive KL
controller, masked log-probs, the PPO it reduces to without a mask, stacked runs == one by one."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trainers.sequence.conftest import close
from trainers.sequence import (
    PPOSeqConfig,
    TinyCausalLM,
    tie_break,
    tied_digit_sum,
    train_sequence_ppo,
)
from trainers.sequence import common as C
from trainers.sequence import nlpo as NL
from trainers.sequence.nlpo import NLPOConfig, top_p_mask, train_nlpo
from trainers.sequence.policy import policy_logits

torch.set_num_threads(1)

TINY = dict(d_model=8, n_layers=1, n_heads=2)


@pytest.fixture(scope="module")
def small():
    """Two digits in {0, 1, 2} summing to 2 or 3, then the answer."""
    return tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))


# ------------------------------------------------------------------------ the top-p mask
def _p(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


def test_top_p_keeps_the_smallest_prefix_whose_mass_exceeds_p():
    probs = _p(0.125, 0.5, 0.25, 0.125)  # sorted: 0.5, 0.25, 0.125 (index 0), 0.125 (index 3)
    assert top_p_mask(probs, 0.4).tolist() == [False, True, False, False]
    assert top_p_mask(probs, 0.5).tolist() == [False, True, True, False]  # 0.5 is not > 0.5
    assert top_p_mask(probs, 0.6).tolist() == [False, True, True, False]
    assert top_p_mask(probs, 0.75).tolist() == [True, True, True, False]
    assert top_p_mask(probs, 0.9).tolist() == [True, True, True, True]
    assert top_p_mask(probs, 1.0).all()


def test_top_p_always_keeps_the_first_token_and_min_tokens():
    probs = _p(0.05, 0.9, 0.03, 0.02)
    assert top_p_mask(probs, 1e-6).tolist() == [False, True, False, False]
    assert top_p_mask(probs, 1e-6, min_tokens_to_keep=2).tolist() == [True, True, False, False]
    assert top_p_mask(probs, 1e-6, min_tokens_to_keep=3).tolist() == [True, True, True, False]
    assert top_p_mask(probs, 0.5, min_tokens_to_keep=9).all()


def test_top_p_works_row_by_row_on_batches():
    probs = torch.stack([_p(0.7, 0.2, 0.1), _p(0.1, 0.1, 0.8)]).reshape(2, 1, 3)
    out = top_p_mask(probs, 0.75)
    assert out.tolist() == [[[True, True, False]], [[False, False, True]]]


@settings(max_examples=40, deadline=None)
@given(
    logits=st.lists(st.floats(-4, 4), min_size=2, max_size=8),
    p=st.floats(0.01, 0.99),
    k=st.integers(1, 4),
)
def test_top_p_mask_properties(logits, p, k):
    """The kept set is a prefix of the decreasing order, of at least min(k, V) tokens, and
    either everything or the smallest prefix whose mass exceeds p (beyond the first k)."""
    probs = torch.softmax(torch.tensor(logits, dtype=torch.float64), 0)
    keep = top_p_mask(probs, p, k)
    sp, order = torch.sort(probs, descending=True, stable=True)
    ks = keep[order]
    n = int(ks.sum())
    assert bool(ks[:n].all()) and not bool(ks[n:].any())  # a prefix
    assert n >= min(k, probs.numel())
    if n > max(k, 1):  # kept by the mass rule: the mass above the last kept token is <= p
        assert float(sp[: n - 1].sum()) <= p + 1e-12
    if n < probs.numel():
        assert float(sp[:n].sum()) > p - 1e-12 or n == k


def test_step_mask_respects_the_grammar_and_keeps_eos(small):
    """The nucleus is taken over the allowed tokens (renormalised), EOS added where the grammar
    allows it, and the result intersected with the grammar."""
    V, eos = small.vocab_size, small.eos_id
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[[3, 4, 5, eos]] = True
    logits = torch.full((1, V), -20.0, dtype=torch.float64)
    logits[0, 0] = 30.0  # a disallowed token with almost all the mass
    logits[0, 3], logits[0, 4], logits[0, 5] = 5.0, 1.0, 0.0
    cfg = NLPOConfig(top_p=0.5, min_tokens_to_keep=1)
    keep = NL._step_mask(logits, allowed, eos, cfg)[0]
    assert set(torch.nonzero(keep).flatten().tolist()) == {3, eos}
    no_eos = allowed.clone()
    no_eos[eos] = False
    keep2 = NL._step_mask(logits, no_eos, eos, cfg)[0]
    assert set(torch.nonzero(keep2).flatten().tolist()) == {3}


# ------------------------------------------------------------------------ masked log-probs
def test_masked_logprobs_are_normalised_over_the_mask(small):
    """log pi^M(a) = z_a - logsumexp(z over the mask); the entropy is that of pi^M."""
    policy = TinyCausalLM(small.vocab_size, max_len=5, seeds=[0, 1], dtype=torch.float64)
    prompts = small.prompts[torch.tensor([[0, 1], [1, 1]])]
    tokens, mask = (
        small.solutions[torch.tensor([[0, 1], [1, 0]])],
        torch.ones(2, 2, 4, dtype=torch.bool),
    )
    action = small.allowed.expand(2, 2, -1, -1).clone()
    action[..., 0, :] = False
    action[..., 0, tokens[..., 0].unique()] = True  # position 0: only the tokens used there
    action[0, 0, 1, 5] = False
    action[0, 0, 1, tokens[0, 0, 1]] = True
    with torch.no_grad():
        lp, ent = NL._masked_logprobs(policy, prompts, tokens, mask, action, 1.0)
        ids = torch.cat([prompts, tokens[..., :-1]], dim=-1)
        z = policy_logits(policy, ids)  # prompts of one token: position t predicts token t
    for i in range(2):
        for b in range(2):
            for t in range(4):
                m = action[i, b, t]
                zz = z[i, b, t][m]
                logq = zz - torch.logsumexp(zz, 0)
                want = z[i, b, t, tokens[i, b, t]] - torch.logsumexp(zz, 0)
                assert abs(float(lp[i, b, t] - want)) < 1e-12
                assert abs(float(ent[i, b, t] + (logq.exp() * logq).sum())) < 1e-12
                assert abs(float(logq.exp().sum()) - 1.0) < 1e-12


def test_masked_sampling_stays_in_its_masks_and_matches_teacher_forcing(small):
    """Each sampled token lies in its stored mask (a subset of the grammar, EOS kept); the
    recorded log-probs are the teacher-forced masked ones, the raw ones the grammar-only ones."""
    policy = TinyCausalLM(small.vocab_size, max_len=5, seeds=[0, 1], dtype=torch.float64)
    mask_model = TinyCausalLM(small.vocab_size, max_len=5, seeds=[7, 8], dtype=torch.float64)
    prompts = small.prompts[torch.randint(2, (2, 16), generator=torch.Generator().manual_seed(0))]
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    cfg = NLPOConfig(top_p=0.5, min_tokens_to_keep=1)
    out = NL._sample_masked(policy, mask_model, prompts, small, gens, cfg)
    comps, action = out.completions, out.action_mask
    assert bool((action <= small.allowed).all())
    taken = action.gather(-1, comps.tokens.unsqueeze(-1)).squeeze(-1)
    assert bool(taken[comps.mask].all())
    assert bool(action[..., small.completion_len - 1, small.eos_id].all())
    assert int(action[..., 0, :].sum(-1).min()) >= 1 and bool((action[..., 0, :].sum(-1) < 3).any())
    lp, _ = NL._masked_logprobs(policy, prompts, comps.tokens, comps.mask, action, 1.0)
    close(lp, comps.logp, atol=1e-12)
    raw = C.logprobs_runs(policy, prompts, comps.tokens, comps.mask, small)
    close(raw, out.raw_logp, atol=1e-12)
    assert bool((out.raw_logp <= comps.logp + 1e-12).all())  # renormalising raises log-probs


# ------------------------------------------------------------------------ the KL controller
def test_adaptive_kl_controller_steps_as_ziegler_et_al():
    """RL4LMs' own example: beta 0.1, target 0.1, KL -0.2, 0.3, 0.4 (per run, independent)."""
    ctl = NL._AdaptiveKL(0.1, 0.1, 2, torch.device("cpu"))
    ctl.step(_p(-0.2, 0.1))
    close(ctl.beta, torch.tensor([0.1 * 0.98, 0.1], dtype=torch.float64), atol=1e-14)
    ctl.step(_p(0.3, 0.105))  # e = clip(2) = 0.2; e = 0.05
    close(ctl.beta, torch.tensor([0.1 * 0.98 * 1.02, 0.1 * 1.005], dtype=torch.float64), 1e-14)
    ctl.step(_p(0.4, 0.0))
    close(ctl.beta[0], torch.tensor(0.1 * 0.98 * 1.02 * 1.02, dtype=torch.float64), atol=1e-14)
    fixed = NL._AdaptiveKL(0.3, None, 1, torch.device("cpu"))
    fixed.step(_p(5.0))
    assert float(fixed.beta[0]) == 0.3


def test_trainer_logs_the_beta_each_rollout_was_scored_with(small):
    cfg = NLPOConfig(steps=4, batch_size=4, num_minibatches=2, update_epochs=1, kl_coef=0.2, **TINY)
    res = train_nlpo(small, cfg, seeds=[0])
    beta = 0.2
    for row in res.metrics:
        assert abs(row["stats/kl_coef"] - beta) < 1e-12
        e = min(max((row["stats/kl"] - 0.1) / 0.1, -0.2), 0.2)
        beta *= 1 + 0.1 * e


# ------------------------------------------------------------------------ the mask model
def test_mask_model_is_the_policy_copied_every_mask_update_every_iterations(small, monkeypatch):
    """At the end of rollout k the mask model becomes the policy that sampled it (after k - 1
    updates) iff k % mu == 0; in between it stays."""
    copies: list[dict[str, torch.Tensor]] = []
    real = NL._copy_weights

    def record(dst, src):
        copies.append({k: v.detach().clone() for k, v in src.state_dict().items()})
        real(dst, src)

    monkeypatch.setattr(NL, "_copy_weights", record)
    snaps = {}

    def callback(step, policy):
        snaps[step] = {k: v.detach().clone() for k, v in policy.state_dict().items()}

    cfg = NLPOConfig(
        steps=7, batch_size=4, num_minibatches=1, update_epochs=1, mask_update_every=3, **TINY
    )
    res = train_nlpo(small, cfg, seeds=[0, 1], callback=callback)
    assert len(copies) == 2  # after rollouts 3 and 6
    for copy, k in zip(copies, (3, 6), strict=True):
        for name, v in copy.items():
            assert torch.equal(v, snaps[k - 1][name]), (k, name)
    assert [row["stats/mask_updates"] for row in res.metrics] == [0, 0, 1, 1, 1, 2, 2]
    assert res.algorithm == "nlpo"


def test_the_mask_model_in_use_is_the_delayed_copy(small, monkeypatch):
    """Rollouts 1..mu sample with masks of the initial policy, rollouts mu+1.. of the copy."""
    used: list[torch.Tensor] = []
    real = NL._sample_masked

    def spy(policy, mask_model, *args):
        used.append(next(mask_model.parameters()).detach().clone())
        return real(policy, mask_model, *args)

    monkeypatch.setattr(NL, "_sample_masked", spy)
    snaps = {}
    cfg = NLPOConfig(
        steps=4, batch_size=4, num_minibatches=1, update_epochs=1, mask_update_every=2, **TINY
    )
    res = train_nlpo(
        small,
        cfg,
        seeds=[4],
        callback=lambda s, p: snaps.__setitem__(s, next(p.parameters()).clone()),
    )
    init = res.ref_policy.tok_emb
    assert torch.equal(used[0], init) and torch.equal(used[1], init)
    assert torch.equal(used[2], snaps[1]) and torch.equal(used[3], snaps[1])
    assert not torch.equal(snaps[1], init)


# ------------------------------------------------------------------------ runs
def test_without_a_mask_nlpo_is_the_ppo_it_extends(small):
    """top_p = 1, a fixed beta and no whitening: the same training as train_sequence_ppo."""
    same = dict(
        steps=3,
        batch_size=6,
        update_epochs=2,
        num_minibatches=2,
        gamma=0.99,
        kl_coef=0.1,
        critic_init="policy",
        grad_clip="joint",
        max_grad_norm=0.5,
        advantage_norm=False,
        value_clip=None,
        critic_lr=2e-3,
        dtype="float64",
        **TINY,
    )
    a = train_sequence_ppo(small, PPOSeqConfig(**same), seeds=[0, 1])
    b = train_nlpo(small, NLPOConfig(top_p=1.0, kl_target=None, **same), seeds=[0, 1])
    close(a.distribution(small).logp, b.distribution(small).logp, atol=1e-12)


def test_stacked_runs_equal_runs_one_by_one(small):
    """Seeds [a, b] stacked (each its own task, mask model, beta, running statistics) equal a
    and b trained alone (float64)."""
    tasks = [small, tie_break(small, 0.3, seed=1)]
    cfg = NLPOConfig(
        steps=4,
        batch_size=4,
        num_minibatches=2,
        update_epochs=2,
        mask_update_every=2,
        top_p=0.6,
        min_tokens_to_keep=1,
        entropy_coef=0.01,
        reward_scaling=True,
        lr=5e-3,
        dtype="float64",
        **TINY,
    )
    both = train_nlpo(tasks, cfg, seeds=[3, 5])
    alone = [train_nlpo(t, cfg, seeds=[s]) for t, s in zip(tasks, (3, 5), strict=True)]
    close(both.distribution(small).logp, torch.cat([r.distribution(small).logp for r in alone]))
    kl_both = [row["stats/kl_coef"] for row in both.metrics]
    kl_alone = [
        (a["stats/kl_coef"] + b["stats/kl_coef"]) / 2
        for a, b in zip(alone[0].metrics, alone[1].metrics, strict=True)
    ]
    assert max(abs(x - y) for x, y in zip(kl_both, kl_alone, strict=True)) < 1e-12


def test_samples_metric_and_callback(small):
    seen = []
    cfg = NLPOConfig(steps=3, batch_size=4, num_minibatches=2, update_epochs=1, **TINY)
    res = train_nlpo(small, cfg, seeds=[0], callback=lambda s, p: seen.append(s))
    assert seen == [1, 2, 3]
    assert [row["stats/samples"] for row in res.metrics] == [4.0, 8.0, 12.0]
    assert all(math.isfinite(v) for row in res.metrics for v in row.values())


def test_nlpo_config_defaults_and_bad_values():
    cfg = NLPOConfig()
    assert (cfg.top_p, cfg.min_tokens_to_keep, cfg.mask_update_every) == (0.9, 2, 5)
    assert (cfg.kl_coef, cfg.kl_target, cfg.gamma, cfg.lam) == (0.1, 0.1, 0.99, 0.95)
    assert cfg.critic_learning_rate == cfg.lr
    assert NL._NLPORollouts.whiten_style == "sb3"  # stable-baselines3's per-minibatch whitening
    for kwargs, name in (
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"min_tokens_to_keep": 0}, "min_tokens_to_keep"),
        ({"mask_update_every": 0}, "mask_update_every"),
        ({"kl_target": -0.1}, "kl_target"),
        ({"reward_norm": True}, "reward_norm"),
    ):
        with pytest.raises((ValueError, TypeError), match=name):
            NLPOConfig(**kwargs)
    with pytest.raises(TypeError, match="train_nlpo"):
        train_sequence_ppo(tied_digit_sum(n_digits=1, max_digit=1, sums=(1,)), NLPOConfig(steps=1))


@pytest.mark.slow
def test_nlpo_improves_a_pretrained_reference():
    """From an SFT reference spread over the tie sets, NLPO raises the expected reward; the
    mask is active (fewer tokens kept than the grammar allows)."""
    import copy

    from trainers.sequence import SFTConfig, pretrain_reference

    task = tied_digit_sum(n_digits=2, max_digit=2, sums=range(5))
    ref = pretrain_reference(task, [0, 1], SFTConfig(targets="valid", steps=60, uniform_mix=0.3))
    cfg = NLPOConfig(steps=20, batch_size=16, lr=1e-3, update_epochs=2, num_minibatches=2)
    res = train_nlpo(
        task, cfg, seeds=[0, 1], policy=copy.deepcopy(ref.policy), ref_policy=ref.policy
    )
    table = task.reward_table()
    before = (ref.distribution(task).probs * table).sum(-1).mean(-1)
    after = (res.distribution(task).probs * table).sum(-1).mean(-1)
    assert torch.all(after > before + 0.1), (before, after)
    allowed = float(task.allowed.sum(-1).double().mean())  # every completion has L tokens
    assert res.metrics[-1]["stats/mask_tokens"] < allowed - 0.2, res.metrics[-1]
