"""Temporary aliases of :mod:`theory.checks` (private; to be removed once callers import it)."""

from theory.checks import check_choice as choice
from theory.checks import check_nonnegative as nonnegative
from theory.checks import check_open_unit as open_unit
from theory.checks import check_positive as positive
from theory.checks import check_positive_int as positive_int

__all__ = ["choice", "nonnegative", "open_unit", "positive", "positive_int"]
