"""Perturbation experiments for the Lipschitz bounds of neural policies: the claims ``lipschitz/*``.

Families, in report order:

- :mod:`.published`: LipSDP's published values on its ``random_weights.mat`` and their tightness;
- :mod:`.ordering`: the chain lower <= LipSDP-Neuron <= -Layer <= ECLipsE-Fast <= naive, and
  the exact constant of 2-D-input nets below every upper bound;
- :mod:`.soundness`: every certified bound (global, and local over a box) holds on sampled
  pairs of states;
- :mod:`.policies`: Lipschitz-constrained (AOL) policies ``π = L·g`` cloned from an LQR expert,
  and the closed-loop deviation bound under measurement disturbances;
- :mod:`.solvers`: the toolkit's structured solvers against the general-purpose SDP solver.

Networks come from :mod:`stability.lipschitz.generators`, generators are seeded by
``(seed, claim)``, counts scale with ``--scale``. Each experiment reports its worst instance
(:class:`perturbation.registry.Worst`).
"""

import importlib

# Import order is the order of the report.
for _module in ("published", "ordering", "soundness", "policies", "solvers"):
    importlib.import_module(f"{__name__}.{_module}")
