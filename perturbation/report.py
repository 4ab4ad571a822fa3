"""Write a verification run as ``report.md`` (table plus plots) and ``results.json``."""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perturbation.registry import ClaimResult, RunContext

__all__ = ["write_report"]


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.4g}"
    return f"{x:.3e}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(
    results: Sequence[ClaimResult], out_dir: Path, ctx: RunContext, seconds: float
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``results.json`` into ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n_pass = sum(r.passed for r in results)
    meta: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": ctx.scale,
        "seed": ctx.seed,
        "device": ctx.device,
        "python": platform.python_version(),
        "seconds": round(seconds, 2),
        "passed": n_pass,
        "total": len(results),
    }
    json_path = out_dir / "results.json"
    json_path.write_text(
        json.dumps({"meta": meta, "results": [r.to_row() for r in results]}, indent=2) + "\n"
    )

    lines = [
        "# Claim verification report",
        "",
        f"**{n_pass} of {len(results)} claims passed** — scale `{ctx.scale}`, seed {ctx.seed}, "
        f"device `{ctx.device}`, {seconds:.1f} s, {meta['created']}.",
        "",
        "Each claim is a theoretical statement checked by a perturbation experiment: *bound* is "
        "the theory's value, *measured* what the experiment observed, *ratio* = measured / bound, "
        "and the relation says what must hold (tolerance in the claim's section). Total "
        "variation is half the L1 distance throughout.",
        "",
        "| claim | statement | reference | bound | measured | ratio | relation | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ev = r.evidence
        anchor = r.claim.id.replace("/", "-").replace(".", "")
        lines.append(
            f"| [`{r.claim.id}`](#{anchor}) | {_cell(r.claim.statement)} | "
            f"{_cell(r.claim.reference)} | {_fmt(ev.bound if ev else None)} | "
            f"{_fmt(ev.measured if ev else None)} | {_fmt(r.ratio)} | "
            f"{ev.relation if ev else '–'} | {'PASS' if r.passed else '**FAIL**'} |"
        )
    lines.append("")
    for r in results:
        ev = r.evidence
        lines += [f"## {r.claim.id}", "", f"**Statement.** {r.claim.statement}", ""]
        lines += [f"**Reference.** {r.claim.reference}", ""]
        if ev is None:
            lines += [f"**Error.** `{r.error}`", "", "```", (r.traceback or "").rstrip(), "```", ""]
            continue
        lines += [
            f"**Experiment.** {ev.note}",
            "",
            f"**Result.** measured {_fmt(ev.measured)} {ev.relation} bound {_fmt(ev.bound)} "
            f"(tolerance {_fmt(ev.tolerance)}): {'PASS' if ev.passed else '**FAIL**'} "
            f"in {r.seconds:.2f} s.",
            "",
        ]
        for name, ok in ev.details.get("requirements", {}).items():
            lines.append(f"- {'✔' if ok else '✘ **failed**'} {name}")
        if ev.details.get("requirements"):
            lines.append("")
        table = ev.details.get("table")
        if table:
            header = list(table[0])
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for row in table:
                lines.append(
                    "| "
                    + " | ".join(
                        _fmt(v) if isinstance(v, float) else _cell(str(v)) for v in row.values()
                    )
                    + " |"
                )
            lines.append("")
        for p in ev.plots:
            rel = p.relative_to(out_dir) if p.is_relative_to(out_dir) else p
            lines += [f"![{r.claim.id}]({rel.as_posix()})", ""]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(lines) + "\n")
    return md_path, json_path
