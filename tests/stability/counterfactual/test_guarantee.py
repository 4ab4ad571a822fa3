"""The probability bound (provable version, [derived]) and its key lemma; the sinusoidal
family of claim counterfactual/guarantee-sinusoidal."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stability.counterfactual import (
    guarantee_bound,
    paper_guarantee_bound,
    sinusoid_variance,
    sinusoidal_family,
    stability_from_samples,
)


def test_guarantee_closed_form_values():
    # nu = 0, gamma_M = gamma_m = gamma: exp(-k eps^2 / (8 gamma^2 sigma^2))
    assert guarantee_bound(0.05, k=200, sigma=0.1, lipschitz_change=2.0) == pytest.approx(
        math.exp(-200 * 0.0025 / (8 * 4 * 0.01))
    )
    # distinct constants: exp(-k eps^2 / (2 (gM + gm)^2 sigma^2))
    assert guarantee_bound(
        0.1, k=50, sigma=0.2, lipschitz_change=1.0, lipschitz_model=0.5
    ) == pytest.approx(math.exp(-50 * 0.01 / (2 * 2.25 * 0.04)))
    # Cantelli term with an explicit split
    b = guarantee_bound(0.1, k=500, sigma=0.2, lipschitz_change=1.0, nu=0.001, s=0.05)
    assert b == pytest.approx(math.exp(-500 * 0.0025 / (8 * 0.04)) + 0.001 / (0.001 + 0.0025))
    # paper form [reconstructed]: gamma + gamma_x, C = 8
    assert paper_guarantee_bound(
        0.05, k=200, sigma=0.1, lipschitz_change=1.0, lipschitz_x=1.0
    ) == pytest.approx(math.exp(-200 * 0.0025 / (8 * 4 * 0.01)))


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.01, 0.5),
    st.integers(1, 2000),
    st.floats(0.01, 1.0),
    st.floats(0.0, 10.0),
    st.floats(0.0, 0.05),
)
def test_guarantee_is_a_probability_and_monotone(eps, k, sigma, gam, nu):
    b = guarantee_bound(eps, k=k, sigma=sigma, lipschitz_change=gam, nu=nu)
    assert 0.0 <= b <= 1.0
    assert guarantee_bound(eps, k=2 * k, sigma=sigma, lipschitz_change=gam, nu=nu) <= b + 1e-12
    assert guarantee_bound(eps, k=k, sigma=sigma, lipschitz_change=gam + 1, nu=nu) >= b - 1e-12
    if nu > 0:  # the optimised split is no worse than a fixed one
        assert (
            b
            <= guarantee_bound(eps, k=k, sigma=sigma, lipschitz_change=gam, nu=nu, s=eps / 2)
            + 1e-12
        )


# key lemma ([derived]): Lip(M) <= gamma  =>  M(x) >= R(x, M; gamma) on every draw
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.floats(0.0, 1.0), st.floats(0.01, 1.0), st.integers(0, 10**6))
def test_guarantee_key_lemma(d, a, sigma, seed):
    rng = np.random.default_rng(seed)
    fam = sinusoidal_family(rng.normal(size=d), 0.1, rng.normal(size=d), a, 5, seed=seed)
    x = rng.normal(size=(1, d))
    xi = rng.standard_normal((30, d))
    pts = x + sigma * xi
    dist = sigma * np.linalg.norm(xi, axis=1)
    for j in range(5):
        Mx, Ms = fam.changed(x)[j], fam.changed(pts)[j]
        r = stability_from_samples(Mx, Ms[None], dist[None], fam.lipschitz_change)
        assert Mx[0] >= r[0] - 1e-12


# counterfactual/guarantee-sinusoidal: the bound holds on the sinusoidal family (exact nu),
# small Monte Carlo
def test_guarantee_sinusoidal():
    rng = np.random.default_rng(0)
    d, k, sigma, a, eps = 3, 20, 0.02, 0.1, 0.05
    w, u = rng.normal(size=d), rng.normal(size=d)
    fam = sinusoidal_family(w, 0.0, u, a, 3000, seed=1)
    gam = fam.lipschitz_change
    x = rng.normal(size=(1, d))
    xi = rng.standard_normal((3000, k, d))  # fresh samples per draw, independent of M
    pts = x[0] + sigma * xi
    m_s = pts @ w
    dist = sigma * np.linalg.norm(xi, axis=2)
    r = stability_from_samples(np.repeat(x @ w, 3000), m_s, dist, gam)
    Mx = fam.changed(x)[:, 0]
    freq = np.mean(Mx <= r - eps)
    nu = sinusoid_variance(a, np.linalg.norm(u), sigma)
    bound = guarantee_bound(eps, k=k, sigma=sigma, lipschitz_change=gam, nu=nu)
    assert 0 < freq <= bound + 4 * math.sqrt(bound * (1 - bound) / 3000)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epsilon": 0.0}, "epsilon"),
        ({"k": 0}, "k"),
        ({"sigma": 0.0}, "sigma"),
        ({"lipschitz_change": -1.0}, "lipschitz_change"),
        ({"nu": -1.0}, "nu"),
        ({"s": 0.2}, "s must satisfy"),
        ({"nu": 0.1, "s": 0.0}, "s must be > 0 when nu > 0"),
    ],
)
def test_guarantee_bad_input(kwargs, match):
    args = {"epsilon": 0.1, "k": 10, "sigma": 0.1, "lipschitz_change": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        guarantee_bound(args.pop("epsilon"), **args)
