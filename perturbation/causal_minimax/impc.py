"""IMPC (App. F.2.1 of Liu et al. 2023): which subset of the stable set should be transferred?

The authors' record (``impc/record.json``, means over their 45 splits of the max test MSE over
the 8 held-out genotypes, standardised data): ∅ (only ``X_M``) is the best subset with 0.952,
the whole stable set ``{X1..X4}`` scores 1.368, and Spearman(h*, max test MSE) over the 16
subsets is 0.93. Their evaluation standardises each held-out genotype with its own mean and
std (``OptNodeSets.test`` with ``need_norm=True``); the toolkit's default standardises it with
the training split's statistics (:func:`causal.data.impc_split`, parameter ``standardize``).
Both protocols are evaluated on the same fitted predictors:

- ``causal-minimax/impc-reproduction`` (asserted): under the authors' protocol the max test
  MSEs of ∅ and of the whole stable set reproduce the record within 3 standard errors of the
  split sampling (the toolkit's protocol's values reported beside them);
- ``causal-minimax/impc-ranking`` (EMPIRICAL): the authors' ranking statements (∅ the best
  subset, Spearman(h*, max test MSE) 0.93, min-``h*`` subset = the best), measured with the
  toolkit's ``h*`` under the authors' protocol, with the toolkit's protocol's table beside it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats

from causal.data import impc_split, impc_train_splits, load_impc
from causal.fitting import fit_continuous_scm
from causal.risk import fit_stable_predictors, worst_case_risks
from perturbation.causal_minimax._common import fmt, mse, scaled_config, subsets
from perturbation.references import ref
from perturbation.registry import SCALES, Evidence, Reference, RunContext, claim, frozen

#: The authors' record (impc/record.json), means over their 45 splits of the max test MSE over
#: the 8 held-out genotypes, and the standard deviation of that max over the 45 splits.
RECORD = {
    "empty": {"mean": 0.952, "sd": 0.0278},
    "whole": {"mean": 1.368, "sd": 0.1072},
    "spearman": 0.93,
}
WHOLE = frozenset({"X1", "X2", "X3", "X4"})
PROTOCOLS = ("per-test-genotype", "training")


@functools.lru_cache(maxsize=4)
def _impc_sweep(ctx: RunContext) -> Mapping:
    """h* of the 16 subsets and their max test MSE under both protocols, over random authors'
    splits (shared, read-only).

    The SCM and the stable predictors are fitted on the training split standardised with its
    own statistics (identical in both protocols); only the held-out genotypes' standardisation
    differs, so both protocols are evaluated on the same predictors.
    """
    raw = load_impc(standardize="none")
    all_splits = impc_train_splits()  # the authors' 45
    rng = ctx.rng("impc-splits")
    # 2 splits up to the default scale, 3 per unit of scale above it (12 at medium, all 45 at
    # large): the tolerances are 3 standard errors of a mean over the splits, so they follow n
    n_splits = min(len(all_splits), ctx.n(3) if SCALES[ctx.scale] > 1 else 2)
    chosen = [all_splits[i] for i in rng.choice(len(all_splits), n_splits, replace=False)]
    subs = subsets(WHOLE)
    cfg = scaled_config(ctx)
    seed = int(rng.integers(2**31))
    h = np.zeros((n_splits, len(subs)))
    w = {p: np.zeros_like(h) for p in PROTOCOLS}
    failed = []
    for si, train_genotypes in enumerate(chosen):
        splits = {p: impc_split(train_genotypes, standardize=p, data=raw) for p in PROTOCOLS}
        train = splits["training"].train
        scm = fit_continuous_scm(raw.graph, raw.target, raw.mutable, train, seed=seed)
        mv = {"X5": train["X5"]}
        # the 16 subsets at once: each run equals the one-by-one fit_stable_predictor and
        # worst_case_risk call with this seed up to floating-point summation order
        fs = fit_stable_predictors(scm, subs, config=cfg, seed=seed, mutable_values=mv)
        rs = worst_case_risks(scm, subs, config=cfg, seed=seed, predictors=fs, mutable_values=mv)
        for j, (s, f, r) in enumerate(zip(subs, fs, rs, strict=True)):
            if not r.success:
                failed.append((train_genotypes, fmt(s)))
            h[si, j] = r.value
            for p, sp in splits.items():
                w[p][si, j] = max(mse(t["Y"], f.predict(t)) for t in sp.test)
    return frozen(
        {"subsets": subs, "h": h, "w": w, "splits": chosen, "config": cfg, "failed": failed}
    )


def _show(s: frozenset) -> str:
    return fmt(s, empty="∅")


def _summary(subs: tuple, h: np.ndarray, w: np.ndarray) -> dict:
    """∅, whole set, best subset, min-h* subset and Spearman(h*, max MSE) of one protocol."""
    hm, wm = h.mean(0), w.mean(0)
    best, pick = int(np.argmin(wm)), int(np.argmin(hm))
    return {
        "empty": float(wm[subs.index(frozenset())]),
        "whole": float(wm[subs.index(WHOLE)]),
        "best_subset": _show(subs[best]),
        "best": float(wm[best]),
        "min_hstar_subset": _show(subs[pick]),
        "min_hstar_max_mse": float(wm[pick]),
        "empty_rank": int(np.sum(wm < wm[subs.index(frozenset())])) + 1,
        "spearman": float(stats.spearmanr(hm, wm)[0]),
    }


def _paired_gap(w: np.ndarray, a: int, b: int) -> tuple[float, float]:
    """Mean over splits of ``w[:, a] - w[:, b]`` and 3 standard errors of it (paired by split:
    both predictors are fitted and tested on the same split)."""
    d = w[:, a] - w[:, b]
    se = float(d.std(ddof=1)) / math.sqrt(len(d)) if len(d) > 1 else math.inf
    return float(d.mean()), 3.0 * se


def _tolerances(w: np.ndarray, subs: tuple) -> dict[str, float]:
    """3 standard errors of a mean over ``n`` random splits, per subset.

    The per-split standard deviation is the larger of the authors' (over their 45 splits, in
    :data:`RECORD`) and this run's (over its splits: it also carries the seed-to-seed
    variation of the fits), so that a small run does not claim more precision than the
    authors' record shows.
    """
    n = w.shape[0]
    out = {}
    for key, s in (("empty", frozenset()), ("whole", WHOLE)):
        ours = float(w[:, subs.index(s)].std(ddof=1)) if n > 1 else 0.0
        out[key] = 3.0 * max(RECORD[key]["sd"], ours) / math.sqrt(n)
    return out


@claim(
    id="causal-minimax/impc-reproduction",
    statement="On IMPC (614 mice, genotype = environment; graph Y→X5 (mutable), {X1,X3,X5,Y}→X2, "
    "X2→X4), under the authors' protocol (training split standardised with its pooled "
    "statistics, each held-out genotype with its own), the stable predictors reproduce the "
    "authors' record of max test MSE over the 8 held-out genotypes (mean over splits): ∅ "
    "0.952 and the whole stable set {X1..X4} 1.368, each within 3 standard errors of the split "
    "sampling. (Under the toolkit's protocol, test genotypes standardised with the training "
    "statistics, the same predictors are reported beside them.)",
    reference=ref("causal-minimax", "App. F.2.1; authors' impc/record.json and impc/findoptset.py"),
    bound=Reference(
        RECORD["empty"]["mean"],
        source="authors' impc/record.json: max test MSE of ∅, mean over their 45 splits",
    ),
)
def impc_reproduction(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    res = _impc_sweep(ctx)
    subs, h = res["subsets"], res["h"]
    w = res["w"]["per-test-genotype"]
    authors = _summary(subs, h, w)
    toolkit = _summary(subs, h, res["w"]["training"])
    tol = _tolerances(w, subs)
    splits = [list(s) for s in res["splits"]]
    return Evidence.equal(
        authors["empty"],
        bound(),
        note=f"measured: max test MSE of ∅ under the authors' protocol, mean over {len(splits)} "
        f"of their 45 splits (tolerance: 3 s.e. of that mean, per-split s.d. the larger of the "
        f"authors' and this run's); whole stable set {authors['whole']:.3f} vs 1.368 "
        f"(± {tol['whole']:.3f}). Not asserted here (see causal-minimax/impc-ranking): ∅ ranks "
        f"{authors['empty_rank']} of 16, best {authors['best_subset']} {authors['best']:.3f}. "
        f"Toolkit's protocol, same predictors: ∅ {toolkit['empty']:.3f} (rank "
        f"{toolkit['empty_rank']} of 16), whole set {toolkit['whole']:.3f}, best "
        f"{toolkit['best_subset']} {toolkit['best']:.3f}.",
        atol=tol["empty"],
        require={
            "whole stable set within 3 s.e. of 1.368": abs(
                authors["whole"] - RECORD["whole"]["mean"]
            )
            <= tol["whole"],
            "every h* estimate finite": not res["failed"],
        },
        details={
            "authors_protocol": authors,
            "toolkit_protocol": toolkit,
            "tolerances": tol,
            "splits": splits,
            "authors_record": dict(RECORD),
        },
    )


@claim(
    id="causal-minimax/impc-ranking",
    statement="[EMPIRICAL] On IMPC the authors' record has h* select the best subset (its "
    "minimiser ∅ also has the lowest max test MSE of the 16 subsets) and rank the subsets like "
    "the max test MSE (Spearman 0.93). Measured: the toolkit's h* (MLP SCM fitted on the "
    "training split, bounded neural adversary) against the max test MSE under the authors' "
    "protocol (each held-out genotype standardised with its own statistics), with the "
    "toolkit's protocol (training statistics) reported beside it.",
    reference=ref("causal-minimax", "App. F.2.1 and Alg. 1; authors' impc/record.json"),
    bound=Reference(
        1.0,
        source="authors' impc/record.json: the min-h* subset ∅ has the lowest max test MSE "
        "(ratio 1)",
    ),
)
def impc_ranking(ctx: RunContext, bound: Callable[..., float]) -> Evidence:
    res = _impc_sweep(ctx)
    subs, h = res["subsets"], res["h"]
    w = res["w"]["per-test-genotype"]
    authors = _summary(subs, h, w)
    toolkit = _summary(subs, h, res["w"]["training"])
    empty, best = subs.index(frozenset()), int(np.argmin(w.mean(0)))
    gap_empty, tol_empty = _paired_gap(w, empty, best)
    tol = _tolerances(w, subs)["empty"]  # 3 s.e. of a mean max test MSE near ∅'s
    # a correlation of 16 pairs near 0.93 has a standard error of about (1 − ρ²)/√(16 − 3)
    rho_tol = 3 * (1 - RECORD["spearman"] ** 2) / math.sqrt(len(subs) - 3)
    hm = h.mean(0)
    table = [
        {
            "subset": _show(subs[j]),
            "h*": round(float(hm[j]), 4),
            "max test MSE (authors' protocol)": round(float(w.mean(0)[j]), 4),
            "max test MSE (toolkit's protocol)": round(float(res["w"]["training"].mean(0)[j]), 4),
        }
        for j in np.argsort(hm)
    ]
    cfg = res["config"]
    return Evidence.upper(
        authors["min_hstar_max_mse"] / authors["best"],
        bound(),
        note=f"measured: max test MSE of the min-h* subset {authors['min_hstar_subset']} / that "
        f"of the best subset {authors['best_subset']} ({authors['min_hstar_max_mse']:.3f} / "
        f"{authors['best']:.3f}) under the authors' protocol, means over "
        f"{len(res['splits'])} of their 45 splits (tolerance 3 s.e. of a mean, {tol:.3f}). "
        f"Spearman(h*, max test MSE) {authors['spearman']:.2f} (authors 0.93 ± {rho_tol:.2f}); "
        f"∅ ranks {authors['empty_rank']} of 16 ({authors['empty']:.3f}, paired gap to the best "
        f"{gap_empty:.3f} ± {tol_empty:.3f}). Toolkit's protocol: min-h* subset "
        f"{toolkit['min_hstar_subset']} {toolkit['min_hstar_max_mse']:.3f}, Spearman "
        f"{toolkit['spearman']:.2f}, ∅ {toolkit['empty']:.3f} (rank {toolkit['empty_rank']}), "
        f"whole {toolkit['whole']:.3f}, best {toolkit['best_subset']} {toolkit['best']:.3f}. The "
        "two h* estimators differ: the authors' adversary is unbounded and their regenerated X2 "
        f"is noise-free; the toolkit's adversary is bounded (output_bound {cfg.output_bound:g}"
        "·std) and its fitted SCM keeps the noise.",
        rtol=0.0,
        atol=tol / authors["best"],
        require={
            "Spearman(h*, max test MSE) ≥ 0.93 − 3·(1−0.93²)/√13": authors["spearman"]
            >= RECORD["spearman"] - rho_tol,
            "∅ the best subset (paired gap ≤ 3 s.e.)": gap_empty <= tol_empty,
        },
        empirical=True,
        details={
            "authors_protocol": authors,
            "toolkit_protocol": toolkit,
            "paired_gap_empty": [gap_empty, tol_empty],
            "splits": [list(s) for s in res["splits"]],
            "table": table,
        },
    )
