"""Shared instances of the decision-boundary experiments: linear policies and the gridworld sweep.

The gridworld sweep (:func:`grid`) and the Λ table (:func:`lambda_table`) are cached per run
context and returned :func:`~perturbation.registry.frozen`: arrays are read-only and containers
immutable, so no claim can change what another reads. The fitted networks are shared as well
(their parameters do not require gradients); claims only evaluate them.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping

import numpy as np
import torch

from perturbation.registry import RunContext, frozen
from stability.decision_boundary import (
    InstabilityDirections,
    apply_shift,
    bootstrap_interval,
    carlini_wagner_l2,
    correlation_quotient,
    deepfool,
    instability_directions,
    nesterov,
    principal_direction,
)
from stability.decision_boundary.gridworld import gridworld_policy, rollout_states

#: Shift strengths of the Λ table [reconstructed]: the paper calls its shifts imperceptible and
#: gives no parameters; these are visible but small on 3 × 3-pixel cells.
SHIFT_STRENGTH: dict[str, float] = {
    "brightness-contrast": 0.2,
    "blur": 0.8,
    "rotation": 6.0,
    "compression": 0.05,
    "perspective": 0.08,
}
#: The Λ-table row of the unshifted independent states.
BASELINE = "none (independent states)"


def linear_instance(
    rng: np.random.Generator, d: int, A: int, N: int, *, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random linear policy ``Q = W s + b`` (Gaussian ``W`` times ``scale``) and ``N`` states."""
    W = scale * rng.standard_normal((A, d))
    return W, rng.standard_normal(A), rng.standard_normal((N, d))


def quiet_directions(
    policy: torch.nn.Module, states: np.ndarray, **kwargs: object
) -> InstabilityDirections:
    """:func:`instability_directions` without its dropped-states ``RuntimeWarning``.

    For claims that saturate softmaxes on purpose or read the norms of dropped states; the
    count stays on the result (:attr:`~InstabilityDirections.n_dropped`).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return instability_directions(policy, states, **kwargs)


def maze_size(ctx: RunContext) -> int:
    """The maze side ``n``: 10 at tiny scale, 12 otherwise."""
    return 10 if ctx.scale == "tiny" else 12


def n_seeds(ctx: RunContext) -> int:
    """Network seeds per model kind: 1 at tiny and small, 2 at medium, 3 at large."""
    return {"tiny": 1, "small": 1, "medium": 2}.get(ctx.scale, 3)


@functools.lru_cache(maxsize=4)
def grid(ctx: RunContext) -> Mapping[str, object]:
    """Vanilla and robust CNNs on maze ``ctx.seed`` for each network seed, and their state sets.

    ``models[(seed, robust)]`` holds ``env``, ``model``, ``fit`` (its :class:`FitReport`), ``S``
    (states of 10 greedy rollouts), ``S_indep`` (10 other rollouts) and ``episodes`` (the
    per-episode observation arrays of ``S``).
    """
    size = maze_size(ctx)
    seeds = list(range(n_seeds(ctx)))
    models: dict[tuple[int, bool], dict[str, object]] = {}
    for seed in seeds:
        for robust in (False, True):
            env, model, rep = gridworld_policy(size, seed, robust, maze_seed=ctx.seed)
            S, episodes, _ = rollout_states(model, env, 10, seed=1000 + seed)
            S2, _, _ = rollout_states(model, env, 10, seed=2000 + seed)
            models[(seed, robust)] = {
                "env": env,
                "model": model,
                "fit": rep,
                "S": S,
                "S_indep": S2,
                "episodes": episodes,
            }
    return frozen({"size": size, "seeds": seeds, "models": models})


def principal_map(model: torch.nn.Module, states: np.ndarray) -> np.ndarray:
    """``G_S`` of ``model`` over ``states`` (unnormalised directions, saturated states dropped)."""
    return principal_direction(instability_directions(model, states)).direction


@functools.lru_cache(maxsize=4)
def lambda_table(ctx: RunContext) -> Mapping[str, object]:
    """Λ(S_Ψ, S) for every shift and attack, per seed and model, and the ``G_S`` maps.

    ``rows[name][kind]`` is the tuple of Λ over network seeds (``kind`` is ``"vanilla"`` or
    ``"robust"``); ``gmaps[(seed, robust)]`` is ``G_S`` of the baseline states ``S``.
    """
    rows: dict[str, dict[str, list[float]]] = {}
    gmaps = {}
    for (seed, robust), m in grid(ctx)["models"].items():
        model, S, S2 = m["model"], m["S"], m["S_indep"]
        kind = "robust" if robust else "vanilla"
        base = instability_directions(model, S)
        gmaps[(seed, robust)] = principal_direction(base).direction
        sets = {BASELINE: S2}
        for name, s in SHIFT_STRENGTH.items():
            sets[name] = np.clip(apply_shift(name, S2, s), 0.0, 1.0)
        sets["Carlini&Wagner"] = carlini_wagner_l2(
            model, S2, c=5.0, steps=40, lr=0.02
        ).adversarial.numpy()
        sets["Nesterov momentum"] = nesterov(model, S2, 0.02, steps=5).adversarial.numpy()
        sets["DeepFool"] = deepfool(model, S2, max_iter=20).adversarial.numpy()
        for name, X in sets.items():
            lam = correlation_quotient(principal_map(model, X), base).value
            rows.setdefault(name, {}).setdefault(kind, []).append(lam)
    return frozen({"rows": rows, "gmaps": gmaps})


def interval(vals: list[float]) -> str:
    """``"mean [lo, hi]"`` with a seeded 90% bootstrap interval (the value alone for one)."""
    if len(vals) < 2:
        return f"{vals[0]:.3f}"
    p, lo, hi = bootstrap_interval(vals, n_boot=500)
    return f"{p:.3f} [{lo:.3f}, {hi:.3f}]"
