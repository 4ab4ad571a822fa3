"""The claim ``retrain/null-vs-planted``: retrain_compare flags planted effects, not null ones.

Registered when ``perturbation.retrain.claims`` is imported (listed in
:data:`perturbation.registry.CLAIM_MODULES`). Three measurements, on small tabular problems:

1. **Bound** (asserted, Prop 4.7 of Xu 2025): for exact entropy-regularised soft-optimal
   policies (soft value iteration) with a random reward change ``|dR| <= 0.2``, the measured
   ``max_s d_TV`` of :func:`~perturbation.retrain.retrain_compare` is at most
   ``||dR||_inf / (2 alpha (1 - gamma))``; the worst ratio over the instances is reported.
2. **Power**: soft-optimal policies of transition models estimated from 200 samples per
   state-action pair (the seed's data: seed noise is sampling noise), reward of one action
   raised by 1: every instance is flagged (``p < 0.05``).
3. **Calibration**: cheap synthetic null problems (policies ``softmax(theta + 0.5 xi_seed)``,
   the "perturbed" runs drawn from the same distribution), K = 5 per group, exact test: the
   number flagged is at most the 0.999 quantile of ``Binomial(n, 0.05)`` (an exact permutation
   test has ``P(p < alpha) <= alpha`` under exchangeability; the quantile is the Monte Carlo
   allowance, exceeded by chance with probability below 1e-3).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats as sps

import theory as T
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Worst, claim
from perturbation.retrain.compare import retrain_compare
from theory.bounds import soft_policy_tv_bound
from theory.generators import random_mdp

__all__: list[str] = []

ALPHA_TEST = 0.05
TEMPERATURE = 0.5
GAMMA = 0.5


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@claim(
    id="retrain/null-vs-planted",
    statement="retrain_compare (energy-distance permutation test over run labels, K + K seeds): "
    "exact soft-optimal policies move by at most Prop 4.7's bound under a reward change; a "
    "planted reward change under sampling noise is flagged; null perturbations are flagged at "
    "most at rate alpha = 0.05 (binomial 0.999 allowance).",
    reference=ref("policy-cliff", "Prop 4.7")
    + "; Székely & Rizzo, J. Stat. Plan. Inference 143(8), 2013 (energy distance, permutation "
    "test) [derived: validity under exchangeability]",
    bound=Theorem(soft_policy_tv_bound),
)
def null_vs_planted(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    # 1. Prop 4.7 on exact soft-optimal policies
    worst = Worst("<=")
    rng = ctx.rng("retrain:bound")
    for _ in range(ctx.n(3)):
        mdp = random_mdp(rng, 5, 3, GAMMA)
        dR = rng.uniform(-0.2, 0.2, size=(5, 3))
        d = float(np.abs(dR).max())

        def exact(seed: int, perturbed: bool, mdp=mdp, dR=dR) -> np.ndarray:
            return T.soft_optimal_policy(mdp.with_reward(mdp.R + perturbed * dR), TEMPERATURE)

        res = retrain_compare(exact, seeds=4, states=np.arange(5), n_bootstrap=10, progress=False)
        worst.add(res.max_tv, bound(d, TEMPERATURE, GAMMA), reward_distance=d)

    # 2. power: a planted change against sampling noise
    rng = ctx.rng("retrain:power")
    flagged_planted, n_planted, worst_p = 0, ctx.n(2), 0.0
    for _ in range(n_planted):
        mdp = random_mdp(rng, 5, 3, GAMMA)
        planted = np.zeros((5, 3))
        planted[:, 0] = 1.0

        def sampled(seed: int, perturbed: bool, mdp=mdp, planted=planted) -> np.ndarray:
            g = np.random.default_rng(seed)
            P = np.stack(
                [[g.multinomial(200, mdp.P[s, a]) / 200 for a in range(3)] for s in range(5)]
            )
            R = mdp.R + perturbed * planted
            return T.soft_optimal_policy(T.TabularMDP(P, R, GAMMA), TEMPERATURE)

        res = retrain_compare(sampled, seeds=5, states=np.arange(5), n_bootstrap=10, progress=False)
        flagged_planted += res.distinguishable
        worst_p = max(worst_p, res.p_value)

    # 3. calibration on synthetic null problems
    rng = ctx.rng("retrain:calibration")
    reps = ctx.n(60, minimum=20)
    flagged_null = 0
    for _ in range(reps):
        theta = rng.normal(size=(4, 3))

        def null(seed: int, perturbed: bool, theta=theta) -> np.ndarray:
            return _softmax(theta + 0.5 * np.random.default_rng(seed).normal(size=theta.shape))

        seeds = [int(s) for s in rng.choice(2**31, size=10, replace=False)]
        res = retrain_compare(
            null,
            seeds=seeds[:5],
            perturbed_seeds=seeds[5:],
            states=np.arange(4),
            alpha=ALPHA_TEST,
            n_bootstrap=10,
            progress=False,
        )
        flagged_null += res.distinguishable
    allowance = int(sps.binom.ppf(0.999, reps, ALPHA_TEST))
    return worst.evidence(
        rtol=1e-9,
        note=f"{worst.n} random 5x3 MDPs (gamma {GAMMA}, temperature {TEMPERATURE}, |dR| <= 0.2), "
        f"exact soft-optimal policies: measured max TV vs Prop 4.7; planted change flagged in "
        f"{flagged_planted}/{n_planted} (largest p {worst_p:.3g}); null flagged in "
        f"{flagged_null}/{reps} (allowance {allowance}, expected <= {ALPHA_TEST * reps:.1f}).",
        require={
            "every planted reward change is flagged (p < 0.05)": flagged_planted == n_planted,
            f"null flagged at most {allowance} of {reps} times": flagged_null <= allowance,
        },
        details={"null_flagged": flagged_null, "null_reps": reps, "planted_p_max": worst_p},
    )
