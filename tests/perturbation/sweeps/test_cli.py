"""``stability sweep``: a sweep from the shell, resumable, with the table as CSV."""

from __future__ import annotations

import csv

import pytest

from perturbation.cli import main

RUN = "perturbation.bench.sweeps:task"


def test_stability_sweep_writes_table_and_resumes(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", RUN, "--axis", "eps=0.5,1.0", "--fixed", "n_iter=5", "--seeds", "2"]
    argv += ["--engine", "inprocess", "--out", str(out), "--quiet", "--aggregate", "norm"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "4/4 runs ok" in text and "[n_iter=5, eps=0.5] norm: iqm" in text
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["eps"], r["seed"]) for r in rows] == [
        ("0.5", "0"),
        ("0.5", "1"),
        ("1.0", "0"),
        ("1.0", "1"),
    ]
    assert main(argv) == 0
    assert "(0 executed, 4 resumed)" in capsys.readouterr().out


def test_stability_sweep_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["sweep", "nope:x", "--out", str(tmp_path)]) == 2
    assert "cannot be loaded" in capsys.readouterr().err
    assert main(["sweep", "no_colon", "--out", str(tmp_path)]) == 2
    assert main(["sweep", RUN, "--axis", "eps", "--out", str(tmp_path)]) == 2
    assert "--axis must be NAME=VALUE" in capsys.readouterr().err
    assert main(["sweep", RUN, "--axis", "seed=1", "--out", str(tmp_path)]) == 2
    assert "reserved" in capsys.readouterr().err


def test_stability_sweep_failed_runs_exit_1(tmp_path, capsys):
    # n_iter missing from the config: every run raises KeyError, recorded as failed
    argv = ["sweep", RUN, "--axis", "eps=1.0", "--engine", "inprocess", "--quiet"]
    with pytest.warns(RuntimeWarning, match="1 of 1 runs failed"):
        assert main([*argv, "--out", str(tmp_path / "s")]) == 1
    assert "FAILED" in capsys.readouterr().err
