"""Certified bounds hold on sampled pairs of states: globally, and locally over a box."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import numpy as np

from perturbation.lipschitz._common import aol_policy, max_pair_ratio
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Worst, claim
from stability.lipschitz import as_network, lipschitz_bound
from stability.lipschitz.generators import gaussian_net

#: The global methods whose certified bounds are checked on samples.
METHODS = ("naive", "liplt", "eclipse-fast", "eclipse", "lipsdp-layer", "lipsdp-neuron")


def certified(weights, method: str) -> float:
    """The certified upper bound of ``method`` on a network."""
    return lipschitz_bound(weights, method).value


@claim(
    id="lipschitz/certified-holds-empirically",
    statement="Every certified bound holds empirically: ||f(x+δ) − f(x)|| <= L̂ ||δ|| for sampled "
    "states and disturbances, for every method (random nets and trained AOL policies).",
    reference=ref("lipsdp", "Theorem 2 (a certified ρ bounds ||f(x) − f(y)||² <= ρ ||x − y||²)")
    + "; "
    + ref("eclipse", "Sec. 3 and Algorithm 1"),
    bound=Theorem(certified),
)
def certified_holds(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("empirical")
    nets = [gaussian_net(rng, [3, 8, 8, 2]) for _ in range(ctx.n(4, 2))]
    nets.append(aol_policy(ctx, 2.0).to_sequential())
    worst, rows = Worst("<="), []
    for i, w in enumerate(nets):
        net = as_network(w)
        x = rng.standard_normal((ctx.n(2000, 200), net.dims[0]))
        d = rng.standard_normal(x.shape) * rng.choice([1e-3, 1e-1, 1.0], (len(x), 1))
        ratio = max_pair_ratio(net, x + d, x)
        for m in METHODS:
            b = bound(w, m)
            rows.append({"net": i, "method": m, "bound": b, "max ratio": ratio})
            worst.add(ratio, b, net=i, method=m)
    return worst.evidence(
        rtol=1e-9,
        note=f"{len(nets)} networks (the last an AOL policy π = 2·g cloned from LQR); Gaussian "
        f"states, disturbances of three scales; reported: net {worst.info['net']}, "
        f"{worst.info['method']}.",
        details={"table": rows},
    )


def local(net, box: tuple[np.ndarray, np.ndarray]) -> float:
    """The certified local bound of ``net`` over ``box``."""
    return lipschitz_bound(net, "local", box=box).value


@claim(
    id="lipschitz/local-bound-holds",
    statement="The local bound over a box of states (interval-propagated neuron-wise slopes in "
    "LipSDP-Neuron, constant neurons removed, linear ones widened) holds for sampled pairs of "
    "states in the box, is at most the global LipSDP-Neuron bound (1e-3) and is proven within "
    "1% of its own SDP's optimum, on ReLU and tanh nets with biases.",
    reference=ref(
        "lipsdp",
        "Theorem 2 with neuron-wise slope bounds [derived: interval "
        "propagation over the box bounds each neuron's slopes there]",
    ),
    bound=Theorem(local),
)
def local_bound_holds(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("local-bound")
    nets = {}
    for act in ("relu", "tanh"):
        for dims in ([3, 16, 16, 2], [4, 32, 32, 32, 1])[: ctx.n(2, 1)]:
            ws = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in itertools.pairwise(dims)]
            biases = tuple(0.5 * rng.standard_normal(w.shape[0]) for w in ws)
            net = dataclasses.replace(as_network(ws, act), biases=biases)
            nets[f"{act} {'-'.join(map(str, dims))}"] = net
    rows, worst = [], Worst("<=")
    for name, net in nets.items():
        glob = lipschitz_bound(net, "lipsdp-neuron").value
        for radius in (0.05, 0.5):
            centre = rng.standard_normal(net.dims[0])
            box = (centre - radius, centre + radius)
            b = bound(net, box)
            loc = lipschitz_bound(net, "local", box=box)
            x = rng.uniform(*box, (ctx.n(4000, 500), net.dims[0]))
            y = rng.uniform(*box, x.shape)
            ratio = max_pair_ratio(net, x, y)
            low = loc.details["lipsdp_lower_bound"]
            rows.append(
                {
                    "net": name,
                    "box radius": radius,
                    "max pair ratio": ratio,
                    "local": b,
                    "global": glob,
                    "stable neurons": loc.details["stable_neurons"],
                    "lipsdp/optimum <=": loc.details["lipsdp_neuron_local"] / low,
                    "seconds": loc.seconds,
                }
            )
            worst.add(ratio, b, net=name, radius=radius)
    return worst.evidence(
        rtol=1e-9,
        note=f"{len(rows)} boxes; reported: the largest pair ratio over its bound "
        f"({worst.info['net']}, radius {worst.info['radius']}).",
        require={
            "local <= global (1e-3)": all(r["local"] <= r["global"] * (1 + 1e-3) for r in rows),
            "proven within 1% of the SDP optimum": all(
                r["lipsdp/optimum <="] <= 1.01 for r in rows
            ),
        },
        details={"table": rows},
    )
