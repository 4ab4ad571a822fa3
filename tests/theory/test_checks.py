"""The toolkit's one validation module (theory.checks): each check names the parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._audit import Case, audit_ids, bad
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_choice,
    check_gamma,
    check_int,
    check_nonnegative,
    check_open_unit,
    check_path,
    check_positive,
    check_positive_int,
    check_probability,
    check_real,
    check_rng,
    check_seed,
    check_seeds,
    check_simplex,
    check_state,
)

NAN, INF = math.nan, math.inf

CASES = [
    bad(check_real, "x", "type", "x", "1.0"),
    bad(check_real, "x", "type", "x", True),
    bad(check_real, "x", "nan", "x", NAN),
    bad(check_real, "x", "range", "x", 2.0, hi=1.0),
    bad(check_positive, "tau", "range", "tau", 0.0),
    bad(check_positive, "tau", "inf", "tau", INF),
    bad(check_nonnegative, "eps", "range", "eps", -1e-9),
    bad(check_open_unit, "rtol", "range", "rtol", 1.0),
    bad(check_probability, "p", "range", "p", 1.5),
    bad(check_gamma, "gamma", "range", 1.0),
    bad(check_gamma, "gamma", "nan", NAN),
    bad(check_int, "k", "type", "k", 1.5),
    bad(check_int, "k", "range", "k", -1, lo=0),
    bad(check_positive_int, "steps", "type", "steps", True),
    bad(check_positive_int, "steps", "range", "steps", 0),
    bad(check_seed, "seed", "seed", -1),
    bad(check_seed, "seed", "seed", 1.5),
    bad(check_seed, "seed", "seed", 2**64),
    bad(check_seeds, "seeds[0]", "seed", [1.5]),
    bad(check_seeds, "seeds", "empty", []),
    bad(check_seeds, "seeds", "value", [1, 1]),
    bad(check_seeds, "seeds", "type", 3),
    bad(check_bool, "resume", "type", "resume", "no"),
    bad(check_bool, "resume", "type", "resume", 0),
    bad(check_path, "out_dir", "type", "out_dir", 3),
    bad(check_path, "out_dir", "type", "out_dir", ""),
    bad(check_rng, "rng", "type", "rng", 0),
    bad(check_rng, "rng", "type", "rng", None),
    bad(check_choice, "solver", "option", "solver", "nope", ("a", "b")),
    bad(check_choice, "solver", "option", "solver", [], ("a", "b")),
    bad(as_float_array, "x", "type", "x", "abc"),
    bad(as_float_array, "x", "type", "x", [[1.0], [1.0, 2.0]]),
    bad(as_float_array, "x", "nan", "x", [1.0, NAN]),
    bad(as_float_array, "x", "empty", "x", []),
    bad(as_float_array, "x", "shape", "x", [1.0, 2.0], ndim=2),
    bad(as_float_array, "x", "shape", "x", [[1.0, 2.0]], shape=(None, 3)),
    bad(check_simplex, "p", "value", "p", np.array([0.9, 0.9])),
    bad(check_simplex, "p", "value", "p", np.array([1.5, -0.5])),
    bad(check_simplex, "p", "empty", "p", np.zeros((0,))),
    bad(check_simplex, "p", "nan", "p", np.array([NAN, 1.0])),
    bad(check_state, "state", "range", "state", 4, 4),
    bad(check_state, "state", "type", "state", 1.0, 4),
]
EXEMPT = {"ArgumentTypeError": "an exception type", "ConvergenceError": "an exception type"}


@pytest.mark.parametrize("case", CASES, ids=audit_ids(CASES))
def test_bad_input_is_refused_by_name(case: Case):
    case.check()


def test_wrong_types_are_type_errors_and_value_errors():
    with pytest.raises(TypeError):
        check_positive("x", "1")
    with pytest.raises(ValueError):
        check_positive("x", "1")
    assert issubclass(ArgumentTypeError, TypeError) and issubclass(ArgumentTypeError, ValueError)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_real_accepts_exactly_the_finite_values_in_the_interval(x):
    ok = math.isfinite(x) and 0.0 < x <= 1.0
    if ok:
        assert check_real("x", x, lo=0.0, hi=1.0, lo_open=True) == x
    else:
        with pytest.raises(ValueError, match="x must be"):
            check_real("x", x, lo=0.0, hi=1.0, lo_open=True)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_check_simplex_accepts_normalised_vectors(xs):
    p = np.asarray(xs) + 1e-3
    check_simplex("p", p / p.sum())


def test_accepted_values_come_back_converted():
    assert check_seed(np.int64(3)) == 3 and isinstance(check_seed(np.int64(3)), int)
    assert check_seeds(range(3)) == [0, 1, 2]
    assert check_gamma(np.float32(0.5)) == 0.5
    assert as_float_array("x", [], allow_empty=True).shape == (0,)
    assert as_float_array("x", [NAN], finite=False).shape == (1,)
    assert check_choice("k", "a", ["a"]) == "a"
    assert check_bool("b", np.bool_(True)) is True
    rng = np.random.default_rng(0)
    assert check_rng("rng", rng) is rng
    assert check_path("p", "a/b").parts == ("a", "b")
