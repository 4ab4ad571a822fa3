"""Independent brute-force reference for the exact worst-case risk (pure Python loops)."""

from __future__ import annotations

import itertools
from collections import defaultdict


def brute_force_risk(scm, subset, maps=None):
    """max over all deterministic maps (or the given ``maps``) of E[(Y - f_S')^2], by loops."""
    order = scm.order
    states = list(itertools.product(*(range(scm.cards[v]) for v in order)))
    pos = {v: i for i, v in enumerate(order)}
    yv = scm.target_values

    def w_do(x):
        w = 1.0
        for v in order:
            if v not in scm.mutable:
                pa = tuple(x[pos[p]] for p in scm.parents[v])
                w *= scm.cpts[v][pa][x[pos[v]]]
        return w

    keep = sorted(set(subset) | set(scm.mutable), key=str)
    num, den = defaultdict(float), defaultdict(float)
    for x in states:
        key = tuple(x[pos[v]] for v in keep)
        w = w_do(x)
        num[key] += w * yv[x[pos[scm.target]]]
        den[key] += w

    def f(x):
        key = tuple(x[pos[v]] for v in keep)
        return num[key] / den[key] if den[key] > 0 else 0.0

    mut = sorted(scm.mutable, key=str)

    def all_maps(j):
        cfgs = list(itertools.product(*(range(scm.cards[p]) for p in scm.parents[j])))
        for vals in itertools.product(range(scm.cards[j]), repeat=len(cfgs)):
            yield dict(zip(cfgs, vals, strict=True))

    combos = (
        [maps]
        if maps is not None
        else (
            dict(zip(mut, c, strict=True))
            for c in itertools.product(*(list(all_maps(j)) for j in mut))
        )
    )
    best = -1.0
    for g in combos:
        total = 0.0
        for x in states:
            ok = all(g[j][tuple(x[pos[p]] for p in scm.parents[j])] == x[pos[j]] for j in mut)
            if ok:
                total += w_do(x) * (yv[x[pos[scm.target]]] - f(x)) ** 2
        best = max(best, total)
    return best
