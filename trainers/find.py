"""FIND: fine-tune the initial-noise distribution of a frozen diffusion sampler by policy gradient.

Chen et al. (FIND, ACM MM 2024) leave a pretrained diffusion model untouched and learn, per
prompt ``c``, the distribution of its initial noise ``z_T ~ N(mu_phi(c), sigma_phi(c)^2)``: a
one-step MDP whose state is the prompt, whose action is ``z_T`` and whose reward is a score of
the sample that the frozen T-step sampler produces from ``z_T``. Two devices stabilise the
policy gradient (abstract): a **dynamic reward calibration** module, a reward-prediction network
trained with its own loss, and **ratio clipping** (PPO's ``clip(pi_new / pi_old, 1 +- eps)``) so
that a batch of samples is reused and the distribution stays near the original ``N(0, I)``.

Read top to bottom: the frozen generator, the Gaussian noise policy (log-likelihood, closed-form
KL), config, result, the training loop.

The toy (our construction, not the paper's image task)
------------------------------------------------------
The frozen generator is :class:`ClusterDiffusion`: the deterministic DDIM sampler [2, Eq. 12
with sigma = 0] of a variance-preserving diffusion whose data distribution is a mixture of ``K``
equally weighted isotropic Gaussians ``N(m_k, s^2 I)`` in ``R^d`` (clusters on a ring by
default), one per prompt label ``k``. Its noise predictor is the *exact* one [derived]: at noise
level ``abar_t`` the marginal is ``p_t = (1/K) sum_k N(sqrt(abar_t) m_k, v_t I)`` with
``v_t = abar_t s^2 + 1 - abar_t``, so

    eps_hat(x, t) = -sqrt(1 - abar_t) grad log p_t(x)
                  = sqrt(1 - abar_t) sum_k gamma_k(x) (x - sqrt(abar_t) m_k) / v_t,

``gamma_k`` the posterior weights of the components. A network trained to optimality on the
denoising loss learns exactly this function, so using it in closed form (instead of training a
denoiser) removes training error and seeds from the generator, which is what the paper's
"frozen pretrained model" provides; no download, no training. The DDIM step is
``x0_hat = (x - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t)``,
``x_{t-1} = sqrt(abar_{t-1}) x0_hat + sqrt(1 - abar_{t-1}) eps_hat``, with ``abar_0 = 1`` (the
last step returns ``x0_hat``) and ``logit(abar_t)`` linear in ``t`` from ``logit(abar_1)`` to
``logit(abar_T)`` (``alpha_bar_max``, ``alpha_bar_min``; a log-SNR-uniform schedule, our
choice: it spends steps near the data, so ten steps already land near the clusters).
Started from ``z_T ~ N(0, I)`` the sampler lands in each cluster with probability about ``1/K``,
so the *unconditioned* initial noise scores about ``1/K`` on the prompt-consistency reward.

The verifiable rewards (``FINDConfig.reward``) of a sample ``x`` for the label ``c``:
``"hit"`` = ``1[the nearest centre of x is m_c]`` (prompt consistency, the default),
``"posterior"`` = the mixture's posterior ``p(k = c | x)`` (a smooth version), and
``"neg_distance"`` = ``-||x - m_c||^2``.

The update [reconstructed: the paper's abstract fixes the ingredients, not their details]
-----------------------------------------------------------------------------------------
Each iteration draws ``samples_per_label`` noises per label from the current policy (one batch
per run), generates, scores, and then

- *calibration* (``calibration=True``): the advantage is the calibrated reward
  ``A = r - b_psi(c)`` where the reward predictor ``b_psi`` (one output per label, i.e. a linear
  layer on the one-hot prompt) is then fitted to the batch by ``calibration_steps`` Adam steps on
  its own loss ``mean (b_psi(c) - r)^2``; it is "dynamic" because it tracks the reward of the
  moving policy. With ``calibration=False`` the advantage is the raw reward ``A = r``;
- *ratio clipping* (``ratio_clipping=True``): ``update_epochs`` Adam steps on the PPO surrogate
  ``-min(rho A, clip(rho, 1 - clip_eps, 1 + clip_eps) A)`` with
  ``rho = pi_phi(z | c) / pi_old(z | c)`` [3, Eq. 7] reuse the batch; with
  ``ratio_clipping=False`` the surrogate is the unclipped importance-weighted ``-rho A``.

*Plain policy gradient* (the ablation, :meth:`FINDConfig.plain_pg`) is REINFORCE [4] on the raw
reward: no calibration, one gradient step per batch (``rho = 1``, so the surrogate's gradient is
``-A grad log pi``). The "historical samples" that FIND reuses are here the current batch's over
``update_epochs`` epochs (PPO's reading); a replay of older batches is not implemented.

References
----------
.. [1] C. Chen, L. Wang, Q. Liu, Y. Luo, "FIND: Fine-tuning Initial Noise Distribution with
   Policy Optimization for Diffusion Models", ACM MM 2024, arXiv:2407.19453 (abstract: one-step
   MDP over the initial noise, dynamic reward calibration, ratio clipping).
.. [2] J. Song, C. Meng, S. Ermon, "Denoising Diffusion Implicit Models", ICLR 2021, Eq. (12).
.. [3] J. Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017,
   Eq. (7).
.. [4] R. J. Williams, "Simple Statistical Gradient-Following Algorithms for Connectionist
   Reinforcement Learning", Machine Learning 8, 1992.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_choice,
    check_int,
    check_positive,
    check_positive_int,
    check_seed,
    check_seeds,
)
from trainers import losses as L
from trainers.runtime import (
    FLAG,
    OPEN_UNIT,
    POSITIVE,
    POSITIVE_INT,
    MetricsLog,
    check_config,
    check_instance,
    one_of,
    real,
    setup,
)

__all__ = [
    "ClusterDiffusion",
    "FINDConfig",
    "FINDResult",
    "diag_gaussian_kl",
    "diag_gaussian_log_prob",
    "expected_reward",
    "train_find",
]

REWARDS = ("hit", "posterior", "neg_distance")
LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# The frozen generator
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterDiffusion:
    """A frozen deterministic T-step DDIM sampler whose data are K labelled Gaussian clusters.

    Parameters
    ----------
    centers : array (K, d)
        The cluster centres ``m_k`` (K >= 2 distinct rows, finite); label ``k`` is cluster ``k``.
    cluster_std : float
        The clusters' standard deviation ``s > 0``.
    n_steps : int
        Sampler steps ``T``.
    alpha_bar_min, alpha_bar_max : float
        ``abar_T`` and ``abar_1``, ``0 < abar_T < abar_1 < 1``: the signal fraction at the initial
        noise level and at the last sampler step.

    Notes
    -----
    The exact noise predictor of the mixture and the DDIM step are derived in the module
    docstring; :meth:`generate` maps ``z_T`` (any batch shape ``(..., d)``) to ``x_0``.

    Examples
    --------
    >>> gen = ClusterDiffusion.ring(4, radius=2.0)
    >>> x = gen.generate(torch.zeros(1, 2, dtype=torch.float64))  # the origin is a saddle
    >>> gen.centers.shape, bool(torch.all(torch.isfinite(x)))
    ((4, 2), True)
    """

    centers: np.ndarray = field(repr=False)
    cluster_std: float = 0.2
    n_steps: int = 10
    alpha_bar_min: float = 1e-3
    alpha_bar_max: float = 0.9975

    def __post_init__(self) -> None:
        c = as_float_array("centers", self.centers, ndim=2)
        if c.shape[0] < 2:
            raise ValueError(f"centers must hold at least 2 clusters (K, d); got shape {c.shape}")
        if len(np.unique(c, axis=0)) != c.shape[0]:
            raise ValueError("centers must be distinct rows; got a repeated centre")
        c = c.copy()
        c.setflags(write=False)
        object.__setattr__(self, "centers", c)
        object.__setattr__(self, "cluster_std", check_positive("cluster_std", self.cluster_std))
        object.__setattr__(self, "n_steps", check_positive_int("n_steps", self.n_steps))
        unit = real(0.0, 1.0, lo_open=True, hi_open=True)
        lo = unit("alpha_bar_min", self.alpha_bar_min)
        hi = unit("alpha_bar_max", self.alpha_bar_max)
        if lo >= hi:
            raise ValueError(
                f"alpha_bar_min must be below alpha_bar_max = {hi}; got {self.alpha_bar_min!r}"
            )
        object.__setattr__(self, "alpha_bar_min", lo)
        object.__setattr__(self, "alpha_bar_max", hi)

    @classmethod
    def ring(
        cls,
        n_clusters: int = 4,
        *,
        radius: float = 2.0,
        cluster_std: float = 0.2,
        n_steps: int = 10,
        alpha_bar_min: float = 1e-3,
        alpha_bar_max: float = 0.9975,
    ) -> ClusterDiffusion:
        """``n_clusters`` centres evenly on a circle of ``radius`` in the plane."""
        k = check_int("n_clusters", n_clusters, lo=2)
        radius = check_positive("radius", radius)
        ang = 2.0 * np.pi * np.arange(k) / k
        centers = radius * np.stack([np.cos(ang), np.sin(ang)], 1)
        return cls(centers, cluster_std, n_steps, alpha_bar_min, alpha_bar_max)

    @property
    def n_labels(self) -> int:
        return int(self.centers.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centers.shape[1])

    def alpha_bars(self) -> np.ndarray:
        """``abar_t`` for ``t = 0..T`` (``abar_0 = 1``, logit-linear from ``abar_1`` to
        ``abar_T``), shape (T + 1,)."""
        logit = lambda a: math.log(a / (1.0 - a))  # noqa: E731
        lam = np.linspace(logit(self.alpha_bar_max), logit(self.alpha_bar_min), self.n_steps)
        return np.concatenate([[1.0], 1.0 / (1.0 + np.exp(-lam))])

    def _eps_hat(self, x: torch.Tensor, ab: float, m: torch.Tensor) -> torch.Tensor:
        v = ab * self.cluster_std**2 + 1.0 - ab
        diff = x.unsqueeze(-2) - math.sqrt(ab) * m  # (..., K, d)
        gamma = torch.softmax(-0.5 * (diff**2).sum(-1) / v, dim=-1)  # equal weights
        return math.sqrt(1.0 - ab) * (gamma.unsqueeze(-1) * diff).sum(-2) / v

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """The sample ``x_0`` produced from the initial noise ``z = x_T`` (float64, no grad).

        ``z`` is a finite tensor (or array) of shape ``(..., d)``.
        """
        if not isinstance(z, torch.Tensor):
            z = torch.as_tensor(as_float_array("z", z))
        if z.ndim == 0 or z.shape[-1] != self.dim:
            raise ValueError(f"z must have shape (..., {self.dim}); got {tuple(z.shape)}")
        if not torch.all(torch.isfinite(z)):
            raise ValueError("z must be finite")
        x = z.detach().double()
        m = torch.tensor(self.centers, dtype=x.dtype, device=x.device)
        ab = self.alpha_bars()
        with torch.no_grad():
            for t in range(self.n_steps, 0, -1):
                eps = self._eps_hat(x, float(ab[t]), m)
                x0 = (x - math.sqrt(1.0 - ab[t]) * eps) / math.sqrt(ab[t])  # DDIM Eq. (12)
                x = math.sqrt(ab[t - 1]) * x0 + math.sqrt(1.0 - ab[t - 1]) * eps
        return x

    def reward(self, x: torch.Tensor, labels: torch.Tensor, kind: str = "hit") -> torch.Tensor:
        """The verifiable reward of samples ``x`` (..., d) for prompt ``labels`` (...,).

        ``kind``: ``"hit"`` (nearest centre is the label's), ``"posterior"`` (the mixture's
        posterior of the label) or ``"neg_distance"`` (``-||x - m_label||^2``).
        """
        check_choice("kind", kind, REWARDS)
        m = torch.tensor(self.centers, dtype=x.dtype, device=x.device)
        d2 = ((x.unsqueeze(-2) - m) ** 2).sum(-1)  # (..., K)
        own = d2.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        if kind == "hit":
            return (d2.argmin(-1) == labels).to(x.dtype)
        if kind == "posterior":
            logp = torch.log_softmax(-0.5 * d2 / self.cluster_std**2, dim=-1)
            return logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).exp()
        return -own


# ---------------------------------------------------------------------------------------------
# The Gaussian noise policy: log-likelihood and closed-form KL
# ---------------------------------------------------------------------------------------------


def _tensor(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a torch.Tensor; got {type(value).__name__}")
    return value


def diag_gaussian_log_prob(
    z: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
) -> torch.Tensor:
    """``log N(z; mean, diag(exp(2 log_std)))`` summed over the last axis.

    ``-1/2 sum_i ((z_i - mu_i) / sigma_i)^2 - sum_i log sigma_i - (d/2) log(2 pi)``; the inputs
    broadcast against each other (their shapes must agree on the last axis, ``d``).

    Examples
    --------
    >>> z = torch.tensor([1.0, 0.0], dtype=torch.float64)
    >>> round(float(diag_gaussian_log_prob(z, torch.zeros(2), torch.zeros(2))), 6)
    -2.337877
    """
    z, mean, log_std = (_tensor(n, v) for n, v in (("z", z), ("mean", mean), ("log_std", log_std)))
    if not (z.ndim and mean.ndim and log_std.ndim) or not (
        z.shape[-1] == mean.shape[-1] == log_std.shape[-1]
    ):
        raise ValueError(
            f"log_std, mean and z must share the last axis d; got shapes {tuple(z.shape)}, "
            f"{tuple(mean.shape)}, {tuple(log_std.shape)}"
        )
    u = (z - mean) * torch.exp(-log_std)
    return -0.5 * (u**2).sum(-1) - log_std.sum(-1) - 0.5 * z.shape[-1] * LOG_2PI


def diag_gaussian_kl(
    mean_p: np.ndarray,
    log_std_p: np.ndarray,
    mean_q: np.ndarray | None = None,
    log_std_q: np.ndarray | None = None,
) -> np.ndarray:
    """Closed-form ``KL(N(mu_p, diag sigma_p^2) || N(mu_q, diag sigma_q^2))`` over the last axis.

    ``sum_i [log(sigma_q,i / sigma_p,i) + (sigma_p,i^2 + (mu_p,i - mu_q,i)^2) / (2 sigma_q,i^2)
    - 1/2]``; ``q`` defaults to the standard normal ``N(0, I)`` (FIND's initial noise), where it
    is ``1/2 sum_i (sigma_i^2 + mu_i^2 - 1 - 2 log sigma_i)``. Float64 arrays, broadcast.

    Examples
    --------
    >>> float(diag_gaussian_kl(np.array([1.0, 0.0]), np.zeros(2)))
    0.5
    """
    mp = as_float_array("mean_p", mean_p)
    lp = as_float_array("log_std_p", log_std_p)
    mq = np.zeros_like(mp) if mean_q is None else as_float_array("mean_q", mean_q)
    lq = np.zeros_like(lp) if log_std_q is None else as_float_array("log_std_q", log_std_q)
    try:
        shape = np.broadcast_shapes(mp.shape, lp.shape, mq.shape, lq.shape)
    except ValueError:
        raise ValueError(
            f"log_std_q, mean_q, log_std_p and mean_p must broadcast; got shapes {lq.shape}, "
            f"{mq.shape}, {lp.shape}, {mp.shape}"
        ) from None
    if not shape:
        raise ValueError("mean_p must have a last axis (the dimension d); got a scalar")
    var_ratio = np.exp(2.0 * (lp - lq))
    kl = lq - lp + 0.5 * (var_ratio + (mp - mq) ** 2 * np.exp(-2.0 * lq)) - 0.5
    return np.maximum(kl.sum(-1), 0.0)


# ---------------------------------------------------------------------------------------------
# Config and result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FINDConfig:
    """Hyperparameters of FIND and of its plain policy-gradient ablation."""

    steps: int = 60
    """Iterations (one batch of samples each)."""
    samples_per_label: int = 16
    """Noises drawn per prompt label per iteration."""
    lr: float = 0.05
    """Adam learning rate of the policy (mean and log std per label)."""
    ratio_clipping: bool = True
    """PPO's clipped ratio over ``update_epochs`` reuses of a batch; False: unclipped ``rho A``."""
    clip_eps: float = 0.2
    """The clipping range ``eps`` of ``clip(rho, 1 - eps, 1 + eps)``."""
    update_epochs: int = 4
    """Gradient steps on each batch (historical-sample reuse)."""
    calibration: bool = True
    """Advantage ``r - b_psi(c)`` with the reward predictor; False: the raw reward."""
    calibration_lr: float = 0.1
    """Adam learning rate of the reward predictor ``b_psi``."""
    calibration_steps: int = 5
    """Adam steps of the predictor's loss ``mean (b_psi(c) - r)^2`` per batch."""
    reward: str = "hit"
    """'hit' (nearest centre), 'posterior' or 'neg_distance' (see the module docstring)."""
    log_std_min: float = -3.0
    """Lower clamp of the policy's log std (keeps the density finite)."""

    def __post_init__(self) -> None:
        check_config(
            self,
            {
                "steps": POSITIVE_INT,
                "samples_per_label": POSITIVE_INT,
                "lr": POSITIVE,
                "ratio_clipping": FLAG,
                "clip_eps": OPEN_UNIT,
                "update_epochs": POSITIVE_INT,
                "calibration": FLAG,
                "calibration_lr": POSITIVE,
                "calibration_steps": POSITIVE_INT,
                "reward": one_of(*REWARDS),
                "log_std_min": real(hi=0.0, hi_open=True),
            },
        )

    @classmethod
    def plain_pg(cls, **overrides: object) -> FINDConfig:
        """The ablation: REINFORCE on the raw reward (no calibration, one step per batch)."""
        kw = {"ratio_clipping": False, "calibration": False, "update_epochs": 1}
        return cls(**{**kw, **overrides})


@dataclass(frozen=True)
class FINDResult:
    """Learned noise distributions of N runs, their training curves and the config.

    Attributes
    ----------
    mean, log_std : ndarray, shape (N, K, d)
        ``mu_phi(c)`` and ``log sigma_phi(c)`` of every run and label.
    baseline : ndarray, shape (N, K)
        The reward predictor ``b_psi(c)`` (zeros without calibration).
    reward_history, kl_history, calibration_loss : ndarray, shape (steps, N)
        Per iteration: the batch's mean reward, the mean over labels of the closed-form
        ``KL(pi_phi(.|c) || N(0, I))`` after the update, and the predictor's loss before its
        update (NaN without calibration).
    """

    mean: np.ndarray = field(repr=False)
    log_std: np.ndarray = field(repr=False)
    baseline: np.ndarray = field(repr=False)
    reward_history: np.ndarray = field(repr=False)
    kl_history: np.ndarray = field(repr=False)
    calibration_loss: np.ndarray = field(repr=False)
    seeds: tuple[int, ...]
    config: FINDConfig
    seconds: float
    metrics: list[dict[str, float]] = field(repr=False)

    @property
    def n_runs(self) -> int:
        return int(self.mean.shape[0])

    def kl_to_initial(self) -> np.ndarray:
        """``KL(pi_phi(.|c) || N(0, I))`` per run and label, shape (N, K) (closed form)."""
        return diag_gaussian_kl(self.mean, self.log_std)

    def policy_module(self, run: int = 0) -> nn.Module:
        """Run ``run``'s policy as a module: one-hot labels (n, K) -> (mean, log_std) (n, d)."""
        run = check_int("run", run, lo=0, hi=self.n_runs - 1)
        return _LabelGaussian(self.mean[run], self.log_std[run])

    def summary(self) -> str:
        r = self.reward_history[-1]
        kl = self.kl_to_initial().mean(1)
        return (
            f"FIND ({'clip' if self.config.ratio_clipping else 'no clip'}, "
            f"{'calibrated' if self.config.calibration else 'raw reward'}), {self.n_runs} runs x "
            f"{self.config.steps} steps: final batch reward {r.mean():.3f} (std {r.std():.3f}), "
            f"KL to N(0, I) {kl.mean():.3f}; {self.seconds:.2f} s"
        )


class _LabelGaussian(nn.Module):
    """A table of Gaussians: one-hot labels (n, K) -> (mean, log std), each (n, d)."""

    def __init__(self, mean: np.ndarray, log_std: np.ndarray):
        super().__init__()
        self.mean = nn.Parameter(torch.as_tensor(mean, dtype=torch.float64), requires_grad=False)
        self.log_std = nn.Parameter(
            torch.as_tensor(log_std, dtype=torch.float64), requires_grad=False
        )

    def forward(self, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = onehot.to(self.mean.dtype)
        return w @ self.mean, w @ self.log_std


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _noise(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64)


def train_find(
    task: ClusterDiffusion,
    config: FINDConfig,
    *,
    seeds: Sequence[int] = (0,),
    device: str | torch.device = "cpu",
    progress: bool | None = False,
) -> FINDResult:
    """Train ``len(seeds)`` independent noise policies on ``task`` (all runs as one batch).

    Parameters
    ----------
    task : ClusterDiffusion
        The frozen generator and its labelled clusters.
    config : FINDConfig
        :class:`FINDConfig` () for FIND, :meth:`FINDConfig.plain_pg` for the ablation.
    seeds : sequence of int
        Run ``i`` draws its noise from ``seeds[i]`` only (its numbers do not depend on the other
        runs); every run starts at ``N(0, I)`` with the predictor at 0.
    device : str
    progress : bool or None

    Returns
    -------
    FINDResult

    Examples
    --------
    >>> res = train_find(ClusterDiffusion.ring(3), FINDConfig(steps=5), seeds=[0, 1])
    >>> res.mean.shape, res.reward_history.shape
    ((2, 3, 2), (5, 2))
    """
    check_instance("task", task, ClusterDiffusion)
    check_instance("config", config, FINDConfig)
    seeds = check_seeds(seeds)
    dev = setup(seeds[0], device)
    cfg = config
    N, K, d, G = len(seeds), task.n_labels, task.dim, cfg.samples_per_label
    noise = torch.stack([_noise(s, (cfg.steps, K, G, d)) for s in seeds], 1).to(dev)
    labels = torch.arange(K, device=dev).view(1, K, 1).expand(N, K, G)
    mean = torch.zeros(N, K, d, dtype=torch.float64, device=dev, requires_grad=True)
    log_std = torch.zeros(N, K, d, dtype=torch.float64, device=dev, requires_grad=True)
    b = torch.zeros(N, K, dtype=torch.float64, device=dev, requires_grad=True)
    opt = torch.optim.Adam([mean, log_std], lr=cfg.lr)
    opt_b = torch.optim.Adam([b], lr=cfg.calibration_lr)
    hist_r, hist_kl, hist_cal = (np.zeros((cfg.steps, N)) for _ in range(3))
    log = MetricsLog(cfg.steps, progress=progress)
    start = time.perf_counter()

    def _params() -> tuple[torch.Tensor, torch.Tensor]:
        return mean.unsqueeze(2), log_std.clamp(min=cfg.log_std_min).unsqueeze(2)

    for step in range(cfg.steps):
        # sample z_T ~ N(mu_phi(c), sigma_phi(c)^2) and score the frozen sampler's output
        with torch.no_grad():
            mu, ls = _params()
            z = mu + ls.exp() * noise[step]  # (N, K, G, d)
            old_logp = diag_gaussian_log_prob(z, mu, ls)
            r = task.reward(task.generate(z), labels, cfg.reward)  # (N, K, G)
        # dynamic reward calibration: advantage against the predictor, then fit it (own loss)
        if cfg.calibration:
            adv = r - b.detach().unsqueeze(2)
            for j in range(cfg.calibration_steps):
                cal_loss = ((b.unsqueeze(2) - r) ** 2).mean((1, 2))  # (N,)
                if j == 0:
                    hist_cal[step] = cal_loss.detach().cpu().numpy()
                opt_b.zero_grad()
                cal_loss.sum().backward()
                opt_b.step()
        else:
            adv = r
            hist_cal[step] = np.nan
        # policy loss: clipped (or unclipped) ratio surrogate, reusing the batch
        for _ in range(cfg.update_epochs):
            mu, ls = _params()
            logp = diag_gaussian_log_prob(z, mu, ls)
            if cfg.ratio_clipping:
                pg, stats = L.ppo_clip_loss(logp, old_logp, adv, clip_low=cfg.clip_eps)
            else:
                ratio = (logp - old_logp).exp()
                pg, stats = -ratio * adv, {}
            opt.zero_grad()
            pg.mean((1, 2)).sum().backward()  # per-run mean; runs share no parameters
            opt.step()
        with torch.no_grad():
            mu, ls = _params()
            kl = diag_gaussian_kl(mu.squeeze(2).cpu().numpy(), ls.squeeze(2).cpu().numpy())
        hist_r[step] = r.mean((1, 2)).cpu().numpy()
        hist_kl[step] = kl.mean(1)
        row = {"charts/reward": float(hist_r[step].mean()), "stability/kl": float(kl.mean())}
        if "clipfrac" in stats:
            row["losses/clipfrac"] = float(stats["clipfrac"])
        if cfg.calibration:
            row["losses/calibration"] = float(hist_cal[step].mean())
        log.log(step, row)
        log.advance()
    log.close()
    mu, ls = (t.detach().squeeze(2).cpu().numpy().copy() for t in _params())
    return FINDResult(
        mu,
        ls,
        b.detach().cpu().numpy().copy() if cfg.calibration else np.zeros((N, K)),
        hist_r,
        hist_kl,
        hist_cal,
        tuple(seeds),
        cfg,
        time.perf_counter() - start,
        log.rows,
    )


def expected_reward(
    task: ClusterDiffusion,
    mean: np.ndarray,
    log_std: np.ndarray,
    *,
    samples: int = 512,
    seed: int = 0,
    reward: str = "hit",
) -> np.ndarray:
    """Monte-Carlo expected reward of noise distributions, per run: shape ``mean.shape[:-2]``.

    Parameters
    ----------
    task : ClusterDiffusion
    mean, log_std : array (..., K, d)
        One Gaussian per label (``zeros`` for both: the initial noise ``N(0, I)``).
    samples : int
        Noises per label (common random numbers: the same standard normals for every input).
    seed : int
    reward : str
        As :attr:`FINDConfig.reward`.

    Returns
    -------
    ndarray
        The mean over labels and samples of the reward.

    Examples
    --------
    >>> gen = ClusterDiffusion.ring(4)
    >>> r0 = expected_reward(gen, np.zeros((4, 2)), np.zeros((4, 2)), samples=2000)
    >>> bool(abs(float(r0) - 0.25) < 0.05)  # the initial noise hits the prompt's cluster ~1/K
    True
    """
    check_instance("task", task, ClusterDiffusion)
    K, d = task.n_labels, task.dim
    mu = as_float_array("mean", mean)
    ls = as_float_array("log_std", log_std)
    if mu.ndim < 2 or mu.shape[-2:] != (K, d):
        raise ValueError(f"mean must have shape (..., {K}, {d}); got {mu.shape}")
    if ls.shape != mu.shape:
        raise ValueError(f"log_std must have the shape of mean {mu.shape}; got {ls.shape}")
    samples = check_positive_int("samples", samples)
    seed = check_seed(seed)
    check_choice("reward", reward, REWARDS)
    eps = _noise(seed, (K, samples, d))
    mu_t = torch.as_tensor(mu).unsqueeze(-2)
    z = mu_t + torch.as_tensor(ls).exp().unsqueeze(-2) * eps
    labels = torch.arange(K).view(K, 1).expand(*mu.shape[:-1], samples)
    r = task.reward(task.generate(z), labels, reward)
    return r.mean((-1, -2)).numpy()


if __name__ == "__main__":  # pragma: no cover - a quick look
    gen = ClusterDiffusion.ring(4)
    for cfg in (FINDConfig(), FINDConfig(ratio_clipping=False), FINDConfig.plain_pg()):
        res = train_find(gen, cfg, seeds=range(8))
        print(res.summary())
        print(" reward", expected_reward(gen, res.mean, res.log_std, samples=500).round(3))
