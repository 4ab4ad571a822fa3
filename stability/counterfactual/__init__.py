"""Robust counterfactuals under model change (Hamman et al., ICML 2023).

A counterfactual x' of a rejected query x (m(x) < 0.5) has m(x') >= 0.5; it is *robust* if it
stays valid when the model is retrained. The Stability measure

    R_{k,sigma}(x', m) = (1/k) sum_i [ m(x_i) - gamma_x ||x_i - x'|| ],  x_i ~ N(x', sigma^2 I),

(**sigma is a standard deviation throughout**) lower-bounds m(x') and, with high probability,
the changed model M(x') (:mod:`.guarantee`). Modules, one concept each:

- :mod:`.measure`: R, the relaxation R-hat, the certified variant, closed forms;
- :mod:`.guarantee`: the probability bound (provable version; the paper's form, labelled);
- :mod:`.generators`: closest counterfactual, Wachter, T-Rex:I, T-Rex:NN;
- :mod:`.baselines`: SNS, RobX, ROAR (linear models; inner problem closed form and LP, outer
  problem solved exactly with a certified gap), PROBE;
- :mod:`.model_change`: families of changed models from a model factory; the sinusoidal family;
- :mod:`.metrics`: cost, validity, robust validity, LOF (1 neighbour), Stability, time;
- :mod:`.tabular`: counterfactuals of pandas DataFrames (feature types, immutables, ranges,
  several diverse counterfactuals per query, scikit-learn classifiers, multiclass targets);
- :mod:`.data`: breast-cancer (bundled with scikit-learn) and generated data;
- :mod:`.models`: the model wrapper, a seeded MLP trainer, logistic models;
- :mod:`.strategies`: hypothesis strategies for property tests.

References
----------
.. [1] F. Hamman, E. Noorani, S. Mishra, D. Magazzeni, S. Dutta, "Robust Counterfactual
   Explanations for Neural Networks With Probabilistic Guarantees", ICML 2023, PMLR 202,
   arXiv:2305.11997.
"""

from stability.counterfactual.baselines import (
    invalidation_rate,
    invalidation_rate_mc,
    roar,
    roar_worst_logit,
    roar_worst_logit_lp,
    robx,
    robx_score,
    sns,
)
from stability.counterfactual.data import Dataset, breast_cancer, moons
from stability.counterfactual.generators import (
    CounterfactualResult,
    closest_counterfactual,
    trex,
    trex_nn,
    wachter,
)
from stability.counterfactual.guarantee import (
    guarantee_bound,
    paper_guarantee_bound,
    sinusoid_variance,
)
from stability.counterfactual.measure import (
    counterfactual_stability,
    expected_gaussian_norm,
    linear_expected_stability,
    lipschitz_upper_bound,
    stability_from_samples,
)
from stability.counterfactual.metrics import cost, evaluate, lof_1nn, robust_validity, validity
from stability.counterfactual.model_change import (
    ModelFamily,
    SinusoidalFamily,
    changed_models,
    sinusoidal_family,
)
from stability.counterfactual.models import (
    as_probability_model,
    logistic_model,
    predict_proba,
    train_mlp,
)
from stability.counterfactual.tabular import (
    Feature,
    TabularCounterfactuals,
    TabularSpace,
    tabular_counterfactuals,
)

__all__ = [
    "CounterfactualResult",
    "Dataset",
    "Feature",
    "ModelFamily",
    "SinusoidalFamily",
    "TabularCounterfactuals",
    "TabularSpace",
    "as_probability_model",
    "breast_cancer",
    "changed_models",
    "closest_counterfactual",
    "cost",
    "counterfactual_stability",
    "evaluate",
    "expected_gaussian_norm",
    "guarantee_bound",
    "invalidation_rate",
    "invalidation_rate_mc",
    "linear_expected_stability",
    "lipschitz_upper_bound",
    "lof_1nn",
    "logistic_model",
    "moons",
    "paper_guarantee_bound",
    "predict_proba",
    "roar",
    "roar_worst_logit",
    "roar_worst_logit_lp",
    "robust_validity",
    "robx",
    "robx_score",
    "sinusoid_variance",
    "sinusoidal_family",
    "sns",
    "stability_from_samples",
    "tabular_counterfactuals",
    "train_mlp",
    "trex",
    "trex_nn",
    "validity",
    "wachter",
]
