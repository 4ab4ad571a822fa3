"""Perturbation experiments that check every theoretical claim, and the tools around them.

- :mod:`perturbation.registry`: the claim registry (``Claim``, ``Evidence``, ``RunContext``,
  the ``@claim`` decorator); each analytical module registers its claims in its own module
  (``perturbation.policy_cliff``, ``.lipschitz``, ``.counterfactual``, ``.causal_minimax``,
  ``.decision_boundary``, ``.trainers``).
- :mod:`perturbation.verify` and :mod:`perturbation.report`: ``stability verify`` and its report.
- :mod:`perturbation.bench`: ``stability bench AREA``.
- :mod:`perturbation.sweeps`: grids of runs with resumable persistence and rliable-style statistics.
- :mod:`perturbation.cli`: the ``stability`` command.
"""
