"""LipSDP (Fazlyab et al., NeurIPS 2019 [1]_): the cvxpy formulation and the solver router.

The SDP (Theorem 2 of [1]_, multi-layer form, Eq. (10)): with ``A = [blkdiag(W_1..W_{l-1}) 0]``,
``B = [0 I_N]`` and ``Q(T) = [[-2αβ T, (α+β) T], [(α+β) T, -2T]]``,

``minimize ρ  s.t.  [A;B]ᵀ Q(T) [A;B] + blkdiag(-ρ I_{n_0}, 0, …, 0, W_lᵀW_l) ⪯ 0``,  ``L = √ρ``.

Variants: **Neuron** ``T = diag(λ)``, ``λ >= 0``; **Layer** ``T = blkdiag(λ_k I)``;
**Network** ``T = diag(λ) + Σ_{i<j} ζ_ij (e_i - e_j)(e_i - e_j)ᵀ``, ``ζ >= 0``.

Certification. The solver's ``√ρ`` is never reported: the multipliers it returns are checked by
the exact Schur complement of :mod:`stability.lipschitz.certificate`
(:func:`~stability.lipschitz.certificate.certify_multipliers` for diagonal multipliers, a block
elimination in ``O(Σ n_k³)``; :func:`~stability.lipschitz.certificate.certify_dense` for
Network's). The reported value is ``√ρ̂ (1 + SAFETY)``. If the multipliers fail the check even
after a small repair (``λ + δ max λ``), :func:`lipsdp_cvxpy` raises :class:`LipSDPError`; what to
do then (fall back to a cheaper certified method, or raise) is the public API's policy
(``on_failure`` of :func:`stability.lipschitz.lipschitz_bound`).

Solvers. :func:`lipsdp` only routes: Neuron on a one-hidden-layer scalar-output network goes to
its exact spectraplex dual (:mod:`stability.lipschitz.one_hidden`); other Neuron and Layer
problems to the structured interior-point method of :mod:`stability.lipschitz.neuron_ipm` (same
optimum, much faster than CVXOPT; ``stability bench lipschitz`` measures by how much). Both can
stop early once the value is proven within ``rtol`` of the optimum by a dual lower bound
(:mod:`stability.lipschitz.dual_bound`). Neuron-wise slopes (the local bound) go to the
interior-point method too; Network and ``solver="CVXOPT"`` etc. go through cvxpy
(:func:`lipsdp_cvxpy`).

Input reduction [derived]: when ``n_0 > n_1``, ``W_1 = U Σ Vᵀ`` (thin SVD) and
``f(x) = g(Vᵀx)`` with ``g`` the same network with first weight ``UΣ`` (``n_1 x n_1``). ``Vᵀ`` is a
surjective partial isometry (``‖Vᵀ‖ = 1``, and ``x = Vy`` realises any ``y`` with ``‖x‖ = ‖y‖``),
so ``Lip(f) = Lip(g)``; in the LMI, ``W_1`` enters only through ``W_1ᵀ(·)W_1``, whose top
eigenvalue equals that of ``ΣUᵀ(·)UΣ``: the SDP, its optimum and every certificate are the same,
with an LMI of size ``n_1 + N`` instead of ``n_0 + N`` (784-50-10 MNIST net: 0.13 s instead of
12 s). :func:`lipsdp` solves and certifies the reduced network (the SVD's rounding, ~1e-15
relative, is far inside ``SAFETY``).

Validity note on LipSDP-Network: the coupled multipliers ``ζ`` rest on a quadratic constraint
for pairs of neurons that does not hold for the incremental (Lipschitz) setting in general; this
was pointed out after publication (Pauli, Koch, Berberich, Kohler, Allgöwer, "Training robust
neural networks using Lipschitz bounds", IEEE L-CSS 2021). The value is computed and certified
as an LMI solution, but the result is marked ``certified=False``.

References
----------
.. [1] M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. Pappas, "Efficient and accurate
   estimation of Lipschitz constants for deep neural networks", NeurIPS 2019, arXiv:1906.04893.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from stability.lipschitz.certificate import (
    SAFETY,
    LipSDPError,
    _certify,
    _selectors,
    _widen_linear,
    certify_dense,
    check_slopes,
)
from stability.lipschitz.network import Network, _check_net
from stability.lipschitz.neuron_ipm import lipsdp_ipm
from stability.lipschitz.one_hidden import one_hidden_applicable, one_hidden_dual
from stability.lipschitz.result import STATUS_OPTIMAL, LipschitzResult
from theory.checks import ArgumentTypeError, check_choice
from theory.checks import check_open_unit as open_unit

__all__ = [
    "VARIANTS",
    "LipSDPError",
    "check_cvxpy_solver",
    "default_solver",
    "lipsdp",
    "lipsdp_cvxpy",
]

VARIANTS = ("layer", "neuron", "network")


def default_solver() -> str:
    """CVXOPT when installed (interior point, fast on these dense LMIs), else Clarabel."""
    import cvxpy as cp

    return "CVXOPT" if "CVXOPT" in cp.installed_solvers() else "CLARABEL"


@functools.cache
def _sdp_solvers() -> tuple[str, ...]:
    """The installed cvxpy solvers that handle semidefinite constraints."""
    import cvxpy as cp
    from cvxpy.reductions.solvers.defines import SOLVER_MAP_CONIC

    out = []
    for name in cp.installed_solvers():
        cls = SOLVER_MAP_CONIC.get(name)
        cons = getattr(cls, "SUPPORTED_CONSTRAINTS", ()) if cls is not None else ()
        if any(c.__name__ in ("PSD", "SvecPSD") for c in cons):
            out.append(name)
    return tuple(out)


def check_cvxpy_solver(solver: object) -> str:
    """``solver`` (upper case) if it names an installed cvxpy solver that handles SDPs.

    Raises
    ------
    TypeError
        If ``solver`` is not a string (:class:`theory.checks.ArgumentTypeError`).
    ValueError
        If no installed cvxpy solver that handles semidefinite constraints has that name
        (case-insensitive; e.g. an LP solver such as GLPK is refused here, not left to fail
        in the solve).
    """
    if not isinstance(solver, str):
        raise ArgumentTypeError(f"solver must be a cvxpy solver name (a str); got {solver!r}")
    if solver.upper() not in _sdp_solvers():
        raise ValueError(
            f"solver must be 'ipm' or an installed cvxpy solver that handles SDPs "
            f"{_sdp_solvers()}; got {solver!r}"
        )
    return solver.upper()


def _check_args(net: Network, variant: str, slopes) -> list | None:
    """Validate ``net``, ``variant`` and ``slopes`` (returned as float arrays, or ``None``)."""
    _check_net(net)
    check_choice("variant", variant, VARIANTS)
    if variant == "network" and (len(set(net.slopes)) > 1 or slopes is not None):
        raise ValueError(f"lipsdp-network needs the same slopes on every layer; got {net.slopes}")
    return None if slopes is None else check_slopes(net, slopes)


#: The solver options that stop a cvxpy solve after ``t`` seconds (CVXOPT has none).
_TIME_LIMIT_OPTION = {
    "CLARABEL": lambda t: {"time_limit": float(t)},
    "SCS": lambda t: {"time_limit_secs": float(t)},
    "MOSEK": lambda t: {"mosek_params": {"MSK_DPAR_OPTIMIZER_MAX_TIME": float(t)}},
}


def _network_solver() -> str:
    """LipSDP-Network's default solver: Clarabel when installed (faster than CVXOPT on this
    LMI [measured: 20.5 s vs 50.4 s at 4-32-32-2, 1.2 s vs 1.9 s at 4-16-16-2] and it takes a
    time limit), else :func:`default_solver`."""
    import cvxpy as cp

    return "CLARABEL" if "CLARABEL" in cp.installed_solvers() else default_solver()


def _solve_sdp(net: Network, variant: str, solver: str, slopes=None, time_limit=None):
    """Solve the LipSDP variant; return (status, objective, λ, ζ)."""
    import cvxpy as cp

    ws = net.weights
    n0, n_hidden = ws[0].shape[1], net.n_hidden
    sizes = [w.shape[0] for w in ws[:-1]]
    slopes = net.slope_vectors() if slopes is None else slopes
    ab = np.concatenate([lo * hi for lo, hi in slopes])
    apb = np.concatenate([lo + hi for lo, hi in slopes])
    a, bsel = _selectors(net)
    rho = cp.Variable(nonneg=True)
    cons = []
    if variant == "layer":
        mu = cp.Variable(len(sizes), nonneg=True)
        ind = np.zeros((n_hidden, len(sizes)))
        start = 0
        for k, n in enumerate(sizes):
            ind[start : start + n, k] = 1.0
            start += n
        lam = ind @ mu
    else:
        lam = cp.Variable(n_hidden, nonneg=True)
    # Eq. (10) of [1], assembled by parts
    m = (
        -2 * a.T @ cp.diag(cp.multiply(ab, lam)) @ a
        + a.T @ cp.diag(cp.multiply(apb, lam)) @ bsel
        + bsel.T @ cp.diag(cp.multiply(apb, lam)) @ a
        - 2 * bsel.T @ cp.diag(lam) @ bsel
    )
    zeta = None
    if variant == "network":
        (alpha, beta) = net.slopes[0]
        iu, ju = np.triu_indices(n_hidden, 1)
        inc = np.zeros((len(iu), n_hidden))
        inc[np.arange(len(iu)), iu] = 1.0
        inc[np.arange(len(iu)), ju] = -1.0
        zeta = cp.Variable(len(iu), nonneg=True)
        tz = inc.T @ cp.diag(zeta) @ inc
        m = (
            m
            - 2 * alpha * beta * a.T @ tz @ a
            + (alpha + beta) * (a.T @ tz @ bsel + bsel.T @ tz @ a)
            - 2 * bsel.T @ tz @ bsel
        )
    e_last = np.zeros((n0 + n_hidden, n0 + n_hidden))
    n_last = ws[-1].shape[1]
    e_last[-n_last:, -n_last:] = ws[-1].T @ ws[-1]
    e_first = np.zeros((n0 + n_hidden, n0 + n_hidden))
    e_first[:n0, :n0] = np.eye(n0)
    lmi = m + e_last - rho * e_first
    cons.append(0.5 * (lmi + lmi.T) << 0)
    prob = cp.Problem(cp.Minimize(rho), cons)
    opts = {}
    if time_limit is not None and math.isfinite(time_limit) and solver in _TIME_LIMIT_OPTION:
        opts = _TIME_LIMIT_OPTION[solver](max(time_limit, 1e-3))
    prob.solve(solver=solver, **opts)
    lam_v = None if lam.value is None else np.maximum(np.asarray(lam.value, dtype=float), 0.0)
    zeta_v = None
    if zeta is not None and zeta.value is not None:
        zeta_v = np.maximum(np.asarray(zeta.value, dtype=float), 0.0)
    return prob.status, prob.value, lam_v, zeta_v


def _split(vec: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    return list(np.split(vec, np.cumsum(sizes)[:-1]))


def lipsdp_cvxpy(
    net: Network,
    variant: str = "neuron",
    *,
    solver: str | None = None,
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    time_limit: float | None = None,
) -> LipschitzResult:
    """LipSDP-Layer, -Neuron or -Network by a cvxpy solver, certified by the Schur check.

    Parameters
    ----------
    net : Network
    variant : {"neuron", "layer", "network"}
    solver : str, optional
        A cvxpy solver name (default :func:`default_solver`, then Clarabel if it fails). It
        must be an interior-point solver in practice: SCS at default accuracy returns
        multipliers that fail the check.
    slopes : sequence of (ndarray, ndarray), optional
        Neuron-wise slope bounds per hidden layer (Neuron and Layer only).
    time_limit : float, optional
        Seconds, passed to the solvers that take a limit (Clarabel ``time_limit``, SCS
        ``time_limit_secs``, MOSEK ``MSK_DPAR_OPTIMIZER_MAX_TIME``; CVXOPT has none). A
        solve stopped there ends in :class:`LipSDPError` (no certified multipliers), and no
        further solver is tried after it. Network's default solver is Clarabel when
        installed, for this limit.

    Returns
    -------
    LipschitzResult
        ``value = √ρ̂ (1 + SAFETY)``; ``details`` holds ``solver``, ``solver_value`` (the
        solver's ``√ρ``) and the multipliers.

    Raises
    ------
    LipSDPError
        When every solver fails or its multipliers fail the ``H22 ≺ 0`` check (a
        :class:`theory.checks.ConvergenceError`).
    ValueError
        An unknown ``variant`` or ``solver``, bad ``slopes`` (as
        :func:`stability.lipschitz.certificate.check_slopes`; Network takes none).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``solver`` not a str.
    """
    slopes = _check_args(net, variant, slopes)
    if solver is not None:
        solver = check_cvxpy_solver(solver)
    start = time.perf_counter()
    name = f"lipsdp-{variant}"
    if net.depth == 1:  # no hidden layer: the LMI is empty, L = ||W||_2
        return LipschitzResult.single_layer(net.weights[0], name, start)
    if solver:
        solvers = [solver]
    elif variant == "network":
        solvers = [_network_solver()]
    else:
        solvers = list(dict.fromkeys([default_solver(), "CLARABEL"]))
    if (slopes is None and any(a == b for a, b in net.slopes)) or (
        slopes is not None and any(np.any(lo == hi) for lo, hi in slopes)
    ):
        slopes = _widen_linear(net.slope_vectors() if slopes is None else slopes)
    sizes = [w.shape[0] for w in net.weights[:-1]]
    status, objective, lam, zeta = "error", math.nan, None, None
    message = ""
    for solver in solvers:
        left = None if time_limit is None else time_limit - (time.perf_counter() - start)
        if left is not None and left <= 0:
            message = f"time_limit={time_limit:g} s reached"
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # cvxpy's "may be inaccurate"
                status, objective, lam, zeta = _solve_sdp(net, variant, solver, slopes, left)
        except Exception as exc:  # solver crash -> next solver, then LipSDPError
            message = f"{type(exc).__name__}: {exc}"
            status = "error"
            continue
        if status in ("optimal", "optimal_inaccurate", "user_limit"):
            break
    rho_hat = math.inf
    if lam is not None and status in ("optimal", "optimal_inaccurate"):
        scale = float(np.max(lam)) if lam.size and np.max(lam) > 0 else 1.0
        for delta in (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
            lam_try = lam + delta * scale
            if zeta is None:
                rho_try = _certify(net, _split(lam_try, sizes), slopes)
            else:
                iu, ju = np.triu_indices(net.n_hidden, 1)
                t = np.diag(lam_try)
                np.add.at(t, (iu, iu), zeta)
                np.add.at(t, (ju, ju), zeta)
                np.add.at(t, (iu, ju), -zeta)
                np.add.at(t, (ju, iu), -zeta)
                rho_try = certify_dense(net, t)
            if rho_try < rho_hat:
                rho_hat = rho_try
            if math.isfinite(rho_hat) and delta >= 1e-8:
                break
    if not math.isfinite(rho_hat):
        why = f"{solver} returned status {status!r}" + (f" ({message})" if message else "")
        if lam is not None and status in ("optimal", "optimal_inaccurate"):
            why += "; its multipliers fail the H22 < 0 Schur check"
        if status == "user_limit" or "time_limit" in message:
            why += f"; stopped at time_limit={time_limit:g} s"
        raise LipSDPError(f"{name}: {why}")
    details = {
        "solver": solver,
        "solver_value": math.sqrt(objective)
        if objective is not None and objective >= 0
        else math.nan,
        "multipliers": lam,
    }
    value = math.sqrt(max(rho_hat, 0.0)) * (1 + SAFETY)
    certified = variant != "network"
    if not certified:
        status = (
            f"{status}; LMI certified, but LipSDP-Network's coupling is not a valid relaxation "
            "in general"
        )
    return LipschitzResult(
        value, name, certified, status, time.perf_counter() - start, name, details
    )


def lipsdp(
    net: Network,
    variant: str = "neuron",
    *,
    solver: str | None = None,
    slopes: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    rtol: float | None = None,
    time_limit: float | None = None,
) -> LipschitzResult:
    """LipSDP-Layer, -Neuron or -Network, certified: routes to the solver that fits.

    Parameters
    ----------
    net : Network
    variant : {"neuron", "layer", "network"}
    solver : str, optional
        Default (``None``) for Neuron and Layer: LipSDP-Neuron of a one-hidden-layer
        scalar-output network (with its own slopes) by its exact spectraplex dual
        (:mod:`stability.lipschitz.one_hidden`), otherwise the structured interior-point method
        of :mod:`stability.lipschitz.neuron_ipm` (``"ipm"`` forces it). Or a cvxpy solver name
        (:func:`lipsdp_cvxpy`; the default for Network: :func:`default_solver`). When the
        structured methods stop before their tolerance, the cvxpy solver runs too and the
        smaller certified value is returned (``message`` says so); except with neuron-wise
        ``slopes``: (nearly) linear neurons (``α ≈ β``, common on small boxes) have unbounded
        multipliers and keep any interior-point method from converging, so the structured
        method's certified iterate is returned whatever its status
        (``details["sdp_lower_bound"]`` shows how close it is).
    slopes : sequence of (ndarray, ndarray), optional
        Neuron-wise slope bounds per hidden layer (the local bound passes them; Neuron and
        Layer only).
    rtol : float, optional
        Structured methods only: stop as soon as the certified value is **proven** within
        ``rtol`` (relative) of the SDP's optimum, by a dual-feasible lower bound
        (``details["sdp_lower_bound"]``). Default: solve to relative gap ``1e-6`` in ``ρ``.
    time_limit : float, optional
        Seconds for the cvxpy solvers that take a limit (:func:`lipsdp_cvxpy`).

    Returns
    -------
    LipschitzResult
        ``value = √ρ̂ (1 + SAFETY)``; ``details`` holds the multipliers.

    Raises
    ------
    LipSDPError
        When no solver's multipliers could be certified (a
        :class:`theory.checks.ConvergenceError`; the public
        :func:`stability.lipschitz.lipschitz_bound` falls back to a cheaper certified method
        instead, with ``on_failure="fallback"``).
    ValueError
        An unknown ``variant`` or ``solver`` (``"ipm"`` with Network), bad ``slopes`` or
        ``rtol`` (in (0, 1); structured solvers only).
    TypeError
        ``net`` not a :class:`~stability.lipschitz.network.Network`, ``solver`` not a str.
    """
    slopes = _check_args(net, variant, slopes)
    structured = variant != "network"
    if solver == "ipm" and not structured:
        raise ValueError("solver 'ipm' handles lipsdp-neuron and lipsdp-layer")
    if solver not in (None, "ipm"):
        solver = check_cvxpy_solver(solver)
    if rtol is not None:
        rtol = open_unit("rtol", rtol)
        if not (solver in (None, "ipm") and structured):
            raise ValueError(
                "rtol needs the structured solvers (lipsdp-neuron/-layer, solver None or 'ipm'); "
                f"got variant {variant!r}, solver {solver!r}"
            )
    start = time.perf_counter()
    # no hidden layer: the LMI is empty and L = ||W||_2 (arobey1/LipSDP on GitHub, #4 and #5)
    if net.depth == 1:
        return LipschitzResult.single_layer(net.weights[0], f"lipsdp-{variant}", start)
    if net.dims[0] > net.dims[1]:  # input reduction (module docstring): same SDP, smaller LMI
        r = lipsdp(
            _reduce_input(net),
            variant,
            solver=solver,
            slopes=slopes,
            rtol=rtol,
            time_limit=time_limit,
        )
        details = {**r.details, "input_reduction": (net.dims[0], net.dims[1])}
        return replace(r, seconds=time.perf_counter() - start, details=details)
    note, ipm = "", None
    if solver is None and variant == "neuron" and slopes is None and one_hidden_applicable(net):
        tol = 1e-6 if rtol is None else 1.0 - 1.0 / (1.0 + rtol) ** 2
        dual = one_hidden_dual(net, tol=tol, max_iter=60)
        if dual.status == STATUS_OPTIMAL:
            return dual
        note = f"; the one-hidden dual stopped early ({dual.message})"
    if solver in (None, "ipm") and structured:
        ipm = lipsdp_ipm(net, variant, rtol=rtol, slopes=slopes)
        if solver == "ipm" or slopes is not None or ipm.status == STATUS_OPTIMAL:
            return ipm
        note += f"; the structured IPM stopped early ({ipm.message}), cvxpy ran too"
    try:
        r = lipsdp_cvxpy(net, variant, solver=solver, slopes=slopes, time_limit=time_limit)
    except LipSDPError as exc:
        if ipm is not None:  # the IPM's best iterate is certified whatever its status
            return replace(ipm, message=f"{ipm.message}; cvxpy failed: {exc}")
        raise LipSDPError(f"{exc}{note}") from None
    if ipm is not None and ipm.value <= r.value:  # both certified: keep the smaller
        return replace(
            ipm, message=f"{ipm.message}; cvxpy ({r.details['solver']}) certified {r.value:.6g}"
        )
    message = r.message + note if r.certified else r.message
    return replace(r, message=message, seconds=time.perf_counter() - start)


def _reduce_input(net: Network) -> Network:
    """The network with ``W_1 = UΣVᵀ`` replaced by ``UΣ`` (``n_1 x n_1``): the same Lipschitz
    constant and the same LipSDP (module docstring, input reduction)."""
    u, s, _ = np.linalg.svd(net.weights[0], full_matrices=False)
    return Network((u * s, *net.weights[1:]), net.biases, net.slopes, net.activations)
