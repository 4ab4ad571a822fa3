"""The multi-reward experiment of the Policy Cliff (Xu 2025, §5.6) with a tiny language model.

Xu (2025, §5.6) trains one model on prompt classes scored by separate reward models and
compares Model 1 with Model 2 (one reward model slightly modified) and Model 3 (about 200
ambiguous prompts removed); one run each, the size of the change not given. Here, at small
scale with seeds and intervals, on two-digit sums ``S = 1, 2, 3`` (:func:`_tasks`):

- grader A accepts correct answers whose digits do not decrease, grader B correct answers
  whose digits do not increase; ``S = 1`` is routed to A (one accepted answer, ``01``),
  ``S = 2`` to B (a tie of ``20`` and ``11``), and the ambiguous ``S = 3`` to both with
  weights ½, ½ (Xu 2025, §4: ``R_eff = sum_k w_k R_k``), where the conflict of the graders
  makes ``12`` and ``21`` tie;
- Model 2: grader A also adds ``delta`` to strictly increasing correct answers
  (``||dR||_N = delta``; Lemma 4.2: ``R_eff`` moves by ``w_A delta`` at a prompt);
- Model 3: the ambiguous prompt is left out of training (it is still evaluated).

Regularized runs (``sequence/multi-reward``, asserted) are trained with the exact KL-in-reward
policy gradient to a stated gap; [derived] with a KL term each prompt's optimum is
``ref e^{R_eff / beta} / Z`` (Prop 4.7 in its bandit form), so Model 2 moves by at most
``||dR_eff(x, .)||_inf / (2 beta) <= ||dR||_N / (2 beta)`` at prompt ``x``, and Model 3 not at
all at the retained prompts, each up to the runs' measured distance to their optima. Hard runs
(``sequence/multi-reward-hard``, reported) are unregularized GRPO with std-normalised
advantages, the paper's ``group_norm`` estimator.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Tolerance, Worst, claim, frozen
from perturbation.sequence import _common as C
from trainers.sequence import SequenceTask, routed_rewards, tied_digit_sum

#: Grader A's modification (Model 2), in reward units.
DELTA = 1e-2
#: Routing weights (w_A, w_B) of the prompt classes S = 1, 2, 3.
ROUTER = ((1.0, 0.0), (0.0, 1.0), (0.5, 0.5))
PROMPTS = ("S=1 → A (no tie)", "S=2 → B (tie)", "S=3 → ½A + ½B (ambiguous tie)")
AMBIGUOUS = 2
#: "Order one": the hard change the paper's qualitative claim stands for, as the largest
#: overlap 1 - d_TV (at least 0.1 of the mass moves).
ORDER_ONE_OVERLAP = 0.9


def _graders(task: SequenceTask, delta: float) -> tuple[Callable, Callable]:
    """Graders A (digits non-decreasing) and B (non-increasing) of correct answers; A adds
    ``delta`` to strictly increasing ones."""
    value = torch.tensor([int(s) if s.isdigit() else -1 for s in task.vocab])
    strict = task.reward_fn

    def digits(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = value.to(tokens.device)[tokens[:, :2]]
        return d[:, 0], d[:, 1]

    def grader_a(prompts: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor):
        d1, d2 = digits(tokens)
        r = strict(prompts, tokens, mask)
        return r * (d1 <= d2) + delta * r * (d1 < d2)

    def grader_b(prompts: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor):
        d1, d2 = digits(tokens)
        return strict(prompts, tokens, mask) * (d1 >= d2)

    return grader_a, grader_b


@functools.lru_cache(maxsize=1)
def _tasks() -> tuple[SequenceTask, SequenceTask, SequenceTask]:
    """Models 1, 2 and 3: routed graders, grader A modified, ambiguous prompt not trained."""
    base = tied_digit_sum(n_digits=2, max_digit=2, sums=(1, 2, 3))
    router = torch.tensor(ROUTER, dtype=torch.float64)
    classes = [0, 1, 2]
    m1 = routed_rewards(base, _graders(base, 0.0), router, prompt_class=classes, name="Model 1")
    m2 = routed_rewards(base, _graders(base, DELTA), router, prompt_class=classes, name="Model 2")
    train = torch.ones(base.n_prompts, dtype=torch.bool)
    train[AMBIGUOUS] = False
    m3 = dataclasses.replace(m1, train_mask=train, name="Model 3")
    return m1, m2, m3


def _pair_tv(logp: torch.Tensor, a: int, b: int) -> np.ndarray:
    """d_TV between conditions ``a`` and ``b`` of ``logp`` (K, n, P, M), per seed and prompt."""
    return C.tv(logp[a], logp[b]).numpy()


@functools.lru_cache(maxsize=4)
def _runs(ctx: RunContext) -> dict[str, object]:
    tasks = _tasks()
    m1 = tasks[0]
    seeds = C.run_seeds(ctx, C.n_seeds(ctx))
    n, K, P = len(seeds), len(tasks), m1.n_prompts
    base = C.reference(m1, seeds, ctx.device)
    ref_logp = C.exact(base, m1)
    # --- regularized: exact KL-in-reward policy gradient, all models in one stack ---
    rewards = torch.stack([t.reward_table() for t in tasks]).repeat_interleave(n, 0)
    weights = torch.stack([t.train_mask.to(torch.float64) for t in tasks])
    weights = weights.repeat_interleave(n, 0)
    ref_k = ref_logp.repeat(K, 1, 1)
    policy = C.tile(base, K, dtype=torch.float32)
    info = C.fit_kl_regularized(policy, m1, ref_k, rewards, C.BETA, weights=weights)
    reg = C.exact(policy, m1).reshape(K, n, P, -1)
    err = C.tv(reg, C.kl_regularized_optimum(ref_k, rewards, C.BETA).reshape(K, n, P, -1))
    # --- hard: unregularized GRPO with std-normalised advantages (paired by seed) ---
    cfg = C.GRPO_METHODS["GRPO (std-normalised)"]
    hard = torch.cat(
        [
            C.train_paired_grpo(base, tasks[:2], cfg, seeds, ctx.device),
            C.train_paired_grpo(base, tasks[2:], cfg, seeds, ctx.device),
        ]
    )
    d_eff = (tasks[1].reward_table() - m1.reward_table()).abs().amax(-1)  # (P,)
    dispersion = np.array(
        [
            [float(C.tv(hard[0, i, p], hard[0, j, p])) for i in range(n) for j in range(i)]
            for p in range(P)
        ]
    )
    return frozen(
        {
            "seeds": seeds,
            "tv": {
                ("regularized", "M1 vs M2"): _pair_tv(reg, 0, 1),
                ("regularized", "M1 vs M3"): _pair_tv(reg, 0, 2),
                ("hard", "M1 vs M2"): _pair_tv(hard, 0, 1),
                ("hard", "M1 vs M3"): _pair_tv(hard, 0, 2),
            },
            "err": err.numpy(),
            "d_eff": d_eff.numpy(),
            "dispersion": dispersion.mean(-1),
            "gap": info["gap"],
            "evals": info["evals"],
        }
    )


def _table(ctx: RunContext, runs: dict[str, object]) -> list[dict[str, object]]:
    """One row per (regime, comparison, prompt): mean d_TV over seeds with its 95% bootstrap
    interval, the max, and for the regularized runs the bound with and without the runs'
    measured distance to their optima (max over seeds)."""
    rng = ctx.rng("sequence-multi-reward-bootstrap")
    err = runs["err"]
    rows = []
    for (regime, pair), tv in runs["tv"].items():
        k = 1 if pair == "M1 vs M2" else 2
        for p, label in enumerate(PROMPTS):
            m, lo, hi = C.bootstrap_ci(tv[:, p], rng)
            dropped = k == 2 and p == AMBIGUOUS
            bnd = slack = None
            if regime == "regularized" and not dropped:
                d = float(runs["d_eff"][p]) if k == 1 else 0.0
                bnd = d / (2 * C.BETA)
                slack = float((err[0, :, p] + err[k, :, p]).max())
            rows.append(
                {
                    "regime": regime,
                    "comparison": pair,
                    "prompt": label + (" [not trained in Model 3]" if dropped else ""),
                    "mean TV": m,
                    "CI low": lo,
                    "CI high": hi,
                    "max TV": float(tv[:, p].max()),
                    "bound ‖ΔR_eff‖/(2β)": bnd,
                    "bound + convergence slack": None if bnd is None else bnd + slack,
                }
            )
    return rows


def _multi_reward_bound(distance: float, beta: float, slack: float) -> float:
    """Prop 4.7 in its bandit form (Xu 2025) at one prompt, with the runs' measured distance to
    their optima: ``||dR_eff(x, .)||_inf / (2 beta) + slack``."""
    return distance / (2 * beta) + slack


@claim(
    id="sequence/multi-reward",
    statement="Multi-reward training of a tiny LM (two graders, an ambiguous prompt class with "
    "a tie created by their conflict), KL-regularized: perturbing one reward model by δ moves "
    "the policy at prompt x by at most ‖ΔR_eff(x)‖∞/(2β) ≤ ‖ΔR‖_N/(2β), and dropping the "
    "ambiguous prompts does not move it at the retained ones (each up to the runs' measured "
    "distance to their optima).",
    reference=ref(
        "policy-cliff", "Lemma 4.2, Prop 4.7 (bandit form); §5.6 Model 1 vs 2 and 1 vs 3"
    ),
    bound=Theorem(_multi_reward_bound),
)
def multi_reward(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    runs = _runs(ctx)
    err = runs["err"]  # (K, n, P)
    worst = Worst("<=")
    for pair, k in (("M1 vs M2", 1), ("M1 vs M3", 2)):
        tv = runs["tv"][("regularized", pair)]
        for i, seed in enumerate(runs["seeds"]):
            for p in range(tv.shape[1]):
                if k == 2 and p == AMBIGUOUS:
                    continue  # not trained in Model 3: no bound applies
                d = float(runs["d_eff"][p]) if k == 1 else 0.0
                slack = float(err[0, i, p] + err[k, i, p])
                worst.add(
                    float(tv[i, p]),
                    bound(d, C.BETA, slack),
                    comparison=pair,
                    seed=seed,
                    prompt=PROMPTS[p],
                )
    return worst.evidence(
        rtol=1e-9,
        note=f"Two-digit sums S ∈ {{1, 2, 3}} (45 completions each); graders A (digits "
        "non-decreasing) and B (non-increasing) of correct answers, routed S=1 → A, S=2 → B, "
        f"S=3 → ½A + ½B; Model 2: A adds δ = {DELTA:g} to strictly increasing answers "
        f"(‖ΔR‖_N = δ); Model 3: S=3 not trained. {len(runs['seeds'])} seeds, one base model "
        f"each (SFT on random top-reward answers) as π_ref; β = {C.BETA}; exact KL-in-reward "
        f"policy gradient to gap ≤ {C.GAP:g} (largest {runs['gap']:.2g}, {runs['evals']} "
        "evaluations), Models 1-3 paired by seed in one stacked model. Measured: d_TV per "
        "seed and prompt, against ‖ΔR_eff(x)‖∞/(2β) (0 for Model 3 at retained prompts) plus "
        "both runs' measured d_TV to their optima; the dropped prompt of Model 3 has no bound "
        "(its objective no longer constrains it). Table: both regimes, means with 95% "
        "bootstrap intervals over seeds; plot: bars with intervals and the bound.",
        require={f"stated convergence reached (every gap ≤ {C.GAP:g})": runs["gap"] <= C.GAP},
        details={"table": _table(ctx, runs)},
        plots=[_plot(ctx, runs)],
    )


@claim(
    id="sequence/multi-reward-hard",
    statement="Multi-reward training without regularization (GRPO, std-normalised): a slight "
    "change δ of one reward model moves the trained LM by order one at the ambiguous prompt, "
    "where the conflict of the reward models makes the effective reward tie: the overlap "
    "1 − d_TV(Model 1, Model 2) there is at most 0.9 (mean over seeds).",
    reference=ref("policy-cliff", "Prop 4.6; §5.6 Model 1 vs Model 2 (small-scale analogue)"),
    bound=Tolerance(ORDER_ONE_OVERLAP),
)
def multi_reward_hard(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    runs = _runs(ctx)
    hard = runs["tv"][("hard", "M1 vs M2")]
    measured = float(hard[:, AMBIGUOUS].mean())
    m3 = runs["tv"][("hard", "M1 vs M3")]
    return Evidence.upper(
        1.0 - measured,
        bound(),
        note=f"Setting of sequence/multi-reward; hard runs: GRPO (2 prompts x G = 8 per step, "
        f"std-normalised advantages, no KL, Adam 3e-3, {C.GRPO_STEPS} steps), paired by seed. "
        f"Measured: the overlap 1 − d_TV(Model 1, Model 2) at the ambiguous S=3, mean over "
        f"seeds: {1 - measured:.3g} (d_TV {measured:.3g}; the regularized runs may move by ‖ΔR_eff‖/(2β) = "
        f"{float(runs['d_eff'][AMBIGUOUS]) / (2 * C.BETA):g} there). Per prompt S = 1, 2, 3, "
        f"mean d_TV(Model 1, Model 2) {np.round(hard.mean(0), 3).tolist()} and "
        f"d_TV(Model 1, Model 3) {np.round(m3.mean(0), 3).tolist()} (S=3 not trained in Model "
        "3); seed-to-seed dispersion of the hard Model 1 (mean pairwise d_TV) "
        f"{np.round(runs['dispersion'], 3).tolist()}. Where ΔR_eff = 0 (S=2) or the answer is "
        "unique (S=1) a hard change can only come from the shared network and the paired "
        "runs' divergence, not from the tie-break.",
        details={"table": _table(ctx, runs)},
        plots=[_plot(ctx, runs)],
        empirical=True,
    )


def _plot(ctx: RunContext, runs: dict[str, object]) -> Path | None:
    """Bars: mean d_TV per prompt with 95% intervals, hard vs regularized, and the bound."""
    path = ctx.plot_path("sequence-multi-reward")
    if path is None:
        return None
    rows = _table(ctx, runs)
    fig = Figure(figsize=(10.5, 4.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    x = np.arange(len(PROMPTS))
    floor = 1e-5
    for ax, pair in zip(axes, ("M1 vs M2", "M1 vs M3"), strict=True):
        for shift, regime, color in ((-0.2, "hard", "C3"), (0.2, "regularized", "C0")):
            sub = [r for r in rows if r["regime"] == regime and r["comparison"] == pair]
            m = np.array([max(r["mean TV"], floor) for r in sub])
            ci = np.array([(r["CI low"], r["CI high"]) for r in sub])
            err = np.clip(np.stack([m - np.maximum(ci[:, 0], floor), ci[:, 1] - m]), 0, None)
            label = "hard (GRPO, no KL)" if regime == "hard" else f"regularized (β = {C.BETA})"
            ax.bar(x + shift, m, 0.4, yerr=err, capsize=3, color=color, label=label)
            if regime == "regularized":
                for xi, r in zip(x, sub, strict=True):
                    b = r["bound + convergence slack"]
                    if b is None:
                        ax.annotate(
                            "no bound:\nnot trained", (xi + 0.2, 2 * floor), ha="center", fontsize=7
                        )
                    else:
                        ax.hlines(b, xi + 0.02, xi + 0.38, colors="k", linestyles="--")
                        theorem = r["bound ‖ΔR_eff‖/(2β)"]
                        if theorem > 0:
                            ax.hlines(theorem, xi + 0.02, xi + 0.38, colors="k", linestyles=":")
        ax.hlines(
            [],
            0,
            0,
            colors="k",
            linestyles="--",
            label="bound ‖ΔR_eff(x)‖∞/(2β) + convergence slack",
        )
        ax.hlines([], 0, 0, colors="k", linestyles=":", label="‖ΔR_eff(x)‖∞/(2β) alone")
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        ax.set_xticks(x, [p.replace(" (", "\n(") for p in PROMPTS], fontsize=8)
        title = (
            "Model 1 vs Model 2 (grader A + δ)"
            if pair == "M1 vs M2"
            else ("Model 1 vs Model 3 (ambiguous S=3 dropped)")
        )
        ax.set_title(title)
        ax.grid(True, axis="y", which="major", alpha=0.3)
    axes[0].set_ylabel(f"mean d_TV over {len(runs['seeds'])} seeds (95% bootstrap CI)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"Multi-reward training of a tiny LM (δ = {DELTA:g}, β = {C.BETA}); dashed: the bound of "
        "the regularized runs, ‖ΔR_eff(x)‖∞/(2β) plus their distance to the optima",
        fontsize=10,
    )
    fig.savefig(path, dpi=110)
    return path
