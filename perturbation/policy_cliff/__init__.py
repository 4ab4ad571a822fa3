"""Perturbation experiments for *The Policy Cliff* (Xu 2025): the claims ``policy-cliff/*``.

Every claim ``policy-cliff/*`` (one per proposition, lemma or derived corollary of the paper) is measured here on
random small MDPs and on the exact constructions where the bounds are attained. An experiment
reports its worst instance: for an upper bound the instance with the largest measured/bound
ratio, for a tightness claim the smallest, for an identity the largest deviation.

Instances come from :mod:`theory.generators` with generators seeded by ``(seed, claim)``;
counts scale with ``--scale``. Soft solves use value-iteration tolerance ``1e-11`` so that
solver error (at most ``tol/alpha`` in log-probabilities) stays far below every tolerance
stated here.
"""

import importlib

# Import order is the order of the report.
for _module in ("lipschitz", "cliff", "multi_reward", "regularization"):
    importlib.import_module(f"{__name__}.{_module}")
