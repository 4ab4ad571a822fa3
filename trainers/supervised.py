"""Supervised learners other modules need: behavior cloning and seeded MLP classifiers.

- :func:`train_bc` / :func:`train_bc_runs`: behavior cloning as regression of actions on
  states, ``min sum_i w_i ||f(s_i) - a_i||^2 / sum_i w_i`` (optional per-sample weights ``w``;
  Pomerleau 1991; the weighted form is the importance-weighted BC of offline RL).
- :func:`train_classifier` / :func:`train_classifier_runs`: MLP classifiers (binary = 2
  classes, or multiclass) trained on the weighted cross-entropy; results give probabilities.

Read top to bottom: config, model, then one training loop shared by both (the loss is the only
difference, written inline under ``# BC loss`` / ``# classification loss``). N runs (seeds, and
optionally one dataset or weighting per run) train as one stacked model
(:mod:`trainers.batched`, ``batched=True``) or one by one, with equal results up to round-off:
each run's initialization and minibatches depend only on its seed. ``hidden=()`` is a linear
model (BC then recovers a linear expert's gain exactly on noiseless data).

References
----------
.. [1] D. Pomerleau, "Efficient Training of Artificial Neural Networks for Autonomous
   Navigation", Neural Computation 3(1), 1991 (behavior cloning).
.. [2] D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_int,
    check_positive_int,
    check_seed,
    check_seeds,
)
from trainers import losses as L
from trainers.batched import StackedModule
from trainers.runtime import (
    FLAG,
    NONNEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    int_tuple,
    one_of,
    optional,
    save_checkpoint,
    setup,
)

__all__ = [
    "SupervisedConfig",
    "SupervisedResult",
    "make_mlp",
    "train_bc",
    "train_bc_runs",
    "train_classifier",
    "train_classifier_runs",
]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


@dataclass(frozen=True)
class SupervisedConfig:
    """Hyperparameters of the supervised learners."""

    hidden: tuple[int, ...] = (64, 64)
    """Hidden-layer widths; () is a linear model."""
    activation: str = "tanh"
    """'tanh' or 'relu'."""
    steps: int = 500
    """Adam steps."""
    batch_size: int | None = None
    """Minibatch size (sampled with replacement, per run); None: full batch."""
    lr: float = 1e-2
    """Adam learning rate."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0."""
    weight_decay: float = 0.0
    """L2 penalty ``weight_decay/2 ||theta||^2`` added to each run's loss."""
    dtype: str = "float32"
    """'float32' or 'float64'."""
    log_every: int = 100
    """Log metrics every this many steps."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "hidden": int_tuple(),  # a JSON list read back becomes a tuple
                "activation": one_of(*ACTIVATIONS),
                "steps": POSITIVE_INT,
                "batch_size": optional(POSITIVE_INT),
                "lr": POSITIVE,
                "anneal_lr": FLAG,
                "weight_decay": NONNEGATIVE,
                "dtype": one_of("float32", "float64"),
                "log_every": POSITIVE_INT,
            },
        )


def make_mlp(n_in: int, n_out: int, config: SupervisedConfig, seed: int) -> nn.Module:
    """The model of run ``seed`` (torch's default init, drawn from ``seed`` only).

    ``n_in`` and ``n_out`` are integers >= 1, ``seed`` a seed in [0, 2**63).
    """
    n_in = check_positive_int("n_in", n_in)
    n_out = check_positive_int("n_out", n_out)
    check_instance("config", config, SupervisedConfig)
    seed = check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        width = n_in
        for h in config.hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[config.activation]()]
            width = h
        layers.append(nn.Linear(width, n_out))
        net = nn.Sequential(*layers)
    return net.to(getattr(torch, config.dtype))


@dataclass(frozen=True)
class SupervisedResult:
    """N trained runs: stacked ``state_dict`` (leading run axis), metrics (averaged over runs).

    ``kind`` is ``"bc"`` (outputs are actions) or ``"classifier"`` (outputs are logits of
    ``n_outputs`` classes; :meth:`predict_proba` gives probabilities).
    """

    kind: str
    config: SupervisedConfig
    seeds: tuple[int, ...]
    n_inputs: int
    n_outputs: int
    state_dict: dict[str, torch.Tensor] = field(repr=False)
    metrics: list[dict[str, float]] = field(repr=False)
    seconds: float
    batched: bool

    def module(self, run: int = 0) -> nn.Module:
        """Run ``run`` (an integer in ``[0, N)``) as a plain ``nn.Module`` (CPU)."""
        run = check_int("run", run, lo=0, hi=len(self.seeds) - 1)
        net = make_mlp(self.n_inputs, self.n_outputs, self.config, 0)
        net.load_state_dict({k: v[run].clone() for k, v in self.state_dict.items()})
        return net

    def predict(self, x: np.ndarray | torch.Tensor, run: int | None = None) -> np.ndarray:
        """Raw outputs (actions for BC, logits for classifiers): (N, n, out), or (n, out) for
        one ``run``. ``x`` is a finite (n, n_inputs) array (checked)."""
        if run is not None:
            run = check_int("run", run, lo=0, hi=len(self.seeds) - 1)
        runs = range(len(self.seeds)) if run is None else [run]
        dtype = getattr(torch, self.config.dtype)
        xt = torch.as_tensor(as_float_array("x", x, shape=(None, self.n_inputs)), dtype=dtype)
        with torch.no_grad():
            out = np.stack([self.module(i)(xt).double().numpy() for i in runs])
        return out if run is None else out[0]

    def predict_proba(self, x: np.ndarray | torch.Tensor, run: int | None = None) -> np.ndarray:
        """Class probabilities (classifiers only): (N, n, K), or (n, K) for one ``run``."""
        if self.kind != "classifier":
            raise ValueError(f"predict_proba needs a classifier; this result is {self.kind!r}")
        return L.log_softmax(torch.as_tensor(self.predict(x, run))).exp().numpy()

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Checkpoint: ``path.pt`` (stacked state dict) and ``path.json`` (the config)."""
        return save_checkpoint(path, self.state_dict, self.config)

    def summary(self) -> str:
        last = self.metrics[-1] if self.metrics else {}
        what = "accuracy" if self.kind == "classifier" else "mse"
        val = last.get(f"charts/{what}", float("nan"))
        mode = "batched" if self.batched else "one by one"
        return (
            f"{self.kind}: {len(self.seeds)} runs x {self.config.steps} steps ({mode}) in "
            f"{self.seconds:.2f} s; training {what} {val:.4g}"
        )


def _per_run(name: str, arr: np.ndarray, n_runs: int, tail: tuple[int, ...]) -> np.ndarray:
    """Broadcast ``arr`` of shape ``tail`` or ``(n_runs, *tail)`` to the latter."""
    if arr.shape == tail:
        return np.broadcast_to(arr, (n_runs, *tail))
    if arr.shape == (n_runs, *tail):
        return arr
    raise ValueError(f"{name} must have shape {tail} or {(n_runs, *tail)}; got {arr.shape}")


def _fit(
    kind: str,
    x: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None,
    n_out: int,
    config: SupervisedConfig,
    seeds: Sequence[int],
    batched: bool,
    device: str | torch.device,
    progress: bool | None,
    log_dir: str | None,
) -> SupervisedResult:
    N, (n, d) = len(seeds), x.shape
    dev = setup(seeds[0], device)
    dtype = getattr(torch, config.dtype)
    X = torch.as_tensor(x, dtype=dtype, device=dev)
    Y = torch.as_tensor(np.array(targets), device=dev)
    Y = Y.long() if kind == "classifier" else Y.to(dtype)
    W = torch.ones((N, n), dtype=dtype, device=dev)
    if weights is not None:
        W = torch.as_tensor(np.array(weights), dtype=dtype, device=dev)
    nets = [make_mlp(d, n_out, config, s).to(dev) for s in seeds]
    groups = [list(range(N))] if batched else [[i] for i in range(N)]
    log = MetricsLog(config.steps * len(groups), progress=progress, log_dir=log_dir)
    start = time.perf_counter()
    rows: list[list[dict[str, float]]] = []
    for runs in groups:
        # --- model: one stacked model of the runs in this group (or a single net) ---
        if batched:
            model = StackedModule(nets)
            params = list(model.parameters())

            def forward(xb: torch.Tensor, model=model) -> torch.Tensor:
                return model(xb, per_run_input=True)
        else:
            net = nets[runs[0]]
            params = list(net.parameters())
            forward = net  # broadcasts over the leading run axis of size 1
        opt = torch.optim.Adam(params, lr=config.lr)
        gens = [torch.Generator().manual_seed(seeds[i]) for i in runs]
        yr, wr = Y[runs], W[runs]
        group_rows: list[dict[str, float]] = []
        for t in range(config.steps):
            if config.anneal_lr:
                opt.param_groups[0]["lr"] = config.lr * (1.0 - t / config.steps)
            if config.batch_size is None:
                xb, yb, wb = X.expand(len(runs), n, d), yr, wr
            else:  # per-run minibatch indices, drawn from each run's own generator
                idx = torch.stack(
                    [torch.randint(n, (config.batch_size,), generator=g) for g in gens]
                ).to(dev)
                xb = X[idx]
                yb = torch.gather(
                    yr, 1, idx if kind == "classifier" else idx[..., None].expand(-1, -1, n_out)
                )
                wb = torch.gather(wr, 1, idx)
            out = forward(xb)  # (runs, B, n_out)
            if kind == "bc":
                # BC loss: sum_i w_i ||f(s_i) - a_i||^2 / sum_i w_i, per run
                per = (out - yb).square().sum(-1)
            else:
                # classification loss: weighted cross-entropy, per run
                per = F.cross_entropy(out.transpose(1, 2), yb, reduction="none")
            loss = (wb * per).sum(-1) / wb.sum(-1)
            if config.weight_decay > 0:
                sq = (
                    sum(p.square().reshape(p.shape[0], -1).sum(-1) for p in params)
                    if batched
                    else sum(p.square().sum() for p in params)
                )
                loss = loss + 0.5 * config.weight_decay * sq
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            if (t + 1) % config.log_every == 0 or t + 1 == config.steps:
                with torch.no_grad():
                    full = forward(X.expand(len(runs), n, d))
                    if kind == "bc":
                        metric = {"charts/mse": (full - yr).square().sum(-1).mean()}
                    else:
                        metric = {"charts/accuracy": (full.argmax(-1) == yr).double().mean()}
                group_rows.append(
                    {
                        "step": t + 1,
                        "losses/loss": float(loss.detach().mean()),
                        **{k: float(v) for k, v in metric.items()},
                    }
                )
                log.log(t + 1, {"losses/loss": loss.mean(), **metric})
            log.advance()
        rows.append(group_rows)
    seconds = time.perf_counter() - start
    log.close()
    state = (
        {k: torch.stack([net.state_dict()[k] for net in nets]) for k in nets[0].state_dict()}
        if not batched
        else model.state_dict()
    )
    metrics = [
        {k: float(np.mean([g[j][k] for g in rows])) for k in rows[0][j]}
        for j in range(len(rows[0]))
    ]
    return SupervisedResult(
        kind,
        config,
        tuple(seeds),
        d,
        n_out,
        {k: v.detach().cpu().clone() for k, v in state.items()},
        metrics,
        seconds,
        batched,
    )


def _check_common(
    name: str, data: object, config: object, seeds: object, batched: object
) -> tuple[np.ndarray, list[int]]:
    """The checks every learner shares: ``data`` (n, d) finite, config, seeds, batched."""
    x = as_float_array(name, data, ndim=2)
    if x.shape[1] == 0:
        raise ValueError(f"{name} must have at least one column; got shape {x.shape}")
    check_instance("config", config, SupervisedConfig)
    seeds = check_seeds(seeds, distinct=False)  # a seed may repeat across datasets
    check_bool("batched", batched)
    return x, seeds


def _check_weights(weights: object, n_runs: int, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = as_float_array("weights", weights)
    w = _per_run("weights", w, n_runs, (n,))
    if np.any(w < 0):
        raise ValueError(f"weights must be >= 0; got minimum {w.min()!r}")
    if np.any(w.sum(-1) <= 0):
        bad = np.flatnonzero(w.sum(-1) <= 0).tolist()
        raise ValueError(f"weights must have a positive sum for every run; runs {bad} sum to 0")
    return w


def train_bc_runs(
    states: np.ndarray,
    actions: np.ndarray,
    config: SupervisedConfig = SupervisedConfig(),
    seeds: Sequence[int] = (0,),
    *,
    weights: np.ndarray | None = None,
    batched: bool = True,
    device: str | torch.device = "cpu",
    progress: bool | None = False,
    log_dir: str | None = None,
) -> SupervisedResult:
    """Behavior cloning of N runs: regress ``actions`` on ``states`` (weighted MSE).

    Parameters
    ----------
    states : array (n, d)
    actions : array (n, m) or (n,), or (N, n, m) (one dataset per run)
        Continuous actions (a 1-d array is one action dimension).
    config : SupervisedConfig
    seeds : sequence of int
        Run ``i`` initializes and draws minibatches from ``seeds[i]`` only.
    weights : array (n,) or (N, n), optional
        Non-negative per-sample weights (per run).
    batched : bool
        One stacked model or a loop (same numbers up to round-off).
    device, progress, log_dir
        As in the other trainers.
    """
    x, seeds = _check_common("states", states, config, seeds, batched)
    N, n = len(seeds), x.shape[0]
    a = as_float_array("actions", actions)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim == 2:
        a = np.broadcast_to(a, (N, *a.shape))
    if a.ndim != 3 or a.shape[:2] != (N, n) or a.shape[2] == 0:
        raise ValueError(
            f"actions must have shape ({n}, m), ({n},) or ({N}, {n}, m); got {np.shape(actions)}"
        )
    w = _check_weights(weights, N, n)
    return _fit("bc", x, a, w, a.shape[2], config, seeds, batched, device, progress, log_dir)


def train_bc(
    states: np.ndarray,
    actions: np.ndarray,
    config: SupervisedConfig = SupervisedConfig(),
    *,
    weights: np.ndarray | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> SupervisedResult:
    """Behavior cloning, one run (see :func:`train_bc_runs`)."""
    check_seed(seed)
    return train_bc_runs(
        states,
        actions,
        config,
        [seed],
        weights=weights,
        batched=False,
        device=device,
        progress=progress,
    )


def train_classifier_runs(
    features: np.ndarray,
    labels: np.ndarray,
    config: SupervisedConfig = SupervisedConfig(),
    seeds: Sequence[int] = (0,),
    *,
    n_classes: int | None = None,
    weights: np.ndarray | None = None,
    batched: bool = True,
    device: str | torch.device = "cpu",
    progress: bool | None = False,
    log_dir: str | None = None,
) -> SupervisedResult:
    """N seeded MLP classifiers on the (weighted) cross-entropy; binary is ``n_classes = 2``.

    Parameters
    ----------
    features : array (n, d)
    labels : int array (n,) or (N, n)
        Classes in ``[0, n_classes)``.
    config : SupervisedConfig
    seeds : sequence of int
    n_classes : int, optional
        Default ``max(labels) + 1`` (at least 2).
    weights : array (n,) or (N, n), optional
    batched, device, progress, log_dir
        As in :func:`train_bc_runs`.

    Returns
    -------
    SupervisedResult
        ``predict_proba(x)`` gives the class probabilities, (N, n, K).
    """
    x, seeds = _check_common("features", features, config, seeds, batched)
    N, n = len(seeds), x.shape[0]
    y = np.asarray(labels)
    if y.dtype.kind not in "iub":
        raise ArgumentTypeError(f"labels must be an integer array; got dtype {y.dtype}")
    y = _per_run("labels", y.astype(np.int64), N, (n,))
    if y.min() < 0:
        raise ValueError(f"labels must be >= 0; got {y.min()}")
    if n_classes is None:
        K = max(2, int(y.max()) + 1)
    else:
        K = check_int("n_classes", n_classes, lo=2)
        if y.max() >= K:
            raise ValueError(f"labels must lie in [0, n_classes) = [0, {K}); got {y.max()}")
    w = _check_weights(weights, N, n)
    return _fit("classifier", x, y, w, K, config, seeds, batched, device, progress, log_dir)


def train_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    config: SupervisedConfig = SupervisedConfig(),
    *,
    n_classes: int | None = None,
    weights: np.ndarray | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> SupervisedResult:
    """One seeded MLP classifier (see :func:`train_classifier_runs`)."""
    check_seed(seed)
    return train_classifier_runs(
        features,
        labels,
        config,
        [seed],
        n_classes=n_classes,
        weights=weights,
        batched=False,
        device=device,
        progress=progress,
    )
