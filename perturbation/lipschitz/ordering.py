"""The ordering of the bounds, and the exact constant of 2-D-input nets below all of them."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import numpy as np

from perturbation.lipschitz._common import ORDER
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Tolerance, Worst, claim, frozen
from stability.lipschitz import as_network, lipschitz_bound
from stability.lipschitz.generators import EXACT_2D, exact_2d_net, gaussian_net
from stability.lipschitz.lower import angle_sweep, lower_bound


@functools.lru_cache(maxsize=4)
def ordering_table(ctx: RunContext):
    """Every method's value on random small ReLU nets (read-only; cached per run context)."""
    rng = ctx.rng("ordering")
    rows = []
    for i in range(ctx.n(8, 2)):
        depth = int(rng.integers(2, 4))
        dims = (
            [int(rng.integers(2, 5))]
            + [int(rng.integers(3, 9)) for _ in range(depth - 1)]
            + [int(rng.integers(1, 3))]
        )
        ws = gaussian_net(rng, dims)
        if i % 2:  # positive weights, as in random_weights.mat
            ws = [np.abs(w) for w in ws]
        row = {"net": str(dims), "lipsdp-network": lipschitz_bound(ws, "lipsdp-network").value}
        for m in ORDER[1:]:
            row[m] = lipschitz_bound(ws, m).value
        row["lower"] = lower_bound(as_network(ws), n_samples=512, n_ascent=30, seed=i).value
        rows.append(row)
    return frozen(rows)


#: Largest allowed ratio of a tighter method to the next looser one (solver tolerance).
ORDERING_SLACK = 1.0 + 1e-6


@claim(
    id="lipschitz/ordering",
    statement="On random ReLU networks: lower <= LipSDP-Neuron <= LipSDP-Layer <= ECLipsE-Fast "
    "<= naive (ratio of each to the next <= 1 + 1e-6), and LipSDP-Network <= Neuron (nested "
    "LMIs). LipSDP-Network can fall BELOW a proven lower bound (its coupling is not a valid "
    "relaxation for Lipschitz constants in general: Pauli et al., IEEE L-CSS 2021), so it is "
    "left out of the chain and counted.",
    reference=ref("lipsdp", "Theorem 2 (nested multiplier sets: Layer in Neuron in Network)")
    + "; "
    + ref("eclipse", "Sec. 3 (ECLipsE-Fast's multipliers are a LipSDP-Neuron certificate)"),
    bound=Tolerance(ORDERING_SLACK),
)
def ordering(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rows = ordering_table(ctx)
    worst = Worst("<=")
    for row in rows:
        for a, b in itertools.pairwise(ORDER):
            worst.add(row[a] / row[b], bound(), pair=f"{a}/{b}", net=row["net"])
    below = [r["net"] for r in rows if r["lipsdp-network"] < r["lower"] * (1 - 1e-6)]
    return worst.evidence(
        note=f"{len(rows)} random nets (half with positive weights), hidden widths <= 8; "
        f"reported: the largest ratio, {worst.info['pair']} on {worst.info['net']}. "
        f"LipSDP-Network below the proven lower bound on {len(below)} of {len(rows)} nets: "
        f"{below}.",
        require={
            "Network <= Neuron (1e-6)": all(
                r["lipsdp-network"] <= r["lipsdp-neuron"] * (1 + 1e-6) for r in rows
            )
        },
        details={"table": [dict(r) for r in rows], "network_below_lower_bound": below},
    )


def tightest_upper(weights) -> float:
    """The smallest certified upper bound (LipSDP-Neuron) of a network."""
    return lipschitz_bound(weights, "lipsdp-neuron").value


@claim(
    id="lipschitz/exact-2d",
    statement="On 2-D-input bias-free ReLU nets the angle sweep gives the exact constant "
    "(stored reference values 0.76810, 1.10132, 0.92431), below every upper bound.",
    reference=ref(
        "lipsdp",
        "Theorem 2 (upper bounds); exact constant by an angle sweep "
        "[derived]: a bias-free ReLU net is positively homogeneous, so sup ||J||_2 is attained on "
        "the unit circle",
    ),
    bound=Theorem(tightest_upper),
)
def exact_2d(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rows, worst, table_err = [], Worst("<="), 0.0
    items = list(EXACT_2D.items())[: 2 if ctx.scale == "tiny" else 3]
    for (dims, seed), exact_ref in items:
        ws = exact_2d_net(dims, seed)
        exact = angle_sweep(as_network(ws), 200_000)
        ub = bound(ws)
        others = {
            m: lipschitz_bound(ws, m).value
            for m in ("lipsdp-layer", "eclipse-fast", "liplt", "naive")
        }
        table_err = max(table_err, abs(exact - exact_ref))
        net = f"{list(dims)}, seed {seed}"
        rows.append({"net": net, "exact": exact, "lipsdp-neuron": ub, **others})
        worst.add(exact, ub, net=net, method="lipsdp-neuron")
        for m, v in others.items():
            worst.add(exact, v, net=net, method=m)
    return worst.evidence(
        rtol=0.0,
        note="200 000-angle sweep of ||J||_2 on the unit circle; reported: the net and upper "
        f"bound with the largest exact/upper ratio ({worst.info['net']}, "
        f"{worst.info['method']}).",
        require={"sweep = stored reference values (±1e-4)": table_err <= 1e-4},
        details={"table": rows, "max_table_error": table_err},
    )
