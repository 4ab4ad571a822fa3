"""SCM objects: validation, sampling."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from causal import ContinuousSCM, DiscreteSCM, Mechanism
from causal.generators import bilinear_scm, simulation_scm
from causal.scm import zero_mechanism

G = nx.DiGraph([("Y", "X1"), ("X1", "M")])
CPTS = {"Y": [0.3, 0.7], "X1": [[0.8, 0.2], [0.4, 0.6]], "M": [[0.5, 0.5], [0.1, 0.9]]}


def test_discrete_sampling_matches_the_marginals():
    scm = DiscreteSCM(G, "Y", {"M"}, CPTS)
    x = scm.sample(40000, np.random.default_rng(0))
    assert x["Y"].mean() == pytest.approx(0.7, abs=0.01)
    assert x["X1"].mean() == pytest.approx(0.3 * 0.2 + 0.7 * 0.6, abs=0.01)
    y = scm.sample(20000, np.random.default_rng(1), interventions={"M": [[1, 0], [1, 0]]})
    assert y["M"].max() == 0


def test_continuous_do_and_interventions():
    scm = bilinear_scm()
    x = scm.sample(50000, seed=0)
    assert np.var(x["M"]) == pytest.approx(2.0, rel=0.03)
    d = scm.sample(1000, seed=0, do={"M": 0.0})
    assert np.all(d["M"] == 0.0)
    g = scm.sample(1000, seed=0, interventions={"M": lambda pa: 2 * pa[:, 0]})
    assert np.allclose(g["M"], 2 * g["Y"])


def test_simulation_scm_shift_scales_the_mutable_mechanism():
    a = simulation_scm(1.0).sample(2000, seed=3)
    b = simulation_scm(5.0).sample(2000, seed=3)
    assert np.allclose(a["Y"], b["Y"]) and np.allclose(a["X6"], b["X6"])
    assert np.std(b["X9"]) > 3 * np.std(a["X9"])


def test_missing_cpt_raises():
    with pytest.raises(ValueError, match="cpts lacks"):
        DiscreteSCM(G, "Y", {"M"}, {"Y": [0.5, 0.5]})


def test_misshaped_cpt_raises():
    with pytest.raises(ValueError, match=r"cpts\['X1'\] must have shape"):
        DiscreteSCM(G, "Y", {"M"}, {**CPTS, "X1": [0.5, 0.5]})


def test_non_stochastic_cpt_raises():
    with pytest.raises(ValueError, match="probability vectors"):
        DiscreteSCM(G, "Y", {"M"}, {**CPTS, "Y": [0.5, 0.6]})


def test_bad_target_values_raise():
    with pytest.raises(ValueError, match="target_values"):
        DiscreteSCM(G, "Y", {"M"}, CPTS, target_values=[1.0])


def test_wrong_parents_raise():
    with pytest.raises(ValueError, match="must list the graph's parents"):
        DiscreteSCM(G, "Y", {"M"}, CPTS, parents={"X1": ["M"]})


def test_intervening_on_a_stable_node_raises():
    scm = DiscreteSCM(G, "Y", {"M"}, CPTS)
    with pytest.raises(ValueError, match="mutable nodes only"):
        scm.sample(10, np.random.default_rng(0), interventions={"X1": [[1, 0], [1, 0]]})


def test_missing_mechanism_raises():
    with pytest.raises(ValueError, match="mechanisms lacks"):
        ContinuousSCM(G, "Y", {"M"}, {"Y": Mechanism((), zero_mechanism)})


def test_negative_noise_raises():
    with pytest.raises(ValueError, match="noise_std"):
        Mechanism((), zero_mechanism, -1.0)


def test_do_on_target_raises():
    with pytest.raises(ValueError, match="target"):
        bilinear_scm().sample(10, do={"Y": 0.0})


def test_cycle_raises():
    with pytest.raises(ValueError, match="acyclic"):
        DiscreteSCM(nx.DiGraph([("Y", "X1"), ("X1", "Y")]), "Y", set(), {})


def test_propagate_is_differentiable():
    scm = bilinear_scm()
    theta = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    noise = scm.noise(100, torch.Generator().manual_seed(0))
    vals = scm.propagate(noise, interventions={"M": lambda pa: theta * pa[:, 0]})
    vals["X1"].sum().backward()
    assert theta.grad is not None and torch.isfinite(theta.grad)
