"""Regenerate the Stable-Baselines3 fixtures of ``tests/trainers/test_loaders.py``.

Needs ``stable-baselines3`` (not a dependency of the toolkit): run from the repository root as
``python tests/data/sb3/make_fixtures.py`` in an environment that has it (the fixtures shipped
here were made with stable-baselines3 2.9.2, torch 2.13.0+cpu, gymnasium 1.4.0).

Each ``<name>.zip`` is a model saved by SB3's own ``model.save``; ``<name>.npz`` holds a fixed
batch ``obs`` of observations, SB3's deterministic ``actions`` for it (``model.predict``), and
its ``log_probs`` (PPO/A2C: the categorical distribution's normalised logits) or ``q_values``
(DQN). Training is a few hundred steps only: the fixtures test the file format, not skill.
The CNN model is not trained; its feature-extractor weights are rounded to multiples of 1/64 so
that the zip stays small. SB3 stores its zips uncompressed; :func:`recompress` rewrites them with
deflate (same members; SB3 and the toolkit's loader read either).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

HERE = Path(__file__).parent


class TinyImageEnv(gym.Env):
    """Random 1 x 36 x 36 uint8 frames (the smallest input NatureCNN takes), 3 actions."""

    observation_space = gym.spaces.Box(0, 255, (1, 36, 36), dtype=np.uint8)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.t += 1
        return self.observation_space.sample(), float(action == 0), False, self.t >= 20, {}


def cartpole_batch(n: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, 4)) * [1.0, 1.0, 0.1, 1.0]).astype(np.float32)


def recompress(path: Path) -> None:
    """Rewrite SB3's zip (stored uncompressed) with deflate: same members, smaller file."""
    with zipfile.ZipFile(path) as src:
        members = [(i.filename, src.read(i.filename)) for i in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for name, data in members:
            dst.writestr(name, data)


def save(model, name: str, obs: np.ndarray) -> None:
    from stable_baselines3 import DQN

    model.save(HERE / f"{name}.zip")
    recompress(HERE / f"{name}.zip")
    actions, _ = model.predict(obs, deterministic=True)
    x = model.policy.obs_to_tensor(obs)[0]
    with torch.no_grad():
        if isinstance(model, DQN):
            extra = {"q_values": model.q_net(x).numpy()}
        else:
            extra = {"log_probs": model.policy.get_distribution(x).distribution.logits.numpy()}
    np.savez_compressed(HERE / f"{name}.npz", obs=obs, actions=np.asarray(actions), **extra)
    print(name, (HERE / f"{name}.zip").stat().st_size, "bytes")


def main() -> None:
    # imported here: the default test suite collects this file (doctests) without SB3
    from stable_baselines3 import A2C, DQN, PPO

    torch.manual_seed(0)
    obs = cartpole_batch()
    ppo = PPO(
        "MlpPolicy",
        "CartPole-v1",
        n_steps=128,
        batch_size=64,
        n_epochs=2,
        policy_kwargs={"net_arch": [8, 8], "activation_fn": nn.ReLU},
        seed=0,
    )
    save(ppo.learn(256), "ppo_cartpole_relu", obs)

    ppo2 = PPO(
        "MlpPolicy",
        "CartPole-v1",
        n_steps=128,
        batch_size=64,
        n_epochs=2,
        policy_kwargs={
            "net_arch": {"pi": [8], "vf": [4]},
            "activation_fn": nn.LeakyReLU,
            "share_features_extractor": False,
        },
        seed=1,
    )
    save(ppo2.learn(256), "ppo_cartpole_separate", obs)

    a2c = A2C("MlpPolicy", "CartPole-v1", seed=0)  # defaults: 64-64 Tanh
    save(a2c.learn(200), "a2c_cartpole", obs)

    dqn = DQN(
        "MlpPolicy",
        "CartPole-v1",
        learning_starts=64,
        buffer_size=1000,
        batch_size=32,
        policy_kwargs={"net_arch": [16]},
        seed=0,
    )
    save(dqn.learn(256), "dqn_cartpole", obs)

    cnn = PPO(
        "CnnPolicy",
        TinyImageEnv(),
        n_steps=32,
        batch_size=32,
        policy_kwargs={"net_arch": [8], "features_extractor_kwargs": {"features_dim": 16}},
        seed=0,
    )
    with torch.no_grad():
        for name, p in cnn.policy.named_parameters():
            if "features_extractor" in name:
                p.copy_(torch.round(p * 64) / 64)
    images = np.random.default_rng(1).integers(0, 256, size=(8, 1, 36, 36), dtype=np.uint8)
    save(cnn, "ppo_cnn", images)

    box = PPO("MlpPolicy", "Pendulum-v1", seed=0, policy_kwargs={"net_arch": [4]})
    box.save(HERE / "ppo_pendulum_box.zip")  # a continuous-action model: refused by the loader
    recompress(HERE / "ppo_pendulum_box.zip")


if __name__ == "__main__":
    main()
