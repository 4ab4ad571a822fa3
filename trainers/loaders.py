"""Policies from the ecosystem as plain torch modules: Stable-Baselines3 zips, CleanRL agents.

:func:`load_sb3_policy` reads a model saved by Stable-Baselines3's ``model.save`` [1]_ without
SB3 installed and rebuilds the network that acts as a plain ``nn.Sequential`` of leaf layers
(``Flatten``, ``Linear``, ``Conv2d``, activations): observations -> action logits for PPO and
A2C (SB3's ``ActorCriticPolicy``: features extractor, ``mlp_extractor.policy_net``,
``action_net``), observations -> Q-values for DQN (``q_net``). Its greedy action is SB3's
deterministic ``predict`` (the categorical mode, ``argmax`` of the logits, or ``argmax`` of Q).

What the zip holds, and how it is read without running code:

- ``policy.pth``: the policy's state dict, read with ``torch.load(weights_only=True)``;
- ``data``: JSON of the model's attributes; values JSON cannot hold (the observation and
  action spaces, ``policy_kwargs`` with an activation class, the policy class) are stored by
  SB3 as a base64 cloudpickle. These are decoded by a restricted unpickler: numpy's array
  reconstruction functions and the activation classes of ``torch.nn.modules.activation`` are
  the only objects it resolves; every other reference becomes an inert record of its dotted
  name (no constructor, function or ``__setstate__`` of it runs). An activation that is not a
  ``torch.nn`` activation (a custom class) is refused naming it.

SB3's defaults fill what ``policy_kwargs`` omits: activation ``Tanh`` for PPO/A2C
(``ActorCriticPolicy``), ``ReLU`` for DQN (``QNetwork``), net_arch from the layer shapes of
the state dict, a shared features extractor, ``normalize_images=True``. With
``normalize_images`` and an image observation space (``Box`` of ``uint8`` in [0, 255] with 3
dimensions, SB3's ``is_image_space``), SB3 divides observations by 255 before the network;
here the division is folded into the first affine layer (weights / 255, the same function in
exact arithmetic; rounding differs in the last float32 bits), or kept as a leading
:class:`Scale` module with ``fold_scaling=False`` (the same float operations as SB3). The
module takes raw observations as floats (pixel values 0..255 for images). Images are
channels-first, as SB3 stores them after its ``VecTransposeImage`` wrapper.

:func:`cleanrl_policy` turns a CleanRL-style agent [2]_ (``actor``; ``network`` + ``actor``,
as in ``ppo_atari.py``; a Q-network with ``network``) or the toolkit's own
:class:`trainers.ppo.Agent` / :class:`trainers.dqn.QNetwork` into a module obs -> logits
(or Q-values) that shares the agent's parameters (no copies).

References
----------
.. [1] A. Raffin, A. Hill, A. Gleave, A. Kanervisto, M. Ernestus, N. Dormann,
   "Stable-Baselines3: Reliable Reinforcement Learning Implementations", JMLR 22(268), 2021;
   code: DLR-RM/stable-baselines3 (``common/save_util.py``, ``common/policies.py``,
   ``common/torch_layers.py``, ``common/preprocessing.py``, ``dqn/policies.py``).
.. [2] S. Huang, R. F. J. Dossa, C. Ye, J. Braga, D. Chakraborty, K. Mehta, J. G. M. Araujo,
   "CleanRL: High-quality Single-file Implementations of Deep Reinforcement Learning
   Algorithms", JMLR 23(274), 2022; code: vwxyzjn/cleanrl (``ppo.py``, ``ppo_atari.py``,
   ``dqn.py``, ``dqn_atari.py``).
.. [3] V. Mnih et al., "Human-level control through deep reinforcement learning", Nature 518,
   529-533, 2015 (the NatureCNN features extractor).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from theory.checks import ArgumentTypeError, check_choice, check_positive
from trainers.dqn import QNetwork

__all__ = ["LoadedPolicy", "Scale", "cleanrl_policy", "load_sb3_policy"]


class Scale(nn.Module):
    """``x / divisor``: the pixel normalisation SB3 and CleanRL apply before a CNN.

    Parameters
    ----------
    divisor : float > 0, finite
        255 for 8-bit images.

    Examples
    --------
    >>> Scale(255.0)(torch.tensor([255.0, 51.0]))
    tensor([1.0000, 0.2000])
    """

    def __init__(self, divisor: float = 255.0):
        super().__init__()
        self.divisor = check_positive("divisor", divisor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.divisor

    def extra_repr(self) -> str:
        return f"divisor={self.divisor}"


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy read from an SB3 zip, as a plain torch module.

    Attributes
    ----------
    module : nn.Sequential
        Observations ``(B, *observation_shape)`` (float; raw pixel values for images) ->
        ``(B, n_actions)`` logits or Q-values; eval mode, float32 as saved.
    output : {"logits", "q_values"}
    algorithm : {"PPO", "A2C", "DQN"}
    observation_shape : tuple of int
    n_actions : int
    activation : str
        The hidden layers' activation (``"Tanh"``, ``"ReLU"``, ...).
    policy_class : str
        Dotted name of the SB3 policy class (``stable_baselines3.common.policies...``).
    features_extractor : {"FlattenExtractor", "NatureCNN"}
    pixel_scaling : {"none", "folded", "module"}
        SB3's division by 255: absent, folded into the first affine layer, or a leading
        :class:`Scale` module.
    sb3_version : str
        The version that saved the file ("" when the zip does not say).
    """

    module: nn.Sequential = field(repr=False)
    output: str
    algorithm: str
    observation_shape: tuple[int, ...]
    n_actions: int
    activation: str
    policy_class: str
    features_extractor: str
    pixel_scaling: str
    sb3_version: str

    def predict(self, obs: Any) -> np.ndarray:
        """Greedy actions (``argmax`` of the module's output) for a batch ``obs``
        ``(B, *observation_shape)``: SB3's ``predict(obs, deterministic=True)``."""
        x = np.asarray(obs)
        if x.dtype.kind not in "biuf":
            raise ArgumentTypeError(f"obs must be an array of numbers; got dtype {x.dtype}")
        if x.shape[1:] != self.observation_shape or x.ndim != len(self.observation_shape) + 1:
            raise ValueError(
                f"obs must be a batch of shape (B, {', '.join(map(str, self.observation_shape))}); "
                f"got {x.shape}"
            )
        t = torch.as_tensor(x, dtype=torch.float32)
        if not torch.isfinite(t).all():
            raise ValueError("obs has non-finite entries")
        with torch.no_grad():
            return self.module(t).argmax(-1).numpy()

    def summary(self) -> str:
        shape = "x".join(map(str, self.observation_shape))
        layers = sum(isinstance(m, nn.Linear | nn.Conv2d) for m in self.module)
        return (
            f"{self.algorithm} ({self.policy_class.rsplit('.', 1)[-1]}): obs {shape} -> "
            f"{self.n_actions} {self.output}, {layers} affine layers, {self.activation}, "
            f"{self.features_extractor}, pixel scaling {self.pixel_scaling}"
        )


# --- the restricted unpickler of SB3's ``data`` entries -------------------------------------


class _Inert:
    """A stand-in for a class or function a pickle refers to: records, never runs."""

    _ref = "?"

    def __init__(self, *args: Any, **kwargs: Any):
        self.args, self.state, self.items = args, None, []

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        self.items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items.append((key, value))


_NUMPY_SAFE = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"),
}


def _activation_class(module: str, name: str) -> type[nn.Module] | None:
    """The torch.nn activation class ``module.name``, or None when it is not one."""
    if module != "torch.nn.modules.activation" or not name.isidentifier():
        return None
    cls = getattr(nn, name, None)
    if (
        isinstance(cls, type)
        and issubclass(cls, nn.Module)
        and cls.__module__ == "torch.nn.modules.activation"
    ):
        return cls
    return None


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_SAFE:
            mod = __import__(module, fromlist=[name])
            return getattr(mod, name)
        act = _activation_class(module, name)
        if act is not None:
            return act
        return type(name, (_Inert,), {"_ref": f"{module}.{name}", "__module__": "inert"})

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def _ref(obj: Any) -> str:
    """Dotted name of a decoded class reference (an inert one or a real activation)."""
    if isinstance(obj, type) and issubclass(obj, _Inert):
        return obj._ref
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    return repr(obj)


#: What a malformed pickle can raise while the restricted unpickler reads it.
_DECODE_ERRORS = (
    binascii.Error,
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
)


def _decode(data: dict, key: str, path: Path) -> Any:
    """``data[key]``: plain JSON as is; an SB3 cloudpickle entry through the safe unpickler."""
    item = data.get(key)
    if not (isinstance(item, dict) and ":serialized:" in item):
        return item
    try:
        raw = base64.b64decode(item[":serialized:"])
        return _SafeUnpickler(io.BytesIO(raw)).load()
    except _DECODE_ERRORS as exc:
        raise ValueError(
            f"path {str(path)!r}: the entry {key!r} of 'data' cannot be decoded: {exc}"
        ) from None


# --- reading the zip ------------------------------------------------------------------------


def _read_zip(path: Path) -> tuple[dict, dict[str, torch.Tensor], str]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"path {str(path)!r} is not a readable zip file: {exc}") from None
    with archive:
        names = set(archive.namelist())
        for need in ("data", "policy.pth"):
            if need not in names:
                raise ValueError(
                    f"path {str(path)!r} is not a Stable-Baselines3 model: the zip has no "
                    f"{need!r} entry (found {sorted(names)})"
                )
        try:
            data = json.loads(archive.read("data"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"path {str(path)!r}: 'data' is not JSON: {exc}") from None
        try:
            state = torch.load(
                io.BytesIO(archive.read("policy.pth")), map_location="cpu", weights_only=True
            )
        except Exception as exc:
            raise ValueError(
                f"path {str(path)!r}: policy.pth is not a weights-only state dict: {exc}"
            ) from None
        version = ""
        if "_stable_baselines3_version" in names:
            version = archive.read("_stable_baselines3_version").decode(errors="replace").strip()
    if not isinstance(data, dict):
        raise ValueError(f"path {str(path)!r}: 'data' must be a JSON object")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"path {str(path)!r}: policy.pth is not a state dict of tensors")
    return data, state, version


def _space(data: dict, key: str, path: Path) -> tuple[str, _Inert]:
    space = _decode(data, key, path)
    if not isinstance(space, _Inert) or not isinstance(space.state, dict):
        raise ValueError(f"path {str(path)!r}: {key} is not a pickled gymnasium space")
    return type(space)._ref, space


def _image_space(shape: tuple[int, ...], state: dict) -> bool:
    """SB3's ``is_image_space``: 3 dims, dtype uint8, bounds exactly [0, 255]."""
    dtype, low, high = state.get("dtype"), state.get("low"), state.get("high")
    return (
        len(shape) == 3
        and isinstance(dtype, np.dtype)
        and dtype == np.uint8
        and isinstance(low, np.ndarray)
        and isinstance(high, np.ndarray)
        and bool(np.all(low == 0))
        and bool(np.all(high == 255))
    )


def _linear_indices(state: dict[str, torch.Tensor], prefix: str) -> list[int]:
    """Positions ``i`` of ``prefix.i.weight`` (the Linear layers of an SB3 Sequential)."""
    pat = re.compile(re.escape(prefix) + r"\.(\d+)\.weight$")
    return sorted(int(m.group(1)) for k in state if (m := pat.match(k)))


def _linear(state: dict[str, torch.Tensor], name: str, device: str) -> nn.Linear:
    w, b = state[f"{name}.weight"], state.get(f"{name}.bias")
    if w.ndim != 2:
        raise ValueError(f"state dict entry {name}.weight must be 2-D; got {tuple(w.shape)}")
    lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device=device, dtype=w.dtype)
    with torch.no_grad():
        lin.weight.copy_(w)
        if b is not None:
            lin.bias.copy_(b)
    return lin


def _conv(state: dict[str, torch.Tensor], name: str, stride: int, device: str) -> nn.Conv2d:
    w, b = state[f"{name}.weight"], state[f"{name}.bias"]
    conv = nn.Conv2d(
        w.shape[1], w.shape[0], tuple(w.shape[2:]), stride=stride, device=device, dtype=w.dtype
    )
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.copy_(b)
    return conv


def _mlp(
    state: dict[str, torch.Tensor], prefix: str, act: type[nn.Module], device: str, *, last: bool
) -> list[nn.Module]:
    """SB3's ``create_mlp`` layers ``Linear, act, Linear, act, ...`` at positions 0, 2, 4...;
    ``last``: the final Linear has no activation after it (DQN's q_net)."""
    idx = _linear_indices(state, prefix)
    if idx != list(range(0, 2 * len(idx), 2)):
        raise ValueError(
            f"state dict: the layers of {prefix} sit at positions {idx}; SB3's MLP has Linear "
            "layers at 0, 2, 4, ... (a custom network is not supported)"
        )
    out: list[nn.Module] = []
    for j, i in enumerate(idx):
        out.append(_linear(state, f"{prefix}.{i}", device))
        if not (last and j == len(idx) - 1):
            out.append(act())
    return out


def _check_arch(layers: list[nn.Module], arch: Any, what: str, path: Path) -> None:
    """The hidden widths in the state dict agree with ``net_arch`` when the file gives it."""
    if arch is None:
        return
    widths = [m.out_features for m in layers if isinstance(m, nn.Linear)]
    if list(arch) != widths:
        raise ValueError(
            f"path {str(path)!r}: policy_kwargs net_arch {what} = {list(arch)} does not match "
            f"the layer widths {widths} of policy.pth"
        )


def load_sb3_policy(
    path: str | Path, *, device: str = "cpu", fold_scaling: bool = True
) -> LoadedPolicy:
    """Read a Stable-Baselines3 PPO, A2C or DQN zip into a plain ``nn.Sequential``.

    Parameters
    ----------
    path : str or Path
        A file written by SB3's ``model.save`` (``MlpPolicy`` or ``CnnPolicy``, ``Discrete``
        actions, ``Box`` observations).
    device : {"cpu", "cuda"}
        Where the module's parameters live.
    fold_scaling : bool, default True
        Fold SB3's ``/ 255`` image normalisation into the first affine layer (a module of
        plain layers; float32 rounding may differ from SB3's in the last bits) or keep it as a
        leading :class:`Scale` module (SB3's exact float operations).

    Returns
    -------
    LoadedPolicy
        ``module`` maps raw observations to logits (PPO/A2C) or Q-values (DQN); the greedy
        action ``argmax`` is SB3's ``predict(obs, deterministic=True)``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not an SB3 zip; an algorithm or policy other than PPO/A2C/DQN with their MLP/CNN
        policies (``RecurrentPPO``, SAC, ``MultiInputPolicy``, ... are named); non-Discrete
        actions or non-Box observations (named); a custom activation or features extractor
        (named); a state dict that does not match the architecture.

    Notes
    -----
    Untrusted files: nothing in the zip is executed. ``policy.pth`` is read with
    ``torch.load(weights_only=True)``; the cloudpickled entries of ``data`` through an
    unpickler that resolves only numpy's array reconstruction and ``torch.nn`` activation
    classes (everything else becomes an inert named record). SB3 keeps the value network,
    the target Q-network and the optimizer in the same file; they are not part of the module.

    Examples
    --------
    >>> import trainers
    >>> fixtures = Path(trainers.__file__).parents[1] / "tests" / "data" / "sb3"
    >>> pol = load_sb3_policy(fixtures / "ppo_cartpole_relu.zip")  # PPO, net_arch [8, 8], ReLU
    >>> pol.algorithm, pol.output, pol.observation_shape, pol.n_actions, pol.activation
    ('PPO', 'logits', (4,), 2, 'ReLU')
    >>> [type(m).__name__ for m in pol.module]
    ['Flatten', 'Linear', 'ReLU', 'Linear', 'ReLU', 'Linear']
    """
    if not isinstance(path, str | Path):
        raise ArgumentTypeError(f"path must be a str or pathlib.Path; got {type(path).__name__}")
    path = Path(path)
    device = check_choice("device", device, ["cpu", "cuda"])
    if not isinstance(fold_scaling, bool):
        raise ArgumentTypeError(f"fold_scaling must be a bool; got {fold_scaling!r}")
    if not path.exists():
        raise FileNotFoundError(f"path {str(path)!r} does not exist")
    data, state, version = _read_zip(path)

    # --- which algorithm and policy ---
    policy_class = _ref(_decode(data, "policy_class", path))
    dqn = policy_class.startswith("stable_baselines3.dqn.policies.")
    if dqn:
        algorithm = "DQN"
        if policy_class.rsplit(".", 1)[-1] not in ("DQNPolicy", "MlpPolicy", "CnnPolicy"):
            raise ValueError(f"path {str(path)!r}: policy_class {policy_class} is not supported")
    elif policy_class in (
        "stable_baselines3.common.policies.ActorCriticPolicy",
        "stable_baselines3.common.policies.ActorCriticCnnPolicy",
    ):
        algorithm = "PPO" if "clip_range" in data else "A2C"
    else:
        raise ValueError(
            f"path {str(path)!r}: policy_class {policy_class} is not supported (PPO/A2C "
            "ActorCriticPolicy or ActorCriticCnnPolicy, DQN's DQNPolicy or CnnPolicy)"
        )

    # --- spaces ---
    act_type, act_space = _space(data, "action_space", path)
    if (
        act_type != "gymnasium.spaces.discrete.Discrete"
        and act_type != "gym.spaces.discrete.Discrete"
    ):
        raise ValueError(
            f"path {str(path)!r}: action_space is {act_type.rsplit('.', 1)[-1]}; only Discrete "
            "action spaces have logits or Q-values (Box, MultiDiscrete, MultiBinary are refused)"
        )
    n_actions = int(act_space.state.get("n", 0))
    if int(act_space.state.get("start", 0) or 0) != 0:
        raise ValueError(
            f"path {str(path)!r}: action_space Discrete with start != 0 is not supported"
        )
    obs_type, obs_space = _space(data, "observation_space", path)
    if obs_type.rsplit(".", 1)[-1] != "Box":
        raise ValueError(
            f"path {str(path)!r}: observation_space is {obs_type.rsplit('.', 1)[-1]}; only Box "
            "observations are supported (Discrete, MultiDiscrete, Dict are refused)"
        )
    obs_shape = tuple(int(s) for s in obs_space.state.get("_shape", ()))

    # --- policy_kwargs with SB3's defaults ---
    kwargs = _decode(data, "policy_kwargs", path) or {}
    if not isinstance(kwargs, dict):
        raise ValueError(f"path {str(path)!r}: policy_kwargs is not a dict")
    act = kwargs.get("activation_fn", nn.ReLU if dqn else nn.Tanh)
    if not (isinstance(act, type) and issubclass(act, nn.Module)):
        raise ValueError(
            f"path {str(path)!r}: policy_kwargs activation_fn {_ref(act)} is not a torch.nn "
            "activation; custom classes are not decoded (no code in the file is run)"
        )
    cnn = policy_class.endswith("CnnPolicy")
    extractor = "NatureCNN" if cnn else "FlattenExtractor"
    if "features_extractor_class" in kwargs:
        extractor = _ref(kwargs["features_extractor_class"]).rsplit(".", 1)[-1]
        if extractor not in ("NatureCNN", "FlattenExtractor"):
            raise ValueError(
                f"path {str(path)!r}: policy_kwargs features_extractor_class "
                f"{_ref(kwargs['features_extractor_class'])} is not supported "
                "(FlattenExtractor, NatureCNN)"
            )
    for key in ("features_extractor_kwargs", "net_arch", "normalize_images"):
        if isinstance(kwargs.get(key), _Inert):
            raise ValueError(f"path {str(path)!r}: policy_kwargs {key} could not be decoded")
    normalize = kwargs.get("normalize_images", True)
    share = kwargs.get("share_features_extractor", True)
    net_arch = kwargs.get("net_arch")
    if isinstance(net_arch, dict):
        pi_arch = net_arch.get("qf" if dqn else "pi")
    elif isinstance(net_arch, list) and all(isinstance(w, int) for w in net_arch):
        pi_arch = net_arch
    elif net_arch is None:
        pi_arch = None
    else:
        raise ValueError(
            f"path {str(path)!r}: policy_kwargs net_arch {net_arch!r} is not supported"
        )

    # --- the layers ---
    if dqn:
        fx, body, head = "q_net.features_extractor", "q_net.q_net", None
    else:
        fx = "features_extractor" if share else "pi_features_extractor"
        body, head = "mlp_extractor.policy_net", "action_net"
    try:
        layers: list[nn.Module] = []
        if extractor == "NatureCNN":
            for i, stride in ((0, 4), (2, 2), (4, 1)):
                layers += [_conv(state, f"{fx}.cnn.{i}", stride, device), nn.ReLU()]
            layers += [nn.Flatten(), _linear(state, f"{fx}.linear.0", device), nn.ReLU()]
        else:
            layers.append(nn.Flatten())
        hidden = _mlp(state, body, act, device, last=dqn)
        if head is not None:
            hidden.append(_linear(state, head, device))
    except KeyError as exc:
        raise ValueError(
            f"path {str(path)!r}: policy.pth has no entry {exc} for {policy_class}"
        ) from None
    _check_arch(hidden[:-1], pi_arch, "qf" if dqn else "pi", path)
    layers += hidden
    module = nn.Sequential(*layers).eval()

    # --- SB3's preprocess_obs: / 255 for images ---
    scaling = "none"
    if normalize and _image_space(obs_shape, obs_space.state):
        if fold_scaling:
            first = next(m for m in module if isinstance(m, nn.Linear | nn.Conv2d))
            with torch.no_grad():
                first.weight.div_(255.0)
            scaling = "folded"
        else:
            module = nn.Sequential(Scale(255.0), *module).eval()
            scaling = "module"

    # --- the module takes the saved observations and returns n_actions values ---
    out_dim = [m for m in module if isinstance(m, nn.Linear)][-1].out_features
    if out_dim != n_actions:
        raise ValueError(
            f"path {str(path)!r}: the network outputs {out_dim} values but action_space has "
            f"{n_actions} actions"
        )
    try:
        with torch.no_grad():
            module(torch.zeros((1, *obs_shape), device=device))
    except RuntimeError as exc:
        raise ValueError(
            f"path {str(path)!r}: the rebuilt network does not take observations of shape "
            f"{obs_shape}: {exc}"
        ) from None
    return LoadedPolicy(
        module=module,
        output="q_values" if dqn else "logits",
        algorithm=algorithm,
        observation_shape=obs_shape,
        n_actions=n_actions,
        activation=act.__name__,
        policy_class=policy_class,
        features_extractor=extractor,
        pixel_scaling=scaling,
        sb3_version=version,
    )


# --- CleanRL-style agents -------------------------------------------------------------------


def _has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d) for m in module.modules())


def cleanrl_policy(
    agent: nn.Module, *, pixel_divisor: float | str | None = "auto", example_obs: Any = None
) -> nn.Module:
    """The module observations -> action logits (or Q-values) of a CleanRL-style agent.

    The returned module holds the agent's own submodules (the same parameters, no copies):
    training the agent further changes it.

    ==============================================  ===========================================
    agent                                           returned module
    ==============================================  ===========================================
    ``actor`` (CleanRL ``ppo.py``; the toolkit's    ``agent.actor``
    :class:`trainers.ppo.Agent`; any agent whose
    ``actor`` maps observations to logits)
    ``network`` + ``actor`` (``ppo_atari.py``:      ``Sequential([Scale], network, actor)``
    a shared trunk, then the actor head)
    ``network`` only (CleanRL ``dqn.py`` /          ``Sequential([Scale], network)``: Q-values
    ``dqn_atari.py`` ``QNetwork``)
    the toolkit's :class:`trainers.dqn.QNetwork`    the agent itself (its forward is the
                                                    Q-function, dueling included)
    ==============================================  ===========================================

    Parameters
    ----------
    agent : nn.Module
    pixel_divisor : float > 0, None or "auto"
        The ``x / 255.0`` CleanRL's Atari scripts apply inside ``get_action_and_value`` /
        ``forward`` before ``network``: a leading :class:`Scale` module. ``"auto"`` (best
        reading of CleanRL's conventions): 255 when ``network`` contains a convolution, none
        otherwise. Ignored for ``actor``-only agents and the toolkit's QNetwork.
    example_obs : array (B, ...), optional
        A batch of observations to check the module against the agent's own computation: the
        log-probabilities of ``get_action_and_value`` (``(action, log_prob, entropy,
        value)``, CleanRL's signature) or the agent's ``forward`` for a Q-network. With
        ``pixel_divisor="auto"`` both divisors (none, 255) are tried and the one that agrees
        is used (atol 1e-5 on log-probabilities / Q-values).

    Returns
    -------
    nn.Module

    Examples
    --------
    >>> from trainers.ppo import Agent
    >>> agent = Agent(4, 2)
    >>> cleanrl_policy(agent) is agent.actor
    True
    """
    if not isinstance(agent, nn.Module):
        raise ArgumentTypeError(f"agent must be an nn.Module; got {type(agent).__name__}")
    if pixel_divisor is not None and pixel_divisor != "auto":
        if isinstance(pixel_divisor, str | bool):
            raise ArgumentTypeError(
                f"pixel_divisor must be a positive number, None or 'auto'; got {pixel_divisor!r}"
            )
        pixel_divisor = check_positive("pixel_divisor", pixel_divisor)
    x = None
    if example_obs is not None:
        p = next(agent.parameters(), None)
        arr = np.asarray(example_obs)
        if arr.dtype.kind not in "biuf" or arr.ndim < 2 or arr.shape[0] == 0:
            raise ValueError(
                f"example_obs must be a non-empty numeric batch (B, ...); got {arr.dtype} "
                f"{arr.shape}"
            )
        x = torch.as_tensor(
            arr,
            dtype=p.dtype if p is not None else torch.get_default_dtype(),
            device=p.device if p is not None else None,
        )
        if not torch.isfinite(x).all():
            raise ValueError("example_obs has non-finite entries")

    actor = getattr(agent, "actor", None)
    network = getattr(agent, "network", None)
    if isinstance(agent, QNetwork):
        candidates = [agent]
    elif isinstance(actor, nn.Module) and not isinstance(network, nn.Module):
        candidates = [actor]
    elif isinstance(network, nn.Module):
        parts = [network, actor] if isinstance(actor, nn.Module) else [network]
        if pixel_divisor == "auto":
            divisors = [255.0, None] if _has_conv(network) else [None, 255.0]
            if x is None:
                divisors = divisors[:1]
        else:
            divisors = [pixel_divisor]
        candidates = [
            nn.Sequential(*([Scale(d)] if d is not None else []), *parts) for d in divisors
        ]
    else:
        raise ValueError(
            f"agent ({type(agent).__name__}) has neither an `actor` nor a `network` submodule "
            "(CleanRL's conventions); pass a module obs -> logits directly where a policy is "
            "expected"
        )
    if x is None:
        return candidates[0]

    # --- check against the agent's own computation ---
    with torch.no_grad():
        if isinstance(agent, QNetwork) or not isinstance(actor, nn.Module):
            try:
                reference = agent(x)
            except RuntimeError as exc:
                raise ValueError(f"example_obs does not fit agent: {exc}") from None

            def agrees(m: nn.Module) -> bool:
                return torch.allclose(m(x), reference, atol=1e-5, rtol=0)

        elif hasattr(agent, "get_action_and_value"):
            try:
                action, logp = agent.get_action_and_value(x)[:2]
            except RuntimeError as exc:
                raise ValueError(f"example_obs does not fit agent: {exc}") from None

            def agrees(m: nn.Module) -> bool:
                lp = torch.log_softmax(m(x), -1).gather(-1, action.long()[:, None])[:, 0]
                return torch.allclose(lp, logp, atol=1e-5, rtol=0)

        else:
            return candidates[0]  # nothing of the agent's own to compare with
        for m in candidates:
            try:
                if agrees(m):
                    return m
            except RuntimeError:
                continue
    raise ValueError(
        f"example_obs: the module built from agent ({type(agent).__name__}) does not reproduce "
        f"its own outputs (pixel_divisor={pixel_divisor!r}); its forward does more than "
        "CleanRL's conventions: pass a module obs -> logits directly"
    )
