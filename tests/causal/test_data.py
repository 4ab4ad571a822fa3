"""The IMPC loader and splits of ``causal.data`` (claims causal-minimax/impc-reproduction and
causal-minimax/impc-ranking)."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest

from causal import graph_components
from causal.data import (
    IMPC_COLUMNS,
    IMPC_FIXED_TRAIN,
    IMPC_GENOTYPES,
    _from_rows,
    impc_split,
    impc_train_splits,
    load_impc,
)


@pytest.fixture(scope="module")
def rows():
    with resources.files("causal.data").joinpath("impc/mouse.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_shapes_environments_and_graph():
    d = load_impc()
    assert d.n == 614
    assert set(d.values) == {"Y", "X1", "X2", "X3", "X4", "X5"}
    assert all(a.shape == (614,) and a.dtype == np.float64 for a in d.values.values())
    counts = np.bincount(d.environment, minlength=14)
    assert counts[0] == 440 and counts[1:].min() >= 12 and counts.sum() == 614
    assert d.genotypes == IMPC_GENOTYPES
    assert sorted(d.graph.edges) == sorted(
        [("Y", "X5"), ("X1", "X2"), ("X3", "X2"), ("X5", "X2"), ("Y", "X2"), ("X2", "X4")]
    )
    comps = graph_components(d.graph, d.target, d.mutable)
    assert comps.stable == {"X1", "X2", "X3", "X4"}
    assert not comps.condition  # Y -> X2 in K: the search is needed
    assert d.matrix(["Y", "X5"]).shape == (614, 2)
    assert "614 mice" in d.summary()


def test_pooled_standardisation_and_raw_values(rows):
    d, raw = load_impc(), load_impc(standardize="none")
    for v, col in IMPC_COLUMNS.items():
        assert d.values[v].mean() == pytest.approx(0.0, abs=1e-12)
        assert d.values[v].std(ddof=1) == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(raw.values[v], [float(r[col]) for r in rows])
        np.testing.assert_allclose(d.values[v] * d.std[v] + d.mean[v], raw.values[v])


def test_per_environment_standardisation():
    d = load_impc(standardize="per-environment")
    for k in range(14):
        m = d.environment == k
        assert d.values["Y"][m].mean() == pytest.approx(0.0, abs=1e-12)
        assert d.values["Y"][m].std(ddof=1) == pytest.approx(1.0, abs=1e-12)


def test_values_are_read_only():
    d = load_impc()
    with pytest.raises(ValueError):
        d.values["Y"][0] = 1.0


def test_unknown_standardize_raises():
    with pytest.raises(ValueError, match="standardize"):
        load_impc(standardize="zscore")


def test_unknown_matrix_column_raises():
    with pytest.raises(ValueError, match="columns"):
        load_impc().matrix(["Y", "X9"])


def test_missing_column_raises(rows):
    bad = [{k: v for k, v in r.items() if k != "IMPC_HEM_034_001"} for r in rows]
    with pytest.raises(ValueError, match="lacks the columns"):
        _from_rows(bad, "pooled")


def test_unknown_genotype_raises(rows):
    bad = [dict(r) for r in rows]
    bad[0]["geno"] = "9999_1"
    with pytest.raises(ValueError, match="unknown genotypes"):
        _from_rows(bad, "pooled")


def test_non_numeric_and_non_finite_raise(rows):
    bad = [dict(r) for r in rows]
    bad[3]["IMPC_HEM_030_001"] = "NA"
    with pytest.raises(ValueError, match="non-numeric"):
        _from_rows(bad, "pooled")
    bad[3]["IMPC_HEM_030_001"] = "inf"
    with pytest.raises(ValueError, match="non-finite"):
        _from_rows(bad, "pooled")


def test_empty_file_raises():
    with pytest.raises(ValueError, match="no rows"):
        _from_rows([], "pooled")


# --- the authors' splits and the two standardisation protocols ---


def test_the_authors_45_splits():
    splits = impc_train_splits()
    assert len(splits) == 45 and len(set(splits)) == 45
    for s in splits:
        assert s[:4] == IMPC_FIXED_TRAIN and len(set(s)) == 6
    sp = impc_split(splits[0])
    assert len(sp.test_genotypes) == 8
    assert set(sp.train_genotypes) | set(sp.test_genotypes) == set(range(14))
    assert "standardize='training'" in sp.summary()


@pytest.mark.parametrize("split", [0, 17, 44])
def test_both_protocols_share_the_training_data_and_differ_on_the_test_genotypes(split):
    raw = load_impc(standardize="none")
    genos = impc_train_splits()[split]
    ours = impc_split(genos, data=raw)
    theirs = impc_split(genos, standardize="per-test-genotype", data=raw)
    mask = np.isin(raw.environment, genos)
    for v in IMPC_COLUMNS:
        # training split: its own pooled statistics (the authors' need_norm), both protocols
        np.testing.assert_array_equal(ours.train[v], theirs.train[v])
        assert ours.train[v].mean() == pytest.approx(0.0, abs=1e-12)
        assert ours.train[v].std(ddof=1) == pytest.approx(1.0, abs=1e-12)
        assert ours.mean[v] == pytest.approx(raw.values[v][mask].mean())
        for k, a, b in zip(ours.test_genotypes, ours.test, theirs.test, strict=True):
            x = raw.values[v][raw.environment == k]
            # the toolkit's protocol: the training statistics (test shifts stay visible)
            np.testing.assert_allclose(a[v], (x - ours.mean[v]) / ours.std[v])
            # the authors' protocol: each test genotype with its own mean and std
            np.testing.assert_allclose(b[v], (x - x.mean()) / x.std(ddof=1))
    # the shift that the authors' protocol removes: held-out genotypes' mean of Y differs
    assert max(abs(t["Y"].mean()) for t in ours.test) > 0.2


def test_split_arrays_are_read_only():
    sp = impc_split(impc_train_splits()[0])
    with pytest.raises(ValueError):
        sp.test[0]["Y"][0] = 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_genotypes": (0, 0, 2)}, "distinct"),
        ({"train_genotypes": (0,)}, "2 to 13"),
        ({"train_genotypes": tuple(range(14))}, "at least one left"),
        ({"train_genotypes": (0, 14)}, r"train_genotypes\[1\]"),
        ({"train_genotypes": "0247"}, "sequence"),
        ({"train_genotypes": (0, 2), "standardize": "pooled"}, "standardize"),
        ({"train_genotypes": (0, 2), "data": load_impc()}, "data"),
    ],
)
def test_bad_split_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        impc_split(**kwargs)
