"""``stability leaderboard``: every method under the protocol, one table, three plots.

:func:`run_leaderboard` trains each method of :data:`~perturbation.leaderboard.methods.METHODS`
(or those selected) with :func:`~perturbation.leaderboard.protocol.run_method`, computes the
metrics of :mod:`~perturbation.leaderboard.metrics` and, given an output folder, writes

- ``leaderboard.md`` and ``leaderboard.json``: one row per method, each metric as its IQM over
  seeds with a 95% stratified bootstrap interval, and the probability that the method changes
  less than GRPO under each perturbation;
- ``change_vs_eps.png``: the tie-set change ``d_TV(pi-bar_eps, pi-bar_0)`` against ``eps`` on
  log-log axes, one line per method (a flat line as ``eps -> 0`` is a policy cliff), with the
  bound ``eps / (2 beta)`` of Xu (2025, Prop. 4.7, Lemma C.2) beside each KL-regularized
  method (a bound on its optimum: a trained run adds its distance to the optimum);
- ``entropy.png``: the normalised tie-set entropy of the clean runs along the sample budget;
- ``per_unit.png``: each method's change per unit perturbation under P1, P2 and P3.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from perturbation.leaderboard.methods import METHODS
from perturbation.leaderboard.metrics import Aggregate, aggregate, compare, method_metrics
from perturbation.leaderboard.protocol import (
    LEADERBOARD_SCALES,
    MethodRun,
    base_logp,
    leaderboard_task,
    run_method,
)
from theory.checks import ArgumentTypeError, check_bool, check_choice, check_seed

__all__ = ["COLUMNS", "LeaderboardResult", "run_leaderboard"]

#: Table columns: (key, header, what it is).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "accuracy", "π(correct), clean"),
    ("p1_change_min", "P1 TV at min ε", "d_TV(π̄_ε, π̄_0) at the smallest ε"),
    ("p1_flatness", "P1 TV ratio", "TV at the smallest ε / TV at the largest (1: a cliff)"),
    ("p1_shift", "shift onto F", "π̄_ε(F) − π̄_0(F) at the largest ε"),
    ("p2_per_unit", "P2 TV/σ", "tie-set change per unit reward noise (per q: label flips)"),
    ("p3_per_unit", "P3 TV/f", "tie-set change per fraction of prompts dropped"),
    ("kl_ref", "KL to ref", "KL(π ‖ π_ref), clean"),
    ("entropy", "tie entropy", "H(π̄) / log |V|, clean"),
    ("collapse", "collapse", "budget fraction at entropy collapse (1: none)"),
    ("dispersion", "seed dispersion", "mean d_TV(π̄_i, π̄_j) between seeds, clean"),
)


@dataclass(frozen=True)
class LeaderboardResult:
    """The leaderboard: per method its runs, per-seed metrics and the aggregated row."""

    scale: str
    runs: dict[str, MethodRun] = field(repr=False)
    metrics: dict[str, dict[str, np.ndarray]] = field(repr=False)
    rows: dict[str, dict[str, Aggregate]]
    improvement: dict[str, dict[str, float]]
    """method -> {"P1"/"P2"/"P3": P(the method changes less than GRPO)}."""
    wall_s: float
    files: tuple[Path, ...] = ()

    def table(self) -> str:
        """The leaderboard as a markdown table."""
        head = ["method", "lr", "samples/run", *(h for _, h, _ in COLUMNS), "P(less than GRPO)"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for key, row in self.rows.items():
            run = self.runs[key]
            cells = [
                METHODS[key].label if key in METHODS else key,
                f"{run.lr:g}",
                f"{run.samples:.0f}" if math.isfinite(run.samples) else "–",
                *(str(row[c]) for c, _, _ in COLUMNS),
                ", ".join(f"{k} {v:.2f}" for k, v in self.improvement.get(key, {}).items()) or "–",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "wall_s": self.wall_s,
            "columns": {c: what for c, _, what in COLUMNS},
            "methods": {
                key: {
                    "lr": self.runs[key].lr,
                    "lr_scores": {str(k): v for k, v in self.runs[key].lr_scores.items()},
                    "samples_per_run": self.runs[key].samples,
                    "seconds": self.runs[key].wall_s,
                    **{
                        c: {"iqm": a.point, "lower": a.lower, "upper": a.upper, "n": a.n}
                        for c, a in row.items()
                    },
                    "p_changes_less_than_grpo": self.improvement.get(key, {}),
                }
                for key, row in self.rows.items()
            },
        }


def _kind(run: MethodRun, kind: str) -> np.ndarray:
    return np.array([c.kind == kind for c in run.conditions])


def _row(run: MethodRun, m: dict[str, np.ndarray], seed: int) -> dict[str, Aggregate]:
    p1, p2, p3 = (_kind(run, k) for k in ("P1", "P2", "P3"))
    nan = np.full(m["accuracy"].shape[1], math.nan)
    eps = m["size"][p1]
    p1_change = m["change"][p1]  # (E, n)
    if p1_change.size:
        lo, hi = int(np.argmin(eps)), int(np.argmax(eps))
        with np.errstate(divide="ignore", invalid="ignore"):
            flat = p1_change[lo] / p1_change[hi]
        change_min, shift = p1_change[lo], m["shift"][p1][hi]
    else:
        flat = change_min = shift = nan
    return {
        "accuracy": aggregate(m["accuracy"][0], seed=seed),
        "p1_change_min": aggregate(change_min, seed=seed),
        "p1_flatness": aggregate(flat, seed=seed),
        "p1_shift": aggregate(shift, seed=seed),
        "p2_per_unit": aggregate(m["per_unit"][p2].T if p2.any() else nan, seed=seed),
        "p3_per_unit": aggregate(m["per_unit"][p3].T if p3.any() else nan, seed=seed),
        "kl_ref": aggregate(m["kl_ref"][0], seed=seed),
        "entropy": aggregate(m["entropy"][0], seed=seed),
        "collapse": aggregate(m["collapse"][0], seed=seed),
        "dispersion": aggregate(m["dispersion"], seed=seed),
    }


def run_leaderboard(
    scale: str = "small",
    *,
    methods: Sequence[str] | None = None,
    perturbations: Sequence[str] | None = None,
    seed: int = 0,
    device: str = "cpu",
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> LeaderboardResult:
    """Run the leaderboard: every method under the protocol, its table and plots.

    Parameters
    ----------
    scale : {"tiny", "small", "medium"}, default "small"
        :data:`~perturbation.leaderboard.protocol.LEADERBOARD_SCALES` (``small``: 5 seeds,
        7 conditions, a 3-point learning-rate grid).
    methods : sequence of str, optional
        Keys of :data:`~perturbation.leaderboard.methods.METHODS` (default: all).
    perturbations : sequence of str, optional
        Among ``"P1"``, ``"P2"``, ``"P3"`` (default: all).
    seed : int, default 0
    device : str, default "cpu"
    out_dir : path, optional
        Where the table and plots are written (created).
    progress : bool, default True
        A line per method on stderr.

    Returns
    -------
    LeaderboardResult
    """
    check_choice("scale", scale, tuple(LEADERBOARD_SCALES))
    seed = check_seed(seed)
    progress = check_bool("progress", progress)
    keys = list(METHODS) if methods is None else list(methods)
    if isinstance(methods, str) or not keys:
        raise ArgumentTypeError(f"methods must be a non-empty sequence of keys; got {methods!r}")
    for k in keys:
        check_choice("methods", k, tuple(METHODS))
    if isinstance(perturbations, str):
        raise ArgumentTypeError(f"perturbations must be a sequence; got {perturbations!r}")
    start = time.perf_counter()
    task = leaderboard_task(scale)
    runs: dict[str, MethodRun] = {}
    metrics: dict[str, dict[str, np.ndarray]] = {}
    rows: dict[str, dict[str, Aggregate]] = {}
    for i, key in enumerate(keys):
        run = run_method(METHODS[key], scale, seed=seed, device=device, only=perturbations)
        runs[key] = run
        ref_logp = base_logp(task, run.seeds, device)
        metrics[key] = method_metrics(run, task, ref_logp)
        rows[key] = _row(run, metrics[key], seed)
        if progress:
            print(
                f"[{i + 1}/{len(keys)}] {key}: lr {run.lr:g}, {run.wall_s:.1f} s",
                file=sys.stderr,
            )
    improvement = _improvement(runs, metrics, seed)
    result = LeaderboardResult(scale, runs, metrics, rows, improvement, time.perf_counter() - start)
    if out_dir is not None:
        files = write(result, Path(out_dir))
        result = LeaderboardResult(
            scale, runs, metrics, rows, improvement, result.wall_s, tuple(files)
        )
    return result


def _improvement(
    runs: dict[str, MethodRun], metrics: dict[str, dict[str, np.ndarray]], seed: int
) -> dict[str, dict[str, float]]:
    """P(a seed of the method changes less than a seed of GRPO), per perturbation kind (the
    perturbation sizes as strata)."""
    if "grpo" not in runs:
        return {}
    out: dict[str, dict[str, float]] = {}
    base = runs["grpo"]
    for key, run in runs.items():
        if key == "grpo":
            continue
        out[key] = {}
        for kind in ("P1", "P2", "P3"):
            a, b = _kind(run, kind), _kind(base, kind)
            if a.any() and a.sum() == b.sum():
                x = metrics[key]["change"][a].T
                y = metrics["grpo"]["change"][b].T
                out[key][kind] = compare(x, y, higher_is_better=False, seed=seed).point
    return out


def write(result: LeaderboardResult, out: Path) -> list[Path]:
    """Write the table (markdown, JSON) and the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "leaderboard.md", out / "leaderboard.json"]
    legend = "\n".join(f"- **{h}**: {what}" for _, h, what in COLUMNS) + (
        "\n- **P(less than GRPO)**: per perturbation, the probability that a seed of the method "
        "changes its tie-set distribution less than a seed of GRPO (0.5: no difference)"
    )
    files[0].write_text(
        f"# Stability leaderboard (scale {result.scale})\n\n"
        "Each cell: the interquartile mean over seeds [95% stratified bootstrap interval].\n\n"
        f"{result.table()}\n\n{legend}\n",
        encoding="utf-8",
    )
    files[1].write_text(json.dumps(result.to_json(), indent=1, default=float), encoding="utf-8")
    files.append(_plot_change(result, out / "change_vs_eps.png"))
    files.append(_plot_entropy(result, out / "entropy.png"))
    files.append(_plot_per_unit(result, out / "per_unit.png"))
    return files


def _plot_change(result: LeaderboardResult, path: Path) -> Path:
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.add_subplot()
    for key, run in result.runs.items():
        p1 = _kind(run, "P1")
        if not p1.any():
            continue
        eps = result.metrics[key]["size"][p1]
        y = np.nanmean(result.metrics[key]["change"][p1], axis=1)
        (line,) = ax.plot(eps, np.maximum(y, 1e-6), "o-", label=METHODS[key].label)
        beta = METHODS[key].kl_beta
        if beta is not None:
            ax.plot(
                eps, eps / (2 * beta), "--", color=line.get_color(), label=f"ε/(2β), β={beta:g}"
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("tie-break ε")
    ax.set_ylabel("mean d_TV(π̄_ε, π̄_0)")
    ax.set_title("P1: change of the tied-answer distribution")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _plot_entropy(result: LeaderboardResult, path: Path) -> Path:
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.add_subplot()
    for key, m in result.metrics.items():
        h = m["entropy_trajectory"]
        if h.shape[0]:
            ax.plot(m["budget_fraction"], h[:, 0].mean(-1), label=METHODS[key].label)
    ax.set_xlabel("fraction of the sample budget (of the steps for offline methods)")
    ax.set_ylabel("H(π̄) / log |V|")
    ax.set_title("Tie-set entropy of the clean runs")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _plot_per_unit(result: LeaderboardResult, path: Path) -> Path:
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    keys = list(result.rows)
    cols = ("p2_per_unit", "p3_per_unit")
    x = np.arange(len(keys))
    drawn = False
    for j, c in enumerate(cols):
        agg = [result.rows[k][c] for k in keys]
        pt = np.array([a.point for a in agg])
        err = np.array([[a.point - a.lower, a.upper - a.point] for a in agg]).T
        if not np.any(np.isfinite(pt) & (pt > 0)):
            continue
        drawn = True
        ax.errorbar(x + 0.15 * j, pt, yerr=np.nan_to_num(err), fmt="o", label=c.split("_")[0])
    ax.set_xticks(x, [METHODS[k].label if k in METHODS else k for k in keys], rotation=60,
                  ha="right", fontsize=6)  # fmt: skip
    ax.set_ylabel("tie-set TV per unit perturbation (IQM, 95% CI)")
    if drawn:
        ax.set_yscale("log")
        ax.legend()
    else:
        ax.set_title("no P2 or P3 runs in this leaderboard")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
