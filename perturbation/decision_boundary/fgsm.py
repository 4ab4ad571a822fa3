"""FGSM vs sign noise of the same ℓ∞ size (Huang et al. 2017, the attack Korkmaz 2024 builds on)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch

from perturbation.decision_boundary._common import grid
from perturbation.references import ref
from perturbation.registry import Evidence, Reference, RunContext, Worst, claim
from stability.decision_boundary import fgsm


def seeded_mlp(rng: np.random.Generator, sizes: tuple[int, ...] = (20, 32, 4)) -> torch.nn.Module:
    """A float64 ReLU MLP with PyTorch's default uniform initialisation drawn from ``rng``
    (the weights do not depend on the global torch generator, which is not reseeded)."""
    layers: list[torch.nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        lin = torch.nn.Linear(n_in, n_out).double()
        k = 1.0 / np.sqrt(n_in)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(rng.uniform(-k, k, (n_out, n_in))))
            lin.bias.copy_(torch.as_tensor(rng.uniform(-k, k, n_out)))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


@claim(
    id="decision-boundary/fgsm-vs-noise",
    statement="ℓ∞ FGSM at ε flips at least as many actions as uniform ±ε sign noise "
    "(strictly more on a fixed seeded MLP and on the gridworld CNN).",
    reference=ref("policy-attacks", "§3 (FGSM on policies)"),
    bound=Reference(
        lambda fgsm_rate: fgsm_rate,
        ref("policy-attacks", "§3: the FGSM flip rate at the same ε and policy"),
    ),
)
def fgsm_vs_noise(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("fgsm")
    mlp = seeded_mlp(rng)
    Xm = torch.as_tensor(rng.standard_normal((ctx.n(400, 50), 20)))
    cnn = grid(ctx)["models"][(0, False)]
    Xc = torch.as_tensor(np.array(cnn["S"]), dtype=torch.float32)
    cases = [
        ("MLP 20-32-4", mlp, Xm, (0.05, 0.1, 0.2, 0.4)),
        ("vanilla CNN", cnn["model"], Xc, (0.005, 0.01, 0.02, 0.05)),
    ]
    worst, rows, strict = Worst("<="), [], True
    gen = torch.Generator().manual_seed(ctx.seed)
    for name, pol, X, eps_grid in cases:
        with torch.no_grad():
            a = pol(X).argmax(1)
        any_strict = False
        for eps in eps_grid:
            f = fgsm(pol, X, eps).flip_rate
            noise = eps * (2 * torch.randint(0, 2, X.shape, generator=gen) - 1).to(X.dtype)
            with torch.no_grad():
                nf = float((pol(X + noise).argmax(1) != a).float().mean())
            any_strict |= f > nf
            rows.append({"policy": name, "ε": eps, "FGSM flip rate": f, "sign-noise flip rate": nf})
            if f > 0:
                worst.add(nf, bound(f), policy=name, eps=eps)
        strict &= any_strict
    return worst.evidence(
        "ε over a grid per policy; measured: the sign-noise flip rate against the FGSM flip "
        f"rate at the worst (policy, ε) = ({worst.info['policy']}, {worst.info['eps']}).",
        require={"FGSM strictly better at some ε on each policy": strict},
        details={"table": rows},
    )
