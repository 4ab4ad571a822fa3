"""trainers.sequence.tasks against brute force and networkx: tie sets, rewards, perturbations."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.sequence import (
    SequenceTask,
    drop_prompts,
    enumerate_completions,
    format_reward,
    length_penalty,
    length_reward,
    reward_noise,
    routed_rewards,
    shortest_paths,
    tie_break,
    tied_digit_sum,
)

torch.set_num_threads(1)

TINY = tied_digit_sum(n_digits=2, max_digit=2, sums=(2, 3))
DIGITS = tied_digit_sum()
PATHS = shortest_paths()


@st.composite
def digit_tasks(draw, *, outcome_only: bool | None = None):
    """Small tied_digit_sum instances (at most a few hundred completions)."""
    n = draw(st.integers(1, 3))
    m = draw(st.integers(1, 3))
    sums = draw(st.lists(st.integers(0, n * m), min_size=1, max_size=4, unique=True))
    only = draw(st.booleans()) if outcome_only is None else outcome_only
    return tied_digit_sum(n, m, sums, outcome_only=only)


@st.composite
def path_tasks(draw):
    n = draw(st.integers(4, 6))
    e = draw(st.integers(n, n * (n - 1) // 2 - 1))
    return shortest_paths(n, e, seed=draw(st.integers(0, 50)))


def _brute_digit_reward(task: SequenceTask, p: int, text: str) -> float:
    """The reward of a decoded completion, from its text alone."""
    n, m = task.meta["n_digits"], task.meta["max_digit"]
    s = task.meta["sums"][p]
    *digits, answer, eos = text.split(" ")
    assert len(digits) == n and eos == "<eos>"
    d = [int(x) for x in digits]
    assert all(0 <= x <= m for x in d)
    ok = int(answer.removeprefix("A=")) == s
    if not task.meta["outcome_only"]:
        ok &= sum(d) == s
    return float(ok)


# -- tied_digit_sum ----------------------------------------------------------------------------


def test_default_tie_set_sizes_are_the_digit_string_counts():
    sizes = DIGITS.valid_table().sum(dim=1).tolist()
    assert sizes == [35, 52, 68, 80, 85, 80, 68, 52, 35]
    brute = [sum(sum(d) == s for d in itertools.product(range(5), repeat=4)) for s in range(4, 13)]
    assert sizes == brute
    # outcome-only: every digit string with the right answer token
    assert tied_digit_sum(outcome_only=True).valid_table().sum(dim=1).tolist() == [625] * 9
    assert DIGITS.reward_table().shape == (9, 5**4 * 17)


def test_tiny_digit_sum_instance():
    tokens, _ = TINY.completions()
    assert tokens.shape == (3 * 3 * 5, 4)  # digits {0,1,2}^2, answers 0..4, EOS
    assert TINY.valid_table().sum(dim=1).tolist() == [3, 2]  # (0,2),(1,1),(2,0) / (1,2),(2,1)
    assert TINY.decode(TINY.solutions) == ["0 2 A=2 <eos>", "1 2 A=3 <eos>"]
    assert TINY.decode(TINY.prompts) == ["S=2", "S=3"]


@given(digit_tasks())
@settings(max_examples=25, deadline=None)
def test_digit_reward_table_matches_the_text(task):
    tokens, mask = task.completions()
    table = task.reward_table()
    texts = task.decode(tokens, mask)
    for p in range(task.n_prompts):
        brute = [_brute_digit_reward(task, p, x) for x in texts]
        assert table[p].tolist() == brute
    # every prompt has a valid answer, and the solution is the smallest strictly correct one
    strict = tied_digit_sum(task.meta["n_digits"], task.meta["max_digit"], task.meta["sums"])
    first = strict.valid_table().int().argmax(dim=1)
    assert torch.equal(tokens[first], task.solutions)
    assert bool(task.valid_table()[torch.arange(task.n_prompts), first].all())


def test_digit_reward_refuses_malformed_completions():
    tokens, mask = TINY.solutions.clone(), TINY.solution_mask.clone()
    assert TINY.reward(TINY.prompts, tokens, mask).tolist() == [1.0, 1.0]
    bad = tokens.clone()
    bad[:, 0] = 1  # EOS in place of a digit
    assert TINY.reward(TINY.prompts, bad, mask).tolist() == [0.0, 0.0]
    swapped = TINY.reward(TINY.prompts.flip(0), tokens, mask)  # answers to the other prompt
    assert swapped.tolist() == [0.0, 0.0]


# -- shortest_paths ----------------------------------------------------------------------------


def _graph(task: SequenceTask) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(task.meta["n_nodes"]))
    g.add_edges_from(task.meta["edges"])
    return g


def _paths_of(task: SequenceTask, p: int, table: torch.Tensor) -> set[tuple[int, ...]]:
    tokens, mask = task.completions()
    out = set()
    for text in task.decode(tokens[table[p]], mask[table[p]]):
        *path, eos = text.split(" ")
        assert eos == "<eos>"
        out.add(tuple(int(v[1:]) for v in path))
    return out


@given(path_tasks())
@settings(max_examples=12, deadline=None)
def test_shortest_paths_match_networkx(task):
    g = _graph(task)
    assert nx.is_connected(g)
    dist = dict(nx.all_pairs_shortest_path_length(g))
    expected_pairs = sorted(
        (s, t)
        for s in g
        for t in g
        if dist[s][t] >= 2 and len(list(nx.all_shortest_paths(g, s, t))) >= 2
    )
    pairs = (task.prompts - 2).tolist()
    assert [tuple(x) for x in pairs] == expected_pairs
    valid = task.valid_table()
    for p, (s, t) in enumerate(pairs):
        nx_paths = {tuple(path[1:]) for path in nx.all_shortest_paths(g, s, t)}
        assert _paths_of(task, p, valid) == nx_paths
        assert len(nx_paths) >= 2
        assert int(task.prompt_class[p]) == dist[s][t] - 2
        sol = task.decode(task.solutions[p : p + 1])[0].split(" ")[:-1]
        assert tuple(int(v[1:]) for v in sol) == min(nx_paths)
    assert set(task.reward_table().unique().tolist()) == {0.0, 1.0}


def test_shortest_path_validity_depends_on_the_whole_trace():
    task = shortest_paths(max_len=6)  # room for a detour
    g = _graph(task)
    p = 0
    s, t = (task.prompts[p] - 2).tolist()
    path = list(nx.shortest_path(g, s, t))[1:]
    L = task.completion_len
    other = next(v for v in g if v not in g[s] and v != s)  # not a neighbour of the source
    walks = {
        "shortest": path,
        "first step not an edge": [other, *path[1:]],
        "stops early": path[:-1],
        "a detour": [path[0], s, *path],
    }
    for what, walk in walks.items():
        tokens = torch.tensor([[v + 2 for v in walk] + [1] + [0] * (L - len(walk) - 1)])
        mask = torch.arange(L)[None] <= len(walk)
        r = task.reward(task.prompts[p : p + 1], tokens, mask).item()
        assert r == (1.0 if what == "shortest" else 0.0), what
        assert format_reward(task)(task.prompts[p : p + 1], tokens, mask).item() == 1.0


def test_outcome_only_paths_and_the_length_penalty_tie_breaker():
    any_walk = shortest_paths(outcome_only=True)
    valid, strict = any_walk.valid_table(), PATHS.valid_table()
    assert bool((strict <= valid).all()) and int(valid.sum()) > int(strict.sum())
    lengths = PATHS.completions()[1].sum(dim=1)
    assert len(set(lengths[valid[0]].tolist())) >= 2  # tied walks of different lengths
    penalised = length_penalty(any_walk, 1e-3)
    table = penalised.reward_table()
    best = table >= table.max(dim=1, keepdim=True).values
    assert torch.equal(best, strict)  # the penalty selects exactly the shortest paths
    assert torch.equal(penalised.valid_table(), valid)  # the tie sets stay the verifier's
    for p in range(any_walk.n_prompts):  # valid completions of different lengths: no ties
        r, n = table[p, valid[p]], lengths[valid[p]]
        for i, j in itertools.combinations(range(r.numel()), 2):
            assert (r[i] == r[j]) == (n[i] == n[j])


# -- reward components -------------------------------------------------------------------------


def test_format_reward_accepts_the_grammar_and_nothing_else():
    fmt = format_reward(PATHS)
    tokens, mask = PATHS.completions()
    prompts = PATHS.prompts[:1].expand(tokens.shape[0], -1)
    assert fmt(prompts, tokens, mask).tolist() == [1.0] * tokens.shape[0]
    t, m = tokens[:1].clone(), mask[:1].clone()
    cases = []
    cases.append((t.clone().index_fill_(1, torch.tensor([0]), 1), m))  # EOS at position 0
    not_padded = t.clone()
    not_padded[0, -1] = 3
    cases.append((not_padded, m))
    hole = m.clone()
    hole[0, 0] = False  # mask not a prefix
    cases.append((t, hole))
    truncated = t.clone()
    truncated[0, : int(m.sum())] = 2  # no EOS where the mask ends
    cases.append((truncated, m))
    for bad_t, bad_m in cases:
        assert fmt(PATHS.prompts[:1], bad_t, bad_m).item() == 0.0


def test_length_reward_is_the_normalised_length():
    tokens, mask = PATHS.completions()
    r = length_reward(PATHS)(PATHS.prompts[:1].expand(len(tokens), -1), tokens, mask)
    assert torch.equal(r, mask.sum(dim=1).double() / PATHS.completion_len)
    assert r.min() > 0 and r.max() == 1.0


@given(st.floats(-1.0, 1.0, allow_nan=False), st.sampled_from([TINY, PATHS]))
@settings(max_examples=20, deadline=None)
def test_length_penalty_table(alpha, task):
    lengths = task.completions()[1].sum(dim=1).double()
    expected = task.reward_table() - alpha * (lengths / task.completion_len)[None]
    assert torch.equal(length_penalty(task, alpha).reward_table(), expected)


# -- tie_break ---------------------------------------------------------------------------------


@given(
    task=st.one_of(digit_tasks(outcome_only=False), path_tasks()),
    eps=st.one_of(st.just(0.0), st.floats(1e-12, 1.0)),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=30, deadline=None)
def test_tie_break_adds_eps_exactly_on_the_favoured_half(task, eps, fraction, seed):
    broken = tie_break(task, eps, fraction=fraction, seed=seed)
    F, valid = broken.favoured, task.valid_table()
    assert F.dtype == torch.bool and F.shape == valid.shape
    assert bool((F <= valid).all())
    for n, k in zip(valid.sum(dim=1).tolist(), F.sum(dim=1).tolist(), strict=True):
        want = 0 if n < 2 else min(max(math.floor(fraction * n + 0.5), 1), n - 1)
        assert k == want
    base = task.reward_table()
    assert torch.equal(broken.reward_table(), base + eps * F.double())
    assert torch.equal(broken.valid_table(), valid)  # the tie sets are the unperturbed ones
    if eps > 0:  # the perturbed reward's optimum is exactly F wherever a tie was split
        table = broken.reward_table()
        best = table >= table.max(dim=1, keepdim=True).values
        split = valid.sum(dim=1) >= 2
        assert torch.equal(best[split], F[split])
    # sampled rewards agree with the table (a batch of mixed prompts)
    tokens, mask = task.completions()
    idx = torch.randint(0, tokens.shape[0], (64,), generator=torch.Generator().manual_seed(0))
    p = torch.arange(64) % task.n_prompts
    r = broken.reward(task.prompts[p], tokens[idx], mask[idx])
    assert torch.equal(r, broken.reward_table()[p, idx])


def test_tie_break_default_halves_and_seeds():
    a, b = tie_break(DIGITS, 1e-6, seed=0), tie_break(DIGITS, 1e-6, seed=1)
    assert a.favoured.sum(dim=1).tolist() == [18, 26, 34, 40, 43, 40, 34, 26, 18]
    assert not torch.equal(a.favoured, b.favoured)
    assert torch.equal(a.favoured, tie_break(DIGITS, 0.5, seed=0).favoured)  # F ignores eps
    gap = a.reward_table() - DIGITS.reward_table()
    assert gap.max().item() == pytest.approx(1e-6, rel=1e-9)  # float64 keeps a tiny eps


def test_tie_break_ignores_completions_outside_the_grammar():
    broken = tie_break(TINY, 0.5)
    tokens = torch.full((1, TINY.completion_len), 7)  # no valid completion
    mask = torch.ones_like(tokens, dtype=torch.bool)
    assert broken.reward(TINY.prompts[:1], tokens, mask).item() == 0.0


# -- reward_noise ------------------------------------------------------------------------------


def test_reward_noise_has_the_table_as_mean_and_sigma_as_std():
    noisy = reward_noise(TINY, 0.3, seed=5)
    assert torch.equal(noisy.reward_table(), TINY.reward_table())
    n = 20_000
    prompts = TINY.prompts[:1].expand(n, -1)
    tokens, mask = TINY.solutions[:1].expand(n, -1), TINY.solution_mask[:1].expand(n, -1)
    r = noisy.reward(prompts, tokens, mask)
    assert abs(r.mean().item() - 1.0) < 5 * 0.3 / math.sqrt(n)
    assert r.std().item() == pytest.approx(0.3, rel=0.03)
    again = reward_noise(TINY, 0.3, seed=5).reward(prompts, tokens, mask)
    assert torch.equal(r, again)  # the stream is fixed by the seed
    assert not torch.equal(r, noisy.reward(prompts, tokens, mask))  # and drawn afresh
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(
        noisy.reward(prompts, tokens, mask, generator=g1),
        noisy.reward(prompts, tokens, mask, generator=g2),
    )
    twice = reward_noise(noisy, 0.4, seed=0)
    assert twice.noise_sigma == pytest.approx(0.5)
    exact = reward_noise(TINY, 0.0, seed=0).reward(prompts, tokens, mask)
    assert torch.equal(exact, torch.ones(n, dtype=torch.float64))


# -- drop_prompts ------------------------------------------------------------------------------


@given(fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**32), task=st.just(DIGITS))
@settings(max_examples=30, deadline=None)
def test_drop_prompts_keeps_the_right_count(fraction, seed, task):
    n_drop = math.floor(fraction * task.n_prompts + 0.5)
    if n_drop >= task.n_prompts:
        with pytest.raises(ValueError, match="fraction"):
            drop_prompts(task, fraction, seed=seed)
        return
    dropped = drop_prompts(task, fraction, seed=seed)
    assert int(dropped.train_mask.sum()) == task.n_prompts - n_drop
    assert torch.equal(dropped.train_prompt_ids, dropped.train_mask.nonzero().flatten())
    assert torch.equal(dropped.prompts, task.prompts)  # evaluation keeps every prompt
    assert torch.equal(dropped.reward_table(), task.reward_table())
    assert torch.equal(dropped.train_mask, drop_prompts(task, fraction, seed=seed).train_mask)


def test_drop_prompts_among_a_subset_and_repeatedly():
    among = [0, 1, 2, 3]
    d = drop_prompts(DIGITS, 0.5, seed=3, among=among)
    gone = (~d.train_mask).nonzero().flatten().tolist()
    assert len(gone) == 2 and set(gone) <= set(among)
    dd = drop_prompts(d, 0.5, seed=4)  # half of the 7 remaining (4 of them)
    assert int(dd.train_mask.sum()) == 3 and bool((dd.train_mask <= d.train_mask).all())


# -- routed_rewards ----------------------------------------------------------------------------


def test_routed_rewards_hard_and_soft():
    strict, outcome = DIGITS, tied_digit_sum(outcome_only=True)
    classes = (torch.arange(9) >= 5).long()  # S <= 8: strict model, S >= 9: outcome model
    routed = routed_rewards(DIGITS, [strict.reward_fn, outcome.reward_fn], prompt_class=classes)
    expected = torch.where(classes[:, None] == 0, strict.reward_table(), outcome.reward_table())
    assert torch.equal(routed.reward_table(), expected)
    sizes = routed.valid_table().sum(dim=1).tolist()
    assert sizes == [35, 52, 68, 80, 85] + [625] * 4  # the routed reward is the verifier
    # soft routing: class 1 mixes both models half and half
    w = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    soft = routed_rewards(DIGITS, [strict.reward_fn, outcome.reward_fn], w, prompt_class=classes)
    mix = 0.5 * strict.reward_table() + 0.5 * outcome.reward_table()
    assert torch.equal(soft.reward_table(), torch.where(classes[:, None] == 0, expected, mix))
    # a callable router and an index table give the same as the default
    fn = routed_rewards(
        DIGITS, [strict.reward_fn, outcome.reward_fn], lambda c: c, prompt_class=classes
    )
    tab = routed_rewards(
        DIGITS, [strict.reward_fn, outcome.reward_fn], [0, 1], prompt_class=classes
    )
    assert torch.equal(fn.reward_table(), expected) and torch.equal(tab.reward_table(), expected)


def test_routed_reward_perturbing_one_model_moves_its_classes_only():
    delta = 1e-3
    r0 = DIGITS.reward_fn

    def r1(prompts, tokens, mask):
        zero = DIGITS.vocab.index("0")
        return r0(prompts, tokens, mask) + delta * (tokens[:, 0] == zero).double()

    classes = torch.tensor([0, 1] * 4 + [0])
    a = routed_rewards(DIGITS, [r0, r0], prompt_class=classes)
    b = routed_rewards(DIGITS, [r0, r1], prompt_class=classes)
    diff = (b.reward_table() - a.reward_table()).abs().max(dim=1).values
    assert diff[classes == 0].max() == 0.0
    assert diff[classes == 1].max().item() == pytest.approx(delta)


def test_routed_rewards_refuse_foreign_prompts():
    routed = routed_rewards(TINY, [TINY.reward_fn])
    tokens, mask = TINY.solutions[:1], TINY.solution_mask[:1]
    with pytest.raises(ValueError, match="prompts"):
        routed.reward(torch.tensor([[5]]), tokens, mask)


# -- the task ----------------------------------------------------------------------------------


def test_reward_validates_the_reward_fn_and_keeps_leading_dims():
    tokens, mask = TINY.solutions, TINY.solution_mask
    stacked = TINY.reward(
        TINY.prompts.expand(3, -1, -1), tokens.expand(3, -1, -1), mask.expand(3, -1, -1)
    )
    assert stacked.shape == (3, 2) and stacked.dtype == torch.float64
    for bad_out, kind in [
        (lambda p, t, m: torch.full((t.shape[0],), math.nan), ValueError),
        (lambda p, t, m: torch.ones(t.shape[0] + 1), ValueError),
        (lambda p, t, m: [1.0] * t.shape[0], TypeError),
    ]:
        with pytest.raises(kind, match="reward_fn"):
            TINY.with_reward(bad_out).reward(TINY.prompts, tokens, mask)


def test_completion_index_and_enumeration_agree():
    tokens, mask = PATHS.completions()
    assert torch.equal(PATHS._completion_index(tokens, mask), torch.arange(tokens.shape[0]))
    ref_tokens, ref_mask = enumerate_completions(PATHS.allowed, eos_id=1, pad_id=0)
    assert torch.equal(tokens, ref_tokens) and torch.equal(mask, ref_mask)
    # a vocabulary too large for integer keys uses the row-matching fallback
    V, L = 1200, 7
    allowed = torch.zeros(L, V, dtype=torch.bool)
    allowed[:, [3, 1100]] = True
    big = SequenceTask(
        "big",
        tuple(f"t{i}" for i in range(V)),
        torch.tensor([[0]]),
        allowed,
        None,
        0,
        lambda p, t, m: (t[:, 0] == 3).double(),
    )
    assert (V + 1) ** L >= 2**62
    bt, bm = big.completions()
    perm = torch.randperm(bt.shape[0], generator=torch.Generator().manual_seed(0))
    assert torch.equal(big._completion_index(bt[perm], bm[perm]), perm)
    assert tie_break(big, 0.1).favoured.sum().item() == 32  # half of the 64 tied completions


def test_solutions_and_favoured_are_checked():
    fields = dict(
        name="t",
        vocab=TINY.vocab,
        prompts=TINY.prompts,
        allowed=TINY.allowed,
        eos_id=1,
        pad_id=0,
        reward_fn=TINY.reward_fn,
    )
    wrong = TINY.solutions.flip(0)  # each prompt gets the other prompt's answer
    with pytest.raises(ValueError, match="solutions"):
        SequenceTask(**fields, solutions=wrong)
    valid = TINY.valid_table()
    with pytest.raises(ValueError, match="favoured"):
        SequenceTask(**fields, favoured=~valid)
    ok = SequenceTask(**fields, solutions=TINY.solutions, favoured=valid & False)
    assert torch.equal(ok.solution_mask, torch.ones_like(ok.solutions, dtype=torch.bool))


def test_with_reward_keeps_the_tie_sets_and_decode():
    flat = TINY.with_reward(lambda p, t, m: torch.zeros(t.shape[0], dtype=torch.float64))
    assert torch.equal(flat.valid_table(), TINY.valid_table())
    assert flat.reward_table().abs().max() == 0.0
    assert TINY.decode(torch.tensor([4, 5, 1, 0])) == ["0 1 <eos>"]
    assert "n_prompts=2" in repr(TINY)
    assert np.isclose(TINY.reward_table().sum().item(), 5.0)
