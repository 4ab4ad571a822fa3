"""Lipschitz-constrained policies: AOL policies ``π = L·g`` cloned from an LQR expert on a double
integrator, their certified constants, and the closed loop under measurement disturbances."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from perturbation.lipschitz._common import aol_policy, double_integrator
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Worst, claim, frozen
from stability.lipschitz import as_network, lipschitz_bound
from stability.lipschitz.control import (
    closed_loop_deviation_bound,
    quadratic_cost,
    rollout,
    train_policy,
)
from stability.lipschitz.lower import lower_bound


def by_construction(lipschitz: float) -> float:
    """``lip(π) <= L`` for ``π = L·g`` with 1-Lipschitz (AOL) layers ``g``."""
    return lipschitz


@claim(
    id="lipschitz/aol-policy-by-construction",
    statement="π = L·g with AOL layers: LipSDP-Neuron(π) <= L and the sampled lower bound <= L.",
    reference=ref(
        "prach-lampert", "Theorem 1 (AOL layers are 1-Lipschitz, so π = L·g is L-Lipschitz)"
    ),
    bound=Theorem(by_construction),
)
def aol_by_construction(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, rows = Worst("<="), []
    for lip in (0.5, 2.5):
        seq = aol_policy(ctx, lip).to_sequential()
        ub = lipschitz_bound(seq, "lipsdp-neuron").value
        lo = lower_bound(as_network(seq), n_samples=512, n_ascent=20).value
        rows.append({"L": lip, "lipsdp-neuron": ub, "lower": lo})
        worst.add(ub, bound(lip), L=lip)
    return worst.evidence(
        rtol=1e-9,
        note=f"AOL [2,12,12,1] policies cloned from LQR; reported: L = {worst.info['L']}.",
        require={"lower <= L": all(r["lower"] <= r["L"] * (1 + 1e-9) for r in rows)},
        details={"table": rows},
    )


@functools.lru_cache(maxsize=4)
def tradeoff_sweep(ctx: RunContext):
    """Policies cloned under constraints L, rolled out nominally and under a greedy adversarial
    measurement disturbance (read-only; cached per run context)."""
    sys = double_integrator()
    eps, horizon = 0.05, ctx.n(60, 20)
    lips = (0.5, 1.0, 2.0, 4.0, 8.0) if ctx.scale != "tiny" else (0.5, 2.0, 8.0)
    rows = []
    for lip in lips:
        pol, _ = train_policy(
            sys, lip, n_data=256, steps=ctx.n(300, 80), hidden=(16, 16), seed=ctx.seed
        )
        l_hat = lipschitz_bound(pol.to_sequential(), "lipsdp-neuron").value
        x0 = np.array([0.5, -0.5])
        nom = rollout(sys, pol, x0, horizon, 0.0)
        adv = rollout(sys, pol, x0, horizon, eps)
        rows.append(
            {
                "L": lip,
                "certified L": l_hat,
                "nominal deviation": float(nom["deviation"].max()),
                "nominal gap": float(nom["gap"].max()),
                "disturbed deviation": float(adv["deviation"].max()),
                "disturbed gap": float(adv["gap"].max()),
                "nominal cost": quadratic_cost(nom["x"]),
                "cost deterioration": quadratic_cost(adv["x"]) - quadratic_cost(nom["x"]),
                "b_gain": sys.b_gain,
                "rho": sys.rho,
                "eps": eps,
            }
        )
    return frozen(rows)


TRADEOFF_CAPTION = (
    "Plot lipschitz-tradeoff, against the constraint L: left, the largest deviation from the "
    "expert's loop (markers) and its bound (dashed line of the same colour), without and with "
    "the disturbance; every marker must lie below its line. Right, the nominal cost and the "
    "cost change caused by the disturbance: the trade-off between nominal fit and robustness "
    "(reported, not asserted)."
)


def _tradeoff_plot(path: Path | None, rows: Sequence, bounds: dict[str, list[float]]):
    """Two panels: deviation and its bounds (left), costs (right), against L."""
    if path is None:
        return None
    ls = [r["L"] for r in rows]
    eps = rows[0]["eps"]
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for label, key, colour, marker in (
        ("nominal (ε = 0)", "nominal", "C0", "o"),
        (f"disturbed (ε = {eps:g})", "disturbed", "C1", "s"),
    ):
        left.plot(
            ls, [r[f"{key} deviation"] for r in rows], marker=marker, color=colour, label=label
        )
        left.plot(ls, bounds[key], ls="--", color=colour, label=f"bound, {label}")
    left.set_yscale("log")
    left.set_title("Deviation from the expert's closed loop")
    left.set_ylabel("max_t ||x_t − x*_t||_P (state units, P-norm)")
    right.plot(ls, [r["nominal cost"] for r in rows], marker="o", color="C2", label="nominal cost")
    right.plot(
        ls,
        [abs(r["cost deterioration"]) for r in rows],
        marker="^",
        color="C3",
        label=f"|cost change| under the disturbance (ε = {eps:g})",
    )
    right.set_yscale("log")
    right.set_title("Cost: nominal, and change under the disturbance")
    right.set_ylabel("Σ_t ||x_t||² (squared state units)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(ls, [f"{v:g}" for v in ls])
        ax.set_xlabel("Lipschitz constraint L of the policy (action per state unit)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Double integrator: nominal fit and robustness against the Lipschitz constraint L")
    fig.savefig(path, dpi=110)
    return path


@claim(
    id="lipschitz/closed-loop",
    statement="[derived] Under measurement disturbances ||δ|| <= ε, the learned loop stays within "
    "||P^½B||(L̂ε + gap)/(1 − ρ) of the LQR expert's (P-norm); nominal fit improves and the "
    "disturbance term grows as the constraint L varies (trade-off plot).",
    reference=ref(
        "lipschitz-control",
        "abstract, results ii–v; the deviation bound [derived] "
        "in stability.lipschitz.control.closed_loop_deviation_bound",
    ),
    bound=Theorem(closed_loop_deviation_bound),
)
def closed_loop(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rows = tradeoff_sweep(ctx)
    worst, bounds, table = Worst("<="), {"nominal": [], "disturbed": []}, []
    for r in rows:
        row = dict(r)
        for loop, eps in (("nominal", 0.0), ("disturbed", r["eps"])):
            b = bound(r["b_gain"], r["certified L"], eps, r[f"{loop} gap"], r["rho"])
            bounds[loop].append(b)
            row[f"{loop} bound"] = b
            worst.add(r[f"{loop} deviation"], b, L=r["L"], loop=loop)
        table.append(row)
    plot = _tradeoff_plot(ctx.plot_path("lipschitz-tradeoff"), rows, bounds)
    return worst.evidence(
        rtol=1e-9,
        note="AOL policies π = L·g cloned from LQR (double integrator, dt 0.1), greedy "
        "adversarial δ along the Jacobian's top singular vector; reported: the run with the "
        f"largest deviation/bound (L = {worst.info['L']}, {worst.info['loop']}). "
        + TRADEOFF_CAPTION,
        details={"table": table},
        plots=[plot],
    )
