"""Gradient vs random directions, and ``G_S`` as a universal direction (Korkmaz 2024, §3)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from perturbation.decision_boundary._common import grid, linear_instance, principal_map
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Tolerance, Worst, claim
from stability.decision_boundary import (
    deepfool,
    flip_distance,
    instability_directions,
    random_directions,
)
from stability.decision_boundary.models import LinearPolicy

RATIO = 5.0
LEVEL = 0.05


def _censored_cdf(
    ax, d: np.ndarray, cap: float, color: str, ls: str, label: str
) -> tuple[float, float]:
    """Step CDF of the flipped distances, flat from the last flip to the cap; returns the
    flipped fraction and the smallest distance drawn."""
    n = len(d)
    x = np.sort(d[np.isfinite(d)])
    frac = len(x) / n
    if len(x):
        xs = np.concatenate([x, [cap]])
        ys = np.concatenate([np.arange(1, len(x) + 1) / n, [frac]])
        ax.step(
            xs, ys, where="post", color=color, ls=ls, label=f"{label}: {1 - frac:.0%} unflipped"
        )
    return frac, float(x[0]) if len(x) else cap


def flip_cdf_plot(path: Path | None, data: dict, title: str) -> Path | None:
    """One panel per policy: CDFs of the flip distance along the gradient and along random
    directions, censored at the search cap R (a dashed line); the share of searches that did
    not flip within R is in the legend and is never drawn as data."""
    if path is None:
        return None
    fig = Figure(figsize=(5.0 * len(data), 4.2), layout="constrained")
    axes = fig.subplots(1, len(data), squeeze=False)[0]
    for ax, (name, (adv, rnd, cap)) in zip(axes, data.items(), strict=True):
        lo = cap
        for d, color, ls, lab in ((adv, "C0", "-", "gradient v/‖v‖"), (rnd, "C1", ":", "random")):
            _, first = _censored_cdf(ax, d, cap, color, ls, lab)
            lo = min(lo, first)
        ax.axvline(cap, color="0.3", ls="--", lw=1, label=f"search cap R = {cap:g}")
        ax.set_xscale("log")
        ax.set_xlim(lo / 2, cap * 1.5)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("ℓ2 distance t along the direction (input units)")
        ax.set_ylabel("fraction of searches flipped within t")
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    return path


@claim(
    id="decision-boundary/gradient-vs-random",
    statement="At d ≥ 100 the gradient direction flips the action at a much smaller norm than "
    "random directions: median(adversarial)/median(random) ≤ 1/5 (median ratio ≥ 5).",
    reference=ref("random-vs-adversarial", "Thm 1 (random vs adversarial distance, ~√d)"),
    bound=Tolerance(1.0 / RATIO),
)
def gradient_vs_random(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("gradient-vs-random")
    n_rand = 4 if ctx.scale == "tiny" else 10
    W, b, S = linear_instance(rng, 100, 4, ctx.n(80, 20))
    g = grid(ctx)["models"][(0, False)]
    cases = [
        ("linear d=100, A=4", LinearPolicy(W, b), S, 1e3),
        (f"vanilla CNN d={g['S'][0].size}", g["model"], np.array(g["S"]), 40.0),
    ]
    worst, rows, plot_data, all_adv_flipped = Worst("<="), [], {}, True
    for name, pol, X, R in cases:
        with warnings.catch_warnings():  # saturated states are counted below
            warnings.simplefilter("ignore", RuntimeWarning)
            D = instability_directions(pol, X, normalize=True)
        Xk, U = X[D.kept], D.directions[D.kept]
        adv = flip_distance(pol, Xk, U, max_radius=R)
        rnd = [
            flip_distance(
                pol,
                Xk,
                random_directions(D.n_kept, X.shape[1:], seed=int(rng.integers(2**31))),
                max_radius=R,
            )
            for _ in range(n_rand)
        ]
        rnd_d = np.concatenate([r.distance for r in rnd])
        rnd_capped = np.minimum(rnd_d, R)  # an unflipped search counts as R: a lower bound
        med_a, med_r = float(np.median(adv.distance)), float(np.median(rnd_capped))
        all_adv_flipped &= bool(adv.flipped.all())
        worst.add(med_a / med_r, bound(), policy=name)
        rows.append(
            {
                "policy": name,
                "states kept": D.n_kept,
                "states dropped (saturated)": D.n_dropped,
                "median gradient distance": med_a,
                "gradient flips behind the state (−v side)": float((adv.side < 0).mean()),
                "median random distance (unflipped counted as R)": med_r,
                "random/gradient ratio": med_r / med_a,
                "random searches unflipped within R": float(np.isinf(rnd_d).mean()),
                "R": R,
            }
        )
        plot_data[name] = (adv.distance, rnd_d, R)
    plot = flip_cdf_plot(
        ctx.plot_path("decision-boundary-flip-distances"),
        plot_data,
        "Distance to the first action change along a direction (both signs searched)",
    )
    return worst.evidence(
        f"Flip distances by line search (geometric grid + bisection, both signs ±u) along v/‖v‖ "
        f"and along {n_rand} random unit directions per state; a random search that does not "
        "flip within the cap R counts as R, so the ratio is a lower bound. Reported: "
        f"{worst.info['policy']} (random/gradient median ratio {1 / worst.measured:.1f}). "
        "Plot: the gradient CDF (solid) should rise at distances orders of magnitude below "
        "the random one (dotted); curves stop at the cap R (dashed line) and the legend gives "
        "the share of searches with no flip within R.",
        require={"every gradient search flipped within R": all_adv_flipped},
        details={"table": rows},
        plots=[plot],
    )


@claim(
    id="decision-boundary/universal-direction",
    statement="G_S acts as a universal direction: at the budget ε = median minimal flip "
    "distance, ±ε·G_S flips more states than ±ε·u for ≥ 95% of random unit u "
    "(permutation p-value ≤ 0.05).",
    reference=ref("decision-boundary", "§3 (G_S across states)")
    + "; "
    + ref("universal-perturbations", "§3 (one direction flips most inputs)"),
    bound=Tolerance(LEVEL),
)
def universal_direction(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    sweep = grid(ctx)
    n_u = 50 if ctx.scale == "tiny" else 200
    worst, rows = Worst("<="), []
    for (seed, robust), m in sweep["models"].items():
        if robust:
            continue
        model, S = m["model"], np.array(m["S"])
        eps = float(np.median(deepfool(model, S).l2))
        G = principal_map(model, S)
        x = torch.as_tensor(S, dtype=torch.float32)
        with torch.no_grad():
            a = model(x).argmax(1)

        def flips(u: np.ndarray, x=x, a=a, model=model, eps=eps) -> int:
            """States flipped by s + εu or s − εu (the better sign per state)."""
            t = torch.as_tensor(eps * u[None], dtype=torch.float32)
            with torch.no_grad():
                f = [model(x + sign * t).argmax(1) != a for sign in (1, -1)]
            return int((f[0] | f[1]).sum())

        fg = flips(G)
        U = random_directions(n_u, S.shape[1:], seed=ctx.seed * 7919 + seed)
        fu = np.array([flips(u) for u in U])
        p = (1 + int(np.sum(fu >= fg))) / (1 + n_u)
        worst.add(p, bound(), seed=seed)
        rows.append(
            {
                "seed": seed,
                "states": len(S),
                "ε": eps,
                "flips by ±εG_S": fg,
                "median flips by ±εu": float(np.median(fu)),
                "max flips by ±εu": int(fu.max()),
                "p-value": p,
            }
        )
    return worst.evidence(
        f"Vanilla CNNs (seeds {list(sweep['seeds'])}), ε = median DeepFool ℓ2 distance over S, "
        f"better sign of ± per state; {n_u} random unit directions; p = (1 + #{{u: flips(u) ≥ "
        f"flips(G_S)}})/(1 + {n_u}). Reported: the seed with the largest p "
        f"({worst.info['seed']}).",
        details={"table": rows},
    )
