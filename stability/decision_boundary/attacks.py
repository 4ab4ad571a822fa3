"""Adversarial attacks on discrete-action policies, as instruments (batched, torch).

All attacks use the policy's greedy action ``a*(s)`` as the label and, where a loss is needed,
the instability loss ``J = -log softmax(Q)_{a*}`` of :mod:`.directions` (the loss SA-DQN's
``attacks.py`` uses on Q-values). Every attack works on a whole batch at once.

- :func:`fgsm`: one signed (ℓ∞) or normalised (ℓ2) gradient step (Huang et al. 2017; Korkmaz
  NeurIPS'21 workshop Eq. 1);
- :func:`pgd`: iterated ℓ∞ steps with projection and a seeded random start (Eq. 2–3);
- :func:`nesterov`: FGSM with Nesterov look-ahead momentum (Korkmaz 2020) [reconstructed];
- :func:`deepfool`: the linearised minimal ℓ2 step to the nearest boundary, exact in one step for
  a linear policy (Moosavi-Dezfooli et al. 2016);
- :func:`carlini_wagner_l2`: ``min ‖δ‖² + c·max(Q_{a*} - max_{k≠a*} Q_k + κ, 0)`` by Adam,
  keeping the smallest successful perturbation (fixed ``c``, no binary search);
- :func:`flip_distance`: the distance along a direction (both signs by default) at which the
  action first changes (geometric grid, then bisection), as a :class:`FlipDistance`;
  :func:`random_directions`: the random baseline.

References
----------
.. [1] S. Huang et al., "Adversarial attacks on neural network policies", 2017.
.. [2] S. Moosavi-Dezfooli, A. Fawzi, P. Frossard, "DeepFool", CVPR 2016.
.. [3] N. Carlini, D. Wagner, "Towards evaluating the robustness of neural networks", S&P 2017.
.. [4] E. Korkmaz, "Nesterov momentum adversarial perturbations in the deep reinforcement
   learning domain", ICML 2020 workshop.
.. [5] H. Zhang et al., "Robust deep RL against adversarial perturbations on state observations"
   (SA-DQN), NeurIPS 2020; code ``chenhongge/SA_DQN`` (attacks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from stability.decision_boundary._checks import (
    Box,
    as_states,
    check_box,
    check_policy,
    policy_dtype,
    q_values,
)
from stability.decision_boundary.directions import _gradients
from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = [
    "SIGNS",
    "AttackResult",
    "FlipDistance",
    "carlini_wagner_l2",
    "deepfool",
    "fgsm",
    "flip_distance",
    "nesterov",
    "pgd",
    "random_directions",
]

#: The sides of a direction :func:`flip_distance` can search: both, ``+u`` only, ``-u`` only.
SIGNS = ("both", "+", "-")


@dataclass(frozen=True)
class AttackResult:
    """What an attack did to each state.

    Attributes
    ----------
    name : str
    adversarial : Tensor, shape (N, *state_shape)
        The perturbed states (policy dtype).
    clean_actions, adversarial_actions : ndarray, shape (N,)
    flipped : ndarray of bool, shape (N,)
        ``adversarial_actions != clean_actions``.
    l2, linf : ndarray, shape (N,)
        Norms of the perturbation.
    steps : int
        Gradient steps taken (the largest over the batch).
    margin : ndarray, shape (N,)
        The logit gap ``Q_{a*} - max_{k≠a*} Q_k`` at the adversarial state (float64): ``<= 0``
        where the action flipped, and where it did not, ``>= 0``, the gap left to the
        boundary (0: the state sits on it and the tie went to ``a*``).

    Notes
    -----
    The result vocabulary of iterative work is there as properties: ``nit`` (``steps``),
    ``success`` (every state flipped), ``status`` (0 every state flipped, 1 some did not
    within the step budget) and ``message``.
    """

    name: str
    adversarial: torch.Tensor
    clean_actions: np.ndarray
    adversarial_actions: np.ndarray
    flipped: np.ndarray
    l2: np.ndarray
    linf: np.ndarray
    steps: int
    margin: np.ndarray

    @property
    def flip_rate(self) -> float:
        return float(self.flipped.mean())

    @property
    def nit(self) -> int:
        """``steps``: gradient steps taken (the largest over the batch)."""
        return int(self.steps)

    @property
    def success(self) -> bool:
        """Every state's greedy action flipped."""
        return bool(np.all(self.flipped))

    @property
    def status(self) -> int:
        """0 when every state flipped, 1 when some did not within the step budget."""
        return 0 if self.success else 1

    @property
    def message(self) -> str:
        """How the attack ended, in words."""
        n, k = len(self.flipped), int(np.sum(self.flipped))
        return f"{self.name}: {k}/{n} states flipped after {self.nit} steps"

    def summary(self) -> str:
        med = float(np.median(self.l2[self.flipped])) if self.flipped.any() else float("nan")
        kept = ~self.flipped
        gap = f", largest logit gap left {self.margin[kept].max():.3g}" if kept.any() else ""
        return (
            f"{self.name}: flipped {int(self.flipped.sum())}/{len(self.flipped)} states, "
            f"median ℓ2 of successful perturbations {med:.4g}, {self.steps} steps{gap}"
        )


def _prep(policy: Callable, states: object) -> tuple[torch.Tensor, torch.Tensor]:
    check_policy(policy)
    x = as_states("states", states, policy_dtype(policy))
    with torch.no_grad():
        a = q_values(policy, x).argmax(dim=1)
    return x, a


def _result(
    name: str, policy: Callable, x: torch.Tensor, a: torch.Tensor, adv: torch.Tensor, steps: int
) -> AttackResult:
    with torch.no_grad():
        q = policy(adv).to(torch.float64)
    b = q.argmax(dim=1)
    other = q.scatter(1, a[:, None], -torch.inf).amax(dim=1)
    margin = q.gather(1, a[:, None])[:, 0] - other
    delta = (adv - x).reshape(len(x), -1).to(torch.float64)
    return AttackResult(
        name=name,
        adversarial=adv.detach(),
        clean_actions=a.numpy().astype(int),
        adversarial_actions=b.numpy().astype(int),
        flipped=(a != b).numpy(),
        l2=delta.norm(dim=1).numpy(),
        linf=delta.abs().amax(dim=1).numpy(),
        steps=steps,
        margin=margin.numpy(),
    )


def _clip(x: torch.Tensor, clip: Box) -> torch.Tensor:
    return x if clip is None else x.clamp(clip[0], clip[1])


def _unit(g: torch.Tensor, p: float) -> torch.Tensor:
    flat = g.reshape(len(g), -1)
    n = flat.norm(p=p, dim=1).clamp_min(torch.finfo(g.dtype).tiny)
    return (flat / n[:, None]).reshape(g.shape)


def fgsm(
    policy: Callable, states: object, eps: float, *, norm: str = "inf", clip: Box = None
) -> AttackResult:
    """FGSM: ``s + ε·sign(∇J)`` (ℓ∞) or ``s + ε·∇J/‖∇J‖₂`` (ℓ2) (Huang et al. 2017).

    Raises
    ------
    ValueError
        For ``eps <= 0``, an unknown ``norm``, a bad ``clip`` or malformed inputs.
    """
    eps = check_positive("eps", eps)
    check_choice("norm", norm, ("inf", "2"))
    clip = check_box("clip", clip)
    x, a = _prep(policy, states)
    g, _ = _gradients(policy, x, a)
    step = g.sign() if norm == "inf" else _unit(g, 2)
    return _result(f"fgsm-l{norm}", policy, x, a, _clip(x + eps * step, clip), 1)


def pgd(
    policy: Callable,
    states: object,
    eps: float,
    *,
    steps: int = 10,
    alpha: float | None = None,
    random_start: bool = True,
    seed: int = 0,
    clip: Box = None,
) -> AttackResult:
    """ℓ∞ PGD: ``x ← Π_{‖x-s‖∞≤ε}(x + α·sign(∇J(x)))`` from a seeded uniform start (Madry et al.).

    ``alpha`` defaults to ``2.5 ε / steps``. The label stays ``a*(s)`` of the clean state.
    """
    eps = check_positive("eps", eps)
    steps = check_positive_int("steps", steps)
    alpha = 2.5 * eps / steps if alpha is None else check_positive("alpha", alpha)
    random_start = check_bool("random_start", random_start)
    seed = check_seed(seed)
    clip = check_box("clip", clip)
    x, a = _prep(policy, states)
    adv = x.clone()
    if random_start:
        gen = torch.Generator().manual_seed(seed)
        adv = adv + (2 * torch.rand(x.shape, generator=gen, dtype=x.dtype) - 1) * eps
    adv = _clip(adv, clip)
    for _ in range(steps):
        g, _ = _gradients(policy, adv, a)
        adv = _clip(x + (adv + alpha * g.sign() - x).clamp(-eps, eps), clip)
    return _result("pgd-linf", policy, x, a, adv, steps)


def nesterov(
    policy: Callable,
    states: object,
    eps: float,
    *,
    steps: int = 10,
    mu: float = 1.0,
    clip: Box = None,
) -> AttackResult:
    """Nesterov-momentum ℓ∞ attack [reconstructed] (Korkmaz 2020; like ``torchattacks.NIFGSM``).

    ``g ← μ g + ∇J(x + α μ g)/‖∇J‖₁``, ``x ← Π_ε(x + α·sign(g))`` with ``α = ε / steps``.
    """
    eps = check_positive("eps", eps)
    steps = check_positive_int("steps", steps)
    mu = check_nonnegative("mu", mu)
    clip = check_box("clip", clip)
    x, a = _prep(policy, states)
    alpha = eps / steps
    adv, mom = x.clone(), torch.zeros_like(x)
    for _ in range(steps):
        g, _ = _gradients(policy, adv + alpha * mu * mom, a)
        mom = mu * mom + _unit(g, 1)
        adv = _clip(x + (adv + alpha * mom.sign() - x).clamp(-eps, eps), clip)
    return _result("nesterov-linf", policy, x, a, adv, steps)


def _jacobian(policy: Callable, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Q-values ``(B, A)`` and their input gradients ``(B, A, d)``."""
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        q = q_values(policy, x)
        rows = [
            torch.autograd.grad(q[:, k].sum(), x, retain_graph=k < q.shape[1] - 1)[0]
            for k in range(q.shape[1])
        ]
    return q.detach(), torch.stack(rows, 1).reshape(len(x), q.shape[1], -1)


def deepfool(
    policy: Callable,
    states: object,
    *,
    max_iter: int = 50,
    overshoot: float = 0.02,
    clip: Box = None,
) -> AttackResult:
    """DeepFool (ℓ2), batched (Moosavi-Dezfooli et al. 2016, Alg. 2).

    Per step, at the iterate ``x_i`` (``x_0`` the state), with ``f'_k = Q_k - Q_{a*}`` and
    ``w'_k = ∇Q_k - ∇Q_{a*}``: ``k̂ = argmin_{k≠a*} |f'_k|/‖w'_k‖``,
    ``r_i = |f'_k̂| w'_k̂ / ‖w'_k̂‖²`` and ``x_{i+1} = x_i + r_i`` (projected on ``clip``). The
    candidate is the overshot total perturbation ``x_0 + (1 + overshoot)(x_{i+1} - x_0)``
    (projected on ``clip``): the iterates converge to the boundary, and the factor
    ``1 + overshoot`` on the whole perturbation carries the candidate past it [2: the final
    ``r̂`` is multiplied by ``1 + η``, ``η = 0.02``; the authors' code scales ``r_tot`` so].
    The loop stops once the candidate's action differs from ``a*``, or after ``max_iter`` steps
    (the authors' ``max_iter=50``).

    For a linear policy without ``clip`` one step flips every state, at exactly
    ``(1 + overshoot) min_k |f'_k| / ‖w'_k‖``. With ``clip`` the coordinates at the box's faces
    stop moving and the iterates approach the boundary only geometrically (slowly where the
    gradient lies mostly on clamped coordinates: ``max_iter`` may run out, and ``margin``
    says how far each such state is left). Overshooting each step instead
    (``x_{i+1} = x_i + (1 + overshoot) r_i``) can converge onto the boundary without crossing
    it, so that float rounding decides the flip; the overshoot of the total moves the free
    coordinates on by ``overshoot`` times their whole displacement, a finite step across.
    ``overshoot = 0`` stops at the boundary.

    Returns
    -------
    AttackResult
        ``nit`` steps taken, ``success`` whether every state flipped, and ``margin``: the
        logit gap ``Q_{a*} - max_{k≠a*} Q_k`` at the result, ``>= 0`` where the action did
        not flip (how far, in logits, the state still is from the boundary: ``> 0`` when the
        boundary lies outside ``clip`` or ``max_iter`` ran out).
    """
    max_iter = check_positive_int("max_iter", max_iter)
    overshoot = check_nonnegative("overshoot", overshoot)
    clip = check_box("clip", clip)
    x, a = _prep(policy, states)
    xi = x.clone()  # the iterates x_i of Alg. 2 (not overshot)
    adv = x.clone()  # the candidates x_0 + (1 + overshoot)(x_i - x_0)
    active = torch.ones(len(x), dtype=torch.bool)
    used = 0
    for used in range(1, max_iter + 1):  # noqa: B007
        idx = active.nonzero()[:, 0]
        q, J = _jacobian(policy, xi[idx])
        ai = a[idx]
        f = q - q.gather(1, ai[:, None])
        w = J - J[torch.arange(len(idx)), ai][:, None, :]
        wn = w.norm(dim=2)
        ratio = f.abs() / wn.clamp_min(torch.finfo(x.dtype).tiny)
        ratio[torch.arange(len(idx)), ai] = torch.inf
        k = ratio.argmin(dim=1)
        ar = torch.arange(len(idx))
        stuck = ~(wn[ar, k] > 0)  # a flat region: no linearised boundary to step to
        coef = torch.where(stuck, 0.0, f[ar, k].abs() / torch.where(stuck, 1.0, wn[ar, k]) ** 2)
        r = (coef[:, None] * w[ar, k]).reshape(xi[idx].shape)
        xi[idx] = _clip(xi[idx] + r, clip)
        adv[idx] = _clip(x[idx] + (1 + overshoot) * (xi[idx] - x[idx]), clip)
        with torch.no_grad():
            now = policy(adv[idx]).argmax(dim=1)
        active[idx] = (now == ai) & ~stuck
        if not active.any():
            break
    return _result("deepfool-l2", policy, x, a, adv, used)


def carlini_wagner_l2(
    policy: Callable,
    states: object,
    *,
    c: float = 1.0,
    kappa: float = 0.0,
    steps: int = 100,
    lr: float = 0.01,
    clip: Box = None,
) -> AttackResult:
    """Carlini–Wagner ℓ2: ``min ‖δ‖² + c·max(Q_{a*} - max_{k≠a*} Q_k + κ, 0)`` (CW 2017, Eq. 6 f6).

    Adam on ``δ`` (on ``w`` with ``x = lo + (hi-lo)(tanh w + 1)/2`` when ``clip`` is given, as
    SA-DQN's ``cw``); the smallest successful perturbation seen is kept, else the clean state.
    Fixed ``c`` (no binary search over ``c``).
    """
    c = check_positive("c", c)
    kappa = check_nonnegative("kappa", kappa)
    steps = check_positive_int("steps", steps)
    lr = check_positive("lr", lr)
    clip = check_box("clip", clip)
    x, a = _prep(policy, states)
    if clip is None:
        var = torch.zeros_like(x, requires_grad=True)
    else:
        lo, hi = clip
        z = ((x - lo) / (hi - lo) * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)
        var = torch.atanh(z).clone().requires_grad_(True)
    opt = torch.optim.Adam([var], lr=lr)
    best = x.clone()
    best_n = torch.full((len(x),), torch.inf, dtype=torch.float64)
    mask = torch.nn.functional.one_hot(a, num_classes=q_values(policy, x[:1]).shape[1]).bool()
    for _ in range(steps):
        with torch.enable_grad():
            adv = x + var if clip is None else lo + (hi - lo) * (torch.tanh(var) + 1) / 2
            q = policy(adv)
            other = q.masked_fill(mask, -torch.inf).amax(dim=1)
            f = (q.gather(1, a[:, None])[:, 0] - other + kappa).clamp_min(0)
            n2 = (adv - x).reshape(len(x), -1).pow(2).sum(dim=1)
            loss = (n2 + c * f).sum()
            opt.zero_grad()
            loss.backward()
        with torch.no_grad():
            ok = (q.argmax(dim=1) != a) & (n2.to(torch.float64) < best_n)
            best[ok] = adv[ok].detach()
            best_n[ok] = n2[ok].to(torch.float64)
        opt.step()
    return _result("cw-l2", policy, x, a, best, steps)


def random_directions(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """``n`` unit directions of ``shape``, uniform on the sphere (seeded Gaussian, normalised).

    Raises
    ------
    TypeError
        If ``n`` or ``seed`` is not an integer, or ``shape`` not a tuple of integers.
    ValueError
        If ``n < 1``, ``seed`` is negative, or an entry of ``shape`` is ``< 1``.
    """
    n = check_positive_int("n", n)
    seed = check_seed(seed)
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        shape = (int(shape),)
    if isinstance(shape, str | bytes) or not isinstance(shape, tuple | list):
        raise ArgumentTypeError(f"shape must be a tuple of positive integers; got {shape!r}")
    shape = tuple(check_int(f"shape[{i}]", k, lo=1) for i, k in enumerate(shape))
    if not shape:
        raise ValueError("shape must have at least one axis; got ()")
    g = np.random.default_rng(seed).standard_normal((n, int(np.prod(shape))))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g.reshape((n, *shape))


@dataclass(frozen=True)
class FlipDistance:
    """Where the greedy action first changes along each state's direction.

    ``np.asarray(result)`` is :attr:`distance`.

    Attributes
    ----------
    distance : ndarray, shape (N,)
        The ℓ2 distance ``t`` of the first detected change, over the searched sides; ``inf``
        where the action did not change within ``max_radius`` (right-censored at the cap).
    side : ndarray of int, shape (N,)
        ``+1`` if the change at ``distance`` is along ``+u``, ``-1`` along ``-u``, ``0`` if none.
    sign : {"both", "+", "-"}
        The sides searched.
    max_radius : float
        The search cap ``R``: a state not flipped within ``R`` has ``distance = inf``.
    """

    distance: np.ndarray
    side: np.ndarray
    sign: str
    max_radius: float

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self.distance if dtype is None else self.distance.astype(dtype)

    def __len__(self) -> int:
        return len(self.distance)

    @property
    def flipped(self) -> np.ndarray:
        """States whose action changed within ``max_radius``."""
        return np.isfinite(self.distance)

    @property
    def flip_rate(self) -> float:
        """Fraction of states flipped within ``max_radius``."""
        return float(self.flipped.mean())

    def summary(self) -> str:
        f = self.flipped
        med = float(np.median(self.distance[f])) if f.any() else float("nan")
        return (
            f"flip distance (sides {self.sign}): {int(f.sum())}/{len(f)} states flipped within "
            f"R = {self.max_radius:g} ({int((self.side > 0).sum())} along +u, "
            f"{int((self.side < 0).sum())} along -u), median over flipped {med:.4g}"
        )


def flip_distance(
    policy: Callable,
    states: object,
    directions: object,
    *,
    max_radius: float,
    sign: str = "both",
    n_grid: int = 32,
    n_bisect: int = 30,
    batch_size: int = 8192,
) -> FlipDistance:
    """The ℓ2 distance ``t`` along a unit direction at which the greedy action first changes.

    Parameters
    ----------
    policy : callable
    states : array_like, shape (N, *state_shape)
    directions : array_like, shape (N, *state_shape) or state_shape
        One direction ``u`` per state, or one shared by all (normalised here).
    max_radius : float
        Search ``t`` in ``(0, max_radius]``.
    sign : {"both", "+", "-"}, default "both"
        Search ``s + t u`` and ``s - t u`` and keep the nearer change (``"both"``), or one side
        only. A direction has no preferred sign (a random one none at all), so one side alone
        can miss a boundary that lies just behind the state.
    n_grid : int, default 32
        Geometric grid (``>= 2`` points) from ``max_radius / 1000`` to ``max_radius``; the
        first grid point where the action differs brackets the crossing, refined by
        ``n_bisect`` bisection steps.
    n_bisect : int, default 30
    batch_size : int, default 8192
        Policy evaluations per forward pass.

    Returns
    -------
    FlipDistance
        The first detected crossing per state (``inf`` if none up to ``max_radius``) and the
        side it lies on. A flip region thinner than the grid spacing can be missed: the value
        then over-estimates the first crossing (it is always a distance at which the action has
        changed).

    Raises
    ------
    TypeError, ValueError
        For a bad argument (named in the message), zero or mismatched ``directions``.
    """
    max_radius = check_positive("max_radius", max_radius)
    check_choice("sign", sign, SIGNS)
    n_grid = check_positive_int("n_grid", n_grid)
    if n_grid < 2:
        raise ValueError(
            f"n_grid must be >= 2 (a grid from max_radius/1000 to max_radius); got {n_grid}"
        )
    n_bisect = check_int("n_bisect", n_bisect, lo=0)
    batch_size = check_positive_int("batch_size", batch_size)
    x, a = _prep(policy, states)
    u = as_states(
        "directions",
        directions if np.ndim(directions) == x.ndim else np.asarray(directions)[None],
        x.dtype,
    )
    if u.shape[1:] != x.shape[1:] or len(u) not in (1, len(x)):
        raise ValueError(
            f"directions must have shape (N, *state_shape) = {tuple(x.shape)} or state_shape "
            f"{tuple(x.shape[1:])}; got {tuple(u.shape)}"
        )
    flat = u.reshape(len(u), -1)
    nrm = flat.norm(dim=1)
    if (nrm == 0).any():
        raise ValueError(
            f"directions must be non-zero; row {int((nrm == 0).nonzero()[0, 0])} is zero"
        )
    u = (flat / nrm[:, None]).reshape(u.shape).expand_as(x)
    sides = {"both": (1, -1), "+": (1,), "-": (-1,)}[sign]
    best = np.full(len(x), np.inf)
    side = np.zeros(len(x), dtype=int)
    for sg in sides:  # "+" first: on an exact tie the + side is reported
        t = _first_crossing(policy, x, a, sg * u, max_radius, n_grid, n_bisect, batch_size)
        better = t < best
        best[better], side[better] = t[better], sg
    return FlipDistance(distance=best, side=side, sign=sign, max_radius=max_radius)


def _first_crossing(
    policy: Callable,
    x: torch.Tensor,
    a: torch.Tensor,
    u: torch.Tensor,
    max_radius: float,
    n_grid: int,
    n_bisect: int,
    batch_size: int,
) -> np.ndarray:
    """First ``t`` in ``(0, max_radius]`` with ``argmax policy(x + t u) != a`` (``inf`` if none)."""

    def changed(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        pts = x[idx] + t.reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype) * u[idx]
        out = []
        with torch.no_grad():
            for i in range(0, len(pts), batch_size):
                out.append(policy(pts[i : i + batch_size]).argmax(dim=1))
        return torch.cat(out) != a[idx]

    grid = torch.tensor(np.geomspace(max_radius / 1000, max_radius, n_grid), dtype=torch.float64)
    N = len(x)
    ids = torch.arange(N).repeat_interleave(n_grid)
    hit = changed(grid.repeat(N), ids).reshape(N, n_grid)
    found = hit.any(dim=1)
    first = hit.to(torch.int8).argmax(dim=1)
    hi = grid[first]
    lo = torch.where(first > 0, grid[(first - 1).clamp_min(0)], torch.zeros(N, dtype=torch.float64))
    idx = found.nonzero()[:, 0]
    lo, hi = lo[idx], hi[idx]
    for _ in range(n_bisect if len(idx) else 0):
        mid = (lo + hi) / 2
        c = changed(mid, idx)
        hi = torch.where(c, mid, hi)
        lo = torch.where(c, lo, mid)
    out = np.full(N, np.inf)
    out[idx.numpy()] = hi.numpy()
    return out
