"""Perturbation experiments for decision-boundary instability (Korkmaz, ICML 2024): ``decision-boundary/*``.

The claims are measured with :mod:`stability.decision_boundary` on two rungs: exact tests on
random linear policies ``Q = W s + b`` (float64), where every quantity has a closed form, then a
seeded pixel gridworld (``1 × 3n × 3n`` observations, n = 10 at tiny and 12 otherwise) with a
CNN fitted to Q* ("vanilla") and its SA-DQN-style robust twin. ``S`` is the set of states
visited by greedy rollouts from 10 random starts (the paper's "states visited by the policy",
§3); the independent set ``S_indep`` comes from 10 other starts. Shifts are applied to
``S_indep`` so that the first row of the Λ table (no shift) is the independent-sample baseline
[reconstructed]. Vanilla vs robust statistics (top-coordinate overlap, Fourier spread,
oscillation) are reported with seeds and bootstrap intervals and asserted nowhere: the paper
observes them on Atari agents, and a 12 × 12 maze need not show them. Each experiment reports
its worst case.

Families, in report order:

- :mod:`.exact`: linear policies (gradient formula, row space, binary case, DeepFool, the
  methods for ``G_S``, the axioms of Λ);
- :mod:`.shifts`: Λ under natural shifts and attacks on the gridworld;
- :mod:`.directions`: gradient vs random directions, ``G_S`` as a universal direction;
- :mod:`.fgsm`: FGSM vs sign noise;
- :mod:`.twin`: Fourier and oscillation bookkeeping, the robust twin.
"""

import importlib

# Import order is the order of the report.
for _module in ("exact", "shifts", "directions", "fgsm", "twin"):
    importlib.import_module(f"{__name__}.{_module}")
