"""Write a verification run as ``report.md``, ``report.html`` and ``results.json``.

``report.md``: the summary table, then one section per claim with its plots.
``report.html``: one self-contained file (plots inlined) with a sortable, filterable summary,
each claim's statement on hover, and one collapsible section per claim.
``results.json``: the same rows as valid JSON; non-finite numbers are ``null`` and each row's
``nonfinite`` map says which they were.
"""

from __future__ import annotations

import base64
import html
import json
import math
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perturbation.registry import ClaimResult, RunContext
from theory.checks import ArgumentTypeError, check_nonnegative, check_path

__all__ = ["REPORT_FILES", "write_html", "write_report"]

#: The files a report consists of (beside its ``plots/`` folder).
REPORT_FILES = ("report.md", "report.html", "results.json")

_BADGE = {"PASS": "PASS", "FAIL": "**FAIL**", "EMPIRICAL": "EMPIRICAL", "ERROR": "**ERROR**"}


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.4g}"
    return f"{x:.3e}"


#: The keys of ``meta`` that :func:`write_html` shows (``write_report`` builds them all).
_META_KEYS = ("created", "scale", "seed", "device", "seconds", "outcomes", "total")


def _check_results(results: object) -> list[ClaimResult]:
    if isinstance(results, str | bytes | Mapping) or not isinstance(results, Sequence):
        raise ArgumentTypeError(
            f"results must be a sequence of ClaimResult; got {type(results).__name__}"
        )
    for i, r in enumerate(results):
        if not isinstance(r, ClaimResult):
            raise ArgumentTypeError(f"results[{i}] must be a ClaimResult; got {type(r).__name__}")
    return list(results)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(
    results: Sequence[ClaimResult], out_dir: Path, ctx: RunContext, seconds: float
) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``results.json`` into ``out_dir``.

    Returns the paths of ``report.md`` and ``results.json``.

    Raises
    ------
    TypeError, ValueError
        Before anything is written, if ``results`` is not a sequence of
        :class:`~perturbation.registry.ClaimResult`, ``out_dir`` not a path, ``ctx`` not a
        :class:`~perturbation.registry.RunContext`, or ``seconds`` negative or not finite.
    """
    results = _check_results(results)
    out_dir = check_path("out_dir", out_dir)
    if not isinstance(ctx, RunContext):
        raise ArgumentTypeError(f"ctx must be a RunContext; got {type(ctx).__name__}")
    seconds = check_nonnegative("seconds", seconds)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_pass = sum(r.outcome == "PASS" for r in results)
    counts = {k: sum(r.outcome == k for r in results) for k in _BADGE}
    meta: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": ctx.scale,
        "seed": ctx.seed,
        "device": ctx.device,
        "python": platform.python_version(),
        "seconds": round(seconds, 2),
        "passed": n_pass,
        "outcomes": counts,
        "total": len(results),
    }
    json_path = out_dir / "results.json"
    json_path.write_text(
        json.dumps(
            {"meta": meta, "results": [r.to_row() for r in results]}, indent=2, allow_nan=False
        )
        + "\n"
    )

    lines = [
        "# Claim verification report",
        "",
        f"**{n_pass} of {len(results)} claims passed**"
        + "".join(f", {counts[k]} {k.lower()}" for k in ("FAIL", "EMPIRICAL", "ERROR") if counts[k])
        + f" — scale `{ctx.scale}`, seed {ctx.seed}, "
        f"device `{ctx.device}`, {seconds:.1f} s, {meta['created']}.",
        "",
        "Each claim is a theoretical statement checked by a perturbation experiment: *bound* is "
        "the theory's value, *measured* what the experiment observed, *ratio* = measured / bound, "
        "and the relation says what must hold (tolerance in the claim's section). Total "
        "variation is half the L1 distance throughout. EMPIRICAL marks a paper's measured "
        "statement: reported with whether this run's data support it, not asserted.",
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
            f"{ev.relation if ev else '–'} | {_verdict(r)} |"
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
            f"(tolerance {_fmt(ev.tolerance)}; {r.claim.bound.describe()}): {_verdict(r)} "
            f"in {r.seconds:.2f} s.",
            "",
        ]
        if ev.details.get("caption"):
            lines += [f"**What to look at.** {ev.details['caption']}", ""]
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
    write_html(results, out_dir / "report.html", meta)
    return md_path, json_path


def _verdict(r: ClaimResult) -> str:
    if r.outcome == "EMPIRICAL":
        return "EMPIRICAL (supported)" if r.passed else "EMPIRICAL (**not supported**)"
    return _BADGE[r.outcome]


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;width:100%;font-size:0.9em}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;cursor:pointer;user-select:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#1a7f37;font-weight:600}.FAIL,.ERROR{color:#cf222e;font-weight:700}
.EMPIRICAL{color:#9a6700;font-weight:600}
details{border:1px solid #ddd;border-radius:4px;margin:0.6em 0;padding:0.3em 0.8em}
summary{cursor:pointer;font-weight:600}
img{max-width:100%;border:1px solid #eee}
#filter{padding:4px;width:24em;margin:0.5em 0}
"""

_JS = """
function sortBy(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th);
const rows=[...t.tBodies[0].rows],asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
const key=r=>{const c=r.cells[i],v=c.dataset.v??c.textContent;const n=parseFloat(v);
return isNaN(n)?v.toLowerCase():n};
rows.sort((a,b)=>{const x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*(asc?1:-1)});
rows.forEach(r=>t.tBodies[0].appendChild(r))}
function filterRows(){const q=document.getElementById('filter').value.toLowerCase();
for(const r of document.querySelectorAll('#summary tbody tr')){
r.style.display=r.textContent.toLowerCase().includes(q)?'':'none'}}
"""


def _num_cell(x: float | None) -> str:
    v = "" if x is None or not math.isfinite(x) else repr(float(x))
    return f'<td class="num" data-v="{v}">{html.escape(_fmt(x))}</td>'


def write_html(results: Sequence[ClaimResult], path: Path, meta: dict[str, Any]) -> Path:
    """One self-contained HTML report: sortable, filterable summary; a section per claim.

    ``meta`` is the run's metadata as :func:`write_report` builds it (``created``, ``scale``,
    ``seed``, ``device``, ``seconds``, ``outcomes``: outcome -> count, ``total``).

    Raises
    ------
    TypeError, ValueError
        Before anything is written, if ``results`` is not a sequence of
        :class:`~perturbation.registry.ClaimResult`, ``path`` not a path, or ``meta`` not a
        mapping with those keys.
    """
    results = _check_results(results)
    path = check_path("path", path)
    if not isinstance(meta, Mapping):
        raise ArgumentTypeError(f"meta must be a mapping; got {type(meta).__name__}")
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"meta lacks the keys {missing} (write_report builds them)")
    if not isinstance(meta["outcomes"], Mapping):
        raise ArgumentTypeError(f"meta['outcomes'] must be a mapping; got {meta['outcomes']!r}")
    esc = html.escape
    head = (
        "<tr>"
        + "".join(
            f'<th onclick="sortBy(this)">{h}</th>'
            for h in ("claim", "result", "bound", "measured", "ratio", "relation", "seconds")
        )
        + "</tr>"
    )
    rows, sections = [], []
    for r in results:
        ev = r.evidence
        anchor = r.claim.id.replace("/", "-")
        rows.append(
            f'<tr title="{esc(r.claim.statement)}"><td><a href="#{esc(anchor)}">'
            f"{esc(r.claim.id)}</a></td>"
            f'<td class="{r.outcome}">{esc(_verdict(r).replace("**", ""))}</td>'
            + _num_cell(ev.bound if ev else None)
            + _num_cell(ev.measured if ev else None)
            + _num_cell(r.ratio if ev else None)
            + f"<td>{esc(ev.relation) if ev else '–'}</td>"
            + _num_cell(r.seconds)
            + "</tr>"
        )
        body = [
            f"<p><b>Statement.</b> {esc(r.claim.statement)}</p>",
            f"<p><b>Reference.</b> {esc(r.claim.reference)}</p>",
        ]
        if ev is None:
            body.append(f"<p><b>Error.</b> <code>{esc(r.error or '')}</code></p>")
            body.append(f"<pre>{esc(r.traceback or '')}</pre>")
        else:
            body.append(f"<p><b>Experiment.</b> {esc(ev.note)}</p>")
            body.append(
                f"<p><b>Result.</b> measured {esc(_fmt(ev.measured))} {esc(ev.relation)} "
                f"bound {esc(_fmt(ev.bound))} (tolerance {esc(_fmt(ev.tolerance))}; "
                f"{esc(r.claim.bound.describe())}): "
                f'<span class="{r.outcome}">{esc(_verdict(r).replace("**", ""))}</span></p>'
            )
            if ev.details.get("caption"):
                body.append(f"<p><b>What to look at.</b> {esc(str(ev.details['caption']))}</p>")
            reqs = ev.details.get("requirements", {})
            if reqs:
                body.append(
                    "<ul>"
                    + "".join(
                        f"<li>{'✔' if ok else '✘ <b>failed</b>'} {esc(name)}</li>"
                        for name, ok in reqs.items()
                    )
                    + "</ul>"
                )
            for p in ev.plots:
                if p.exists():
                    data = base64.b64encode(p.read_bytes()).decode()
                    body.append(f'<img alt="{esc(p.name)}" src="data:image/png;base64,{data}">')
        sections.append(
            f'<details id="{esc(anchor)}"><summary>'
            f'<span class="{r.outcome}">{r.outcome}</span> {esc(r.claim.id)}</summary>'
            + "".join(body)
            + "</details>"
        )
    counts = ", ".join(f"{v} {k.lower()}" for k, v in meta["outcomes"].items() if v)
    doc = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Claim verification report</title><style>{_CSS}</style>"
        f"<script>{_JS}</script></head><body>"
        "<h1>Claim verification report</h1>"
        f"<p>{meta['total']} claims: {esc(counts)} — scale <code>{esc(meta['scale'])}</code>, "
        f"seed {meta['seed']}, device <code>{esc(meta['device'])}</code>, "
        f"{meta['seconds']} s, {esc(meta['created'])}.</p>"
        "<p>Bound: the theory's value or the reference; measured: what the experiment "
        "observed; ratio = measured / bound. EMPIRICAL: a paper's measured statement, "
        "reported with whether the data support it, not asserted. Hover a row for the "
        "statement; click a header to sort.</p>"
        '<input id="filter" placeholder="filter claims…" oninput="filterRows()">'
        f'<table id="summary"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
        "<h2>Claims</h2>" + "".join(sections) + "</body></html>\n"
    )
    path.write_text(doc)
    return path
