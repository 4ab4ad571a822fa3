"""``stability bench sequence``: the rows without TRL, null keys with a reason, and (slow, when
TRL is installed) the GRPO loss against TRL's ``GRPOTrainer._compute_loss``."""

import json
import re
import sys

import pytest

from perturbation import cli
from perturbation.bench import sequence

TRL_KEYS = [k for k in sequence.KEYS if k.endswith("_vs_trl")]


def test_without_trl_keys_are_null_with_a_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "trl", None)  # `import trl` raises ImportError
    small = sequence._Sizes(steps=2, n_runs=3, n_loop=2, exact_lengths=(2, 3), loss_batches=1)
    monkeypatch.setattr(sequence, "_sizes", lambda scale, repeats: small)
    path = tmp_path / "bench.json"
    argv = ["bench", "sequence", "--scale", "tiny", "--repeats", "1", "--json", str(path)]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "TRL is not importable" in captured.err and "null" in captured.err
    payload = json.loads(path.read_text())
    assert set(sequence.KEYS) <= set(payload)
    assert all(payload[k] is None for k in TRL_KEYS)
    rows = payload["rows"]
    assert not any("TRL" in r["baseline"] for r in rows)
    (batched,) = [r for r in rows if r["key"] == "batched_speedup"]
    assert payload["batched_speedup"] == pytest.approx(batched["speedup"])
    # stacked seeds train as the same runs one by one (up to float round-off)
    diff = float(re.search(r"one by one = ([0-9.e+-]+)", batched["check"]).group(1))
    assert diff < 1e-4
    # exact enumeration: 10^2 and 10^3 completions, a normalised distribution
    exact = [r for r in rows if r["name"].startswith("exact_logprobs")]
    assert [r["name"].split("=")[1].split()[0] for r in exact] == ["10^2", "10^3"]
    for r in exact:
        lse = float(re.search(r"log Σ p = ([0-9.e+-]+)", r["check"]).group(1))
        assert abs(lse) < 1e-9


@pytest.mark.slow
def test_grpo_loss_equals_trl_compute_loss(tmp_path):
    pytest.importorskip("trl")
    assert sequence._trl_missing() is None
    from trainers.sequence import tied_digit_sum

    hf = sequence._HF(tied_digit_sum(), str(tmp_path))
    sizes = sequence._Sizes(steps=3, n_runs=2, n_loop=2, exact_lengths=(2,), loss_batches=1)
    row = sequence._loss_row(hf, sizes)
    assert row.key == "grpo_loss_max_abs_diff_vs_trl"
    assert 0.0 <= row.value <= 1e-6
    grad = float(re.search(r"max \|Δgrad\| = ([0-9.e+-]+)", row.check).group(1))
    assert grad <= 1e-5
    # the batch exercises the clip: some tokens' ratios lie outside [1 - eps, 1 + eps]
    clipped = float(re.search(r"; (\d+)% of tokens outside the clip", row.check).group(1))
    assert clipped > 0
