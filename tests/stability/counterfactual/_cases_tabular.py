"""Bad-input cases of stability.counterfactual.tabular; gathered by test_bad_input.py.

Among them the refusals the module was written against: unknown column names (in every
argument that names columns and in the queries), a categorical value outside its categories, a
range with lo > hi, a desired class the model does not have, NaN in a query, a model whose
outputs are not class probabilities.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from stability.counterfactual.tabular import (
    Feature,
    TabularCounterfactuals,
    TabularSpace,
    tabular_counterfactuals,
)
from tests._audit import Case, bad, bad_method, lazy

NAN = float("nan")
DF = pd.DataFrame(
    {"x": [0.0, 1.0, 2.0, 3.0], "n": [1, 2, 3, 4], "c": ["a", "b", "a", "b"], "f": [True] * 4}
)
SPACE = TabularSpace.from_frame(DF, immutable=["n"])
FAST = {"k": 8, "candidates": 20, "max_iter": 1}


@functools.cache
def _clf():
    from sklearn.linear_model import LogisticRegression

    X = DF.assign(c=(DF.c == "b") * 1.0, f=DF.f * 1.0)
    clf = LogisticRegression().fit(X, ["no", "no", "yes", "yes"])
    return lambda f: clf.predict_proba(f.assign(c=(f.c == "b") * 1.0, f=f.f * 1.0))


def _call(**changes):
    """Build a tabular_counterfactuals call with one argument changed."""

    def build():
        kw = {
            "model": _clf(),
            "space": SPACE,
            "queries": DF.iloc[:1],
            "desired": "yes",
            "model_input": "frame",
            "classes": ["no", "yes"],
            **FAST,
        }
        kw.update(changes)
        return (), kw

    return build


def _q(**cols):
    return DF.iloc[:1].assign(**cols)


def _not_probabilities(f):
    return np.full((len(f), 2), 0.7)


def _result_kwargs(**changes):
    kw = {
        "frame": pd.DataFrame(),
        "queries": DF,
        "status": pd.Series(["found"] * 4),
        "desired": 1,
        "n": 1,
        "k": 1,
        "sigma": 0.1,
        "tau": 0.5,
        "measure": "relaxed",
        "lipschitz": 1.0,
        "lipschitz_estimated": True,
        "min_distance": 0.1,
        "diversity": 0.5,
        "method": "random search",
        "seconds": 0.0,
    }
    kw.update(changes)
    return kw


CASES: list[Case] = [
    # ---- the space, from a frame
    bad(TabularSpace.from_frame, "frame", "type", DF.to_numpy()),
    bad(TabularSpace.from_frame, "frame", "empty", DF.iloc[:0]),
    bad(TabularSpace.from_frame, "frame", "nan", DF.assign(x=[0.0, NAN, 1.0, 2.0])),
    bad(TabularSpace.from_frame, "immutable", "value", DF, immutable=["age"]),
    bad(TabularSpace.from_frame, "integer", "value", DF, integer=["nope"]),
    bad(TabularSpace.from_frame, "categorical", "value", DF, categorical={"zz": ["a"]}),
    bad(TabularSpace.from_frame, "boolean", "value", DF, boolean="nope"),
    bad(TabularSpace.from_frame, "ranges", "value", DF, ranges={"nope": (0, 1)}),
    bad(TabularSpace.from_frame, "ranges", "range", DF, ranges={"x": (2.0, 1.0)}),
    bad(TabularSpace.from_frame, "ranges", "nan", DF, ranges={"x": (NAN, 1.0)}),
    bad(TabularSpace.from_frame, "ranges", "type", DF, ranges={"x": 5}),
    bad(TabularSpace.from_frame, "ranges", "value", DF, ranges={"c": (0, 1)}),
    bad(TabularSpace.from_frame, "categorical", "value", DF, categorical={"c": ["a"]}),
    bad(TabularSpace.from_frame, "integer", "value", DF, integer=["x", "c"]),
    bad(TabularSpace.from_frame, "continuous", "value", DF, integer=["x"], continuous=["x"]),
    # ---- the space itself and its methods
    bad(TabularSpace, "features", "empty", ()),
    bad(TabularSpace, "features", "type", ("x",)),
    bad(TabularSpace, "features", "value", (Feature("x", "continuous", 0, 1),) * 2),
    bad_method(TabularSpace, "encode", "frame", "value", ((SPACE.features,), {}), _q(y=1.0)),
    bad_method(TabularSpace, "encode", "frame", "value", ((SPACE.features,), {}), DF[["x"]]),
    bad_method(TabularSpace, "encode", "frame", "value", ((SPACE.features,), {}), _q(c="z")),
    bad_method(TabularSpace, "encode", "frame", "nan", ((SPACE.features,), {}), _q(x=NAN)),
    bad_method(TabularSpace, "encode", "frame", "type", ((SPACE.features,), {}), [1, 2]),
    bad_method(TabularSpace, "decode", "Z", "shape", ((SPACE.features,), {}), np.zeros((2, 3))),
    bad_method(TabularSpace, "decode", "Z", "nan", ((SPACE.features,), {}), np.full(6, NAN)),
    bad_method(TabularSpace, "slice", "name", "value", ((SPACE.features,), {}), "nope"),
    # ---- features
    bad(Feature, "kind", "option", "x", "ordinal"),
    bad(Feature, "lo", "range", "x", "continuous", 2.0, 1.0),
    bad(Feature, "range", "nan", "x", "continuous", NAN, 1.0),
    bad(Feature, "range", "inf", "x", "integer", 0.0, float("inf")),
    bad(Feature, "categories", "empty", "c", "categorical"),
    bad(Feature, "categories", "value", "c", "categorical", categories=("a", "a")),
    bad(Feature, "categories", "value", "x", "continuous", 0.0, 1.0, ("a",)),
    bad(Feature, "immutable", "type", "x", "continuous", 0.0, 1.0, immutable="yes"),
    # ---- the search
    lazy(tabular_counterfactuals, "queries", "value", _call(queries=_q(age=30))),
    lazy(tabular_counterfactuals, "queries", "value", _call(queries=DF[["x", "n"]])),
    lazy(tabular_counterfactuals, "queries", "value", _call(queries=_q(c="z"))),
    lazy(tabular_counterfactuals, "queries", "nan", _call(queries=_q(x=NAN))),
    lazy(tabular_counterfactuals, "queries", "inf", _call(queries=_q(x=float("inf")))),
    lazy(tabular_counterfactuals, "queries", "empty", _call(queries=DF.iloc[:0])),
    lazy(tabular_counterfactuals, "queries", "type", _call(queries=DF.to_numpy())),
    lazy(tabular_counterfactuals, "desired", "value", _call(desired="maybe")),
    lazy(tabular_counterfactuals, "desired", "value", _call(desired=1)),
    lazy(tabular_counterfactuals, "space", "type", _call(space=DF)),
    lazy(tabular_counterfactuals, "model", "type", _call(model=3)),
    lazy(tabular_counterfactuals, "model", "value", _call(model=_not_probabilities)),
    lazy(tabular_counterfactuals, "model_input", "option", _call(model_input="raw")),
    lazy(tabular_counterfactuals, "output", "option", _call(output="scores")),
    lazy(tabular_counterfactuals, "classes", "value", _call(classes=["a", "a"])),
    lazy(tabular_counterfactuals, "n", "range", _call(n=0)),
    lazy(tabular_counterfactuals, "k", "range", _call(k=0)),
    lazy(tabular_counterfactuals, "sigma", "range", _call(sigma=0.0)),
    lazy(tabular_counterfactuals, "sigma", "nan", _call(sigma=NAN)),
    lazy(tabular_counterfactuals, "tau", "range", _call(tau=1.5)),
    lazy(tabular_counterfactuals, "measure", "option", _call(measure="exactly")),
    lazy(tabular_counterfactuals, "lipschitz", "range", _call(lipschitz=-1.0)),
    lazy(tabular_counterfactuals, "lipschitz", "option", _call(lipschitz="certified")),
    lazy(tabular_counterfactuals, "lipschitz", "inf", _call(lipschitz=float("inf"))),
    lazy(tabular_counterfactuals, "candidates", "range", _call(candidates=0)),
    lazy(tabular_counterfactuals, "min_distance", "range", _call(min_distance=-0.1)),
    lazy(tabular_counterfactuals, "diversity", "range", _call(diversity=-1.0)),
    lazy(tabular_counterfactuals, "step", "range", _call(step=0.0)),
    lazy(tabular_counterfactuals, "radius", "range", _call(radius=-1.0)),
    lazy(tabular_counterfactuals, "max_iter", "range", _call(max_iter=-1)),
    lazy(tabular_counterfactuals, "seed", "seed", _call(seed=-1)),
    lazy(tabular_counterfactuals, "seed", "type", _call(seed="zero")),
    lazy(tabular_counterfactuals, "data", "nan", _call(data=_q(x=NAN))),
    lazy(tabular_counterfactuals, "data", "value", _call(data=DF.assign(extra=1))),
    # ---- the result
    bad(TabularCounterfactuals, "frame", "type", **_result_kwargs(frame=None)),
    bad(TabularCounterfactuals, "status", "shape", **_result_kwargs(status=pd.Series(["a"]))),
]

EXEMPT: dict[str, str] = {}
