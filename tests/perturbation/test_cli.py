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
    assert "2/2 claims passed" in capsys.readouterr().out


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


def test_verify_rejects_unknown_device(tmp_path):
    with pytest.raises(SystemExit, match="device"):
        cli.main(["verify", "--out", str(tmp_path), "--device", "tpu"])


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
