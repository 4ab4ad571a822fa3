"""KL-regularized policy gradient converges to the closed form ``pi_ref exp(r/beta) / Z``.

Where the tolerance comes from [derived]
----------------------------------------
The objective ``J(pi) = E_pi r - beta KL(pi || pi_ref)`` has the maximiser
``pi* = pi_ref exp(r / beta) / Z`` (Rafailov et al. 2023, Eq. 4). Two facts fix how close a run
of :data:`STEPS` Adam steps (peak rate :data:`LR` decayed linearly to 0) gets to it:

1. *No sampling floor.* With the KL penalty in the reward, the penalized reward
   ``r(a) - beta log(pi*(a) / pi_ref(a)) = beta log Z`` is the same for every arm at ``pi*``,
   so every group-centred advantage, and with it the stochastic gradient, is exactly 0 there;
   the gradient noise shrinks with the distance to ``pi*``. The sampled runs therefore
   converge like exact policy gradient, not to a noise level set by the G samples.
2. *The rate is set by the smallest probability.* The Hessian of ``J`` in the logits is
   ``-beta (diag(pi) - pi pi^T)``: an arm's logit has curvature ``beta pi(a) (1 - pi(a))``, so
   arms of tiny probability converge slowly. The references are mixed with the uniform
   distribution (``pi_ref >= REF_FLOOR / A``) and the rewards lie in [0, 1], so
   ``pi*(a) >= pi_ref(a) exp(-1 / beta) >= 0.1 e^-2 = 0.0135`` at ``beta >= 0.5``, however
   many contexts and seeds a scale sweeps: the worst instance converges like a typical one.

Measured max TV over seeds and contexts: 6.7e-11 (beta 0.5) and 3.6e-11 (beta 1) at the
default scale, 1.0e-9 and 5.3e-9 at ``--scale medium`` (4x the contexts and seeds). The stated
tolerance :data:`KL_PG_TOL` = 1e-5 leaves more than a factor 1000 above the medium scale. With
Dirichlet(1) references (the former experiment) the smallest probabilities shrink as the sweep
grows (target probabilities of 5e-4 at medium) and the same 800 steps left max TV 1.2e-3
(exact gradient) to 2.0e-3 (sampled) at medium, over a tolerance fitted at the default scale.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Tolerance, Worst, claim
from trainers.policy_gradient import PGConfig, train_bandit_runs
from trainers.tasks import ContextualBandit

#: Stated tolerance of the closed-form claim (max TV over seeds, contexts and betas), derived
#: in the module docstring.
KL_PG_TOL = 1e-5
BETAS = (0.5, 1.0)
#: The optimizer: Adam steps, peak learning rate (decayed linearly to 0), samples per context.
STEPS, LR, GROUP = 800, 0.2, 16
#: Weight of the uniform distribution in each reference (the rest Dirichlet(1)).
REF_FLOOR = 0.5
#: (row label, kl_estimator): the unbiased KL-in-reward penalty is asserted; the k3 loss term
#: is reported for information (its gradient is that of KL(ref || pi), see trainers.losses).
ESTIMATORS = (
    ("REINFORCE, KL in reward (PPO-max)", "reward"),
    ("GRPO loss, k3 KL term (TRL)", "k3"),
)


@claim(
    id="trainers/kl-pg-closed-form",
    statement="KL-regularized policy gradient on a bandit (sampled REINFORCE, KL penalty in "
    "the reward; references at least half uniform) converges to the closed form "
    "π_ref·exp(r/β)/Z: max d_TV to it, over seeds and contexts, is below the tolerance derived "
    "from its convergence (no sampling floor at the optimum, curvature bounded below).",
    reference="; ".join((ref("dpo", "§4, Eq. (4)"), ref("policy-cliff", "§3.3"))),
    bound=Tolerance(KL_PG_TOL),
)
def kl_pg_closed_form(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("kl-pg")
    C, A = ctx.n(8, minimum=2), 5
    reference = REF_FLOOR / A + (1 - REF_FLOOR) * rng.dirichlet(np.ones(A), C)
    task = ContextualBandit.tabular(rng.uniform(0, 1, (C, A)), reference)
    seeds = list(range(ctx.n(8, minimum=3)))
    table, worst = [], Worst("<=")
    for beta in BETAS:
        target = task.closed_form(beta)
        for name, est in ESTIMATORS:
            cfg = PGConfig(
                algorithm="reinforce",
                beta=beta,
                kl_estimator=est,
                steps=STEPS,
                lr=LR,
                group_size=GROUP,
                dtype="float64",
                init_std=0.5,
            )
            tv = train_bandit_runs(task, cfg, seeds, device=ctx.device).max_tv(target)
            table.append(
                {"β": beta, "estimator": name, "max TV": float(tv.max()), "mean TV": tv.mean()}
            )
            if est == "reward":
                worst.add(float(tv.max()), bound(), beta=beta, seed=seeds[int(np.argmax(tv))])
    return worst.evidence(
        note=f"{C} contexts x {A} arms (rewards U[0,1], references {REF_FLOOR}·uniform + "
        f"{1 - REF_FLOOR}·Dirichlet(1)), {len(seeds)} seeds, β ∈ {BETAS}; {STEPS} steps, "
        f"G = {GROUP} samples per context, Adam lr {LR} annealed linearly; measured: max over "
        "seeds, contexts and β of d_TV(π_trained, π_ref e^(r/β)/Z) for the unbiased estimator. "
        "Tolerance [derived]: at the optimum the KL-penalized reward is constant over arms, so "
        "the sampled gradient vanishes there (no noise floor), and π* ≥ 0.0135 bounds the "
        "curvature below at every scale (perturbation.trainers.kl_closed_form). The k3 loss row "
        "is for information [derived]: its gradient is that of KL(π_ref‖π), so it converges "
        "elsewhere.",
        details={"table": table},
    )
