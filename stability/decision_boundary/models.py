"""Policies for the experiments: linear Q-functions, and a small CNN fitted to Q* (vanilla/robust).

- :class:`LinearPolicy`: ``Q(s) = W s + b`` (float64), where every quantity has a closed form;
- :class:`GridCNN`: two convolutions (the first aligned with the 3 × 3 cells) and two dense
  layers, for ``1 × 3n × 3n`` gridworld observations;
- :func:`fit_q_policy`: a short, seeded, full-batch supervised fit of a :class:`GridCNN` to Q*
  (the "vanilla" policy), or with an SA-DQN-style adversarial margin penalty (the "robust
  twin"): ``loss = MSE(Q(s), Q*(s)) + κ · mean(clamp(max_{a≠a*} Q(s_adv, a) - Q(s_adv, a*),
  min=-c))`` with ``s_adv`` from ℓ∞ PGD on the instability loss (``chenhongge/SA_DQN`` train.py,
  PGD variant). Our own loop, independent of ``trainers/``.

References
----------
.. [1] H. Zhang et al., "Robust deep reinforcement learning against adversarial perturbations on
   state observations" (SA-DQN), NeurIPS 2020.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stability.decision_boundary._checks import as_batch
from stability.decision_boundary.directions import instability_loss
from theory.checks import (
    as_float_array,
    check_bool,
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = ["FitReport", "GridCNN", "LinearPolicy", "fit_q_policy"]


class LinearPolicy(nn.Module):
    """``Q(s) = W s + b`` in float64 (states flattened)."""

    def __init__(self, W: object, b: object) -> None:
        super().__init__()
        W = as_batch("W", W, min_ndim=2)
        b = as_float_array("b", b)
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(f"W must be (A, d) and b (A,); got {W.shape} and {b.shape}")
        self.W = nn.Parameter(torch.as_tensor(W), requires_grad=False)
        self.b = nn.Parameter(torch.as_tensor(b), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1) @ self.W.T + self.b


class GridCNN(nn.Module):
    """Conv(1→8, 3, stride 3) – ReLU – Conv(8→16, 3, pad 1) – ReLU – Linear(·, 64) – ReLU – Linear(64, A).

    Parameters
    ----------
    side : int
        Image side ``3n`` (a multiple of 3, at least 3: one cell is 3 × 3 pixels).
    n_actions : int, default 4
        Outputs ``A`` (at least 2: one action has no decision boundary).
    channels : int, default 1
        Input channels.
    """

    def __init__(self, side: int, n_actions: int = 4, channels: int = 1) -> None:
        side = check_int("side", side, lo=3)
        if side % 3:
            raise ValueError(f"side must be a multiple of 3 (3 pixels per cell); got {side}")
        n_actions = check_int("n_actions", n_actions, lo=2)
        channels = check_positive_int("channels", channels)
        super().__init__()
        cells = side // 3
        self.net = nn.Sequential(
            nn.Conv2d(channels, 8, 3, stride=3),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(16 * cells * cells, 64),
            nn.ReLU(),
            nn.Linear(64, n_actions),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass(frozen=True)
class FitReport:
    """How well a fitted policy matches Q*: final MSE, greedy agreement, training time."""

    mse: float
    agreement: float
    robust: bool
    steps: int
    seconds: float

    def summary(self) -> str:
        kind = "robust" if self.robust else "vanilla"
        return (
            f"{kind} CNN: MSE {self.mse:.3g}, greedy action optimal on {self.agreement:.1%} of "
            f"states, {self.steps} steps, {self.seconds:.2f} s"
        )


def _pgd_states(model: nn.Module, x: torch.Tensor, a: torch.Tensor, eps: float, steps: int):
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        (g,) = torch.autograd.grad(instability_loss(model(adv), a).sum(), adv)
        adv = (x + (adv.detach() + 1.25 * eps / steps * g.sign() - x).clamp(-eps, eps)).detach()
    return adv


def fit_q_policy(
    observations: object,
    q_star: object,
    *,
    robust: bool = False,
    eps: float = 0.05,
    kappa: float = 0.1,
    margin: float = 1.0,
    pgd_steps: int = 2,
    adv_batch: int = 32,
    steps: int = 250,
    lr: float = 5e-3,
    scale: float | None = None,
    seed: int = 0,
) -> tuple[GridCNN, FitReport]:
    """Fit a :class:`GridCNN` to Q* by full-batch Adam; ``robust`` adds the SA-DQN margin hinge.

    Parameters
    ----------
    observations : array_like, shape (N, 1, 3n, 3n)
    q_star : array_like, shape (N, A)
        Targets (divided by ``scale``, default ``max |Q*|``, and the model outputs scaled back).
    robust : bool, default False
        Add ``κ · mean(clamp(max_{a≠a*} Q(s_adv,a) - Q(s_adv,a*), min=-margin))`` with ``s_adv``
        from ``pgd_steps`` of ℓ∞ PGD at radius ``eps`` on the instability loss, ``a*`` the
        optimal action of Q*, on a random minibatch of ``adv_batch`` states per step (SA-DQN, PGD variant; ``margin`` in Q units, about one action
        gap of the gridworld; κ = 0.1 [reconstructed] where SA-DQN searched {0.005, 0.01, 0.02}
        on Atari's Q scale).
    steps, lr, seed
        Adam steps, learning rate and the seed of the initialisation.

    Returns
    -------
    (GridCNN, FitReport)
        The model (float32, eval mode) returns Q-values on the original scale.
    """
    X = torch.as_tensor(as_batch("observations", observations, min_ndim=4), dtype=torch.float32)
    Q = as_batch("q_star", q_star, min_ndim=2)
    if Q.shape[0] != X.shape[0] or Q.ndim != 2:
        raise ValueError(f"q_star must be (N, A) with N = {X.shape[0]}; got {Q.shape}")
    if X.shape[-1] != X.shape[-2] or X.shape[-1] % 3:
        raise ValueError(f"observations must be (N, C, 3n, 3n) images; got {tuple(X.shape)}")
    if Q.shape[1] < 2:
        raise ValueError(f"q_star must have at least 2 actions; got {Q.shape}")
    robust = check_bool("robust", robust)
    eps = check_positive("eps", eps)
    kappa = check_nonnegative("kappa", kappa)
    margin = check_nonnegative("margin", margin)
    pgd_steps = check_positive_int("pgd_steps", pgd_steps)
    adv_batch = check_positive_int("adv_batch", adv_batch)
    steps = check_positive_int("steps", steps)
    lr = check_positive("lr", lr)
    seed = check_seed(seed)
    scale = float(np.max(np.abs(Q))) or 1.0 if scale is None else check_positive("scale", scale)
    Y = torch.as_tensor(Q / scale, dtype=torch.float32)
    a_star = Y.argmax(dim=1)
    gen = torch.Generator().manual_seed(seed)
    # the initialisation is seeded without touching the caller's global generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GridCNN(X.shape[-1], Q.shape[1], X.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = ((model(X) - Y) ** 2).mean()
        if robust:
            idx = torch.randint(len(X), (min(adv_batch, len(X)),), generator=gen)
            xb, ab = X[idx], a_star[idx]
            qa = model(_pgd_states(model, xb, ab, eps, pgd_steps))
            other = qa.masked_fill(nn.functional.one_hot(ab, Q.shape[1]).bool(), -torch.inf)
            gap = other.amax(dim=1) - qa.gather(1, ab[:, None])[:, 0]
            hinge = gap.clamp_min(-margin / scale)  # margin in Q units, hinge on scaled Q
            loss = loss + kappa * hinge.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # fold the target scale into the last layer: the model returns Q on the original scale
    with torch.no_grad():
        last = model.net[-1]
        last.weight.mul_(scale)
        last.bias.mul_(scale)
        pred = model(X).numpy()
    model.eval()
    opt_set = Q >= Q.max(axis=1, keepdims=True) - 1e-9
    agree = float(np.mean(opt_set[np.arange(len(Q)), pred.argmax(axis=1)]))
    rep = FitReport(
        mse=float(np.mean((pred - Q) ** 2)),
        agreement=agree,
        robust=bool(robust),
        steps=steps,
        seconds=time.perf_counter() - t0,
    )
    return model, rep
