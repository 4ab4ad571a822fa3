"""The Stability measure: closed forms for linear models, R <= m(x), R-hat >= R, and the
certified Lipschitz constant (Hamman et al., ICML 2023, definition of Stability)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from perturbation.counterfactual._common import random_models
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Theorem, Worst, claim
from stability.counterfactual import (
    counterfactual_stability,
    linear_expected_stability,
    lipschitz_upper_bound,
    predict_proba,
    stability_from_samples,
)

# ---------------------------------------------------------------------------------------------
# Closed forms for linear models
# ---------------------------------------------------------------------------------------------


def _linear_closed_form(ctx: RunContext, bound: Callable[..., float], relaxed: bool) -> Evidence:
    rng = ctx.rng(f"linear-closed-form-{relaxed}")
    reps, k = ctx.n(400, minimum=100), 200
    rows, worst = [], Worst("==", by="score")
    for d in (1, 2, 5, 10, 30):
        w, x, sigma = rng.normal(size=d), rng.normal(size=d), float(rng.choice([0.05, 0.1, 0.3]))
        xi = rng.standard_normal((reps, k, d))
        m_x = float(x @ w + 0.2)
        r = stability_from_samples(
            np.full(reps, m_x),
            (x + sigma * xi) @ w + 0.2,
            sigma * np.linalg.norm(xi, axis=2),
            np.linalg.norm(w),
            relaxed=relaxed,
        )
        mc, se = float(r.mean()), float(r.std(ddof=1) / math.sqrt(reps))
        expect = bound(m_x, float(np.linalg.norm(w)), sigma, d)
        z = abs(mc - expect) / se
        rows.append({"d": d, "sigma": sigma, "MC": mc, "closed form": expect, "SE": se, "|z|": z})
        worst.add(mc, expect, score=z, d=d, sigma=sigma, se=se)
    return worst.evidence(
        atol=4 * worst.info["se"],
        note=f"linear m(y) = w·y + 0.2, γ_x = ‖w‖, k = {k}, {reps} Monte Carlo repetitions "
        "per instance, d ∈ {1, 2, 5, 10, 30}; tolerance 4 SE; reported: the instance with the "
        f"largest |MC − closed form|/SE (d = {worst.info['d']}).",
        details={"worst": worst.info, "table": rows},
    )


def expected_r(m_x: float, w_norm: float, sigma: float, d: int) -> float:
    """E[R] = m(x) − ‖w‖ σ c_d with c_d = √2 Γ((d+1)/2)/Γ(d/2) ([derived]: see
    :func:`stability.counterfactual.linear_expected_stability`)."""
    return linear_expected_stability(m_x, w_norm, sigma, d)


def expected_rhat(m_x: float, w_norm: float, sigma: float, d: int) -> float:
    """E[R̂] = m(x) − ‖w‖ σ √(2/π) ([derived]: w·ξ ~ N(0, ‖w‖²) has E|w·ξ| = ‖w‖ √(2/π))."""
    return linear_expected_stability(m_x, w_norm, sigma, d, relaxed=True)


@claim(
    id="counterfactual/linear-closed-form",
    statement="For a linear m = w·x + b and γ_x = ‖w‖: E[R_{k,σ}] = m(x) − ‖w‖σ c_d with "
    "c_d = √2 Γ((d+1)/2)/Γ(d/2) (σ a standard deviation).",
    reference=ref("counterfactual-stability", "definition of Stability; closed form [derived]"),
    bound=Theorem(expected_r),
)
def linear_closed_form(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    return _linear_closed_form(ctx, bound, relaxed=False)


@claim(
    id="counterfactual/relaxed-closed-form",
    statement="For a linear m: E[R̂] = m(x) − ‖w‖σ√(2/π), for the sample-difference relaxation "
    "R̂ = mean m(x_i) − mean |m(x_i) − m(x)|.",
    reference=ref(
        "counterfactual-stability", "relaxation of the authors' code; closed form [derived]"
    ),
    bound=Theorem(expected_rhat),
)
def relaxed_closed_form(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    return _linear_closed_form(ctx, bound, relaxed=True)


# ---------------------------------------------------------------------------------------------
# R <= m(x), R-hat >= R, the certified Lipschitz constant
# ---------------------------------------------------------------------------------------------


def prediction(m_x: float) -> float:
    """The upper bound m(x) on R ([derived]: |m(x_i) − m(x)| ≤ Lip(m)‖x_i − x‖ ≤ γ_x‖x_i − x‖
    gives m(x_i) − γ_x‖x_i − x‖ ≤ m(x) for every sample, hence for their mean R)."""
    return m_x


@claim(
    id="counterfactual/upper-bound",
    statement="If γ_x ≥ Lip(m) then R_{k,σ}(x, m) ≤ m(x) on every draw (with the certified "
    "product-of-spectral-norms γ_x), so R ≥ 0.5 implies m(x) ≥ 0.5.",
    reference=ref("counterfactual-stability", "definition of Stability; R ≤ m(x) [derived]"),
    bound=Theorem(prediction),
)
def upper_bound(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, n = Worst("<="), 0
    for rng, model, X in random_models(ctx, "upper-bound", ctx.n(40)):
        sigma = float(rng.choice([0.01, 0.05, 0.2]))
        r = counterfactual_stability(model, X, k=100, sigma=sigma, seed=int(rng.integers(2**31)))
        b = np.array([bound(v) for v in predict_proba(model, X)])
        i = int(np.argmax(r / b))
        n += len(X)
        worst.add(r[i], b[i], sigma=sigma, d=X.shape[1])
    return worst.evidence(
        rtol=1e-12,
        note=f"{n} queries on {ctx.n(40)} random logistic models and 1-hidden-layer tanh/ReLU MLPs, "
        "σ ∈ {0.01, 0.05, 0.2}, k = 100; γ_x = product of spectral norms × 1/4; reported: the "
        "query with the largest R/m(x).",
        details={"max_ratio": worst.score},
    )


def exact_measure(r: float) -> float:
    """The lower bound R on R̂ ([derived]: |m(x_i) − m(x)| ≤ γ_x‖x_i − x‖ when γ_x ≥ Lip(m),
    so the relaxation subtracts less than the exact measure on the same samples)."""
    return r


@claim(
    id="counterfactual/relaxation-optimistic",
    statement="The relaxation is optimistic: R̂ ≥ R on the same samples whenever γ_x ≥ Lip(m); "
    "the guarantee does not transfer to R̂.",
    reference=ref("counterfactual-stability", "relaxation of the authors' code; R̂ ≥ R [derived]"),
    bound=Theorem(exact_measure),
)
def relaxation_optimistic(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, all_ok, n = Worst(">="), True, 0
    for rng, model, X in random_models(ctx, "relaxation", ctx.n(40)):
        sigma = float(rng.choice([0.01, 0.05, 0.2]))
        seed = int(rng.integers(2**31))
        r = counterfactual_stability(model, X, k=100, sigma=sigma, seed=seed)
        rh = counterfactual_stability(model, X, k=100, sigma=sigma, relaxed=True, seed=seed)
        b = np.array([bound(v) for v in r])
        all_ok &= bool(np.all(rh >= b - 1e-12))
        pos = r > 0.05
        n += len(X)
        if pos.any():
            i = int(np.argmin(rh[pos] / b[pos]))
            worst.add(rh[pos][i], b[pos][i], sigma=sigma, d=X.shape[1])
    return worst.evidence(
        atol=1e-12,
        note=f"{n} queries on {ctx.n(40)} random logistic models and small MLPs, same seed for R "
        "and R̂, certified γ_x; reported: the query with the smallest R̂/R among R > 0.05.",
        require={"R̂ ≥ R on every query (to 1e-12)": all_ok},
        details={"min_ratio": worst.score},
    )


def certified_constant(model: torch.nn.Module) -> float:
    """The product of the layers' spectral norms (× 1/4 for the sigmoid): a Lipschitz bound
    ([derived]: Lip of a composition is at most the product of the layers' constants)."""
    return lipschitz_upper_bound(model)


@claim(
    id="counterfactual/certified-lipschitz",
    statement="The product of the layers' spectral norms (× 1/4 for the sigmoid) bounds every "
    "gradient norm ‖∇m(x)‖₂ of a Linear/tanh/ReLU/sigmoid network.",
    reference=ref("counterfactual-stability", "certified γ_x for the measure [derived]"),
    bound=Theorem(certified_constant),
)
def certified_lipschitz(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst = Worst("<=")
    for _rng, model, X in random_models(ctx, "certified", ctx.n(60)):
        x = torch.from_numpy(X).requires_grad_(True)
        (g,) = torch.autograd.grad(model(x).sum(), x)
        worst.add(float(torch.linalg.vector_norm(g, dim=1).max()), bound(model), d=X.shape[1])
    return worst.evidence(
        rtol=1e-12,
        note=f"{ctx.n(60)} random models, 64 points each in [−2, 2]^d; logistic models attain the "
        "bound at the decision boundary; reported: the largest max-gradient-norm/bound.",
        details={"max_ratio": worst.score},
    )
