"""LipSDP-Neuron/-Layer by the structured interior-point method (stability.lipschitz.neuron_ipm).

References: CVXOPT through cvxpy (a second, general-purpose solver), the exact value on
LipSDP's random_weights (Fazlyab et al. NeurIPS 2019), a CVXOPT-measured reference value, and closed forms (identity activation, single layer).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stability.lipschitz.neuron_ipm as ipm_mod
from stability import lipschitz_bound, lipschitz_lower_bound
from stability.lipschitz import Network, as_network
from stability.lipschitz.certificate import SAFETY, certify_multipliers
from stability.lipschitz.generators import eclipse_random_net, random_weights
from stability.lipschitz.lipsdp import LipSDPError, lipsdp
from stability.lipschitz.network import merge_linear_layers
from stability.lipschitz.neuron_ipm import lipsdp_ipm
from stability.lipschitz.strategies import weight_lists

RW = random_weights()


def _gauss(seed, dims):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(len(dims) - 1)
    ]


@pytest.mark.parametrize(("variant", "published"), [("neuron", 36.4822), ("layer", 39.8386)])
def test_random_weights_published_values(variant, published):
    r = lipsdp_ipm(as_network(RW), variant)
    assert r.certified and r.message == "optimal" and r.method == f"lipsdp-{variant}"
    assert r.value == pytest.approx(published, abs=1e-4)
    if variant == "neuron":  # tight: equals ||W4 W3 W2 W1|| (random_weights)
        exact = np.linalg.norm(RW[3] @ RW[2] @ RW[1] @ RW[0], 2)
        assert exact <= r.value <= exact * (1 + 1e-6)


@given(
    weight_lists(max_depth=4, max_width=6),
    st.sampled_from(["relu", "tanh", "sigmoid", (0.1, 1.0), (-0.5, 1.0)]),
    st.sampled_from(["neuron", "layer"]),
)
@settings(max_examples=25, deadline=None)
def test_matches_cvxopt_and_is_certified(ws, activation, variant):
    """At least as tight as CVXOPT (both certified, so both are >= the SDP's optimum; CVXOPT's
    certified value is sometimes looser, never the IPM's by more than the tolerances), and the
    λ >= 0 cone is exercised by αβ ≠ 0."""
    net = as_network(ws, activation)
    r = lipsdp_ipm(net, variant)
    assert r.certified
    if net.depth == 1:
        assert r.value == pytest.approx(np.linalg.norm(ws[0], 2), rel=1e-15)
        return
    assert r.message == "optimal" and r.details["gap"] <= 1e-6
    try:
        ref = lipsdp(net, variant, solver="CVXOPT")
    except LipSDPError:  # CVXOPT's multipliers failed the Schur check: nothing to compare with
        ref = None
    if ref is not None and ref.method == f"lipsdp-{variant}":
        assert r.value <= ref.value * (1 + 2e-5) + 1e-9
    lam = r.details["multipliers"]
    rho = certify_multipliers(net, lam)
    assert r.value == pytest.approx(math.sqrt(max(rho, 0.0)) * (1 + SAFETY), rel=1e-13)
    if not isinstance(activation, tuple):  # slopes-only activations have no Jacobian
        assert lipschitz_lower_bound(net, n_samples=256, n_ascent=20).value <= r.value
    if variant == "layer":  # one multiplier per layer
        assert all(np.ptp(m) <= 1e-12 * max(1.0, np.max(m)) for m in lam)


@pytest.mark.parametrize(
    ("dims", "seed", "exact"), [([2, 16, 1], 1, 0.76810), ([2, 16, 16, 1], 2, 1.10132)]
)
def test_exact_2d_values_lie_below(dims, seed, exact):
    rng = np.random.default_rng(seed)
    ws = [
        rng.standard_normal((dims[k + 1], dims[k])) / np.sqrt(dims[k]) for k in range(len(dims) - 1)
    ]
    r = lipsdp_ipm(as_network(ws))
    assert exact - 1e-5 <= r.value <= lipsdp(as_network(ws), "layer").value * (1 + 1e-6)


def test_identity_activation_gives_the_product_norm():
    ws = _gauss(4, [3, 5, 4, 2])
    r = lipsdp_ipm(as_network(ws, "identity"))
    exact = np.linalg.norm(ws[2] @ ws[1] @ ws[0], 2)
    assert exact <= r.value <= exact * (1 + 1e-5)


def test_linear_layers_are_merged_exactly():
    ws = _gauss(8, [3, 5, 4, 4, 2])
    seq_slopes = ["relu", "identity", "relu"]
    net = Network(
        tuple(ws),
        tuple(np.zeros(w.shape[0]) for w in ws),
        ((0.0, 1.0), (1.0, 1.0), (0.0, 1.0)),
        tuple(seq_slopes),
    )
    merged = merge_linear_layers(net)
    assert merged.dims == (3, 5, 4, 2) and merged.slopes == ((0.0, 1.0), (0.0, 1.0))
    x = np.random.default_rng(0).standard_normal((7, 3))
    np.testing.assert_allclose(merged.forward(x), net.forward(x), rtol=1e-12, atol=1e-12)
    assert lipsdp_ipm(net).value == pytest.approx(lipsdp_ipm(merged).value, rel=1e-12)


def test_homogeneous_in_the_first_layer():
    ws = _gauss(5, [3, 6, 6, 2])
    a = lipsdp_ipm(as_network(ws)).value
    b = lipsdp_ipm(as_network([3.0 * ws[0], *ws[1:]])).value
    assert b == pytest.approx(3.0 * a, rel=1e-5)


def test_single_layer_is_the_spectral_norm():
    w = np.random.default_rng(0).standard_normal((3, 4))
    r = lipsdp_ipm(as_network([w]))
    assert r.value == pytest.approx(np.linalg.norm(w, 2), rel=1e-15)


def test_any_stop_is_certified_and_iterates_are_upper_bounds():
    net = as_network(_gauss(6, [4, 20, 20, 1]))
    full = lipsdp_ipm(net)
    early = lipsdp_ipm(net, max_iter=2)
    assert early.message == "iteration limit" and early.certified
    assert early.status == 1 and early.success and early.nit == early.details["iterations"]
    assert early.value >= full.value * (1 - 1e-9)
    rhos = [h[0] for h in full.details["history"]]
    assert all(math.sqrt(r) >= full.value / (1 + 1e-6) for r in rhos)
    assert full.details["gap"] <= 1e-6 and full.details["primal_residual"] <= 1e-6


@given(
    weight_lists(max_depth=4, max_width=8),
    st.sampled_from(["relu", (-0.5, 1.0)]),
    st.sampled_from(["neuron", "layer"]),
    st.sampled_from([0.3, 0.05, 0.02]),
)
@settings(max_examples=20, deadline=None)
def test_rtol_stop_is_proven(ws, activation, variant, rtol):
    """value <= (1 + rtol) sdp_lower_bound, and sdp_lower_bound <= the optimum <= value."""
    net = as_network(ws, activation)
    if net.depth == 1:
        return
    full = lipsdp_ipm(net, variant)
    r = lipsdp_ipm(net, variant, rtol=rtol)
    low = r.details["sdp_lower_bound"]
    assert r.certified and r.details["iterations"] <= full.details["iterations"]
    assert low <= full.value and full.details["sdp_lower_bound"] <= full.value
    assert full.value <= r.value * (1 + 1e-6)
    if r.message.startswith("optimal (proven"):
        assert r.value <= (1 + rtol) * low * (1 + 1e-9)
    else:  # reached the default tolerance first
        assert r.message == "optimal" and r.value == pytest.approx(full.value, rel=1e-12)


def test_rtol_on_the_eclipse_networks_and_through_the_api():
    for ws in (eclipse_random_net(5, 20), RW):
        exact = lipschitz_bound(ws, "lipsdp-neuron")
        loose = lipschitz_bound(ws, "lipsdp-neuron", rtol=0.02)
        assert loose.message == "optimal (proven within rtol=0.02)"
        assert exact.value <= loose.value <= 1.02 * loose.details["sdp_lower_bound"] * (1 + 1e-12)
        assert loose.details["iterations"] < exact.details["iterations"]
        assert exact.details["sdp_lower_bound"] >= exact.value * (1 - 1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variant": "network"}, "variant"),
        ({"tol": 0.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"rtol": 0.0}, "rtol"),
        ({"rtol": 1.0}, "rtol"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lipsdp_ipm(as_network(_gauss(1, [2, 3, 1])), **kwargs)


def test_ipm_refuses_what_it_does_not_solve():
    net = as_network(_gauss(1, [2, 3, 1]))
    with pytest.raises(ValueError, match="ipm"):
        lipsdp(net, "network", solver="ipm")


def test_max_step_is_the_largest_feasible_step():
    rng = np.random.default_rng(3)
    for n in (5, 40, 130):
        a = rng.standard_normal((n, n))
        x = a @ a.T / n + 0.1 * np.eye(n)
        d = rng.standard_normal((n, n))
        d = d + d.T
        l_inv = ipm_mod._tri_inverse(ipm_mod._chol(x))
        t = ipm_mod._max_step(l_inv, d)
        exact = -1.0 / np.linalg.eigvalsh(l_inv @ d @ l_inv.T)[0]
        # dsyevr below LANCZOS_FROM; Lanczos (to LANCZOS_RTOL, from above) from there on
        assert exact * (1 - 1e-9) <= t <= exact * (1 + (1e-7 if n < ipm_mod.LANCZOS_FROM else 1e-3))
        assert (
            np.linalg.eigvalsh(x + 0.999 * t * d)[0] > 0 > np.linalg.eigvalsh(x + 1.001 * t * d)[0]
        )
        low, vec = ipm_mod._lanczos_min(l_inv, d, rtol=1e-10)
        assert low == pytest.approx(-1.0 / exact, rel=1e-8)
        b = l_inv @ d @ l_inv.T
        assert np.linalg.norm(vec) == pytest.approx(1.0) and vec @ b @ vec == pytest.approx(low)
        assert ipm_mod._max_step(l_inv, d @ d) == math.inf  # D ⪰ 0: no limit


def test_lanczos_warm_start_converges_from_the_last_ritz_vector():
    """Started near the blocking direction (the previous step's Ritz vector) Lanczos needs a few
    steps where the fixed start needs many; ``_max_step`` carries the vector in ``warm``."""
    rng = np.random.default_rng(5)
    n = 150
    a = rng.standard_normal((n, n))
    x = a @ a.T / n + 0.1 * np.eye(n)
    d = rng.standard_normal((n, n))
    d = d + d.T
    l_inv = ipm_mod._tri_inverse(ipm_mod._chol(x))
    w, v = np.linalg.eigh(l_inv @ d @ l_inv.T)
    assert ipm_mod._lanczos_min(l_inv, d, max_iter=4) is None
    low, _ = ipm_mod._lanczos_min(l_inv, d, start=v[:, 0], max_iter=4)
    assert low == pytest.approx(w[0], rel=1e-3)
    warm = [None]
    first = ipm_mod._max_step(l_inv, d, warm)
    assert warm[0] is not None and abs(warm[0] @ v[:, 0]) > 0.99
    assert ipm_mod._max_step(l_inv, d, warm) == pytest.approx(first, rel=1e-3)


def test_lanczos_step_lengths_give_the_same_solve(monkeypatch):
    net = as_network(_gauss(9, [4, 30, 30, 1]))
    exact = lipsdp_ipm(net)
    monkeypatch.setattr(ipm_mod, "LANCZOS_FROM", 1)
    fast = lipsdp_ipm(net)
    assert fast.message == "optimal" and fast.details["iterations"] == exact.details["iterations"]
    assert fast.value == pytest.approx(exact.value, rel=1e-9)


def test_overestimated_step_lengths_are_caught(monkeypatch):
    """A step length that is too long (as a Ritz value can give) is halved until ``S`` and
    ``X`` pass their Cholesky checks: the iterates stay feasible and the value is certified."""
    net = as_network(_gauss(6, [4, 20, 20, 1]))
    ref = lipsdp_ipm(net)
    exact_step = ipm_mod._max_step
    monkeypatch.setattr(
        ipm_mod, "_max_step", lambda l_inv, d, warm=None: 3.0 * exact_step(l_inv, d)
    )
    r = lipsdp_ipm(net)
    assert r.certified and r.message == "optimal"
    assert r.value == pytest.approx(ref.value, rel=1e-5)
