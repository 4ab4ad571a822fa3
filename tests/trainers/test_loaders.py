"""Stable-Baselines3 zips and CleanRL-style agents as plain torch modules (trainers.loaders).

The fixtures in tests/data/sb3 were saved by SB3 itself (tests/data/sb3/make_fixtures.py) with
SB3's deterministic actions, log-probabilities / Q-values for a fixed batch of observations;
the loader must reproduce the actions exactly without SB3 installed.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from trainers.dqn import QNetwork
from trainers.loaders import LoadedPolicy, Scale, cleanrl_policy, load_sb3_policy
from trainers.ppo import Agent

DATA = Path(__file__).resolve().parents[1] / "data" / "sb3"
FIXTURES = ["ppo_cartpole_relu", "ppo_cartpole_separate", "a2c_cartpole", "dqn_cartpole", "ppo_cnn"]


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-6) -> None:
    """Equal within ``atol`` (numpy's check: torch.testing's first call costs seconds)."""
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=0, atol=atol)


def _reference(name: str):
    f = np.load(DATA / f"{name}.npz")
    return {k: f[k] for k in f.files}


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_reproduces_sb3_actions(name, fold):
    pol = load_sb3_policy(DATA / f"{name}.zip", fold_scaling=fold)
    ref = _reference(name)
    assert isinstance(pol.module, nn.Sequential) and not pol.module.training
    assert all(p.dtype == torch.float32 for p in pol.module.parameters())
    with torch.no_grad():
        out = pol.module(torch.as_tensor(ref["obs"], dtype=torch.float32))
    np.testing.assert_array_equal(pol.predict(ref["obs"]), ref["actions"])
    np.testing.assert_array_equal(out.argmax(-1).numpy(), ref["actions"])
    if pol.output == "q_values":
        np.testing.assert_allclose(out.numpy(), ref["q_values"], rtol=0, atol=1e-6)
    else:  # SB3's Categorical stores logits - logsumexp(logits)
        np.testing.assert_allclose(
            torch.log_softmax(out, -1).numpy(), ref["log_probs"], rtol=0, atol=1e-6
        )


def test_fixture_metadata_and_layers():
    ppo = load_sb3_policy(DATA / "ppo_cartpole_relu.zip")
    assert (ppo.algorithm, ppo.output, ppo.activation) == ("PPO", "logits", "ReLU")
    assert [m.out_features for m in ppo.module if isinstance(m, nn.Linear)] == [8, 8, 2]
    sep = load_sb3_policy(DATA / "ppo_cartpole_separate.zip")  # net_arch pi=[8], vf=[4]
    assert sep.activation == "LeakyReLU"
    assert [m.out_features for m in sep.module if isinstance(m, nn.Linear)] == [8, 2]
    a2c = load_sb3_policy(DATA / "a2c_cartpole.zip")  # SB3's defaults: 64-64 Tanh
    assert (a2c.algorithm, a2c.activation) == ("A2C", "Tanh")
    assert [m.out_features for m in a2c.module if isinstance(m, nn.Linear)] == [64, 64, 2]
    dqn = load_sb3_policy(DATA / "dqn_cartpole.zip")
    assert (dqn.algorithm, dqn.output, dqn.activation) == ("DQN", "q_values", "ReLU")
    assert [type(m).__name__ for m in dqn.module] == ["Flatten", "Linear", "ReLU", "Linear"]
    cnn = load_sb3_policy(DATA / "ppo_cnn.zip")
    convs = [m for m in cnn.module if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(4, 4), (2, 2), (1, 1)]
    assert [c.kernel_size for c in convs] == [(8, 8), (4, 4), (3, 3)]
    assert (cnn.observation_shape, cnn.n_actions, cnn.features_extractor) == (
        (1, 36, 36),
        3,
        "NatureCNN",
    )
    assert cnn.pixel_scaling == "folded" and "NatureCNN" in cnn.summary()
    assert cnn.sb3_version.startswith("2.")


def test_pixel_scaling_folded_equals_the_scale_module():
    folded = load_sb3_policy(DATA / "ppo_cnn.zip")
    kept = load_sb3_policy(DATA / "ppo_cnn.zip", fold_scaling=False)
    assert isinstance(kept.module[0], Scale) and kept.pixel_scaling == "module"
    np.testing.assert_allclose(
        (folded.module[0].weight * 255).detach().numpy(),
        kept.module[1].weight.detach().numpy(),
        rtol=1e-6,
    )
    x = torch.as_tensor(_reference("ppo_cnn")["obs"], dtype=torch.float32)
    with torch.no_grad():
        np.testing.assert_allclose(
            folded.module(x).numpy(), kept.module(x).numpy(), rtol=0, atol=1e-5
        )
    mlp = load_sb3_policy(DATA / "ppo_cartpole_relu.zip", fold_scaling=False)
    assert mlp.pixel_scaling == "none" and not isinstance(mlp.module[0], Scale)


def test_continuous_actions_refused_by_name():
    with pytest.raises(ValueError, match="action_space is Box"):
        load_sb3_policy(DATA / "ppo_pendulum_box.zip")


def _rewrite(src: Path, dst: Path, **replace: bytes) -> Path:
    """A copy of the zip ``src`` with some members replaced."""
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for n in a.namelist():
            b.writestr(n, replace.get(n.replace(".", "_"), a.read(n)))
    return dst


def _with_policy_kwargs(tmp_path: Path, obj: object) -> Path:
    src = DATA / "ppo_cartpole_relu.zip"
    data = json.loads(zipfile.ZipFile(src).read("data"))
    data["policy_kwargs"] = {
        ":type:": "<class 'dict'>",
        ":serialized:": base64.b64encode(pickle.dumps(obj)).decode(),
    }
    return _rewrite(src, tmp_path / "m.zip", data=json.dumps(data).encode())


class MyActivation(nn.Module):
    def forward(self, x):
        return x


class _Payload:
    """Would write a marker file when unpickled by a plain unpickler."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "executed"))


def test_custom_activation_refused_by_name(tmp_path):
    path = _with_policy_kwargs(tmp_path, {"net_arch": [8, 8], "activation_fn": MyActivation})
    with pytest.raises(ValueError, match="MyActivation"):
        load_sb3_policy(path)
    path = _with_policy_kwargs(tmp_path, {"net_arch": [8, 8], "activation_fn": os.system})
    with pytest.raises(ValueError, match=r"activation_fn .*system"):
        load_sb3_policy(path)


def test_malicious_data_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    kwargs = {"net_arch": [8, 8], "activation_fn": nn.ReLU, "x": _Payload(str(marker))}
    pol = load_sb3_policy(_with_policy_kwargs(tmp_path, kwargs))  # the payload stays inert
    assert pol.activation == "ReLU" and not marker.exists()


def test_malicious_weights_refused(tmp_path):
    marker = tmp_path / "pwned"
    bad = pickle.dumps({"w": _Payload(str(marker))}, protocol=2)
    path = _rewrite(DATA / "dqn_cartpole.zip", tmp_path / "m.zip", policy_pth=bad)
    with pytest.raises(ValueError, match=r"policy\.pth"):
        load_sb3_policy(path)
    assert not marker.exists()


def test_not_an_sb3_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_sb3_policy(tmp_path / "missing.zip")
    (tmp_path / "t.zip").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable zip"):
        load_sb3_policy(tmp_path / "t.zip")
    with zipfile.ZipFile(tmp_path / "e.zip", "w") as z:
        z.writestr("data", "{}")
    with pytest.raises(ValueError, match=r"policy\.pth"):
        load_sb3_policy(tmp_path / "e.zip")


def test_state_dict_not_matching_net_arch_refused(tmp_path):
    path = _with_policy_kwargs(tmp_path, {"net_arch": [8, 4], "activation_fn": nn.ReLU})
    with pytest.raises(ValueError, match="net_arch"):
        load_sb3_policy(path)


# --- CleanRL-style agents ---------------------------------------------------------------------


class AtariAgent(nn.Module):
    """CleanRL's ppo_atari.py agent, shrunk: shared CNN trunk on x / 255, actor and critic."""

    def __init__(self, n_actions: int = 3, scale: bool = True):
        super().__init__()
        self.scale = scale
        self.network = nn.Sequential(
            nn.Conv2d(1, 4, 3, stride=2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(4 * 3 * 3, 8),
            nn.ReLU(),
        )
        self.actor = nn.Linear(8, n_actions)
        self.critic = nn.Linear(8, 1)

    def get_action_and_value(self, x, action=None):
        hidden = self.network(x / 255.0 if self.scale else x)
        dist = torch.distributions.Categorical(logits=self.actor(hidden))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(hidden)


class CleanQNetwork(nn.Module):
    """CleanRL's dqn.py QNetwork."""

    def __init__(self):
        super().__init__()
        self.network = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, x):
        return self.network(x)


def _shares(module: nn.Module, agent: nn.Module) -> bool:
    ids = {id(p) for p in agent.parameters()}
    return len(list(module.parameters())) > 0 and all(id(p) in ids for p in module.parameters())


def test_cleanrl_actor_critic_agent_is_its_actor():
    agent = Agent(4, 2)
    pol = cleanrl_policy(agent)
    assert pol is agent.actor
    x = torch.randn(5, 4)
    _close(pol(x), agent(x))


@pytest.mark.parametrize("scale", [True, False])
def test_cleanrl_atari_agent_shared_trunk(scale):
    torch.manual_seed(0)
    agent = AtariAgent(scale=scale)
    obs = np.random.default_rng(0).integers(0, 256, (6, 1, 8, 8)).astype(np.float32)
    pol = cleanrl_policy(agent, example_obs=obs)  # the divisor that reproduces the agent
    assert isinstance(pol[0], Scale) is scale and _shares(pol, agent)
    x = torch.as_tensor(obs)
    with torch.no_grad():
        _, logp, _, _ = agent.get_action_and_value(x, torch.zeros(6, dtype=torch.long))
        _close(torch.log_softmax(pol(x), -1)[:, 0], logp)
    with torch.no_grad():  # the same parameters: changing the agent changes the policy
        agent.actor.bias.add_(1.0)
    assert cleanrl_policy(agent).__getitem__(0).divisor == 255.0  # "auto" without an example


def test_cleanrl_q_networks():
    q = CleanQNetwork()
    pol = cleanrl_policy(q, example_obs=np.zeros((2, 4)))
    assert _shares(pol, q)
    x = torch.randn(3, 4)
    _close(pol(x), q(x))
    own = QNetwork((4,), 2)
    assert cleanrl_policy(own) is own


def test_cleanrl_agent_not_reproduced_is_refused():
    class Odd(CleanQNetwork):
        def forward(self, x):
            return 2 * self.network(x)

    with pytest.raises(ValueError, match="example_obs"):
        cleanrl_policy(Odd(), example_obs=np.ones((2, 4)))
    with pytest.raises(ValueError, match="agent"):
        cleanrl_policy(nn.Linear(4, 2))


# --- live round trip against SB3 (optional extra: runs only where stable-baselines3 is installed)


def _image_env():
    import gymnasium as gym

    class Frames(gym.Env):  # random channels-last 36 x 36 x 2 uint8 frames: SB3 transposes them
        observation_space = gym.spaces.Box(0, 255, (36, 36, 2), dtype=np.uint8)
        action_space = gym.spaces.Discrete(3)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return self.observation_space.sample(), {}

        def step(self, action):
            self.t += 1
            return self.observation_space.sample(), float(action == 1), False, self.t >= 8, {}

    return Frames()


@pytest.mark.parametrize(
    "algo, policy", [("PPO", "MlpPolicy"), ("A2C", "MlpPolicy"), ("DQN", "MlpPolicy"),
                     ("DQN", "CnnPolicy"), ("A2C", "CnnPolicy")]
)  # fmt: skip
def test_sb3_round_trip(tmp_path, algo, policy):
    sb3 = pytest.importorskip("stable_baselines3")
    kwargs = {"policy_kwargs": {"net_arch": [16, 16]}, "seed": 0, "device": "cpu"}
    if algo == "DQN":
        kwargs.update(learning_starts=16, buffer_size=100, batch_size=8)
    elif algo == "PPO":
        kwargs.update(n_steps=32, batch_size=32, n_epochs=1)
    rng = np.random.default_rng(0)
    if policy == "CnnPolicy":
        env = _image_env()
        kwargs["policy_kwargs"]["features_extractor_kwargs"] = {"features_dim": 32}
        obs = rng.integers(0, 256, size=(64, 36, 36, 2), dtype=np.uint8)
    else:
        env = "CartPole-v1"
        obs = (rng.normal(size=(256, 4)) * [1.0, 1.0, 0.1, 1.0]).astype(np.float32)
    model = getattr(sb3, algo)(policy, env, **kwargs).learn(32)
    model.save(tmp_path / "m.zip")
    expected = model.predict(obs, deterministic=True)[0]
    pol = load_sb3_policy(tmp_path / "m.zip")
    assert isinstance(pol, LoadedPolicy) and pol.algorithm == algo
    if policy == "CnnPolicy":  # SB3 stores the transposed (channels-first) space
        assert pol.observation_shape == (2, 36, 36) and pol.pixel_scaling == "folded"
        obs = obs.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(pol.predict(obs), expected)
