"""Counterfactuals on tabular data as users hold it: pandas DataFrames, typed features.

- :mod:`.space`: :class:`TabularSpace` read from a DataFrame (continuous, integer, boolean and
  categorical features, ranges, immutables), its numeric encoding and the decoding back to the
  user's columns and dtypes;
- :mod:`.model`: scikit-learn classifiers (``predict_proba`` on the raw frame or a pipeline),
  torch modules and callables as class-probability models on the encoded space; the estimated
  Lipschitz constant (an estimate, labelled so);
- :mod:`.search`: :func:`tabular_counterfactuals`, several diverse counterfactuals per query,
  feasible, valid for the desired class, raised to Stability >= tau (Hamman et al., ICML 2023,
  arXiv:2305.11997: the measure R_{k,sigma} and T-Rex);
- :mod:`.result`: :class:`TabularCounterfactuals`, the named result.
"""

from stability.counterfactual.tabular.result import TabularCounterfactuals
from stability.counterfactual.tabular.search import tabular_counterfactuals
from stability.counterfactual.tabular.space import KINDS, Feature, TabularSpace

__all__ = ["KINDS", "Feature", "TabularCounterfactuals", "TabularSpace", "tabular_counterfactuals"]
