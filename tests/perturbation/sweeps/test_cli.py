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


def test_stability_sweep_aggregate_of_an_unknown_metric_exits_2_without_traceback(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", RUN, "--axis", "eps=0.5", "--fixed", "n_iter=5", "--engine", "inprocess"]
    argv += ["--out", str(out), "--quiet", "--aggregate", "nosuchmetric"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "'nosuchmetric'" in err and "['norm'" in err and "saved" in err
    assert (out / "results.csv").exists()  # the runs are kept; rerunning resumes them
    assert main([*argv[:-1], "norm"]) == 0
    assert "(0 executed, 1 resumed)" in capsys.readouterr().out


def test_stability_sweep_refuses_bad_arguments_before_running(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    base = ["sweep", RUN, "--axis", "eps=0.5", "--fixed", "n_iter=5", "--engine", "inprocess"]
    assert main([*base, "--out", str(blocker / "s"), "--quiet"]) == 2
    assert "out_dir" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "s"), "--seeds", "0", "--quiet"]) == 2
    assert "seeds" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "s"), "--n-jobs", "0", "--quiet"]) == 2
    assert main([*base, "--out", str(tmp_path / "s"), "--aggregate", " ", "--quiet"]) == 2
    assert not (tmp_path / "s" / "runs").exists() or not list((tmp_path / "s" / "runs").iterdir())
