"""Perturbation experiments for robust counterfactuals: the claims ``counterfactual/*``.

Measured with :mod:`stability.counterfactual` (Hamman, Noorani, Mishra, Magazzeni & Dutta,
ICML 2023, arXiv:2305.11997). Families, in report order:

- :mod:`.measure`: the closed forms of E[R] and E[R-hat] for linear models against Monte Carlo;
  R <= m(x) with a certified Lipschitz constant; R-hat >= R on the same samples; the certified
  Lipschitz constant against gradient norms;
- :mod:`.guarantee`: the provable guarantee on the synthetic sinusoidal model change (and,
  reported only, the observed frequencies on retrained MLPs);
- :mod:`.generators`: the closest counterfactual of a logistic model against an independent
  LP/QP; T-Rex:I against the closest counterfactual on breast-cancer and generated data over
  >= 10 retrained models, with a table of every generator;
- :mod:`.baselines`: PROBE's closed-form invalidation rate, ROAR's inner problem against a
  linear program, and ROAR's outer problem against cvxpy.

sigma is a standard deviation everywhere. Monte Carlo tolerances are 4 standard errors.
Generators are seeded by ``(seed, claim)``, counts scale with ``--scale``. Each experiment
reports its worst instance (:class:`perturbation.registry.Worst`).
"""

import importlib

# Import order is the order of the report.
for _module in ("measure", "guarantee", "generators", "baselines"):
    importlib.import_module(f"{__name__}.{_module}")
