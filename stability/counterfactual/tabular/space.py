"""The feature space of a pandas DataFrame: types, ranges, immutables, encoding and decoding.

A :class:`TabularSpace` is read from the user's frame (:meth:`TabularSpace.from_frame`) and
maps rows to a numeric vector z (the *encoded space*) and back:

- continuous and integer features: z = (x - lo) / (hi - lo), one coordinate, so the range
  [lo, hi] becomes [0, 1] (a constant feature, lo = hi, is encoded as z = x - lo);
- boolean features: z = 0 or 1, one coordinate;
- categorical features: the one-hot vector of the category, one coordinate per category.

:meth:`TabularSpace.decode` inverts :meth:`TabularSpace.encode` (integers rounded, the category
of largest coordinate, booleans z >= 1/2) and gives back the user's columns, in the user's
order and dtypes. :meth:`TabularSpace.project` maps any z onto the feasible set of a
counterfactual of a query z0: immutable features copied from z0, numeric features clipped to
their ranges, integers rounded to integers of the range, one-hot blocks projected onto the
one-hot vertex of their largest coordinate (the Euclidean projection onto the vertices of the
simplex), booleans rounded.

Distances between rows (:meth:`TabularSpace.distance`) are the L1 distance in the encoded
space with each categorical block counted once: sum over numeric features of |z_j - z'_j| plus
1 per changed category. This is the cost of a counterfactual and the distance of the diversity
constraint.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from theory.checks import ArgumentTypeError, as_float_array, check_choice

__all__ = ["KINDS", "Feature", "TabularSpace"]

#: The feature types of a space.
KINDS = ("continuous", "integer", "boolean", "categorical")


def _is_number(x: object) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(
        x, bool | np.bool_
    )


@dataclass(frozen=True)
class Feature:
    """One column of a :class:`TabularSpace`.

    Attributes
    ----------
    name : str
        The column's name in the user's frame (any hashable pandas accepts; shown with ``str``).
    kind : str
        One of :data:`KINDS`.
    lo, hi : float
        The range of a continuous or integer feature (lo <= hi); 0 and 1 for booleans; NaN for
        categorical features.
    categories : tuple
        The categories of a categorical feature (in encoding order); ``()`` otherwise.
    immutable : bool
        A counterfactual keeps the query's value.
    dtype : object
        The column's pandas dtype, restored by :meth:`TabularSpace.decode` (default: float64,
        int64, bool or object by ``kind``).
    """

    name: Any
    kind: str
    lo: float = math.nan
    hi: float = math.nan
    categories: tuple = ()
    immutable: bool = False
    dtype: Any = None

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        if not isinstance(self.immutable, bool | np.bool_):
            raise ArgumentTypeError(f"immutable must be a bool; got {self.immutable!r}")
        if self.kind == "categorical":
            cats = tuple(self.categories)
            if len(cats) < 1 or len(set(cats)) != len(cats):
                raise ValueError(
                    f"categories of feature {self.name!r} must be a non-empty tuple of distinct "
                    f"values; got {self.categories!r}"
                )
            if any(pd.isna(c) for c in cats):
                raise ValueError(f"categories of feature {self.name!r} must not hold NaN")
            object.__setattr__(self, "categories", cats)
        else:
            if self.categories:
                raise ValueError(
                    f"categories are for categorical features; feature {self.name!r} is {self.kind}"
                )
            lo, hi = (0.0, 1.0) if self.kind == "boolean" else (self.lo, self.hi)
            if not (_is_number(lo) and _is_number(hi)) or not (
                math.isfinite(lo) and math.isfinite(hi)
            ):
                raise ValueError(
                    f"range of feature {self.name!r} must be two finite numbers; got "
                    f"({self.lo!r}, {self.hi!r})"
                )
            if lo > hi:
                raise ValueError(
                    f"range of feature {self.name!r} must satisfy lo <= hi; got ({lo}, {hi})"
                )
            if self.kind == "integer":
                lo, hi = math.ceil(lo), math.floor(hi)
                if lo > hi:
                    raise ValueError(
                        f"range of integer feature {self.name!r} holds no integer; got "
                        f"({self.lo}, {self.hi})"
                    )
            object.__setattr__(self, "lo", float(lo))
            object.__setattr__(self, "hi", float(hi))
        if self.dtype is None:
            default = {"continuous": "float64", "integer": "int64", "boolean": "bool"}
            object.__setattr__(self, "dtype", np.dtype(default.get(self.kind, "object")))

    @property
    def width(self) -> int:
        """Coordinates of the feature in the encoded space."""
        return len(self.categories) if self.kind == "categorical" else 1

    @property
    def span(self) -> float:
        """hi - lo (1 for a constant feature, so that z = x - lo)."""
        return (self.hi - self.lo) or 1.0


def _names(arg: object, what: str) -> list:
    """A list of column names from None, one name, or an iterable of names."""
    if arg is None:
        return []
    if isinstance(arg, str) or not isinstance(arg, Iterable):
        return [arg]
    if isinstance(arg, Mapping):
        return list(arg)
    return list(arg)


def _known(names: Iterable, columns: list, what: str) -> None:
    for c in names:
        if c not in columns:
            raise ValueError(f"{what} names an unknown column {c!r}; the columns are {columns}")


@dataclass(frozen=True)
class TabularSpace:
    """Typed features of a DataFrame and their numeric encoding (see the module docstring).

    Build one with :meth:`from_frame`. ``features`` keep the frame's column order.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [20, 60], "job": ["a", "b"], "income": [1.0, 3.0]})
    >>> space = TabularSpace.from_frame(df, immutable=["age"])
    >>> [f.kind for f in space.features], space.dim
    (['integer', 'categorical', 'continuous'], 4)
    >>> space.encode(df).tolist()
    [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0]]
    >>> space.decode(space.encode(df)).equals(df)
    True
    """

    features: tuple[Feature, ...]

    def __post_init__(self) -> None:
        feats = tuple(self.features) if isinstance(self.features, list | tuple) else None
        if not feats or not all(isinstance(f, Feature) for f in feats):
            raise ArgumentTypeError(
                f"features must be a non-empty tuple of Feature; got {self.features!r}"
            )
        names = [f.name for f in feats]
        if len(set(names)) != len(names):
            raise ValueError(f"features must have distinct names; got {names}")
        object.__setattr__(self, "features", feats)
        starts = np.cumsum([0] + [f.width for f in feats])
        object.__setattr__(self, "_starts", starts)

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        immutable: Iterable | None = None,
        integer: Iterable | None = None,
        categorical: Iterable | Mapping | None = None,
        boolean: Iterable | None = None,
        continuous: Iterable | None = None,
        ranges: Mapping | None = None,
    ) -> TabularSpace:
        """The space of ``frame``'s columns; types inferred from the dtypes unless named.

        Parameters
        ----------
        frame : pandas.DataFrame
            Data the ranges and categories are read from (no NaN).
        immutable : column names
            Features a counterfactual must not change (e.g. age, sex).
        integer, boolean, continuous : column names
            Force these types. Inferred otherwise: bool dtype -> boolean; integer dtypes ->
            integer; float dtypes -> continuous; categorical, object and string dtypes ->
            categorical.
        categorical : column names, or a mapping name -> categories
            Force categorical; with a mapping, the categories (and their order) are given,
            else they are the dtype's categories (pandas Categorical) or the sorted distinct
            values.
        ranges : mapping name -> (lo, hi)
            The range of a continuous or integer feature; default the column's min and max.
            Counterfactual values of mutable features stay in it.

        Raises
        ------
        ValueError
            An unknown column in any argument, a column named twice with different types, a
            range with lo > hi or a range given for a categorical/boolean feature, NaN in
            ``frame``, a categorical value outside the given categories.
        """
        if not isinstance(frame, pd.DataFrame):
            raise ArgumentTypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
        if frame.shape[1] == 0 or len(frame) == 0:
            raise ValueError(f"frame must have rows and columns; got shape {frame.shape}")
        columns = list(frame.columns)
        if len(set(columns)) != len(columns):
            raise ValueError(f"frame must have distinct column names; got {columns}")
        if frame.isna().any().any():
            col = frame.columns[frame.isna().any()][0]
            raise ValueError(f"frame must not hold NaN; column {col!r} does")
        imm = _names(immutable, "immutable")
        _known(imm, columns, "immutable")
        forced: dict = {}
        for what, arg in (
            ("integer", integer),
            ("boolean", boolean),
            ("continuous", continuous),
            ("categorical", categorical),
        ):
            names = _names(arg, what)
            _known(names, columns, what)
            for c in names:
                if c in forced and forced[c] != what:
                    raise ValueError(f"{what} names column {c!r}, which is also {forced[c]}")
                forced[c] = what
        if ranges is None:
            ranges = {}
        if not isinstance(ranges, Mapping):
            raise ArgumentTypeError(f"ranges must be a mapping name -> (lo, hi); got {ranges!r}")
        _known(ranges, columns, "ranges")
        given_cats = categorical if isinstance(categorical, Mapping) else {}
        feats = []
        for c in columns:
            col = frame[c]
            kind = forced.get(c) or _infer_kind(col)
            if kind in ("categorical", "boolean") and c in ranges:
                raise ValueError(f"ranges gives a range for the {kind} column {c!r}")
            if kind == "categorical":
                if c in given_cats:
                    cats = tuple(given_cats[c])
                    outside = sorted(set(col) - set(cats), key=str)
                    if outside:
                        raise ValueError(
                            f"categorical column {c!r} holds values outside its categories "
                            f"{list(cats)}: {outside}"
                        )
                elif isinstance(col.dtype, pd.CategoricalDtype):
                    cats = tuple(col.dtype.categories)
                else:
                    cats = tuple(sorted(set(col), key=_sort_key))
                feats.append(Feature(c, kind, categories=cats, immutable=c in imm, dtype=col.dtype))
                continue
            if kind == "boolean":
                vals = set(pd.unique(col))
                if not vals <= {0, 1}:
                    raise ValueError(f"boolean column {c!r} holds values other than 0/1")
                feats.append(Feature(c, kind, immutable=c in imm, dtype=col.dtype))
                continue
            try:
                values = col.to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{kind} column {c!r} is not numeric ({col.dtype})") from exc
            if c in ranges:
                try:
                    lo, hi = ranges[c]
                    lo, hi = float(lo), float(hi)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"ranges[{c!r}] must be a pair (lo, hi) of numbers; got {ranges[c]!r}"
                    ) from exc
                if not (math.isfinite(lo) and math.isfinite(hi)):
                    raise ValueError(f"ranges[{c!r}] must be finite; got ({lo}, {hi})")
                if not (lo <= hi):
                    raise ValueError(f"ranges[{c!r}] must satisfy lo <= hi; got ({lo}, {hi})")
            else:
                lo, hi = float(values.min()), float(values.max())
            if kind == "integer" and not np.all(values == np.round(values)):
                raise ValueError(f"integer column {c!r} holds non-integer values")
            feats.append(Feature(c, kind, lo, hi, immutable=c in imm, dtype=col.dtype))
        return cls(tuple(feats))

    # ---- shape -----------------------------------------------------------------------------

    @property
    def columns(self) -> list:
        """The user's column names, in order."""
        return [f.name for f in self.features]

    @property
    def dim(self) -> int:
        """Dimension D of the encoded space."""
        return int(self._starts[-1])

    def slice(self, name: Any) -> slice:
        """The coordinates of feature ``name`` in the encoded space."""
        for i, f in enumerate(self.features):
            if f.name == name:
                return slice(int(self._starts[i]), int(self._starts[i + 1]))
        raise ValueError(f"name must be a column of the space {self.columns}; got {name!r}")

    def _slices(self) -> list[slice]:
        s = self._starts
        return [slice(int(s[i]), int(s[i + 1])) for i in range(len(self.features))]

    @property
    def mutable_mask(self) -> np.ndarray:
        """(D,) bool: coordinates of mutable features."""
        m = np.zeros(self.dim, dtype=bool)
        for f, sl in zip(self.features, self._slices(), strict=True):
            m[sl] = not f.immutable
        return m

    @property
    def categorical_mask(self) -> np.ndarray:
        """(D,) bool: one-hot coordinates."""
        m = np.zeros(self.dim, dtype=bool)
        for f, sl in zip(self.features, self._slices(), strict=True):
            m[sl] = f.kind == "categorical"
        return m

    def summary(self) -> str:
        kinds = {k: sum(f.kind == k for f in self.features) for k in KINDS}
        imm = [str(f.name) for f in self.features if f.immutable]
        return (
            f"TabularSpace: {len(self.features)} features "
            f"({', '.join(f'{v} {k}' for k, v in kinds.items() if v)}), encoded dim {self.dim}"
            f"; immutable: {', '.join(imm) or 'none'}"
        )

    # ---- encoding ----------------------------------------------------------------------------

    def check_frame(self, frame: pd.DataFrame, name: str = "frame") -> pd.DataFrame:
        """``frame`` with exactly the space's columns (reordered), no NaN, known categories."""
        if isinstance(frame, pd.Series):
            frame = frame.to_frame().T
        if not isinstance(frame, pd.DataFrame):
            raise ArgumentTypeError(
                f"{name} must be a pandas DataFrame; got {type(frame).__name__}"
            )
        cols = self.columns
        extra = [c for c in frame.columns if c not in cols]
        if extra:
            raise ValueError(f"{name} has unknown columns {extra}; the space's columns are {cols}")
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks the columns {missing}")
        if len(frame) == 0:
            raise ValueError(f"{name} must have at least one row")
        frame = frame[cols]
        nan = frame.isna()
        if nan.any().any():
            c = frame.columns[nan.any()][0]
            raise ValueError(f"{name} holds NaN in column {c!r} (row {frame.index[nan[c]][0]!r})")
        for f in self.features:
            col = frame[f.name]
            if f.kind == "categorical":
                outside = ~col.isin(f.categories)
                if outside.any():
                    v = col[outside].iloc[0]
                    raise ValueError(
                        f"{name} column {f.name!r} holds {v!r}, outside its categories "
                        f"{list(f.categories)}"
                    )
            elif f.kind == "boolean":
                if not col.isin([0, 1, True, False]).all():
                    raise ValueError(f"{name} column {f.name!r} must hold booleans")
            else:
                try:
                    v = col.to_numpy(dtype=np.float64)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"{name} column {f.name!r} must be numeric") from exc
                if not np.all(np.isfinite(v)):
                    raise ValueError(f"{name} column {f.name!r} must be finite")
        return frame

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, D) float64 encoding of ``frame`` (columns in any order; checked)."""
        frame = self.check_frame(frame)
        Z = np.zeros((len(frame), self.dim))
        for f, sl in zip(self.features, self._slices(), strict=True):
            col = frame[f.name]
            if f.kind == "categorical":
                idx = pd.Categorical(col, categories=list(f.categories)).codes
                Z[np.arange(len(frame)), sl.start + idx] = 1.0
            elif f.kind == "boolean":
                Z[:, sl.start] = col.to_numpy(dtype=np.float64)
            else:
                Z[:, sl.start] = (col.to_numpy(dtype=np.float64) - f.lo) / f.span
        return Z

    def _as_codes(self, Z: object, name: str = "Z") -> np.ndarray:
        Z = as_float_array(name, Z)
        if Z.ndim == 1:
            Z = Z[None]
        if Z.ndim != 2 or Z.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (n, {self.dim}); got {Z.shape}")
        return Z

    def decode(self, Z: np.ndarray, *, index: Any = None, clip: bool = False) -> pd.DataFrame:
        """Rows of the encoded space as a DataFrame in the user's columns and dtypes.

        Integers are rounded, a categorical block gives the category of its largest
        coordinate, a boolean is z >= 1/2. ``clip`` clips numeric features to their ranges
        first (default off: the exact inverse of :meth:`encode`).
        """
        Z = self._as_codes(Z)
        data = {}
        for f, sl in zip(self.features, self._slices(), strict=True):
            z = Z[:, sl]
            if f.kind == "categorical":
                codes = np.argmax(z, axis=1)
                dt = f.dtype
                if isinstance(dt, pd.CategoricalDtype) and tuple(dt.categories) == f.categories:
                    data[f.name] = pd.Categorical.from_codes(codes, dtype=dt)
                    continue
                cats = np.empty(len(f.categories), dtype=object)
                cats[:] = f.categories
                vals = cats[codes]
            elif f.kind == "boolean":
                vals = z[:, 0] >= 0.5
            else:
                x = f.lo + f.span * z[:, 0]
                if clip:
                    x = np.clip(x, f.lo, f.hi)
                vals = np.round(x) if f.kind == "integer" else x
                np_dt = getattr(f.dtype, "numpy_dtype", f.dtype)
                if f.kind == "integer" and isinstance(np_dt, np.dtype) and np_dt.kind in "iu":
                    info = np.iinfo(np_dt)
                    vals = np.clip(vals, info.min, info.max)
            if isinstance(f.dtype, np.dtype) and f.dtype != object:
                data[f.name] = vals.astype(f.dtype)
            else:
                data[f.name] = pd.array(vals, dtype=f.dtype)
        return pd.DataFrame(data, index=index, columns=self.columns)

    def project(self, Z: np.ndarray, z0: np.ndarray | None = None) -> np.ndarray:
        """Z mapped onto the feasible set (immutables from ``z0``; see the module docstring)."""
        Z = np.array(Z, dtype=np.float64, copy=True)
        if Z.ndim == 1:
            Z = Z[None]
        for f, sl in zip(self.features, self._slices(), strict=True):
            if f.immutable and z0 is not None:
                Z[:, sl] = z0[sl]
                continue
            z = Z[:, sl]
            if f.kind == "categorical":
                hot = np.zeros_like(z)
                hot[np.arange(len(z)), np.argmax(z, axis=1)] = 1.0
                Z[:, sl] = hot
            elif f.kind == "boolean":
                Z[:, sl] = (z >= 0.5).astype(np.float64)
            else:
                x = np.clip(f.lo + f.span * z, f.lo, f.hi)
                if f.kind == "integer":
                    x = np.clip(np.round(x), f.lo, f.hi)
                Z[:, sl] = (x - f.lo) / f.span
        return Z

    def distance(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """Encoded L1 distance with a categorical change counted once (broadcasting rows)."""
        D = np.abs(np.asarray(A, dtype=np.float64) - np.asarray(B, dtype=np.float64))
        w = np.where(self.categorical_mask, 0.5, 1.0)
        return (D * w).sum(axis=-1)

    def changes(self, z0: np.ndarray, z: np.ndarray) -> list[tuple[Any, Any, Any]]:
        """(feature, query value, counterfactual value) of each feature that differs."""
        a = self.decode(np.vstack([z0, z]))
        out = []
        for c in self.columns:
            u, v = a[c].iloc[0], a[c].iloc[1]
            if u != v:
                out.append((c, u, v))
        return out


def _infer_kind(col: pd.Series) -> str:
    dt = col.dtype
    if pd.api.types.is_bool_dtype(dt):
        return "boolean"
    if isinstance(dt, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dt):
        return "categorical"
    if pd.api.types.is_integer_dtype(dt):
        return "integer"
    return "continuous"


def _sort_key(v: object) -> tuple:
    return (0, v, "") if _is_number(v) else (1, 0, str(v))
