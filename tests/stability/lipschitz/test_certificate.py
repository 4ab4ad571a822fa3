"""The certificate primitives of :mod:`stability.lipschitz.certificate` (the Schur check)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stability import lipschitz_bound
from stability.lipschitz import as_network
from stability.lipschitz.certificate import (
    SAFETY,
    _layer_start,
    _widen_linear,
    certify_dense,
    certify_multipliers,
    check_slopes,
)
from stability.lipschitz.generators import gaussian_net


def _net(seed, dims):
    return as_network(gaussian_net(np.random.default_rng(seed), dims))


def test_dense_and_block_certificates_agree():
    net = _net(4, [3, 4, 5, 2])
    rng = np.random.default_rng(0)
    lam = [rng.uniform(1, 3, 4), rng.uniform(1, 3, 5)]
    a = certify_multipliers(net, lam)
    b = certify_dense(net, np.diag(np.concatenate(lam)))
    assert a == pytest.approx(b, rel=1e-9)


def test_uncertifiable_multipliers_give_inf():
    net = _net(4, [3, 4, 5, 2])
    assert certify_multipliers(net, [np.zeros(4), np.zeros(5)]) == math.inf
    assert certify_multipliers(net, [-np.ones(4), np.ones(5)]) == math.inf
    assert certify_multipliers(net, [np.full(4, np.nan), np.ones(5)]) == math.inf


def test_layer_start_is_feasible_and_bounds_the_constant():
    net = _net(5, [3, 6, 6, 2])
    rho = certify_multipliers(net, _layer_start(net))
    assert math.isfinite(rho)
    assert math.sqrt(rho) * (1 + SAFETY) >= lipschitz_bound(net, "lipsdp-neuron").value * (1 - 1e-6)


def test_single_layer_certificate_is_the_spectral_norm():
    w = np.random.default_rng(1).standard_normal((3, 4))
    assert certify_multipliers(as_network([w]), []) == pytest.approx(np.linalg.norm(w, 2) ** 2)


def test_dense_certificate_needs_uniform_slopes():
    net = as_network([np.eye(2), np.eye(2), np.eye(2)], "relu")
    net = type(net)(net.weights, net.biases, ((0.0, 1.0), (0.0, 2.0)), net.activations)
    with pytest.raises(ValueError, match="uniform slopes"):
        certify_dense(net, np.eye(4))


def test_widen_linear_keeps_valid_intervals():
    lo, hi = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, -2.0])
    ((wlo, whi),) = _widen_linear([(lo, hi)])
    assert np.all(wlo <= lo) and np.array_equal(whi, hi)
    assert wlo[0] == 0.0 and wlo[1] < 1.0 and wlo[2] < -2.0


@pytest.mark.parametrize(
    "slopes",
    [
        [(np.zeros(3), np.ones(3))],  # wrong shape for a 4-neuron layer
        [(np.ones(4), np.zeros(4))],  # lo > hi
        [(np.full(4, np.nan), np.ones(4))],
        "not slopes",
    ],
)
def test_check_slopes_refuses_bad_slopes(slopes):
    net = _net(2, [2, 4, 1])
    with pytest.raises(ValueError, match="slopes"):
        check_slopes(net, slopes)
