"""Tabular counterfactuals on DataFrames: feature space, round trips, feasibility, validity,
diversity, determinism, the Stability measure's reported values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from stability.counterfactual.tabular import (
    Feature,
    TabularCounterfactuals,
    TabularSpace,
    tabular_counterfactuals,
)
from stability.counterfactual.tabular.model import TabularModel, estimate_lipschitz

FAST = {"k": 48, "candidates": 200, "max_iter": 6}


def _loans(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A mixed frame: integer (immutable age), continuous, integer, categorical, bool, str."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n),
            "income": rng.uniform(10, 100, n).round(1),
            "years": rng.integers(0, 30, n),
            "job": pd.Categorical(rng.choice(["clerk", "manager", "none"], n)),
            "owner": rng.random(n) < 0.5,
            "region": rng.choice(["north", "south"], n).astype(object),
        }
    )
    score = (
        0.06 * df.income
        + 0.1 * df.years
        + 1.5 * (df.job == "manager")
        - 1.5 * (df.job == "none")
        + 1.0 * df.owner
        - 5.0
    )
    return df, np.where(score > 0, "approved", "denied")


@pytest.fixture(scope="module")
def loans():
    df, y = _loans()
    pipe = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), ["job", "region"])],
            remainder="passthrough",
        ),
        LogisticRegression(max_iter=2000),
    ).fit(df, y)
    space = TabularSpace.from_frame(df, immutable=["age", "region"])
    return df, y, pipe, space


def _denied(df, pipe, m=2):
    return df[pipe.predict(df) == "denied"].iloc[:m]


# ---- the space -------------------------------------------------------------------------------


def test_space_infers_types_ranges_and_encoding(loans):
    df, _, _, space = loans
    kinds = {f.name: f.kind for f in space.features}
    assert kinds == {
        "age": "integer",
        "income": "continuous",
        "years": "integer",
        "job": "categorical",
        "owner": "boolean",
        "region": "categorical",
    }
    f = space.features[1]
    assert (f.lo, f.hi) == (df.income.min(), df.income.max())
    assert space.features[3].categories == ("clerk", "manager", "none")
    assert space.dim == 1 + 1 + 1 + 3 + 1 + 2
    Z = space.encode(df)
    assert Z.min() >= 0 and Z.max() <= 1
    # hand-computed: income scaled by its range; the one-hot block of job sums to 1
    np.testing.assert_allclose(Z[:, 1], (df.income - f.lo) / (f.hi - f.lo), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(Z[:, space.slice("job")].sum(1), 1.0)
    assert "immutable: age, region" in space.summary()


def test_round_trip_keeps_values_columns_and_dtypes(loans):
    df, *_, space = loans
    for rows in (df, df.sample(17, random_state=1), df.iloc[[3]]):
        back = space.decode(space.encode(rows), index=rows.index)
        pd.testing.assert_frame_equal(back, rows, check_exact=False, rtol=1e-12)
    # columns in another order are accepted and encoded the same
    shuffled = df[df.columns[::-1]]
    np.testing.assert_array_equal(space.encode(shuffled), space.encode(df))


@st.composite
def _frames(draw):
    """Small mixed frames: a float, an int, a str and a bool column, 1-6 rows."""
    n = draw(st.integers(1, 6))
    floats = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
    return pd.DataFrame(
        {
            "f": draw(st.lists(floats, min_size=n, max_size=n)),
            "i": draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n)),
            "s": draw(st.lists(st.sampled_from(["u", "v", "w"]), min_size=n, max_size=n)),
            "b": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        }
    )


@settings(max_examples=25, deadline=None)
@given(_frames())
def test_round_trip_property(df):
    space = TabularSpace.from_frame(df)
    Z = space.encode(df)
    assert Z.shape == (len(df), space.dim) and Z.min() >= 0 and Z.max() <= 1
    pd.testing.assert_frame_equal(space.decode(Z), df, check_exact=False, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(space.project(Z), Z)  # data rows are feasible


def test_round_trip_with_given_categories_and_ranges():
    df = pd.DataFrame({"a": [1.5, 2.5], "n": [3, 4], "c": ["x", "y"]})
    space = TabularSpace.from_frame(
        df, categorical={"c": ["y", "x", "z"]}, ranges={"a": (0, 10), "n": (0, 8)}
    )
    Z = space.encode(df)
    np.testing.assert_allclose(Z, [[0.15, 3 / 8, 0, 1, 0], [0.25, 0.5, 1, 0, 0]], atol=1e-15)
    pd.testing.assert_frame_equal(space.decode(Z), df)


def test_project_is_feasible_and_idempotent(loans):
    df, *_, space = loans
    z0 = space.encode(df.iloc[[0]])[0]
    rng = np.random.default_rng(3)
    Z = rng.normal(0.5, 1.0, (200, space.dim))
    P = space.project(Z, z0)
    np.testing.assert_array_equal(space.project(P, z0), P)
    out = space.decode(P)
    assert (out.age == df.age.iloc[0]).all() and (out.region == df.region.iloc[0]).all()
    assert out.income.between(df.income.min(), df.income.max()).all()
    assert out.years.between(df.years.min(), df.years.max()).all()
    assert out.years.dtype == df.years.dtype and out.owner.dtype == bool
    assert set(out.job) <= {"clerk", "manager", "none"}
    assert out.job.dtype == df.job.dtype
    # one-hot blocks are vertices, and the decoded row encodes back to the projected point
    np.testing.assert_allclose(space.encode(out), P, atol=1e-12)


def test_distance_counts_a_category_change_once(loans):
    df, *_, space = loans
    a = df.iloc[[0]].copy()
    b = a.copy()
    b["job"] = "manager" if a.job.iloc[0] != "manager" else "clerk"
    b["owner"] = ~a.owner
    za, zb = space.encode(a)[0], space.encode(b)[0]
    assert space.distance(za, zb) == pytest.approx(2.0, abs=1e-15)
    assert [c for c, *_ in space.changes(za, zb)] == ["job", "owner"]


# ---- counterfactuals -------------------------------------------------------------------------


def _check_feasible(res, space, queries, df):
    cf = res.counterfactuals
    assert list(cf.columns) == list(queries.columns)
    assert (cf.dtypes == queries.dtypes).all()
    for label, q in queries.iterrows():
        rows = res.for_query(label)
        for f in space.features:
            col = rows[f.name]
            if f.immutable:
                assert (col == q[f.name]).all(), f.name
            if f.kind == "categorical":
                assert set(col) <= set(f.categories)
            elif f.kind in ("integer", "continuous"):
                assert col.between(f.lo, f.hi).all(), f.name
    for f in space.features:
        if f.kind == "integer":
            assert np.all(cf[f.name].to_numpy() == np.round(cf[f.name].to_numpy()))


def _check_diverse(res, min_distance):
    for label, D in res.pairwise_distances.items():
        rows = res.for_query(label)
        user = rows[list(res.queries.columns)]
        assert not user.duplicated().any(), label
        off = D[~np.eye(len(D), dtype=bool)]
        assert np.all(off >= min_distance - 1e-9)


def test_pipeline_counterfactuals_are_valid_feasible_diverse(loans):
    df, _, pipe, space = loans
    q = _denied(df, pipe, 1)
    res = tabular_counterfactuals(pipe, space, q, "approved", n=3, seed=0, **FAST)
    assert isinstance(res, TabularCounterfactuals)
    assert (res.status == "found").all(), res.status
    assert len(res.frame) == 3 * len(q)
    assert (pipe.predict(res.counterfactuals) == "approved").all()  # the model, independently
    assert res.frame["cf_valid"].all() and res.success
    np.testing.assert_allclose(
        res.frame["p[approved]"], pipe.predict_proba(res.counterfactuals)[:, 0], atol=1e-12
    )
    _check_feasible(res, space, q, df)
    _check_diverse(res, res.min_distance)
    # R-hat reported >= tau for the rows whose ascent reached tau (on a fresh draw: can dip)
    reached = res.frame["cf_status"] == "tau reached"
    assert reached.any()
    assert res.lipschitz_estimated and "estimated, not certified" in res.summary()
    # each row lists exactly the features that differ from its query
    for _, row in res.frame.iterrows():
        query = q.loc[row["cf_query"]]
        differ = [c for c in q.columns if row[c] != query[c]]
        assert row["cf_n_changed"] == len(differ)
        assert all(c in row["cf_changes"] for c in differ)


@pytest.mark.parametrize("desired", ["versicolor", "virginica"])
def test_iris_multiclass_logistic(desired):
    iris = load_iris(as_frame=True)
    X, y = iris.data, iris.target.map(dict(enumerate(iris.target_names)))
    clf = LogisticRegression(max_iter=500).fit(X, y)
    space = TabularSpace.from_frame(X, immutable=["sepal width (cm)"])
    q = X.iloc[[0, 10]]  # setosa
    res = tabular_counterfactuals(clf, space, q, desired, n=3, seed=1, **FAST)
    assert (res.status == "found").all()
    assert (clf.predict(res.counterfactuals) == desired).all()
    assert list(res.frame.columns[6:9]) == [f"p[{c}]" for c in clf.classes_]
    _check_feasible(res, space, q, X)
    _check_diverse(res, res.min_distance)


def test_wine_random_forest_gradient_free():
    wine = load_wine(as_frame=True)
    X = wine.data.iloc[:, :6]
    y = wine.target.map({0: "a", 1: "b", 2: "c"})
    rf = RandomForestClassifier(n_estimators=8, random_state=0).fit(X, y)
    space = TabularSpace.from_frame(X, integer=["magnesium"], immutable=["alcohol"])
    q = X[rf.predict(X) == "a"].iloc[:1]
    res = tabular_counterfactuals(rf, space, q, "c", n=3, seed=0, data=X, **FAST)
    assert res.method == "random search"
    assert len(res.frame) >= 2
    assert (rf.predict(res.counterfactuals) == "c").all()
    _check_feasible(res, space, q, X)
    _check_diverse(res, res.min_distance)


@pytest.fixture(scope="module")
def iris_lr():
    iris = load_iris(as_frame=True)
    X, y = iris.data, iris.target.map(dict(enumerate(iris.target_names)))
    return X, LogisticRegression(max_iter=500).fit(X, y), TabularSpace.from_frame(X)


def test_deterministic_per_seed(iris_lr):
    X, clf, space = iris_lr
    q = X.iloc[[0]]
    a = tabular_counterfactuals(clf, space, q, "virginica", seed=5, **FAST)
    b = tabular_counterfactuals(clf, space, q, "virginica", seed=5, **FAST)
    c = tabular_counterfactuals(clf, space, q, "virginica", seed=6, **FAST)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.lipschitz == b.lipschitz
    assert not a.frame[list(q.columns)].equals(c.frame[list(q.columns)])


def _torch_model(space):
    """logits [0, 4 tanh(score / 4)] with the loans' approval score written in the encoding."""
    inc, yrs = space.features[1], space.features[2]
    w = np.zeros(space.dim)
    w[space.slice("income")] = 0.06 * inc.span
    w[space.slice("years")] = 0.1 * yrs.span
    w[space.slice("job")] = [0.0, 1.5, -1.5]
    w[space.slice("owner")] = 1.0
    b = 0.06 * inc.lo + 0.1 * yrs.lo - 5.0
    first, last = torch.nn.Linear(space.dim, 1).double(), torch.nn.Linear(1, 2).double()
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(w[None] / 4))
        first.bias.fill_(b / 4)
        last.weight.copy_(torch.tensor([[0.0], [4.0]]))
        last.bias.zero_()
    return torch.nn.Sequential(first, torch.nn.Tanh(), last)


def test_torch_module_on_the_encoded_space(loans):
    df, _, _, space = loans
    net = _torch_model(space)
    with torch.no_grad():
        pred = net(torch.from_numpy(space.encode(df))).argmax(1).numpy()
    q = df[pred == 0].iloc[:2]
    res = tabular_counterfactuals(net, space, q, 1, n=2, seed=0, **FAST)
    assert res.method == "random search + gradient"
    assert (res.status == "found").all()
    with torch.no_grad():
        out = net(torch.from_numpy(space.encode(res.counterfactuals))).argmax(1).numpy()
    assert (out == 1).all()
    _check_feasible(res, space, q, df)
    _check_diverse(res, res.min_distance)


def test_exact_R_is_R_hat_samples_minus_gamma_term(iris_lr):
    # same seed -> same samples and the same counterfactuals (the ascent raises R-hat):
    # R(gamma) = mean m(z_i) - gamma sigma mean ||xi_i||, so R(0) - R(g) = g sigma mean||xi||,
    # the same for every row; mean ||xi|| ~ sqrt(D - 1/2) within 10% for k = 48, D = 4.
    X, clf, space = iris_lr
    q = X.iloc[[0]]
    r0 = tabular_counterfactuals(clf, space, q, "virginica", lipschitz=0.0, seed=2, **FAST)
    r2 = tabular_counterfactuals(clf, space, q, "virginica", lipschitz=2.0, seed=2, **FAST)
    assert not r2.lipschitz_estimated and r2.lipschitz == 2.0
    pd.testing.assert_frame_equal(r0.counterfactuals, r2.counterfactuals)
    np.testing.assert_allclose(r0.frame.cf_R_hat, r2.frame.cf_R_hat, rtol=0, atol=0)
    diff = (r0.frame.cf_R - r2.frame.cf_R).to_numpy()
    np.testing.assert_allclose(diff, diff[0], rtol=1e-12)
    assert diff[0] == pytest.approx(2.0 * 0.05 * np.sqrt(space.dim - 0.5), rel=0.1)
    # gamma = 0: R is the mean of m over the samples, so R - R_hat = mean |m_i - m(z)| >= 0
    assert (r0.frame.cf_R >= r0.frame.cf_R_hat - 1e-12).all()


def test_measure_exact_ascends_R(iris_lr):
    X, clf, space = iris_lr
    res = tabular_counterfactuals(
        clf,
        space,
        X.iloc[[0]],
        "virginica",
        measure="exact",
        lipschitz=0.5,
        tau=0.6,
        seed=0,
        **FAST,
    )
    assert res.measure == "exact"
    assert (res.frame["cf_status"] == "tau reached").any()
    assert "R mean" in res.summary()


def test_lipschitz_estimate_is_below_the_true_constant():
    # m(z) = sigmoid(w.z): Lip = ||w|| / 4 (sigmoid' <= 1/4); a sampled estimate never exceeds it
    w = np.array([3.0, -4.0])
    lin = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w[None]))
        lin.bias.zero_()
    net = torch.nn.Sequential(lin, torch.nn.Sigmoid())
    df = pd.DataFrame({"a": [0.0, 1.0], "b": [0.0, 1.0]})
    space = TabularSpace.from_frame(df)
    tm = TabularModel(net, space)
    pts = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    est = estimate_lipschitz(tm, pts, 1, sigma=0.05, rng=np.random.default_rng(1))
    assert 0.9 * 5.0 / 4 <= est <= 5.0 / 4 + 1e-12


def test_already_desired_and_not_found():
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [0.0, 1.0, 0.0, 1.0]})
    # the class is the immutable g: nothing mutable can change it
    clf = LogisticRegression().fit(pd.get_dummies(df)[["g_b", "x"]].astype(float), [0, 0, 1, 1])

    def model(f):
        return clf.predict_proba(pd.DataFrame({"g_b": (f.g == "b") * 1.0, "x": f.x}))

    space = TabularSpace.from_frame(df, immutable=["g"])
    res = tabular_counterfactuals(
        model, space, df.iloc[[0, 2]], 1, model_input="frame", classes=[0, 1], seed=0, **FAST
    )
    assert list(res.status) == ["not found", "already desired"]
    assert len(res.frame) == 0 and not res.success
    assert list(res.frame.columns[:2]) == ["g", "x"]
    assert "1 already desired, 1 not found" in res.summary()


def test_feature_validation_direct():
    f = Feature("n", "integer", 0.5, 3.7)
    assert (f.lo, f.hi) == (1.0, 3.0)
    with pytest.raises(ValueError, match="holds no integer"):
        Feature("n", "integer", 0.2, 0.8)
