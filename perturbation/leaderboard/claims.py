"""Each paper's own stability statement, measured under the leaderboard's protocol.

A statement "method A is more stable than B in sense m" becomes: the probability that a seed of
A improves on a seed of B in metric m (:func:`perturbation.leaderboard.metrics.compare`,
rliable's probability of improvement, with the perturbation sizes as strata), and the data
support the statement when the 95% bootstrap interval of that probability lies above 1/2.
These claims are EMPIRICAL: the report says whether the data support each one, with the
numbers, and none of them is asserted (a statement the data do not support is a finding, not a
failure of the toolkit). Every claim runs on the leaderboard of the run's scale (``tiny`` for
``stability verify``'s tiny and default scales, ``small``, the leaderboard's default, at medium
and large; ``stability leaderboard --scale medium`` runs the larger one), with each method's
runs cached and shared between the claims that use them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from perturbation.leaderboard.methods import METHODS
from perturbation.leaderboard.metrics import compare, method_metrics
from perturbation.leaderboard.protocol import (
    MethodRun,
    base_logp,
    condition_task,
    leaderboard_task,
    run_method,
)
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Tolerance, claim
from trainers.sequence import SequenceDistribution, kl_regularized_optimum

#: ``stability verify --scale`` -> the leaderboard scale its claims run at.
VERIFY_SCALE = {"tiny": "tiny", "small": "tiny", "medium": "small", "large": "small"}


def _measured(ctx: RunContext, key: str) -> tuple[MethodRun, dict[str, np.ndarray]]:
    """Method ``key``'s runs at the context's leaderboard scale and their per-seed metrics."""
    return _measured_at(VERIFY_SCALE[ctx.scale], ctx.seed, ctx.device, key)


@functools.lru_cache(maxsize=64)
def _measured_at(
    scale: str, seed: int, device: str, key: str
) -> tuple[MethodRun, dict[str, np.ndarray]]:
    """The clean runs of ``key`` and the perturbations some claim on ``key`` reads (cached per
    leaderboard scale, so verify's scales that share one reuse its runs)."""
    kinds = {c.kind for c in COMPARISONS if key in (c.method, c.baseline)} | _EXTRA.get(key, set())
    only = sorted(kinds - {"clean"})
    run = run_method(METHODS[key], scale, seed=seed, device=device, only=only)
    task = leaderboard_task(scale)
    return run, method_metrics(run, task, base_logp(task, run.seeds, device))


def _values(ctx: RunContext, key: str, metric: str, kind: str) -> np.ndarray:
    """Per-seed values (n,) of the clean runs, or (n, sizes) of a perturbation's runs."""
    run, m = _measured(ctx, key)
    if metric == "dispersion":
        return m["dispersion"]
    if kind == "clean":
        return m[metric][0]
    rows = np.array([c.kind == kind for c in run.conditions])
    return m[metric][rows].T


@dataclass(frozen=True)
class Comparison:
    """A paper's statement: ``method`` beats ``baseline`` in ``metric`` under ``kind``."""

    id: str
    statement: str
    reference: str
    method: str
    baseline: str
    metric: str
    kind: str
    higher_is_better: bool
    what: str


def _register(c: Comparison) -> None:
    @claim(
        id=f"leaderboard/{c.id}",
        statement=c.statement,
        reference=c.reference,
        bound=Tolerance(0.5),
    )
    def experiment(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
        x = _values(ctx, c.method, c.metric, c.kind)
        y = _values(ctx, c.baseline, c.metric, c.kind)
        pi = compare(x, y, higher_is_better=c.higher_is_better, seed=ctx.seed)
        run_a, _ = _measured(ctx, c.method)
        run_b, _ = _measured(ctx, c.baseline)
        threshold = bound()
        supported = pi.lower > threshold
        better = "higher" if c.higher_is_better else "lower"
        verdict = (
            "supported"
            if supported
            else "contradicted (the interval lies below 1/2)"
            if pi.upper < 1 - threshold
            else "inconclusive (the interval contains 1/2)"
        )
        context = "; ".join(
            f"{METHODS[k].label}: accuracy {np.mean(_values(ctx, k, 'accuracy', 'clean')):.3f}, "
            f"tie entropy {np.mean(_values(ctx, k, 'entropy', 'clean')):.3f}"
            for k in (c.method, c.baseline)
        )
        return Evidence.lower(
            pi.point,
            threshold,
            note=f"{c.what} ({better} is better; {c.kind}). {METHODS[c.method].label}: "
            f"mean {np.nanmean(x):.4g} over {x.shape[0]} seeds (lr {run_a.lr:g}); "
            f"{METHODS[c.baseline].label}: mean {np.nanmean(y):.4g} (lr {run_b.lr:g}). "
            f"P({c.method} improves on {c.baseline}) = {pi.point:.3f} "
            f"[{pi.lower:.3f}, {pi.upper:.3f}] (95% stratified bootstrap): {verdict}; "
            f"supported when the interval lies above {threshold:g}. Context (clean runs): "
            f"{context}.",
            require={f"the 95% interval lies above {threshold:g}": supported},
            details={
                "method": c.method,
                "baseline": c.baseline,
                "metric": c.metric,
                "perturbation": c.kind,
                "method_values": np.asarray(x).tolist(),
                "baseline_values": np.asarray(y).tolist(),
                "p_improvement": [pi.point, pi.lower, pi.upper],
            },
            empirical=True,
        )


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "nlpo-less-sensitive-to-reward-noise",
        "NLPO is less susceptible than PPO to high variance in the rewards: under reward-model "
        "noise (P2) its tied-answer distribution moves less per unit noise.",
        ref("nlpo", "abstract and §3 (NLPO vs PPO)"),
        "nlpo", "ppo", "per_unit", "P2", False,
        "tie-set d_TV to the clean run per unit noise σ",
    ),
    Comparison(
        "ppo-max-stays-near-reference",
        "PPO-max ensures stable training: its policy drifts less from the reference (KL) than "
        "PPO without the PPO-max set of tricks.",
        ref("ppo-max", "§5 and Fig. 5 (the PPO-max trick set)"),
        "ppo_max", "ppo", "kl_ref", "clean", False,
        "KL(π ‖ π_ref) of the clean runs",
    ),
    Comparison(
        "dapo-clip-higher-keeps-entropy",
        "Clip-higher avoids entropy collapse: DAPO keeps a higher entropy over the tied "
        "answers than GRPO.",
        ref("dapo", "§3.1 (clip-higher)"),
        "dapo", "grpo", "entropy", "clean", True,
        "normalised tie-set entropy H(π̄)/log|V| of the clean runs",
    ),
    Comparison(
        "chord-changes-less-under-tie-break",
        "CHORD promotes stable learning: under a tie-break of the reward (P1) its policy "
        "changes less than GRPO's.",
        ref("chord", "§1 and §4 (stable learning with dynamic weighting)"),
        "chord_phi", "grpo", "change", "P1", False,
        "tie-set d_TV(π̄_ε, π̄_0), strata ε",
    ),
    Comparison(
        "chord-phi-keeps-exploring",
        "CHORD's token weight φ = p(1−p) promotes on-policy exploration: CHORD-φ keeps a higher "
        "entropy over the tied answers than CHORD-μ.",
        ref("chord", "§4 (CHORD-φ)"),
        "chord_phi", "chord_mu", "entropy", "clean", True,
        "normalised tie-set entropy of the clean runs",
    ),
    Comparison(
        "amft-controller-stabilises",
        "AMFT's meta-learned imitation weight makes training stable: its runs disperse less "
        "across seeds than GRPO's.",
        ref("amft", "abstract (the controller is crucial for stability)"),
        "amft", "grpo", "dispersion", "clean", False,
        "mean d_TV between seeds' tie-set distributions, clean",
    ),
    Comparison(
        "dads-keeps-entropy",
        "Difficulty-adaptive divergence shaping (DADS) prevents the policy's entropy from "
        "dropping sharply: View-R1's APO keeps a higher tie-set entropy than GRPO.",
        ref("view-r1", "abstract and §3 (DADS)"),
        "apo_view_r1", "grpo", "entropy", "clean", True,
        "normalised tie-set entropy of the clean runs",
    ),
    Comparison(
        "ghpo-stabilises",
        "GHPO's adaptive hints improve training stability: its runs disperse less across "
        "seeds than GRPO's.",
        ref("ghpo", "abstract"),
        "ghpo", "grpo", "dispersion", "clean", False,
        "mean d_TV between seeds' tie-set distributions, clean",
    ),
    Comparison(
        "veripo-steadier-than-grpo",
        "VerIPO's verifier-guided GRPO-DPO loop improves more steadily than GRPO alone: its "
        "runs disperse less across seeds.",
        ref("veripo", "abstract and §1"),
        "veripo", "grpo", "dispersion", "clean", False,
        "mean d_TV between seeds' tie-set distributions, clean",
    ),
    Comparison(
        "accelerated-po-faster",
        "Nesterov extrapolation makes iterative preference optimization converge faster: at "
        "an equal sample budget its accuracy is higher than iterative DPO's.",
        ref("accelerated-po", "abstract [reconstructed algorithm]"),
        "accelerated_po", "iterative_dpo", "accuracy", "clean", True,
        "π(correct) of the clean runs at the end of the budget",
    ),
    Comparison(
        "direct-advantage-decoupled-critic",
        "Training the critic apart from the actor avoids the co-training instability of "
        "actor-critic methods: Direct Advantage Policy Optimization disperses less across "
        "seeds than PPO.",
        ref("direct-advantage-po", "abstract [reconstructed loss]"),
        "direct_advantage", "ppo", "dispersion", "clean", False,
        "mean d_TV between seeds' tie-set distributions, clean",
    ),
)  # fmt: skip

for _c in COMPARISONS:
    _register(_c)

#: The perturbations read by the claims below (beyond the comparisons).
_EXTRA = {"grpo_kl": {"P1"}}


@claim(
    id="leaderboard/kl-regularized-within-cliff-bound",
    statement="With the KL penalty in the reward (weight β), the trained policy's tie-set "
    "change under a tie-break ε stays within ε/(2β), the bound on the regularized optimum, "
    "at every ε of the sweep.",
    reference=ref("policy-cliff", "Prop. 4.7 and Lemma C.2"),
    bound=Tolerance(1.0),
)
def kl_regularized_within_bound(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    run, m = _measured(ctx, "grpo_kl")
    beta = METHODS["grpo_kl"].kl_beta
    scale = VERIFY_SCALE[ctx.scale]
    task = leaderboard_task(scale)
    valid = task.valid_table()
    rows = np.array([c.kind == "P1" for c in run.conditions])
    eps = m["size"][rows]
    change = np.nanmean(m["change"][rows], axis=1)
    ratio = change / (eps / (2 * beta))
    worst = float(ratio.max())
    # [derived] the triangle inequality splits a trained pair's change into the optimum's
    # change (<= eps / (2 beta), Lemma C.2) and each run's distance to its own optimum
    ref = base_logp(task, run.seeds, ctx.device)
    dist = []
    for k, c in enumerate(run.conditions):
        table = condition_task(task, c, preference=False).reward_table()
        opt = SequenceDistribution(kl_regularized_optimum(ref, table.expand_as(ref), beta))
        bar = SequenceDistribution(run.logp[k].to(torch.float64)).restrict(valid.expand_as(ref))
        dist.append(float(bar.tv(opt.restrict(valid.expand_as(ref))).mean()))
    slack = [dist[0] + dist[k] for k in np.flatnonzero(rows)]
    return Evidence.upper(
        worst,
        bound(),
        note=f"Sampled GRPO with the KL in the reward (β = {beta:g}, Dr. GRPO's normaliser), "
        f"{len(run.seeds)} seeds from the leaderboard's base models. Mean tie-set change "
        + ", ".join(f"{c:.3g} at ε = {e:g}" for c, e in zip(change, eps, strict=True))
        + f"; largest ratio to ε/(2β): {worst:.3g}. The bound holds for the optimum "
        "π_ref e^(r/β)/Z; a trained pair adds both runs' distances to their optima (triangle "
        "inequality): mean d_TV(π̄, π̄*) of the clean runs "
        f"{dist[0]:.3g}, so the pair's change may reach ε/(2β) + "
        + ", ".join(f"{s_:.3g}" for s_ in slack)
        + " at these ε. A ratio above 1 with a slack of that size is convergence error of "
        "sampled training, not a contradiction of the theorem.",
        details={
            "eps": eps.tolist(),
            "change": change.tolist(),
            "ratio": ratio.tolist(),
            "distance_to_optimum": dist,
        },
        empirical=True,
    )


@claim(
    id="leaderboard/dno-monotone-improvement",
    statement="DNO improves monotonically across iterations: each iterate wins against the "
    "previous one with probability at least 1/2 under the preference oracle.",
    reference=ref("dno", "abstract and Algorithm 1 [reconstructed]"),
    bound=Tolerance(0.5),
)
def dno_monotone(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    run, _ = _measured(ctx, "dno")
    rates = [
        r["stats/win_rate_vs_previous"] for r in run.metrics if "stats/win_rate_vs_previous" in r
    ]
    rates = [r for r in rates if np.isfinite(r)]
    if not rates:
        raise RuntimeError("dno logged no stats/win_rate_vs_previous")
    worst = float(min(rates))
    return Evidence.lower(
        worst,
        bound(),
        note=f"DNO (soft variant), {len(run.seeds)} seeds, clean task: the win rate of each "
        "iterate against the previous one, the mean over seeds, at each iteration: "
        + ", ".join(f"{r:.3f}" for r in rates)
        + f"; the smallest is {worst:.3f}.",
        details={"win_rates": rates},
        empirical=True,
    )
