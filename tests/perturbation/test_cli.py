"""The ``stability`` command: verify writes the report, exits non-zero on failure; bench prints ratios."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from perturbation import cli
from perturbation.registry import Evidence, claim


def test_verify_writes_report_json_and_plots(tmp_path, capsys):
    out = tmp_path / "rep"
    code = cli.main(
        ["verify", "--out", str(out), "--only", "prop-2.10,prop-2.4", "--scale", "tiny", "--quiet"]
    )
    assert code == 0
    rows = json.loads((out / "results.json").read_text())["results"]
    assert [r["claim"] for r in rows] == ["policy-cliff/prop-2.4", "policy-cliff/prop-2.10"]
    for r in rows:
        assert {"claim", "bound", "measured", "passed"} <= set(r)
        assert r["passed"] is True
    md = (out / "report.md").read_text()
    assert "| claim | statement | reference | bound | measured | ratio |" in md
    assert "![policy-cliff/prop-2.10](plots/policy-cliff-cliff.png)" in md
    assert (out / "plots" / "policy-cliff-cliff.png").stat().st_size > 1000
    assert "2 claims: 2 pass" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert page.count("<details") == 2 and "data:image/png;base64," in page
    assert 'title="' in page and "sortBy" in page and "filterRows" in page


def test_verify_exit_status_is_nonzero_when_a_claim_fails(tmp_path, monkeypatch):
    from perturbation import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @claim(id="test/always-false", statement="s", reference="r", bound=lambda: 1.0)
    def _false(ctx, bound):
        return Evidence.upper(2.0, bound(), "deliberately violated")

    code = cli.main(["verify", "--out", str(tmp_path), "--only", "test/always-false", "--quiet"])
    assert code == 1
    row = json.loads((tmp_path / "results.json").read_text())["results"][0]
    assert row["passed"] is False
    assert "**FAIL**" in (tmp_path / "report.md").read_text()


def test_verify_rejects_pattern_matching_nothing(tmp_path, capsys):
    assert cli.main(["verify", "--out", str(tmp_path), "--only", "nothing-like-this"]) == 2
    assert "matches no registered claim" in capsys.readouterr().err


@pytest.mark.parametrize("device", ["tpu", "cudax", "cuda:-1", ""])
def test_verify_rejects_unknown_device(tmp_path, capsys, device):
    assert cli.main(["verify", "--out", str(tmp_path), "--device", device]) == 2
    assert "--device" in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()


def test_verify_refuses_an_unwritable_out_before_running(tmp_path, capsys, monkeypatch):
    from perturbation import registry

    ran = []
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @claim(id="test/records-run", statement="s", reference="r", bound=1.0)
    def _rec(ctx, bound):
        ran.append(1)
        return Evidence.upper(0.0, bound(), "ran")

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = cli.main(["verify", "--out", str(blocker / "rep"), "--only", "test/records-run"])
    assert code == 2 and ran == []
    assert "out_dir" in capsys.readouterr().err


def test_exit_codes_tell_failed_from_could_not_run(tmp_path, monkeypatch):
    from perturbation import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @claim(id="test/crashes", statement="s", reference="r", bound=1.0)
    def _crash(ctx, bound):
        raise RuntimeError("boom")

    @claim(id="test/empirical", statement="s", reference="r", bound=1.0)
    def _emp(ctx, bound):
        return Evidence.upper(2.0, bound(), "paper's observation, not supported", empirical=True)

    assert cli.main(["verify", "--out", str(tmp_path), "--only", "test/crashes", "--quiet"]) == 3
    assert cli.main(["verify", "--out", str(tmp_path), "--only", "test/empirical", "--quiet"]) == 0
    row = json.loads((tmp_path / "results.json").read_text())["results"][0]
    assert row["outcome"] == "EMPIRICAL" and row["passed"] is False
    assert "EMPIRICAL (**not supported**)" in (tmp_path / "report.md").read_text()


def test_interrupt_leaves_the_previous_report_intact(tmp_path, monkeypatch):
    from perturbation import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    out = tmp_path / "rep"
    args = ["verify", "--out", str(out), "--only", "policy-cliff/prop-2.10", "--scale", "tiny"]
    assert cli.main([*args, "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in [*out.glob("*.*"), *out.glob("plots/*")]}

    @claim(id="test/interrupted", statement="s", reference="r", bound=1.0)
    def _stop(ctx, bound):
        raise KeyboardInterrupt

    code = cli.main([*args[:4], "policy-cliff/prop-2.10,test/interrupted", "--quiet"])
    assert code == 130
    after = {p.name: p.read_bytes() for p in [*out.glob("*.*"), *out.glob("plots/*")]}
    assert after == before
    assert not list(out.glob(".staging-*"))


def test_results_json_is_strict_json_with_nonfinite_flagged(tmp_path, monkeypatch):
    from perturbation import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @claim(id="test/infinite", statement="s", reference="r", bound=float("inf"))
    def _inf(ctx, bound):
        return Evidence.upper(1.0, bound(), "bound is infinite", details={"x": float("nan")})

    assert cli.main(["verify", "--out", str(tmp_path), "--only", "test/infinite", "--quiet"]) == 0
    text = (tmp_path / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    row = json.loads(text)["results"][0]
    assert row["bound"] is None and row["nonfinite"]["bound"] == "inf"
    assert row["details"]["x"] is None and row["nonfinite"]["details.x"] == "nan"


def test_list_with_a_pattern_matching_nothing_is_a_usage_error(capsys):
    assert cli.main(["list", "--only", "zzz"]) == 2
    err = capsys.readouterr().err
    assert "zzz" in err and "matches no registered claim" in err


def test_seed_changes_instances_but_fixed_seed_reproduces(tmp_path):
    def measured(seed: int, name: str) -> float:
        out = tmp_path / name
        cli.main(
            [
                "verify",
                "--out",
                str(out),
                "--only",
                "policy-cliff/prop-4.7",
                "--scale",
                "tiny",
                "--seed",
                str(seed),
                "--quiet",
            ]
        )
        return json.loads((out / "results.json").read_text())["results"][0]["measured"]

    assert measured(1, "a") == measured(1, "b")
    assert measured(1, "a") != measured(2, "c")


def test_bench_prints_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert (
        cli.main(["bench", "theory", "--repeats", "1", "--scale", "tiny", "--json", str(path)]) == 0
    )
    out = capsys.readouterr().out
    assert "speedup" in out and "soft VI, batch of rewards" in out
    rows = json.loads(path.read_text())["rows"]
    assert len(rows) == 3
    for r in rows:
        assert r["seconds"] > 0 and r["baseline_seconds"] > 0
        assert r["speedup"] == pytest.approx(r["baseline_seconds"] / r["seconds"])


def test_console_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "perturbation", "list", "--only", "policy-cliff/prop-4.7"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "policy-cliff/prop-4.7" in proc.stdout
