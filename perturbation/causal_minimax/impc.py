"""IMPC (App. F.2.1 of Liu et al. 2023): is the whole stable set the best subset to transfer?"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats

from causal import fit_stable_predictor, worst_case_risk
from causal.data import load_impc
from causal.fitting import fit_continuous_scm
from perturbation.causal_minimax._common import fmt, mse, scaled_config, subsets
from perturbation.references import ref
from perturbation.registry import Evidence, RunContext, Tolerance, claim, frozen

_IMPC_FIXED = (0, 2, 4, 7)  # authors' fixed training genotypes (wild type and 3 knock-outs)


@functools.lru_cache(maxsize=4)
def _impc_sweep(ctx: RunContext) -> Mapping:
    """h* and max held-out-genotype test MSE of the 16 subsets over random authors' splits
    (shared, read-only)."""
    data = load_impc(standardize="none")
    rest = [k for k in range(1, len(data.genotypes)) if k not in _IMPC_FIXED]
    splits = list(itertools.combinations(rest, 2))  # the authors' 45 splits
    rng = ctx.rng("impc-splits")
    n_splits = min(len(splits), ctx.n(3, minimum=2))
    chosen = [splits[i] for i in rng.choice(len(splits), n_splits, replace=False)]
    subs = subsets(frozenset({"X1", "X2", "X3", "X4"}))
    cfg = scaled_config(ctx)
    seed = int(rng.integers(2**31))
    h = np.zeros((n_splits, len(subs)))
    w = np.zeros_like(h)
    for si, extra in enumerate(chosen):
        train_envs = [*_IMPC_FIXED, *extra]
        test_envs = [k for k in range(1, len(data.genotypes)) if k not in train_envs]
        mask = np.isin(data.environment, train_envs)
        # standardise with the training split's statistics (test genotypes keep their shifts)
        z = {v: (a - a[mask].mean()) / a[mask].std(ddof=1) for v, a in data.values.items()}
        train = {v: a[mask] for v, a in z.items()}
        scm = fit_continuous_scm(data.graph, data.target, data.mutable, train, seed=seed)
        mv = {"X5": train["X5"]}
        for j, s in enumerate(subs):
            f = fit_stable_predictor(scm, s, config=cfg, seed=seed, mutable_values=mv)
            h[si, j] = worst_case_risk(
                scm, s, config=cfg, seed=seed, predictor=f, mutable_values=mv
            ).value
            w[si, j] = max(
                mse(z["Y"][m], f.predict({v: a[m] for v, a in z.items()}))
                for m in (data.environment == k for k in test_envs)
            )
    return frozen({"subsets": subs, "h": h, "w": w, "splits": chosen, "config": cfg})


@claim(
    id="causal-minimax/impc-ranking",
    statement="On IMPC (614 mice, genotype = environment, graph Y→X5 (mutable), {X1,X3,X5,Y}→X2, "
    "X2→X4; Ch(Y)∩K ≠ ∅), the whole stable set {X1..X4} is not the best subset to transfer: its "
    "max test MSE over the 8 held-out genotypes (mean over splits) is ≥ 1.05 × the best subset's "
    "(Spearman(h*, max MSE) > 0).",
    reference=ref("causal-minimax", "App. F.2.1"),
    bound=Tolerance(1.05),
)
def impc_ranking(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    res = _impc_sweep(ctx)
    subs, h, w = res["subsets"], res["h"].mean(0), res["w"].mean(0)
    whole = subs.index(frozenset({"X1", "X2", "X3", "X4"}))
    best = int(np.argmin(w))
    rho = float(stats.spearmanr(h, w)[0])
    pick = int(np.argmin(h))

    def show(s: frozenset) -> str:
        return fmt(s, empty="∅")

    table = [
        {
            "subset": show(subs[j]),
            "h*": round(float(h[j]), 4),
            "max test MSE": round(float(w[j]), 4),
        }
        for j in np.argsort(h)
    ]
    cfg = res["config"]
    splits = [tuple(s) for s in res["splits"]]
    return Evidence.lower(
        float(w[whole] / w[best]),
        bound(),
        note=f"measured: max test MSE of the whole stable set / the best subset "
        f"({show(subs[best])}), means over {len(splits)} of the authors' 45 splits (train: wild "
        f"type and knock-outs 2, 4, 7 plus {splits}); data standardised with the training "
        f"split's statistics; h* from an MLP SCM fitted on the training split (causal.fitting) "
        f"and the neural estimator ({cfg.n_samples} samples). Spearman(h*, max MSE) = {rho:.2f} "
        f"and the min-h* subset {show(subs[pick])} are reported, not asserted: the authors' "
        "record (0.93, ∅ best) is not reproduced by this reconstruction.",
        require={"Spearman(h*, max test MSE) > 0": rho > 0},
        details={
            "spearman_hstar_max_mse": rho,
            "min_hstar_subset": show(subs[pick]),
            "best_by_test": show(subs[best]),
            "splits": [list(s) for s in splits],
            "table": table,
        },
    )
