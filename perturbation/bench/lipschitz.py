"""Benchmark of :mod:`stability.lipschitz`: every method's value and time per network, with the
ratios to LipSDP-Neuron (value and time) measured in the same run.

Networks: LipSDP's ``random_weights.mat`` and Gaussian nets in the style of the spec's §5 C
(input 4, output 1, each ``W`` rescaled to a spectral norm drawn from U(0.4, 1.8); our draw
order, so values differ from the spec's table). ``check`` gives the value and its ratio to
LipSDP-Neuron's; ``speedup`` is LipSDP-Neuron's time over the method's. The last rows time
ECLipsE-Fast (certified) on a 20 x 256 network against LipLT, and LipSDP-Neuron-FO with a 9 s
budget on the same network against ECLipsE-Fast (no LipSDP baseline: too large). Single
thread (``torch.set_num_threads(1)``; set ``OMP_NUM_THREADS=1`` for numpy as well).
"""

from __future__ import annotations

import time

import numpy as np

from perturbation.bench import BenchRow
from perturbation.lipschitz import random_weights
from stability.lipschitz import as_network, lipschitz_bound

METHODS = ("naive", "liplt", "eclipse-fast", "eclipse", "lipsdp-layer", "lipsdp-neuron-fo")


def _net_c(layers: int, width: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7 * width + 13 * layers)
    dims = [4] + [width] * (layers - 1) + [1]
    ws = []
    for k in range(layers):
        w = rng.standard_normal((dims[k + 1], dims[k]))
        ws.append(w * rng.uniform(0.4, 1.8) / np.linalg.norm(w, 2))
    return ws


def _timed(ws, method: str, repeats: int, **kw):
    best, r = float("inf"), None
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        r = lipschitz_bound(ws, method, **kw)
        best = min(best, time.perf_counter() - t)
    return r, best


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """One row per (network, method); sizes grow with ``scale``."""
    import torch

    torch.set_num_threads(1)
    nets = {
        "random_weights [2,10,30,20,2]": random_weights(),
        "2x50": _net_c(2, 50),
        "5x20": _net_c(5, 20),
    }
    if scale in ("medium", "large"):
        nets.update({"2x100": _net_c(2, 100), "5x50": _net_c(5, 50), "10x20": _net_c(10, 20)})
    if scale == "large":  # LipSDP-Neuron: ~10 s and ~130 s
        nets.update({"2x200": _net_c(2, 200), "10x50": _net_c(10, 50)})
    rows = []
    for name, ws in nets.items():
        neuron, t_neuron = _timed(ws, "lipsdp-neuron", 1)
        for m in METHODS:
            fast = m in ("naive", "liplt", "eclipse-fast", "lipsdp-neuron-fo")
            r, t = _timed(ws, m, repeats if fast else 1)
            rows.append(
                BenchRow(
                    m,
                    t,
                    "lipsdp-neuron",
                    t_neuron,
                    f"{name} (N={as_network(ws).n_hidden})",
                    f"L={r.value:.5g}, /Neuron={r.value / neuron.value:.4f}, cert={r.certified}",
                )
            )
    big = _net_c(20, 256 if scale != "tiny" else 64)
    r_fast, t_fast = _timed(big, "eclipse-fast", 1)
    r_lt, t_lt = _timed(big, "liplt", 1)
    rows.append(
        BenchRow(
            "eclipse-fast",
            t_fast,
            "liplt",
            t_lt,
            f"20x{big[1].shape[0]}",
            f"L={r_fast.value:.4g} vs LipLT {r_lt.value:.4g}, cert={r_fast.certified}",
        )
    )
    budget = 9.0 if scale != "tiny" else 1.0
    r_fo, t_fo = _timed(big, "lipsdp-neuron-fo", 1, time_budget=budget)
    rows.append(
        BenchRow(
            "lipsdp-neuron-fo",
            t_fo,
            "eclipse-fast",
            t_fast,
            f"20x{big[1].shape[0]}",
            f"L={r_fo.value:.4g} vs ECLipsE-Fast {r_fast.value:.4g} "
            f"(/Fast={r_fo.value / r_fast.value:.3f}), budget {budget:g} s, cert={r_fo.certified}",
        )
    )
    return rows
