"""The principal instability direction ``G_S`` of a set of states (RA-NLD, step 2).

``L(S) = Σ_{s∈S} v(s) v(s)ᵀ`` (d × d, PSD) and ``G_S`` is its top eigenvector, the unit vector
of largest total squared correlation ``Σ_s ⟨u, v(s)⟩²`` with the per-state directions
(Korkmaz 2024, §3: "G_S is the eigenvector corresponding to the largest eigenvalue of L(S)").
It is the top right singular vector of the stacked directions ``V`` (N × d), so ``L`` is never
needed: :func:`principal_direction` uses the thin SVD of ``V``, the N × N Gram matrix, or
streaming block power iteration over chunks of ``V`` (matrix-vector products only); the
materialised ``eigh(L)`` is kept as a reference for small ``d``. :class:`FrequentDirections` is
a one-pass sketch (Liberty 2013) for streams that are seen once.

References
----------
.. [1] E. Korkmaz, ICML 2024 (arXiv:2406.16979), §3 (L(S) and G_S).
.. [2] S. Moosavi-Dezfooli et al., "Universal adversarial perturbations", CVPR 2017 (the
   singular vectors of stacked boundary normals).
.. [3] E. Liberty, "Simple and deterministic matrix sketching", KDD 2013 (Frequent Directions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stability.decision_boundary._checks import as_batch
from stability.decision_boundary.directions import InstabilityDirections
from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_int,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = ["METHODS", "FrequentDirections", "PrincipalDirection", "principal_direction"]

METHODS = ("auto", "svd", "gram", "power", "eigh")
#: Largest d for which ``method="eigh"`` may materialise the d × d matrix L(S).
MAX_DENSE_D = 4096


@dataclass(frozen=True)
class PrincipalDirection:
    """``G_S`` and the leading spectrum of ``L(S)``.

    Attributes
    ----------
    direction : ndarray, shape state_shape, float64
        ``G_S``, unit norm; the sign is fixed so that its largest-magnitude entry is positive.
    eigenvalues : ndarray, shape (k,)
        The ``k`` largest eigenvalues of ``L(S)``, descending (``λ_max = eigenvalues[0]``). For
        ``power`` the convergence test is on ``λ_max``; later entries are Ritz values (lower
        bounds of the true eigenvalues).
    trace : float
        ``tr L(S) = Σ ‖v(s)‖²`` (so ``eigenvalues[0] / trace`` is the explained share).
    n_states : int
    method : str
    nit : int
        Power iterations used (0 for direct methods).
    converged : bool
        Direct methods: True; power iteration: the Ritz residual met the tolerance;
        frequent directions: the sketch is exact (no shrinkage).
    residual : float
        ``‖L G - λ G‖ / λ`` (0 for direct methods, up to round-off; for frequent directions
        the certified relative error ``Δ / λ_max`` of ``λ_max``).

    Notes
    -----
    The result vocabulary of iterative work (as ``scipy.optimize.OptimizeResult``) is there
    as properties: ``success`` (``converged``), ``status`` (0 converged, 1 not: power
    iteration stopped at ``max_iter``, or an approximate sketch) and ``message``.
    """

    direction: np.ndarray
    eigenvalues: np.ndarray
    trace: float
    n_states: int
    method: str
    nit: int = 0
    converged: bool = True
    residual: float = 0.0

    @property
    def success(self) -> bool:
        """``converged``."""
        return bool(self.converged)

    @property
    def status(self) -> int:
        """0 converged; 1 not (``max_iter`` reached, or an approximate sketch)."""
        return 0 if self.converged else 1

    @property
    def message(self) -> str:
        """How the computation ended, in words."""
        if self.method == "power":
            if self.converged:
                return f"converged after {self.nit} power iterations"
            return (
                f"max_iter reached after {self.nit} power iterations: relative Ritz "
                f"residual {self.residual:.2g} above tol"
            )
        if self.method.startswith("frequent-directions"):
            if self.converged:
                return "exact sketch (no shrinkage)"
            return f"approximate sketch: lambda_max within relative {self.residual:.2g}"
        return f"direct method ({self.method}), exact up to round-off"

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def explained(self) -> float:
        """``λ_max / tr L``: the share of the total squared gradient along ``G_S``."""
        return self.lambda_max / self.trace if self.trace > 0 else float("nan")

    def summary(self) -> str:
        lam = ", ".join(f"{v:.4g}" for v in self.eigenvalues[:4])
        return (
            f"G_S of {self.n_states} states by {self.method}: λ = [{lam}], "
            f"explained {self.explained:.3f}, converged={self.converged}, nit={self.nit}"
        )


def _fix_sign(u: np.ndarray) -> np.ndarray:
    return u if u[np.argmax(np.abs(u))] >= 0 else -u


def _as_chunks(directions: object) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """Directions as a list of float64 ``(n_i, d)`` chunks and the state shape."""
    if isinstance(directions, InstabilityDirections):
        return [directions.matrix], directions.directions.shape[1:]
    if isinstance(directions, list | tuple):
        if not directions:
            raise ValueError("directions must not be an empty sequence of chunks")
        chunks = [as_batch("directions", c, min_ndim=2) for c in directions]
        shape = chunks[0].shape[1:]
        if any(c.shape[1:] != shape for c in chunks):
            raise ValueError(
                f"directions chunks must share a state shape; got {[c.shape for c in chunks]}"
            )
        return [c.reshape(len(c), -1) for c in chunks], shape
    V = as_batch("directions", directions, min_ndim=2)
    return [V.reshape(len(V), -1)], V.shape[1:]


def _power(
    chunks: list[np.ndarray], k: int, max_iter: int, tol: float, seed: int
) -> tuple[np.ndarray, np.ndarray, int, bool, float]:
    """Block power (subspace) iteration on ``L = Σ_c V_cᵀ V_c`` with Rayleigh–Ritz."""
    d = chunks[0].shape[1]
    p = min(d, k + 4)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, p)))
    prev = None
    nit, conv, res = 0, False, np.inf
    for nit in range(1, max_iter + 1):
        Y = sum(c.T @ (c @ Q) for c in chunks)  # L Q, streamed: u <- Σ_i v_i <v_i, u>
        Q, _ = np.linalg.qr(Y)
        if nit % 5 == 0 or nit == max_iter:
            B = sum((c @ Q).T @ (c @ Q) for c in chunks)  # Rayleigh–Ritz: Qᵀ L Q
            w, U = np.linalg.eigh(B)
            u = Q @ U[:, -1]
            Lu = sum(c.T @ (c @ u) for c in chunks)
            lam = float(w[-1])
            res = float(np.linalg.norm(Lu - lam * u) / lam) if lam > 0 else 0.0
            if res <= tol or (prev is not None and abs(lam - prev) <= 1e-15 * lam):
                conv = res <= max(tol, 1e-6)
                break
            prev = lam
    B = sum((c @ Q).T @ (c @ Q) for c in chunks)
    w, U = np.linalg.eigh(B)
    order = np.argsort(w)[::-1]
    return Q @ U[:, order[0]], np.clip(w[order][:k], 0.0, None), nit, conv, res


def principal_direction(
    directions: object,
    k: int = 4,
    *,
    method: str = "auto",
    normalize: bool = False,
    tol: float = 1e-10,
    max_iter: int = 500,
    seed: int = 0,
) -> PrincipalDirection:
    """``G_S``, the top eigenvector of ``L(S) = Σ v(s) v(s)ᵀ``, and its ``k`` leading eigenvalues.

    Parameters
    ----------
    directions : InstabilityDirections, array_like (N, *state_shape), or a list of such chunks
        The per-state directions (for :class:`InstabilityDirections`, the kept ones). A list is
        treated as a stream of chunks (``method="power"`` by default).
    k : int, default 4
        Leading eigenvalues to return (capped at ``min(N, d)``).
    method : {"auto", "svd", "gram", "power", "eigh"}
        ``svd``: thin SVD of ``V`` (N × d); ``gram``: eigh of ``V Vᵀ`` (N × N), mapped back by
        ``Vᵀ``; ``power``: streaming block power iteration (matrix-vector products with the
        chunks only); ``eigh``: materialise ``L`` (d × d; reference, ``d <= 4096`` only);
        ``auto``: ``power`` for a list of chunks, else ``gram`` when ``N < d/4``, else ``svd``.
    normalize : bool, default False
        [reconstructed] Scale each non-zero ``v(s)`` to unit norm first (the paper, §3, does
        not say whether it does).
    tol : float, default 1e-10
        Relative Ritz residual at which power iteration stops.
    max_iter : int, default 500
        Maximal power iterations (the result's ``success``/``converged`` says whether ``tol``
        was met).
    seed : int, default 0
        Seed of the power-iteration start.

    Returns
    -------
    PrincipalDirection

    Raises
    ------
    ValueError
        For malformed ``directions``, an unknown ``method``, all-zero directions, or
        ``method="eigh"`` with ``d > 4096``.

    Notes
    -----
    Costs: ``svd`` O(N d min(N, d)); ``gram`` O(N² d); ``power`` O(N d (k + 4)) per iteration
    and O(d (k + 4)) extra memory. All four agree up to sign (tested to ``|cos| > 1 - 1e-8``).

    References
    ----------
    Korkmaz, ICML 2024, §3 (principal component of the non-Lipschitz directions).
    """
    check_choice("method", method, METHODS)
    k = check_positive_int("k", k)
    normalize = check_bool("normalize", normalize)
    tol = check_positive("tol", tol)
    max_iter = check_positive_int("max_iter", max_iter)
    seed = check_seed(seed)
    streamed = isinstance(directions, list | tuple)
    chunks, shape = _as_chunks(directions)
    if normalize:
        out = []
        for c in chunks:
            n = np.linalg.norm(c, axis=1, keepdims=True)
            out.append(np.where(n > 0, c / np.where(n > 0, n, 1.0), 0.0))
        chunks = out
    N = sum(len(c) for c in chunks)
    d = chunks[0].shape[1]
    trace = float(sum(np.sum(c * c) for c in chunks))
    if N == 0 or trace == 0.0:
        raise ValueError("directions must contain at least one non-zero direction")
    k = min(k, N, d)
    if method == "auto":
        method = "power" if streamed else ("gram" if N < d / 4 else "svd")
    nit, conv, res = 0, True, 0.0
    if method == "power":
        g, lam, nit, conv, res = _power(chunks, k, max_iter, tol, seed)
    else:
        V = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        if method == "svd":
            _, s, Vh = np.linalg.svd(V, full_matrices=False)
            g, lam = Vh[0], s[:k] ** 2
        elif method == "gram":
            w, U = np.linalg.eigh(V @ V.T)
            w, U = w[::-1], U[:, ::-1]
            g = V.T @ U[:, 0]
            g /= np.linalg.norm(g)
            lam = np.clip(w[:k], 0.0, None)
        else:
            if d > MAX_DENSE_D:
                raise ValueError(
                    f"method='eigh' materialises a d x d matrix; d={d} > {MAX_DENSE_D}"
                )
            w, U = np.linalg.eigh(V.T @ V)
            g, lam = U[:, -1], np.clip(w[::-1][:k], 0.0, None)
    g = _fix_sign(g / np.linalg.norm(g))
    return PrincipalDirection(
        direction=g.reshape(shape),
        eigenvalues=np.asarray(lam, dtype=np.float64),
        trace=trace,
        n_states=N,
        method=method,
        nit=nit,
        converged=conv,
        residual=res,
    )


class FrequentDirections:
    """One-pass streaming sketch ``B`` (ℓ × d) with ``0 ⪯ L - BᵀB ⪯ Δ·I`` (Liberty 2013).

    Feed chunks of directions with :meth:`update`; :meth:`result` returns ``G_S`` from the
    sketch. ``shrinkage`` (Δ, the total subtracted squared singular value) certifies
    ``λ_max(BᵀB) <= λ_max(L) <= λ_max(BᵀB) + Δ``. Memory O(ℓ d); ``L`` and ``V`` are never held.

    Parameters
    ----------
    d : int
        Dimension of a flattened direction.
    ell : int, default 32
        Sketch rows.
    normalize : bool, default False
        [reconstructed] Unit-normalise each non-zero row first.
    """

    def __init__(self, d: int, ell: int = 32, *, normalize: bool = False) -> None:
        self.d = check_positive_int("d", d)
        self.ell = check_positive_int("ell", ell)
        self.normalize = check_bool("normalize", normalize)
        self._B = np.zeros((2 * self.ell, self.d))
        self._rows = 0
        self.n_states = 0
        self.trace = 0.0
        self.shrinkage = 0.0

    def update(self, chunk: object) -> None:
        """Add a chunk ``(n, *state_shape)`` of directions."""
        C = as_batch("chunk", chunk, min_ndim=2)
        C = C.reshape(len(C), -1)
        if C.shape[1] != self.d:
            raise ValueError(f"chunk rows must have {self.d} entries; got {C.shape[1]}")
        if self.normalize:
            n = np.linalg.norm(C, axis=1, keepdims=True)
            C = np.where(n > 0, C / np.where(n > 0, n, 1.0), 0.0)
        self.n_states += len(C)
        self.trace += float(np.sum(C * C))
        i = 0
        while i < len(C):
            if self._rows == len(self._B):
                self._shrink()
            take = min(len(self._B) - self._rows, len(C) - i)
            self._B[self._rows : self._rows + take] = C[i : i + take]
            self._rows += take
            i += take

    def _shrink(self) -> None:
        _, s, Vh = np.linalg.svd(self._B, full_matrices=False)
        delta = s[self.ell - 1] ** 2 if len(s) >= self.ell else 0.0
        s2 = np.clip(s**2 - delta, 0.0, None)
        self.shrinkage += float(delta)
        self._B[:] = 0.0
        m = min(self.ell, len(s))
        self._B[:m] = np.sqrt(s2[:m])[:, None] * Vh[:m]
        self._rows = m - 1 if m and s2[m - 1] == 0 else m

    def result(self, k: int = 4, shape: Sequence[int] | None = None) -> PrincipalDirection:
        """``G_S`` of the sketch (``converged`` is False unless the certificate is exact).

        ``shape`` (default ``(d,)``) must have ``d`` entries in all.
        """
        k = check_positive_int("k", k)
        if shape is not None:
            if isinstance(shape, str | bytes) or not isinstance(shape, Sequence):
                raise ArgumentTypeError(f"shape must be a tuple of integers; got {shape!r}")
            shape = tuple(check_int(f"shape[{i}]", v, lo=1) for i, v in enumerate(shape))
            if int(np.prod(shape)) != self.d:
                raise ValueError(f"shape must have d = {self.d} entries in all; got {shape}")
        if self.trace == 0.0:
            raise ValueError("the sketch holds no non-zero direction (update it first)")
        _, s, Vh = np.linalg.svd(self._B[: self._rows], full_matrices=False)
        g = _fix_sign(Vh[0])
        lam = s[: min(k, len(s))] ** 2
        return PrincipalDirection(
            direction=g.reshape(tuple(shape) if shape is not None else (self.d,)),
            eigenvalues=lam,
            trace=self.trace,
            n_states=self.n_states,
            method=f"frequent-directions(ell={self.ell})",
            converged=self.shrinkage == 0.0,
            residual=self.shrinkage / lam[0] if lam[0] > 0 else float("inf"),
        )
