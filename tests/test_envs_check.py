"""Every gymnasium environment the toolkit ships passes ``gymnasium.utils.env_checker.check_env``.

Each environment is registered, made through ``gymnasium.make`` (so that the checker also makes
it in every declared render mode from its spec, and closes it twice), and checked with every
warning turned into an error. The list is complete: every subclass of ``gymnasium.Env``
defined in the toolkit's packages must have an entry in :data:`FACTORIES`.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import theory
from stability.decision_boundary.gridworld import PixelGridworld
from theory.continuous import lq_task
from trainers.continuous_envs import LQEnv
from trainers.crs_graph import ConversationalRecEnv, synthetic_catalogue
from trainers.envs import PixelGridEnv, TabularMDPEnv

PACKAGES = ("theory", "stability", "causal", "trainers")


def _small_mdp() -> theory.TabularMDP:
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), (4, 3))
    return theory.TabularMDP(P, rng.uniform(-1, 1, (4, 3)), 0.9)


#: Environment class -> constructor keyword arguments of a small instance.
FACTORIES: dict[type[gym.Env], dict] = {
    PixelGridworld: {"size": 5, "seed": 1},
    TabularMDPEnv: {"mdp": _small_mdp(), "max_steps": 7},
    PixelGridEnv: {"size": 3, "cell": 2},
    LQEnv: {
        "task": lq_task(1.0, 1.0, 1.0, 0.5, gamma=0.9, noise=0.01),
        "horizon": 7,
        "action_bound": 1.0,
    },
    ConversationalRecEnv: {"catalogue": synthetic_catalogue(seed=0), "illegal": "reject"},
}


def _shipped_env_classes() -> set[type[gym.Env]]:
    """Every ``gymnasium.Env`` subclass defined in the toolkit's packages (all modules
    imported first, so that none is missed)."""
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        for mod in pkgutil.walk_packages(pkg.__path__, f"{name}."):
            importlib.import_module(mod.name)
    found, stack = set(), [gym.Env]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.split(".")[0] in PACKAGES:
                found.add(sub)
    return found


def test_every_shipped_environment_is_checked():
    shipped = _shipped_env_classes()
    assert shipped, "no gymnasium environment found"
    missing = sorted(c.__qualname__ for c in shipped - set(FACTORIES))
    assert not missing, f"add these environments to FACTORIES: {missing}"


@pytest.fixture(params=list(FACTORIES), ids=lambda cls: cls.__name__)
def env_id(request):
    cls = request.param
    env_id = f"toolkit-check/{cls.__name__}-v0"
    gym.register(id=env_id, entry_point=cls, kwargs=FACTORIES[cls])
    yield env_id
    gym.registry.pop(env_id, None)


def test_check_env_passes_with_warnings_as_errors(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id)
        check_env(env.unwrapped)
        env.close()


def test_declared_render_modes_render(env_id):
    spec = gym.spec(env_id)
    modes = spec.entry_point.metadata["render_modes"]
    for mode in modes:
        env = gym.make(env_id, render_mode=mode)
        obs, _ = env.reset(seed=0)
        frame = env.render()
        assert mode == "rgb_array"
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        # the frame is the observation: agent pixels (1.0) are white
        assert frame.max() == 255 and frame.shape[:2] == obs.shape[1:]
        env.close()
    with pytest.raises(ValueError, match="render_mode"):
        spec.entry_point(**spec.kwargs, render_mode="ansi")  # an undeclared mode


def test_render_without_a_mode_warns_and_returns_none(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    if env.metadata["render_modes"]:
        with pytest.warns(UserWarning, match="render mode"):
            assert env.render() is None
