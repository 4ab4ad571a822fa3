"""The shared scalar argument checks (stability._checks): each names the parameter and value."""

from __future__ import annotations

import numpy as np
import pytest

from stability._checks import choice, nonnegative, open_unit, positive, positive_int


@pytest.mark.parametrize("value", [0.5, 1e-12, np.float64(0.999), 1 - 1e-16])
def test_open_unit_accepts(value):
    assert open_unit("tol", value) == float(value)


@pytest.mark.parametrize("value", [0, 0.0, 1, 1.0, -0.1, 2.0, float("nan"), True, "0.5", None])
def test_open_unit_rejects(value):
    with pytest.raises(ValueError, match=r"tol must be in \(0, 1\)"):
        open_unit("tol", value)


def test_the_other_checks_name_the_parameter():
    assert positive("x", 2) == 2.0 and nonnegative("x", 0) == 0.0 and positive_int("n", 3) == 3
    assert choice("kind", "a", ("a", "b")) == "a"
    for call in (
        lambda: positive("x", 0.0),
        lambda: nonnegative("x", -1.0),
        lambda: positive_int("x", 1.5),
        lambda: choice("x", "c", ("a", "b")),
    ):
        with pytest.raises(ValueError, match="x"):
            call()
