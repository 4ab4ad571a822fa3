"""Grid: product order, seeds, fixed parameters, content keys, validation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perturbation.sweeps import Grid, run_key
from perturbation.sweeps.strategies import grids_axes


def test_product_order_last_axis_fastest_seeds_innermost():
    g = Grid({"a": [1, 2], "b": ["x", "y", "z"]}, seeds=[7, 3], fixed={"steps": 10})
    specs = list(g)
    assert len(g) == len(specs) == 12 and g.n_configs == 6
    expected = [
        ({"steps": 10, "a": a, "b": b}, s)
        for a, b in itertools.product([1, 2], "xyz")
        for s in (7, 3)
    ]
    assert [(s.config, s.seed) for s in specs] == expected
    assert all(s.key == run_key(s.config, s.seed) for s in specs)


def test_no_axes_is_one_configuration():
    g = Grid({}, seeds=3, fixed={"lr": 0.1})
    assert [(s.config, s.seed) for s in g] == [({"lr": 0.1}, 0), ({"lr": 0.1}, 1), ({"lr": 0.1}, 2)]
    assert "no axes" in g.summary()


def test_keys_do_not_depend_on_dict_order_and_differ_by_seed_and_type():
    assert run_key({"a": 1, "b": 2}, 0) == run_key({"b": 2, "a": 1}, 0)
    assert run_key({"a": 1}, 0) != run_key({"a": 1}, 1)
    assert run_key({"a": 1}, 0) != run_key({"a": 1.0}, 0)
    assert run_key({"a": 1}, 0) != run_key({"a": True}, 0)


@settings(max_examples=40, deadline=None)
@given(grids_axes(), st.integers(1, 3))
def test_property_keys_unique_and_roundtrip(axes, n_seeds):
    g = Grid(axes, seeds=n_seeds)
    keys = [s.key for s in g]
    assert len(keys) == len(set(keys)) == len(g)
    g2 = Grid.from_dict(g.to_dict())
    assert [s.key for s in g2] == keys


@pytest.mark.parametrize(
    ("axes", "seeds", "fixed", "match"),
    [
        ({"eps": []}, 1, None, r"axes\['eps'\] is empty"),
        ({"eps": [0.1]}, 0, None, "seeds must be >= 1"),
        ({"eps": [0.1]}, [], None, "seeds is empty"),
        ({"eps": [0.1]}, [1, 1], None, "seeds has repeated"),
        ({"eps": [0.1]}, [0.5], None, "seeds must be integers"),
        ({"eps": [0.1]}, True, None, "seeds must be an int"),
        ({"eps": [0.1, 0.1]}, 1, None, "repeated values"),
        ({"seed": [1]}, 1, None, "reserved"),
        ({"eps": [1]}, 1, {"value": 2}, "reserved"),
        ({"eps": [1]}, 1, {"eps": 2}, "also an axis"),
        ({"eps": [object()]}, 1, None, "not JSON-serialisable"),
        ({"eps": [float("nan")]}, 1, None, "not JSON-serialisable"),
        ({"eps": [(1, 2)]}, 1, None, "round-trip"),
        ({"eps": [np.float64(0.5)]}, 1, None, "round-trip"),
        ({"eps": 0.5}, 1, None, "must be a sequence"),
        ({"eps": "abc"}, 1, None, "must be a sequence"),
        ({"": [1]}, 1, None, "non-empty strings"),
        ([("eps", [1])], 1, None, "must be a mapping"),
    ],
)
def test_bad_grids_raise(axes, seeds, fixed, match):
    with pytest.raises(ValueError, match=match):
        Grid(axes, seeds=seeds, fixed=fixed)
