"""Bad input to the claim registry, the references and ``verify`` is refused by name."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest

from perturbation.bench import BenchRow, best_time, format_markdown, format_table, run_benchmark
from perturbation.cli import main
from perturbation.plots import save_plot
from perturbation.references import ref
from perturbation.registry import (
    Claim,
    Reference,
    RunContext,
    Tolerance,
    Worst,
    as_bound,
    claim,
    claims,
    register,
)
from perturbation.report import write_html, write_report
from perturbation.verify import check_out_dir, run_claims, verify
from tests._audit import Case, audit_ids, bad, gather, lazy


def _experiment(ctx, bound):  # pragma: no cover - never run
    raise AssertionError


ROW = ("toolkit", 0.5, "baseline", 1.0, "n=1", "ok")
ROWS = [BenchRow(*ROW)]
FMT = {"area": "theory", "repeats": 1, "scale": "small"}
SERIES = [("measured", [1.0, 2.0], [0.5, 0.0], {"color": "C0"})]
LABELS = {"title": "t", "xlabel": "x [units]", "ylabel": "y [units]"}
META = {
    "created": "now",
    "scale": "small",
    "seed": 0,
    "device": "cpu",
    "seconds": 1.0,
    "outcomes": {"PASS": 0},
    "total": 0,
}


def _png() -> Path:
    return Path(tempfile.mkdtemp(prefix="perturbation-audit-")) / "plot.png"


def _plot(**change):
    """save_plot's arguments with ``change`` applied, to a fresh file."""
    kwargs = {**LABELS, **change}
    series = kwargs.pop("series", SERIES)
    return lambda: ((_png(), series), kwargs)


def _row(**change):
    names = ("name", "seconds", "baseline", "baseline_seconds", "size", "check")
    return {**dict(zip(names, ROW, strict=True)), **change}


CASES = [
    bad(RunContext, "scale", "option", scale="huge"),
    bad(RunContext, "seed", "seed", seed=1.5),
    bad(RunContext, "seed", "seed", seed=-1),
    bad(RunContext, "device", "type", device=None),
    bad(verify, "seed", "seed", "/tmp/unused-report", seed=True),
    bad(Reference, "source", "value", 1.0, source=""),
    bad(Tolerance, "value", "type", "1e-3"),
    bad(Tolerance, "value", "nan", math.nan),
    bad(as_bound, "bound", "type", "0.5"),
    bad(Claim, "bound", "type", "a/b", "s", "r", "x", _experiment),
    bad(register, "claim id", "value", Claim("no-slash", "s", "r", 1.0, _experiment)),
    bad(Worst, "relation", "option", "<"),
    bad(Worst, "by", "option", "<=", by="best"),
    bad(ref, "key", "option", "no-such-paper"),
    bad(verify, "only", "value", "/tmp/unused-report", only="no-such-claim-anywhere"),
    bad(check_out_dir, "out_dir", "value", "/proc/no/such/dir"),
    # benchmarks (validation only: the output of a valid call is unchanged)
    bad(BenchRow, "seconds", "range", **_row(seconds=0.0)),
    bad(BenchRow, "seconds", "nan", **_row(seconds=math.nan)),
    bad(BenchRow, "value", "nan", **_row(value=math.nan)),
    bad(BenchRow, "baseline_seconds", "range", **_row(baseline_seconds=-1.0)),
    bad(BenchRow, "baseline_seconds", "inf", **_row(baseline_seconds=math.inf)),
    bad(BenchRow, "seconds", "type", **_row(seconds="0.5")),
    bad(BenchRow, "name", "type", **_row(name=None)),
    bad(BenchRow, "size", "type", **_row(size=3)),
    bad(BenchRow, "key", "type", **_row(key=3)),
    bad(BenchRow, "key", "empty", **_row(key="")),
    bad(best_time, "repeats", "range", lambda: None, 0),
    bad(best_time, "repeats", "type", lambda: None, 1.5),
    bad(best_time, "fn", "type", 3, 1),
    bad(format_table, "rows", "type", 3),
    bad(format_table, "rows", "type", [("a", 1.0)]),
    bad(format_table, "rows", "type", BenchRow(*ROW)),
    bad(format_markdown, "rows", "type", "rows", **FMT),
    bad(format_markdown, "area", "option", ROWS, **{**FMT, "area": "nowhere"}),
    bad(format_markdown, "repeats", "range", ROWS, **{**FMT, "repeats": 0}),
    bad(format_markdown, "scale", "option", ROWS, **{**FMT, "scale": "huge"}),
    bad(run_benchmark, "area", "option", "nowhere"),
    bad(run_benchmark, "repeats", "range", "theory", repeats=0),
    bad(run_benchmark, "repeats", "type", "theory", repeats=2.5),
    bad(run_benchmark, "scale", "option", "theory", scale="huge"),
    # the command line
    bad(main, "argv", "type", "verify --quiet"),
    bad(main, "argv", "type", ["verify", 3]),
    # plots
    lazy(save_plot, "floor", "range", _plot(floor=0.0)),
    lazy(save_plot, "floor", "nan", _plot(floor=math.nan)),
    lazy(save_plot, "yscale", "option", _plot(yscale="symlog")),
    lazy(save_plot, "title", "empty", _plot(title="")),
    lazy(save_plot, "xlabel", "type", _plot(xlabel=None)),
    lazy(save_plot, "series", "empty", _plot(series=[])),
    lazy(save_plot, "series", "type", _plot(series="abc")),
    lazy(save_plot, "series", "shape", _plot(series=[("a", [1.0], [1.0, 2.0], {})])),
    lazy(save_plot, "series", "nan", _plot(series=[("a", [1.0, 2.0], [1.0, math.nan], {})])),
    lazy(save_plot, "series", "inf", _plot(series=[("a", [1.0, math.inf], [1.0, 1.0], {})])),
    lazy(save_plot, "series", "range", _plot(series=[("a", [0.0, 1.0], [1.0, 1.0], {})])),
    lazy(save_plot, "series", "type", _plot(series=[("a", [1.0], [1.0])])),
    lazy(save_plot, "series", "type", _plot(series=[("a", [1.0], [1.0], "r-")])),
    bad(save_plot, "path", "type", None, SERIES, **LABELS),
    # the report
    bad(write_report, "results", "type", 3, "/tmp/unused-report", RunContext(), 1.0),
    bad(write_report, "results", "type", [3], "/tmp/unused-report", RunContext(), 1.0),
    bad(write_report, "out_dir", "type", [], None, RunContext(), 1.0),
    bad(write_report, "ctx", "type", [], "/tmp/unused-report", "small", 1.0),
    bad(write_report, "seconds", "range", [], "/tmp/unused-report", RunContext(), -1.0),
    bad(write_report, "seconds", "nan", [], "/tmp/unused-report", RunContext(), math.nan),
    bad(write_html, "results", "type", "abc", "/tmp/unused.html", META),
    bad(write_html, "path", "type", [], 3, META),
    bad(write_html, "meta", "type", [], "/tmp/unused.html", None),
    bad(write_html, "meta", "value", [], "/tmp/unused.html", {"total": 0}),
]
EXEMPT = {
    "Claim": "audited through its bound (above)",
    "ClaimResult": "a result type, built by Claim.run",
    "Evidence": "built by its upper/lower/equal constructors, tested in test_registry",
    "Bound": "the base class of the three kinds",
    "Theorem": "wraps any callable: nothing to refuse beyond as_bound's type check",
    "claim": "a decorator over Claim (audited above)",
    "claims": "any pattern is valid; one matching nothing is refused by verify and the CLI",
    "VerifyResult": "a result type",
    "run_claims": "takes already-built claims and context",
    "default_jobs": "takes no arguments",
    "frozen": "any object is valid: it is copied read-only, never refused",
    "Series": "a type alias of plots (a tuple type), not a function",
}
assert claims and run_claims and claim  # imported for EXEMPT's names


_GATHERED = gather(__file__, __package__)  # the cases of every _cases_* module here
CASES += _GATHERED[0]
EXEMPT.update(_GATHERED[1])


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


def test_save_plot_labels_the_floor_and_draws_linear_values_as_they_are(monkeypatch, tmp_path):
    """A log axis draws values <= floor on a labelled floor line; a linear one draws them as is."""
    from matplotlib.figure import Figure

    figures = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    save_plot(tmp_path / "a.png", [("m", [1.0, 10.0], [0.1, 0.0], {})], **LABELS, floor=1e-6)
    lines = figures[-1].axes[0].get_lines()
    assert [line.get_label() for line in lines][-1].startswith("floor: values ≤ 1e-06")
    assert list(lines[0].get_ydata()) == [0.1, 1e-6]
    save_plot(tmp_path / "c.png", [("m", [1.0, 10.0], [0.1, -0.2], {})], **LABELS, yscale="linear")
    lines = figures[-1].axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["m"]
    assert list(lines[0].get_ydata()) == [0.1, -0.2]
    save_plot(tmp_path / "d.png", [("m", [1.0, 10.0], [0.1, 0.2], {})], **LABELS)
    assert [line.get_label() for line in figures[-1].axes[0].get_lines()] == ["m"]
