"""Perturbation experiments for robust counterfactuals (Hamman et al., ICML 2023): ``counterfactual/*``.

Claims of ``shared/specs/counterfactual.md`` §5, measured with :mod:`stability.counterfactual`:
closed forms of E[R] and E[R-hat] for linear models against Monte Carlo; R <= m(x) with a
certified Lipschitz constant; R-hat >= R on the same samples; the certified Lipschitz bound
against gradient norms; the provable guarantee on the synthetic sinusoidal model change (and,
reported only, the observed frequencies on retrained MLPs); T-Rex:I against the closest
counterfactual on breast-cancer and generated data over >= 10 retrained models, with a table of
every generator; PROBE's closed form; ROAR's inner problem against a linear program.

sigma is a standard deviation everywhere. Monte Carlo tolerances are 4 standard errors. Each
experiment reports its worst instance.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch

from perturbation.plots import save_plot
from perturbation.registry import Evidence, RunContext, claim
from stability.counterfactual import (
    breast_cancer,
    changed_models,
    closest_counterfactual,
    counterfactual_stability,
    evaluate,
    guarantee_bound,
    invalidation_rate,
    invalidation_rate_mc,
    linear_expected_stability,
    lipschitz_upper_bound,
    logistic_model,
    moons,
    predict_proba,
    roar_worst_logit,
    roar_worst_logit_lp,
    robx,
    sinusoid_variance,
    sinusoidal_family,
    sns,
    stability_from_samples,
    train_mlp,
    trex,
    trex_nn,
    wachter,
)

PAPER = "Hamman et al., ICML 2023 (arXiv:2305.11997)"
SPEC = "shared/specs/counterfactual.md"


def _threads() -> None:
    torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# Closed forms for linear models (claims 3, 4)
# ---------------------------------------------------------------------------------------------


def _linear_closed_form(ctx: RunContext, bound: Callable[..., float], relaxed: bool) -> Evidence:
    rng = ctx.rng(f"linear-closed-form-{relaxed}")
    reps, k = ctx.n(400, minimum=100), 200
    rows, worst = [], None
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
        if worst is None or z > worst[0]:
            worst = (z, mc, expect, se)
    return Evidence.equal(
        worst[1],
        worst[2],
        atol=4 * worst[3],
        note=f"linear m(y) = w.y + 0.2, gamma_x = ||w||, k = {k}, {reps} Monte Carlo repetitions "
        "per instance, d ∈ {1, 2, 5, 10, 30}; tolerance 4 SE; reported: the instance with the "
        "largest |MC − closed form|/SE.",
        details={"table": rows},
    )


def _expected_r(m_x: float, w_norm: float, sigma: float, d: int) -> float:
    """E[R] = m(x) − ||w|| sigma c_d, c_d = sqrt(2) Gamma((d+1)/2)/Gamma(d/2)."""
    return linear_expected_stability(m_x, w_norm, sigma, d)


def _expected_rhat(m_x: float, w_norm: float, sigma: float, d: int) -> float:
    """E[R-hat] = m(x) − ||w|| sigma sqrt(2/pi)."""
    return linear_expected_stability(m_x, w_norm, sigma, d, relaxed=True)


@claim(
    id="counterfactual/linear-closed-form",
    statement="For a linear m = w·x + b and γ_x = ‖w‖: E[R_{k,σ}] = m(x) − ‖w‖σ c_d with "
    "c_d = √2 Γ((d+1)/2)/Γ(d/2) (σ a standard deviation).",
    reference=f"{SPEC} §5 claim 3 [derived]; Stability of {PAPER}",
    bound=_expected_r,
)
def linear_closed_form(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    return _linear_closed_form(ctx, bound, relaxed=False)


@claim(
    id="counterfactual/relaxed-closed-form",
    statement="For a linear m: E[R̂] = m(x) − ‖w‖σ√(2/π), for the sample-difference relaxation "
    "R̂ = mean m(x_i) − mean |m(x_i) − m(x)|.",
    reference=f"{SPEC} §5 claim 4 [derived]; relaxation of the authors' code",
    bound=_expected_rhat,
)
def relaxed_closed_form(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    return _linear_closed_form(ctx, bound, relaxed=True)


# ---------------------------------------------------------------------------------------------
# R <= m(x), R-hat >= R, certified Lipschitz constant (claims 1, 5)
# ---------------------------------------------------------------------------------------------


def _random_models(ctx: RunContext, key: str, n: int):
    """Random logistic models and small tanh/ReLU MLPs (float64) with queries where m >= 0.6."""
    rng = ctx.rng(key)
    for i in range(n):
        if i % 2 == 0:
            d = int(rng.integers(1, 6))
            w = rng.normal(size=d)
            model = logistic_model(w * rng.choice([0.3, 1.0, 3.0]) / np.linalg.norm(w), 0.0)
        else:
            model = _mlp(rng)
        d = model[0].in_features
        X = rng.uniform(-2, 2, (64, d))
        yield rng, model, X


def _mlp(rng: np.random.Generator) -> torch.nn.Sequential:
    d, h = int(rng.integers(1, 5)), int(rng.integers(2, 9))
    act = torch.nn.Tanh if rng.random() < 0.5 else torch.nn.ReLU
    net = torch.nn.Sequential(
        torch.nn.Linear(d, h), act(), torch.nn.Linear(h, 1), torch.nn.Sigmoid()
    )
    net = net.double()
    scale = float(rng.choice([0.3, 1.0]))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(scale * rng.normal(size=tuple(p.shape))))
    return net


def _prediction(m_x: float) -> float:
    """The upper bound of claim 1: R <= m(x)."""
    return m_x


@claim(
    id="counterfactual/upper-bound",
    statement="If γ_x ≥ Lip(m) then R_{k,σ}(x, m) ≤ m(x) on every draw (with the certified "
    "product-of-spectral-norms γ_x), so R ≥ 0.5 implies m(x) ≥ 0.5.",
    reference=f"{SPEC} §5 claim 1 [derived]; {PAPER}",
    bound=_prediction,
)
def upper_bound(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    _threads()
    worst, n = (-np.inf, 0.0, 1.0), 0
    for rng, model, X in _random_models(ctx, "upper-bound", ctx.n(40)):
        sigma = float(rng.choice([0.01, 0.05, 0.2]))
        r = counterfactual_stability(model, X, k=100, sigma=sigma, seed=int(rng.integers(2**31)))
        p = predict_proba(model, X)
        b = np.array([bound(v) for v in p])
        ratio = r / b
        i = int(np.argmax(ratio))
        n += len(X)
        if ratio[i] > worst[0]:
            worst = (float(ratio[i]), float(r[i]), float(b[i]))
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-12,
        note=f"{n} queries on {ctx.n(40)} random logistic models and 1-hidden-layer tanh/ReLU MLPs, "
        "σ ∈ {0.01, 0.05, 0.2}, k = 100; γ_x = product of spectral norms × 1/4; reported: the "
        "query with the largest R/m(x).",
        details={"max_ratio": worst[0]},
    )


def _exact_measure(r: float) -> float:
    """The lower bound of claim 5: R-hat >= R."""
    return r


@claim(
    id="counterfactual/relaxation-optimistic",
    statement="The relaxation is optimistic: R̂ ≥ R on the same samples whenever γ_x ≥ Lip(m); "
    "the guarantee does not transfer to R̂.",
    reference=f"{SPEC} §1.4(a), §5 claim 5 [derived]",
    bound=_exact_measure,
)
def relaxation_optimistic(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    _threads()
    worst, all_ok, n = (np.inf, 1.0, 1.0), True, 0
    for rng, model, X in _random_models(ctx, "relaxation", ctx.n(40)):
        sigma = float(rng.choice([0.01, 0.05, 0.2]))
        seed = int(rng.integers(2**31))
        r = counterfactual_stability(model, X, k=100, sigma=sigma, seed=seed)
        rh = counterfactual_stability(model, X, k=100, sigma=sigma, relaxed=True, seed=seed)
        b = np.array([bound(v) for v in r])
        all_ok &= bool(np.all(rh >= b - 1e-12))
        pos = r > 0.05
        n += len(X)
        if pos.any():
            ratio = rh[pos] / b[pos]
            i = int(np.argmin(ratio))
            if ratio[i] < worst[0]:
                worst = (float(ratio[i]), float(rh[pos][i]), float(b[pos][i]))
    return Evidence.lower(
        worst[1],
        worst[2],
        atol=1e-12,
        note=f"{n} queries on {ctx.n(40)} random logistic models and small MLPs, same seed for R "
        "and R̂, certified γ_x; reported: the query with the smallest R̂/R among R > 0.05.",
        require={"R̂ ≥ R on every query (to 1e-12)": all_ok},
        details={"min_ratio": worst[0]},
    )


def _certified_constant(model: torch.nn.Module) -> float:
    return lipschitz_upper_bound(model)


@claim(
    id="counterfactual/certified-lipschitz",
    statement="The product of the layers' spectral norms (× 1/4 for the sigmoid) bounds every "
    "gradient norm ‖∇m(x)‖₂ of a Linear/tanh/ReLU/sigmoid network.",
    reference=f"{SPEC} §1.4 'sound option' [derived]",
    bound=_certified_constant,
)
def certified_lipschitz(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst = (-1.0, 0.0, 1.0)
    for _rng, model, X in _random_models(ctx, "certified", ctx.n(60)):
        x = torch.from_numpy(X).requires_grad_(True)
        (g,) = torch.autograd.grad(model(x).sum(), x)
        gmax = float(torch.linalg.vector_norm(g, dim=1).max())
        b = bound(model)
        if gmax / b > worst[0]:
            worst = (gmax / b, gmax, b)
    return Evidence.upper(
        worst[1],
        worst[2],
        rtol=1e-12,
        note=f"{ctx.n(60)} random models, 64 points each in [−2, 2]^d; logistic models attain the "
        "bound at the decision boundary; reported: the largest max-gradient-norm/bound.",
        details={"max_ratio": worst[0]},
    )


# ---------------------------------------------------------------------------------------------
# The guarantee (claim 10)
# ---------------------------------------------------------------------------------------------


def _guarantee(eps: float, k: int, sigma: float, lip: float, nu: float) -> float:
    return guarantee_bound(eps, k=k, sigma=sigma, lipschitz_change=lip, nu=nu)


@claim(
    id="counterfactual/guarantee-sinusoidal",
    statement="Under naturally-occurring change M_φ = m + a sin(u·x + φ), φ ~ U[0, 2π): "
    "Pr(M(x) ≤ R_{k,σ}(x, m; γ) − ε) ≤ exp(−k(ε−s)²/(8γ²σ²)) + ν/(ν+s²), γ = ‖w‖ + a‖u‖, "
    "ν = a² e^{−σ²‖u‖²}/2 (the provable version).",
    reference=f"{SPEC} §1.3, §5 claim 10 [derived]; main theorem of {PAPER} [reconstructed]",
    bound=_guarantee,
)
def guarantee_sinusoidal(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("guarantee")
    draws = ctx.n(4000, minimum=1000)
    rows, worst, series, vacuous = [], None, {}, 0
    for d, k, sigma, a in ((5, 200, 0.1, 0.05), (3, 20, 0.02, 0.1), (2, 50, 0.005, 0.2)):
        w, u = rng.normal(size=d), rng.normal(size=d)
        fam = sinusoidal_family(w, 0.0, u, a, draws, seed=int(rng.integers(2**31)))
        lip = fam.lipschitz_change
        nu = sinusoid_variance(a, float(np.linalg.norm(u)), sigma)
        x = rng.normal(size=(1, d))
        xi = rng.standard_normal((draws, k, d))  # fresh samples per draw, independent of M
        r = stability_from_samples(
            np.repeat(fam.base(x), draws),
            fam.base(x[0] + sigma * xi),
            sigma * np.linalg.norm(xi, axis=2),
            lip,
        )
        mx = fam.changed(x)[:, 0]
        for eps in (0.005, 0.01, 0.02, 0.05, 0.1):
            freq = float(np.mean(mx <= r - eps))
            b = bound(eps, k, sigma, lip, nu)
            se = math.sqrt(max(b * (1 - b), 1e-12) / draws)
            rows.append(
                {"d": d, "k": k, "sigma": sigma, "a": a, "eps": eps, "frequency": freq, "bound": b}
            )
            series.setdefault((d, k, sigma, a), []).append((eps, freq, b))
            if 0 < b < 1 and (worst is None or freq / b > worst[0]):
                worst = (freq / b, freq, b, se)
            vacuous += b >= 1
    path = ctx.plot_path("counterfactual-guarantee")
    if path is not None:
        plot = []
        for (d, k, sigma, a), pts in series.items():
            e, f, b = zip(*pts, strict=True)
            plot.append((f"freq d={d} k={k} σ={sigma} a={a}", e, f, {"marker": "o"}))
            plot.append((f"bound d={d} k={k}", e, b, {"linestyle": "--"}))
        save_plot(
            path,
            plot,
            title="Sinusoidal model change: failure frequency vs bound",
            xlabel="ε",
            ylabel="Pr(M(x) ≤ R − ε)",
            floor=1e-4,
        )
    mlp = _retrained_frequencies(ctx)
    mlp_text = "; ".join(
        f"ε = {r['eps']}: Pr(M ≤ R̂ − ε) = {r['freq M(x′) ≤ R̂ − ε']:.3f}, "
        f"Pr(M ≤ R_cert − ε) = {r['freq M(x′) ≤ R(certified γ) − ε']:.3f}, "
        f"ν = 0 bound {r['bound (ν = 0, γ = max certified)']:.3g}"
        for r in mlp
    )
    return Evidence.upper(
        worst[1],
        worst[2],
        atol=4 * worst[3],
        note=f"{draws} draws of (φ, samples) per setting; R uses γ_x = γ = ‖w‖ + a‖u‖ and the "
        "base m = w·x; tolerance 4 binomial SE; reported: the (setting, ε) with the largest "
        f"frequency/bound among the informative (bound < 1) ones ({vacuous} vacuous, all "
        "checked in the table). The retrained-MLP table is reported only (Lip(M) is not certified "
        f"there, so the bound's assumptions are unverified; {mlp[0]['models × CFs']} (model, "
        f"T-Rex CF) pairs on moons): {mlp_text}.",
        require={
            "frequency ≤ bound + 4 SE in every setting": all(
                r["frequency"]
                <= r["bound"] + 4 * math.sqrt(max(r["bound"] * (1 - r["bound"]), 1e-12) / draws)
                for r in rows
            )
        },
        details={"max_ratio": worst[0], "table": rows, "retrained MLPs (reported only)": mlp},
        plots=[path],
    )


def _retrained_frequencies(ctx: RunContext) -> list[dict]:
    """Observed Pr(M(x') <= R - eps) over retrained MLPs at T-Rex counterfactuals (moons)."""
    sw = _sweep(ctx, "moons")
    cf = sw["results"]["trex"].counterfactuals
    cf = cf[~np.isnan(cf).any(axis=1)]
    model, fam = sw["model"], sw["family"]
    sigma, k = 0.05, 200
    pm = fam.predict(cf)
    rh = counterfactual_stability(model, cf, k=k, sigma=sigma, relaxed=True, seed=ctx.seed)
    gam = max(lipschitz_upper_bound(m) for m in (model, *fam.models))
    r = counterfactual_stability(model, cf, k=k, sigma=sigma, lipschitz=gam, seed=ctx.seed)
    out = []
    for eps in (0.0, 0.05, 0.1):
        out.append(
            {
                "eps": eps,
                "freq M(x′) ≤ R̂ − ε": float(np.mean(pm <= rh - eps)),
                "freq M(x′) ≤ R(certified γ) − ε": float(np.mean(pm <= r - eps)),
                "bound (ν = 0, γ = max certified)": guarantee_bound(
                    max(eps, 1e-9), k=k, sigma=sigma, lipschitz_change=gam
                ),
                "models × CFs": int(pm.size),
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# T-Rex:I vs the closest counterfactual, and the table of generators (claim 12)
# ---------------------------------------------------------------------------------------------


def _factory(hidden: tuple[int, ...], epochs: int):
    def make(X: np.ndarray, y: np.ndarray, seed: int) -> torch.nn.Sequential:
        return train_mlp(X, y, hidden=hidden, epochs=epochs, lr=0.03, seed=seed)

    return make


@functools.lru_cache(maxsize=4)
def _sweep(ctx: RunContext, name: str) -> dict:
    """Base MLP, >= 10 retrained MLPs, and every generator's counterfactuals for ~40 queries."""
    _threads()
    data = (
        breast_cancer(seed=ctx.seed) if name == "breast-cancer" else moons(600, d=10, seed=ctx.seed)
    )
    factory = _factory((16, 16), 150)
    model = factory(data.X_train, data.y_train, 1000 + ctx.seed)
    fam = changed_models(
        factory,
        data.X_train,
        data.y_train,
        kind="retrain",
        n_models=max(10, ctx.n(10)),
        seed=ctx.seed,
    )
    q = data.X_test[predict_proba(model, data.X_test) < 0.5][: ctx.n(40, minimum=10)]
    box = (0.0, 1.0)
    k = max(200, ctx.n(500))
    base = closest_counterfactual(model, q, norm=1, box=box)
    results = {
        "closest": base,
        "wachter": wachter(model, q, box=box),
        "trex": trex(
            model, q, base=base.counterfactuals, k=k, sigma=0.05, tau=0.75, box=box, seed=ctx.seed
        ),
        "trex-nn": trex_nn(model, q, data.X_train, k=k, sigma=0.05, tau=0.75, seed=ctx.seed),
        "sns": sns(model, q, base=base.counterfactuals, box=box),
        "robx": robx(
            model,
            q,
            data.X_train,
            base=base.counterfactuals,
            k=k,
            sigma=0.05,
            tau=0.6,
            seed=ctx.seed,
        ),
    }
    table = [
        evaluate(res, q, model, fam, data.X_train, k=k, sigma=0.05, seed=ctx.seed)
        for res in results.values()
    ]
    return {
        "data": data,
        "model": model,
        "family": fam,
        "queries": q,
        "results": results,
        "table": table,
    }


def _closest_robust_validity(rv: float) -> float:
    """The lower bound of claim 12: T-Rex robust validity >= the closest CF's."""
    return rv


@claim(
    id="counterfactual/trex-direction",
    statement="T-Rex:I counterfactuals have robust validity ≥ that of the closest counterfactuals "
    "(over ≥ 10 retrained MLPs) at a cost ≥ theirs, on breast-cancer and generated data.",
    reference=f"{PAPER}, abstract and §5 [abstract; test derived]; {SPEC} §5 claim 12",
    bound=_closest_robust_validity,
)
def trex_direction(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    worst, require, tables = None, {}, {}
    for name in ("breast-cancer", "moons"):
        sw = _sweep(ctx, name)
        rows = {r["method"]: r for r in sw["table"]}
        t, c = rows["trex"], rows["closest"]
        b = bound(c["robust_validity"])
        require[f"{name}: T-Rex L1 cost ≥ closest L1 cost"] = t["cost_l1"] >= c["cost_l1"]
        require[f"{name}: ≥ 10 retrained models"] = len(sw["family"].models) >= 10
        tables.setdefault("table", []).extend(
            {"dataset": name, "queries": len(sw["queries"]), "retrains": len(sw["family"].models)}
            | {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            for r in sw["table"]
        )
        ratio = t["robust_validity"] / b if b > 0 else math.inf
        if worst is None or ratio < worst[0]:
            worst = (ratio, t["robust_validity"], b, name)
    return Evidence.lower(
        worst[1],
        worst[2],
        note=f"MLP 2×16 (ReLU, sigmoid) per dataset, features in [0, 1], box [0, 1]; closest CF "
        "(L1, elastic-net scheme) as T-Rex's base; T-Rex:I with τ = 0.75, σ = 0.05 (std), step "
        f"0.01, radius 1, ≤ 20 steps; reported: the dataset with the smaller ratio ({worst[3]}). "
        "Tables: all generators (cost, validity, robust validity over the retrains, LOF 1-NN "
        "mean of ±1, mean R̂, ms/query; T-Rex, SNS and RobX times exclude their base CF).",
        require=require,
        details=tables,
    )


# ---------------------------------------------------------------------------------------------
# PROBE and ROAR (claims 13, 14)
# ---------------------------------------------------------------------------------------------


def _probe_closed(logit: float, sigma: float, w_norm: float) -> float:
    """PROBE: IR = 1 − Φ(logit/(σ‖w‖)), exact for a logistic model."""
    return 0.5 * math.erfc(logit / (sigma * w_norm) / math.sqrt(2.0))


@claim(
    id="counterfactual/probe-closed-form",
    statement="PROBE's invalidation rate of a logistic model under N(0, σ²I) noise is "
    "1 − Φ((w·x + b)/(σ‖w‖)).",
    reference="Pawelczyk et al., ICLR 2023, Thm 2; " + f"{SPEC} §5 claim 13",
    bound=_probe_closed,
)
def probe_closed_form(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    _threads()
    rng = ctx.rng("probe")
    n_s = ctx.n(20_000, minimum=5000)
    worst, rows = None, []
    for _ in range(ctx.n(12, minimum=4)):
        d = int(rng.integers(1, 6))
        w, sigma = rng.normal(size=d), float(rng.choice([0.05, 0.2, 0.5]))
        m = logistic_model(w, 0.1)
        x = rng.normal(scale=0.3, size=(1, d))
        logit = float(x[0] @ w + 0.1)
        mc = float(
            invalidation_rate_mc(m, x, sigma=sigma, n_samples=n_s, seed=int(rng.integers(2**31)))[0]
        )
        closed = bound(logit, sigma, float(np.linalg.norm(w)))
        grad_form = float(invalidation_rate(m, x, sigma=sigma)[0])
        se = math.sqrt(max(closed * (1 - closed), 1e-12) / n_s)
        rows.append({"d": d, "sigma": sigma, "MC": mc, "closed": closed, "autograd": grad_form})
        z = abs(mc - closed) / se
        if worst is None or z > worst[0]:
            worst = (z, mc, closed, se, abs(grad_form - closed))
    return Evidence.equal(
        worst[1],
        worst[2],
        atol=4 * worst[3],
        note=f"random logistic models, d ≤ 5, {n_s} noise draws each; tolerance 4 SE; reported: "
        "the largest |MC − closed|/SE.",
        require={
            "invalidation_rate (autograd) = closed form (1e-9)": max(
                r["autograd"] - r["closed"] for r in rows
            )
            <= 1e-9
            and min(r["autograd"] - r["closed"] for r in rows) >= -1e-9
        },
        details={"table": rows},
    )


def _roar_closed(wx_b: float, delta_max: float, x_l1: float) -> float:
    """Worst-case logit w·x + b − δ_max(‖x‖₁ + 1)."""
    return wx_b - delta_max * (x_l1 + 1.0)


@claim(
    id="counterfactual/roar-inner-lp",
    statement="ROAR's inner problem for a linear model, min over ‖(δ_w, δ_b)‖∞ ≤ δ_max of the "
    "logit, equals w·x + b − δ_max(‖x‖₁ + 1) (checked against scipy linprog/HiGHS).",
    reference="Upadhyay, Joshi & Lakkaraju, NeurIPS 2021, Eq. (5); " + f"{SPEC} §5 claim 14",
    bound=_roar_closed,
)
def roar_inner_lp(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    rng = ctx.rng("roar")
    worst = None
    n = ctx.n(200)
    agree = True
    for _ in range(n):
        d = int(rng.integers(1, 12))
        w, b, x = rng.normal(size=d), float(rng.normal()), rng.normal(size=d)
        dm = float(rng.choice([0.0, 0.001, 0.1, 1.0]))
        lp = roar_worst_logit_lp(w, b, x, dm)
        cf = bound(float(w @ x + b), dm, float(np.abs(x).sum()))
        agree &= abs(float(roar_worst_logit(w, b, x[None], dm)[0]) - lp) <= 1e-9
        err = abs(lp - cf)
        if worst is None or err > worst[0]:
            worst = (err, lp, cf)
    return Evidence.equal(
        worst[1],
        worst[2],
        atol=1e-8,
        note=f"{n} random (w, b, x), d ≤ 11, δ_max ∈ {{0, 0.001, 0.1, 1}}; reported: the largest "
        "|LP − closed form|.",
        require={"roar_worst_logit = LP (1e-9)": agree},
        details={"max_abs_error": worst[0]},
    )
