"""Activation-pattern lower bounds of piecewise-linear (ReLU, LeakyReLU) networks.

A network whose activations are linear on each side of 0 (ReLU, LeakyReLU; identity layers have
no kink) is affine on every region where each pre-activation has a fixed strict sign. On the
region of the sign pattern ``σ = (σ_1, …, σ_{l-1})``, ``σ_k ∈ {-1, +1}^{n_k}``, its Jacobian is

``J_σ = W_l D_{l-1} W_{l-1} ⋯ D_1 W_1``,  ``D_k = diag(slope of φ_k on the side σ_k)``

(ReLU: ``D_k`` a 0/1 diagonal), and the pre-activations there are affine,
``z_k(x) = R_k x + c_k`` with ``R_k = W_k D_{k-1} ⋯ D_1 W_1`` and
``c_k = W_k D_{k-1} c_{k-1} + b_k``, ``c_1 = b_1``.

**Why a realisable pattern is a lower bound.** Call ``σ`` realisable when its region
``{x : σ_{k,i} z_{k,i}(x) > 0 for every kinked neuron}`` is non-empty. The region is open (strict
inequalities of continuous functions), so at any of its points ``x*`` the network coincides with
an affine map of linear part ``J_σ`` on a neighbourhood: it is differentiable there with Jacobian
``J_σ`` (the Clarke Jacobian at ``x*`` is ``{J_σ}``), and ``y = x* + εv`` with ``v`` the top right
singular vector of ``J_σ`` gives ``||f(y) - f(x*)|| / ||y - x*|| = ||J_σ||_2``, so
``L >= ||J_σ||_2``. Conversely the regions of the realisable patterns cover ``R^{n_0}`` up to a
null set, and ``L = ess sup ||∇f||_2`` for a Lipschitz ``f`` (Rademacher's theorem), so
``L = max ||J_σ||_2`` over the realisable patterns: an exhaustive enumeration is the exact constant
(the quantity Jordan & Dimakis [2]_ compute exactly by a mixed-integer program). A pattern
that is not realisable is never counted: its product can exceed ``L``.

**When no LP is needed** [derived]: the first layer's pre-activation ``z_1 = W_1 x + b_1`` is
surjective when ``W_1`` has full row rank, so any ``σ_1`` is attained, e.g. at
``x* = W_1⁺(σ_1 - b_1)`` where ``z_1 = σ_1``. For a one-hidden-layer net with such a ``W_1``
(the 784-50-10 MNIST net of LipSDP [1]_) every pattern is realisable and the search needs no LP.
Full row rank of the later ``W_k`` does **not** suffice: ``z_2 = W_2 D_1 z_1 + b_2`` with
``D_1 z_1`` confined to an orthant face, so e.g. a positive ``W_2`` with ``b_2 = 0`` gives
``z_2 >= 0`` and no pattern with a negative second-layer neuron is realisable, whatever the rank.
Deeper patterns are therefore checked by an LP.

**The realisability LP.** Largest ball inside the region (radius capped at 1):
``max t  s.t.  σ_i (g_iᵀ x + c_i) >= t ||g_i||`` for every kinked neuron ``i`` (rows ``g_i`` of
``R_k``), ``t <= 1``, and ``lo <= x <= hi`` when a box is given; HiGHS through
``scipy.optimize.linprog``, status checked. The pattern counts only when the LP is solved with
``t > 0`` and its solution passes a **witness check**: the network's own forward pass at
``x*`` shows every kinked pre-activation with the pattern's sign and
``|z| > 1e-9 (|W||h| + |b|)`` (far above float64 rounding), so ``x*`` is a verified interior
point whatever the LP's tolerances. Regions thinner than that margin are skipped (the bound
stays valid; "exact" then means exact up to such slivers). A neuron whose pre-activation is
identically 0 on the region (its row of ``R_k`` and ``c_k`` exactly 0, e.g. fed only by inactive
ReLUs with no bias) is left out of the constraints: ``φ(0) = 0`` on either side, so its bit
changes neither the network nor ``J_σ`` there.

**The search** (:func:`pattern_lower_bound`): a local search over single bit flips, best
improvement first, among realisable patterns (each accepted flip gets a verified witness),
restarted from the patterns of random points (seeded), within a time budget; or, when the number
of kinked neurons is at most :data:`EXHAUSTIVE_MAX`, an exhaustive enumeration layer by layer
that prunes unrealisable prefixes. The value of every flip is exact: ``J_σ`` changes by the
rank-one term ``δ u rᵀ`` (``u`` a column of the product after the neuron, ``r`` a row of the one
before), so the Gram matrix of the smaller side changes by a rank-two term and all flips are
scored by one batched eigenvalue call.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
.. [2] M. Jordan, A. G. Dimakis, "Exactly computing the local Lipschitz constant of ReLU
   networks", NeurIPS 2020, arXiv:2003.01219.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from stability.lipschitz.network import Network, _apply, _check_net, check_box
from theory.checks import (
    ArgumentTypeError,
    as_float_array,
    check_bool,
    check_int,
    check_positive,
    check_seed,
)

__all__ = [
    "EXHAUSTIVE_MAX",
    "PatternBound",
    "pattern_jacobian",
    "pattern_lower_bound",
    "pattern_witness",
    "piecewise_linear",
]

#: Kinked neurons up to which :func:`pattern_lower_bound` enumerates every pattern by default.
EXHAUSTIVE_MAX = 10

#: Relative margin of the witness check (the sign of each kinked pre-activation must exceed
#: this multiple of its running rounding scale ``|W||h| + |b|``).
MARGIN = 1e-9

#: Largest Gram side scored exactly by the batched eigenvalue call (above: a first-order score).
_EXACT_SIDE = 64

#: Improving flips tried (each may need an LP) before a local-search step gives up.
_TRIES = 16


@dataclass(frozen=True)
class PatternBound:
    """The best realisable activation pattern found, and its norm: a lower bound on ``L``.

    Attributes
    ----------
    value : float
        ``||J_σ||_2`` of the best pattern (``L >= value``).
    patterns : tuple of ndarray of bool
        One per hidden layer: ``True`` where the pre-activation is positive.
    witness : ndarray of shape (n_0,)
        A point where the network shows ``patterns`` strictly (verified by a forward pass).
    exact : bool
        Every realisable pattern was enumerated: ``value`` is the Lipschitz constant (over the
        box, when one was given).
    n_patterns : int
        Patterns whose norm was evaluated.
    n_lp : int
        Realisability LPs solved.
    restarts : int
        Local-search restarts run (0 for an exhaustive enumeration).
    seconds : float
        Wall time.
    message : str
        How the search ended, in words.
    """

    value: float
    patterns: tuple[np.ndarray, ...]
    witness: np.ndarray
    exact: bool
    n_patterns: int
    n_lp: int
    restarts: int
    seconds: float
    message: str

    def summary(self) -> str:
        """One readable line."""
        how = "exact (exhaustive)" if self.exact else f"{self.restarts} restarts"
        return (
            f"L >= {self.value:.6g} by activation patterns, {how}; {self.n_patterns} patterns, "
            f"{self.n_lp} LPs, {self.seconds:.3g} s"
        )


# ----------------------------------------------------------------------------- helpers


def _sides(net: Network) -> list[tuple[float, float]] | None:
    """``(negative-side slope, positive-side slope)`` per hidden layer, or ``None`` if some
    activation is not linear on each side of 0."""
    out = []
    for name in net.activations:
        if name == "relu":
            out.append((0.0, 1.0))
        elif name.startswith("leaky_relu:"):
            out.append((float(name.split(":")[1]), 1.0))
        elif name in ("identity", "linear"):
            out.append((1.0, 1.0))
        else:
            return None
    return out


def piecewise_linear(net: Network) -> bool:
    """Whether every activation of ``net`` is ReLU, LeakyReLU or the identity (the networks
    :func:`pattern_lower_bound` handles). ``TypeError`` naming ``net`` for a non-Network."""
    return _sides(_check_net(net)) is not None


def _require_pwl(net: Network) -> list[tuple[float, float]]:
    sides = _sides(_check_net(net))
    if sides is None:
        raise ValueError(
            "net: activation patterns need ReLU, LeakyReLU or identity activations; got "
            f"{net.activations}"
        )
    return sides


def _check_patterns(net: Network, patterns) -> list[np.ndarray]:
    sizes = net.dims[1:-1]
    if isinstance(patterns, str | bytes) or not isinstance(patterns, Sequence):
        raise ArgumentTypeError(
            f"patterns must be a sequence of boolean vectors, one per hidden layer; got {patterns!r:.80}"
        )
    if len(patterns) != len(sizes):
        raise ValueError(
            f"patterns must hold {len(sizes)} vectors (one per hidden layer); got {len(patterns)}"
        )
    out = []
    for k, (p, n) in enumerate(zip(patterns, sizes, strict=True)):
        a = np.asarray(p)
        if a.shape != (n,):
            raise ValueError(f"patterns[{k}] must have shape ({n},); got {a.shape}")
        if a.dtype != np.bool_ and not (
            np.issubdtype(a.dtype, np.integer) and np.all((a == 0) | (a == 1))
        ):
            raise ArgumentTypeError(f"patterns[{k}] must be boolean (or 0/1); got {a.dtype}")
        out.append(a.astype(bool))
    return out


def _slopes(patterns, sides) -> list[np.ndarray]:
    return [np.where(p, hi, lo) for p, (lo, hi) in zip(patterns, sides, strict=True)]


def _affine(net: Network, d: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(R_k, c_k)`` of every hidden pre-activation ``z_k = R_k x + c_k`` on the region."""
    r, c = net.weights[0], net.biases[0]
    out = [(r, c)]
    for k in range(1, net.depth - 1):
        w = net.weights[k]
        r = w @ (d[k - 1][:, None] * r)
        c = w @ (d[k - 1] * c) + net.biases[k]
        out.append((r, c))
    return out


def _product(net: Network, d: list[np.ndarray]) -> np.ndarray:
    p = net.weights[0]
    for k in range(1, net.depth):
        p = net.weights[k] @ (d[k - 1][:, None] * p)
    return p


def pattern_jacobian(net: Network, patterns: Sequence[np.ndarray]) -> np.ndarray:
    """``J_σ = W_l D_{l-1} ⋯ D_1 W_1`` of an activation pattern (module docstring).

    Parameters
    ----------
    net : Network
        ReLU, LeakyReLU or identity activations.
    patterns : sequence of array_like of bool
        One vector of shape ``(n_k,)`` per hidden layer, ``True`` on the positive side.

    Raises
    ------
    ValueError
        Another activation; ``patterns`` of the wrong count or shapes.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; ``patterns`` not boolean.
    """
    sides = _require_pwl(net)
    return _product(net, _slopes(_check_patterns(net, patterns), sides))


def _kinked(sides, sizes) -> list[np.ndarray]:
    return [np.full(n, lo != hi) for (lo, hi), n in zip(sides, sizes, strict=True)]


def _dead(affine) -> list[np.ndarray]:
    """Neurons whose pre-activation is identically 0 on the region (``R_k`` row and ``c_k``
    exactly 0, e.g. fed only by inactive ReLUs): ``φ(0) = 0 = d·0`` for either side, so their
    bit changes neither the network nor ``J_σ`` there, and they impose no sign constraint."""
    return [np.all(r == 0, axis=1) & (c == 0) for r, c in affine]


def _verify(net: Network, patterns, kinked, x: np.ndarray, layers: int) -> bool:
    """The witness check: the forward pass at ``x`` shows ``patterns`` on the first ``layers``
    hidden layers, every kinked pre-activation beyond ``MARGIN`` times its rounding scale
    (except the neurons that are identically 0 on the region, :func:`_dead`)."""
    if not np.all(np.isfinite(x)):
        return False
    dead = _dead(_affine(_truncate(net, layers), _slopes(patterns[:layers], _sides(net)[:layers])))
    h, h_abs = x, np.abs(x)
    for k in range(layers):
        w, b = net.weights[k], net.biases[k]
        z = w @ h + b
        scale = np.abs(w) @ h_abs + np.abs(b)
        sign_ok = np.where(patterns[k], z > MARGIN * scale, z < -MARGIN * scale)
        if not np.all(sign_ok | ~kinked[k] | dead[k]):
            return False
        h = _apply(net.activations[k], z)
        h_abs = np.abs(h)
    return True


class _Realiser:
    """Witnesses for patterns (prefixes of ``layers`` hidden layers): by ``W_1⁺`` when the first
    layer is surjective and alone, else by the LP; counts the LPs."""

    def __init__(self, net: Network, sides, box):
        self.net, self.sides, self.box = net, sides, box
        self.kinked = _kinked(sides, net.dims[1:-1])
        self.n_lp = 0
        self.lp_failures = 0
        w1 = net.weights[0]
        self.pinv = None
        if box is None and w1.shape[0] <= w1.shape[1]:
            sv = np.linalg.svd(w1, compute_uv=False)
            if sv[-1] > 1e-10 * sv[0]:
                self.pinv = np.linalg.pinv(w1)

    def witness(self, patterns, layers: int) -> np.ndarray | None:
        if layers == 1 and self.pinv is not None:
            sign = np.where(patterns[0], 1.0, -1.0)
            x = self.pinv @ (sign - self.net.biases[0])
            if _verify(self.net, patterns, self.kinked, x, 1):
                return x
        return self._lp(patterns, layers)

    def _lp(self, patterns, layers: int) -> np.ndarray | None:
        net = self.net
        d = _slopes(patterns[:layers], self.sides[:layers])
        rows, rhs = [], []
        affine = _affine(_truncate(net, layers), d)
        for k, ((r, c), dead) in enumerate(zip(affine, _dead(affine), strict=True)):
            keep = self.kinked[k] & ~dead
            sign = np.where(patterns[k], 1.0, -1.0)[keep]
            g, cc = r[keep], c[keep]
            # σ (gᵀx + c) >= t ||g||   <=>   -σ gᵀx + ||g|| t <= σ c
            rows.append(np.hstack([-sign[:, None] * g, np.linalg.norm(g, axis=1)[:, None]]))
            rhs.append(sign * cc)
        n0 = net.dims[0]
        a_ub, b_ub = np.vstack(rows), np.concatenate(rhs)
        if len(b_ub) == 0:  # no sign constraint: any point, e.g. the origin
            x = np.zeros(n0)
            return x if _verify(net, patterns, self.kinked, x, layers) else None
        scale = np.maximum(np.max(np.abs(a_ub), axis=1), np.abs(b_ub))
        scale = np.where(scale > 0, scale, 1.0)
        bounds = [(None, None)] * n0 if self.box is None else list(zip(*self.box, strict=True))
        cost = np.zeros(n0 + 1)
        cost[-1] = -1.0
        self.n_lp += 1
        res = linprog(
            cost,
            A_ub=a_ub / scale[:, None],
            b_ub=b_ub / scale,
            bounds=[*bounds, (None, 1.0)],
            method="highs",
        )
        if res.status != 0 or res.x is None:  # 2: infeasible (an empty region); else a failure
            self.lp_failures += res.status != 2
            return None
        if not res.x[-1] > 0:
            return None
        x = np.asarray(res.x[:-1], dtype=np.float64)
        return x if _verify(net, patterns, self.kinked, x, layers) else None


def _truncate(net: Network, layers: int) -> Network:
    """The first ``layers`` hidden layers of ``net`` (their pre-activations are unchanged)."""
    ws = net.weights[: layers + 1]
    return Network(ws, net.biases[: layers + 1], net.slopes[:layers], net.activations[:layers])


def _pattern_at(net: Network, x: np.ndarray) -> list[np.ndarray]:
    out, h = [], x
    for k in range(net.depth - 1):
        z = net.weights[k] @ h + net.biases[k]
        out.append(z > 0)
        h = _apply(net.activations[k], z)
    return out


def _flip_scores(net: Network, d: list[np.ndarray], sides, kinked) -> np.ndarray:
    """``||J_σ'||_2`` for every single flip ``σ'`` of ``σ`` (flat over the hidden neurons;
    ``-inf`` for neurons without a kink), by the rank-two update of the smaller Gram matrix."""
    ws, depth = net.weights, net.depth
    rights = [ws[0]]  # R_k: n_k x n_0
    for k in range(1, depth - 1):
        rights.append(ws[k] @ (d[k - 1][:, None] * rights[-1]))
    lefts = [None] * (depth - 1)  # L_k: n_l x n_k (the product after layer k's activation)
    left = ws[-1]
    for k in range(depth - 2, -1, -1):
        lefts[k] = left
        if k:
            left = (left * d[k][None, :]) @ ws[k]
    p = (lefts[-1] * d[-1][None, :]) @ rights[-1]
    u = np.vstack([lf.T for lf in lefts])  # N x n_l
    r = np.vstack(rights)  # N x n_0
    delta = np.concatenate(
        [np.where(dk == hi, lo - hi, hi - lo) for dk, (lo, hi) in zip(d, sides, strict=True)]
    )
    active = np.concatenate(kinked)
    out = np.full(len(delta), -math.inf)
    if p.shape[0] > p.shape[1]:  # the input side is smaller: work with Jᵀ
        p, u, r = p.T, r, u
    side = p.shape[0]
    idx = np.flatnonzero(active)
    if side > _EXACT_SIDE:  # first-order score along the top singular pair
        uu, s, vt = np.linalg.svd(p, full_matrices=False)
        out[idx] = s[0] + delta[idx] * (u[idx] @ uu[:, 0]) * (r[idx] @ vt[0])
        return out
    gram = p @ p.T
    q = r @ p.T  # N x side: P r
    for s0 in range(0, len(idx), 256):
        j = idx[s0 : s0 + 256]
        uj, qj, dj = u[j], q[j], delta[j]
        upd = dj[:, None, None] * (
            uj[:, :, None] * qj[:, None, :] + qj[:, :, None] * uj[:, None, :]
        )
        upd += (dj**2 * np.einsum("ij,ij->i", r[j], r[j]))[:, None, None] * (
            uj[:, :, None] * uj[:, None, :]
        )
        top = np.linalg.eigvalsh(gram[None] + upd)[:, -1]
        out[j] = np.sqrt(np.maximum(top, 0.0))
    return out


def _norm(net: Network, patterns, sides) -> float:
    return float(np.linalg.norm(_product(net, _slopes(patterns, sides)), 2))


# ----------------------------------------------------------------------------- public API


def pattern_witness(
    net: Network, patterns: Sequence[np.ndarray], *, box: tuple | None = None
) -> np.ndarray | None:
    """A verified interior point of the region of ``patterns``, or ``None`` if there is none.

    ``None`` means the pattern is not realisable (or its region is thinner than the witness
    margin, or the LP failed): it is never counted as a lower bound. See the module docstring
    for the LP and the witness check.

    Parameters
    ----------
    net : Network
        ReLU, LeakyReLU or identity activations.
    patterns : sequence of array_like of bool
        One vector per hidden layer, ``True`` on the positive side.
    box : (array_like, array_like), optional
        Look for the point in ``[lo, hi]`` (``lo < hi``).

    Raises
    ------
    ValueError
        Another activation; bad ``patterns``; a bad or degenerate ``box``.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; ``patterns`` not boolean.
    """
    sides = _require_pwl(net)
    patterns = _check_patterns(net, patterns)
    box = _check_open_box(box, net.dims[0])
    if net.depth == 1:
        return np.zeros(net.dims[0]) if box is None else 0.5 * (box[0] + box[1])
    return _Realiser(net, sides, box).witness(patterns, net.depth - 1)


def _check_open_box(box, n0: int):
    if box is None:
        return None
    lo, hi = check_box(box, n0)
    if not np.all(lo < hi):
        raise ValueError(
            "box must have lo < hi in every coordinate for activation patterns (a degenerate "
            f"box has no interior); got lo={lo}, hi={hi}"
        )
    return lo, hi


def pattern_lower_bound(
    net: Network,
    *,
    n_restarts: int = 16,
    time_budget: float = 10.0,
    exhaustive: bool | None = None,
    box: tuple | None = None,
    starts: np.ndarray | None = None,
    seed: int = 0,
) -> PatternBound:
    """A lower bound on the ℓ2 Lipschitz constant by a search over realisable activation patterns.

    Parameters
    ----------
    net : Network
        ReLU, LeakyReLU or identity activations (biases allowed).
    n_restarts : int
        Local-search restarts, each from the pattern of a random point (standard normal, or
        uniform in ``box``).
    time_budget : float
        Seconds the search may take (checked between flips; the best pattern so far is kept).
    exhaustive : bool, optional
        Enumerate every pattern (layer by layer, unrealisable prefixes pruned): the result is
        the exact constant. Default: when there are at most :data:`EXHAUSTIVE_MAX` kinked
        neurons. ``True`` ignores ``n_restarts`` and ``time_budget`` (``2^N`` patterns).
    box : (array_like, array_like), optional
        Only patterns realised in ``[lo, hi]`` (``lo < hi``): a lower bound of the local
        constant there.
    starts : array_like of shape (m, n_0), optional
        Points whose patterns start the first ``min(m, n_restarts)`` restarts (e.g. the
        sampled points of largest Jacobian norm); random points start the others.
    seed : int

    Returns
    -------
    PatternBound

    Raises
    ------
    ValueError
        An activation that is not ReLU, LeakyReLU or the identity; ``n_restarts < 1``;
        ``time_budget <= 0``; a bad or degenerate ``box``; ``starts`` not finite or of the
        wrong shape; a bad ``seed``.
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`; arguments of the wrong type.

    Notes
    -----
    Each local-search step scores all single flips exactly (``O(N s³)`` for a Gram side
    ``s = min(n_0, n_l) <= 64``) and accepts the best one that is realisable (one LP per tried
    flip, none for a one-hidden-layer net with a full-row-rank ``W_1`` and no box).

    Examples
    --------
    >>> import numpy as np
    >>> from stability.lipschitz import as_network
    >>> net = as_network([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])])  # |x|
    >>> r = pattern_lower_bound(net)
    >>> (r.value, r.exact)
    (1.0, True)
    """
    sides = _require_pwl(net)
    n_restarts = check_int("n_restarts", n_restarts, lo=1)
    time_budget = check_positive("time_budget", time_budget)
    if exhaustive is not None:
        exhaustive = check_bool("exhaustive", exhaustive)
    box = _check_open_box(box, net.dims[0])
    if starts is not None:
        starts = as_float_array("starts", starts, shape=(None, net.dims[0]), allow_empty=True)
    seed = check_seed(seed)
    start = time.perf_counter()
    if net.depth == 1:
        w = net.weights[0]
        x = np.zeros(net.dims[0]) if box is None else 0.5 * (box[0] + box[1])
        value = float(np.linalg.norm(w, 2))
        return PatternBound(
            value, (), x, True, 1, 0, 0, time.perf_counter() - start, "no hidden layer"
        )
    realiser = _Realiser(net, sides, box)
    n_kinked = int(sum(k.sum() for k in realiser.kinked))
    if exhaustive is None:
        exhaustive = n_kinked <= EXHAUSTIVE_MAX
    if exhaustive:
        return _enumerate(net, sides, realiser, start)
    points = np.zeros((0, net.dims[0])) if starts is None else starts
    return _local_search(net, sides, realiser, n_restarts, time_budget, box, points, seed, start)


def _enumerate(net: Network, sides, realiser: _Realiser, start: float) -> PatternBound:
    """Every realisable pattern, layer by layer (an unrealisable prefix prunes its subtree)."""
    hidden = net.depth - 1
    best = [-1.0, None, None]
    count = 0

    def layer_patterns(k: int):
        kink = realiser.kinked[k]
        idx = np.flatnonzero(kink)
        for bits in itertools.product((False, True), repeat=len(idx)):
            p = np.ones(len(kink), dtype=bool)
            p[idx] = bits
            yield p

    def extend(prefix: list[np.ndarray], witness: np.ndarray | None) -> None:
        nonlocal count
        k = len(prefix)
        if k == hidden:
            count += 1
            v = _norm(net, prefix, sides)
            if v > best[0]:
                best[:] = [v, tuple(p.copy() for p in prefix), witness]
            return
        for p in layer_patterns(k):
            pats = [*prefix, p]
            w = realiser.witness(pats, k + 1)
            if w is not None:
                extend(pats, w)

    extend([], None)
    if best[1] is None:  # the regions cover the space: only failed LPs can leave none
        raise RuntimeError(f"no realisable pattern found ({realiser.lp_failures} LPs failed)")
    seconds = time.perf_counter() - start
    msg = "exhaustive"
    if realiser.lp_failures:
        msg += f"; {realiser.lp_failures} LPs failed (their patterns skipped)"
    return PatternBound(
        best[0], best[1], best[2], realiser.lp_failures == 0, count, realiser.n_lp, 0, seconds, msg
    )


def _local_search(
    net: Network, sides, realiser: _Realiser, n_restarts, time_budget, box, points, seed, start
) -> PatternBound:
    """Best-improvement bit flips among realisable patterns, restarted from random points."""
    rng = np.random.default_rng(seed)
    hidden = net.depth - 1
    sizes = net.dims[1:-1]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    deadline = start + time_budget
    best_v, best_p, best_w = -1.0, None, None
    count, restarts, stopped = 0, 0, False
    for i in range(n_restarts):
        if time.perf_counter() > deadline and best_p is not None:
            stopped = True
            break
        restarts += 1
        x = points[i] if i < len(points) else _random_point(net, rng, box)
        if box is not None and not np.all((box[0] <= x) & (x <= box[1])):
            x = _random_point(net, rng, box)
        pats = _pattern_at(net, x)
        if not _verify(net, pats, realiser.kinked, x, hidden):  # a pre-activation at 0: redraw
            continue
        value, witness = _norm(net, pats, sides), x
        count += 1
        while time.perf_counter() <= deadline:
            d = _slopes(pats, sides)
            scores = _flip_scores(net, d, sides, realiser.kinked)
            affine = _affine(net, d)
            count += int(np.isfinite(scores).sum())
            order = np.argsort(-scores)
            moved = False
            for j in order[:_TRIES]:
                if not scores[j] > value * (1 + 1e-12):
                    break
                k = int(np.searchsorted(offsets, j, side="right") - 1)
                new = [p.copy() for p in pats]
                new[k][j - offsets[k]] ^= True
                exact = _norm(net, new, sides)  # the score may be first-order (wide Gram side)
                if not exact > value * (1 + 1e-12):
                    continue
                w = _across(net, realiser, new, affine[k], j - offsets[k], witness)
                if w is None:
                    w = realiser.witness(new, hidden)
                if w is not None:
                    pats, value, witness, moved = new, exact, w, True
                    break
            if not moved:
                break
        if value > best_v:
            best_v, best_p, best_w = value, tuple(pats), witness
        if time.perf_counter() > deadline:
            stopped = True
            break
    if best_p is None:  # every random point hit a kink exactly (measure zero): no witness
        raise RuntimeError("pattern search found no point with a strict activation pattern")
    msg = "time budget reached" if stopped else f"local optimum of {restarts} restarts"
    if realiser.lp_failures:
        msg += f"; {realiser.lp_failures} LPs failed (their patterns skipped)"
    seconds = time.perf_counter() - start
    return PatternBound(best_v, best_p, best_w, False, count, realiser.n_lp, restarts, seconds, msg)


def _across(net: Network, realiser: _Realiser, new, affine, i: int, x: np.ndarray):
    """A witness of the flipped pattern just across neuron ``i``'s hyperplane from ``x`` (the
    mirror image of ``x`` moved 0.1% past the hyperplane), if the forward pass verifies it;
    else ``None`` (then the LP decides). Saves most LPs when the hyperplane is a nearby facet."""
    g, c = affine[0][i], affine[1][i]
    gg = float(g @ g)
    if gg == 0:
        return None
    y = x - 1.001 * 2 * (g @ x + c) / gg * g
    if realiser.box is not None and not np.all((realiser.box[0] <= y) & (y <= realiser.box[1])):
        return None
    return y if _verify(net, new, realiser.kinked, y, net.depth - 1) else None


def _random_point(net: Network, rng: np.random.Generator, box) -> np.ndarray:
    if box is not None:
        return rng.uniform(box[0], box[1])
    # a scale at which the biases matter: standard normal times the typical bias-to-weight ratio
    w1, b1 = net.weights[0], net.biases[0]
    row = np.linalg.norm(w1, axis=1)
    ratio = float(np.median(np.abs(b1) / np.where(row > 0, row, 1.0)))
    return rng.standard_normal(net.dims[0]) * max(1.0, 3.0 * ratio)
