"""Perturbation experiments for the causal minimax subset search: the claims ``causal-minimax/*``.

Liu, Zheng, Sun, Fang & Wang, *Which Invariance Should We Transfer? A Causal Minimax Learning
Approach* (ICML 2023, arXiv:2107.01876). Exact checks use random binary SCMs
(:func:`causal.generators.random_binary_scm`: Y and 3-4 X's, edges w.p. 0.5, 1-2 mutable
nodes, CPT entries in [0.05, 0.95]) with the exact ``h*`` (enumeration of deterministic
intervention maps); the neural estimator is checked on the bilinear example against its
quadrature value; the paper's synthetic protocol (Sec. 6.1) and the IMPC data (App. F.2.1)
compare the chosen subset with the whole stable set. Every experiment reports its worst
instance.

Families, in report order: :mod:`.classes` (Alg. 2: the partition and the paper's graph),
:mod:`.exact` (exact ``h*`` on binary SCMs: Alg. 1-2 and the graphical condition),
:mod:`.bilinear` (the closed-form counterexample, analytic and neural), :mod:`.linear` (the
linear-Gaussian case in closed form vs the search), :mod:`.protocol` (Sec. 6.1, with the
baselines) and :mod:`.impc` (App. F.2.1, under the authors' and the toolkit's
standardisation).
"""

import importlib

# Import order is the order of the report.
for _module in ("classes", "exact", "bilinear", "linear", "protocol", "impc"):
    importlib.import_module(f"{__name__}.{_module}")
