"""The worst-case risk ``h*(S')`` of a stable predictor: exact (discrete) or neural (continuous).

For ``S' ⊆ S`` the stable predictor is ``f_{S'}(x) = E[Y | X_{S'} = x_{S'}, do(X_M = x_M)]``: it
always receives ``x_M`` (the authors' code: ``NonLinearF(in_dim = |S'| + |M|)``, so the
empty subset still uses ``x_M``). Its worst-case risk replaces each mutable mechanism by a deterministic
intervention function ``g_j(PA_j)`` (parents of ``X_M`` unchanged, descendants regenerated)::

    h*(S') = max_g E[(Y - f_{S'}(X_{S'}, X_M))^2 | do(X_M = g(PA_M))].

**Discrete SCMs (exact).** ``f_{S'}`` comes from the truncated factorisation with ``X_M``
fixed; the risk is multilinear in the mutable conditionals, so its maximum over stochastic
replacements sits at deterministic maps. The maps of all mutable nodes but the last are
enumerated; for the last one the risk is linear in its indicator table and is maximised per
parent configuration in closed form (exact, no enumeration). [derived] Multilinearity: the
joint law is a product of CPT factors, each mutable factor ``P^e(x_j | pa_j)`` appears exactly
once, and ``f_{S'}`` does not depend on the mutable factors (``X_M`` is fixed by ``do``), so the
expected loss is linear in each mutable factor separately; a linear function on a product of
simplices attains its maximum at a vertex, i.e. at a deterministic map ``g_j``.

**Continuous SCMs (neural) [reconstructed].** ``f_{S'}`` is an MLP fitted on exactly
intervened samples: ``X_M`` drawn from its observational joint law, decoupled from the rest by
one joint row permutation, then every other node regenerated from its true mechanism with
noise. The adversary is a bounded function class ``g_j = c_j + B·s_j·tanh(MLP_j(PA_j))``
(``c_j, s_j`` the observational mean and std of ``X_j``), trained by Adam gradient ascent on
the squared error over a fixed noise sample. The authors bound ``g`` by a weight-norm penalty
instead; here the output bound ``B`` is a parameter. The value reported is the risk of the
learned ``g`` on fresh held-out noise (an unbiased estimate of a lower bound of the sup for
the fitted predictor), with its standard error.

References
----------
.. [1] M. Liu et al., "Which Invariance Should We Transfer? A Causal Minimax Learning
   Approach", ICML 2023 (arXiv:2107.01876), Alg. 1 (``h*``).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch

from causal._optim import Adam
from causal.graph import sorted_nodes
from causal.scm import ContinuousSCM, DiscreteSCM
from theory.checks import (
    ArgumentTypeError,
    check_int,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = [
    "NeuralConfig",
    "WorstCaseRisk",
    "discrete_predictor",
    "fit_stable_predictor",
    "fit_stable_predictors",
    "intervened_risk",
    "worst_case_risk",
    "worst_case_risks",
]

MAX_JOINT = 2**22


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorstCaseRisk:
    """``h*(S')`` with how it was obtained.

    Attributes
    ----------
    value : float
        The worst-case risk (exact, or the held-out estimate for the neural method).
    subset : frozenset
        ``S'``.
    method : str
        ``"exact"`` or ``"neural"``.
    stderr : float
        Monte Carlo standard error (0 for exact).
    maps : dict or None
        Exact: a maximising deterministic map per mutable node, ``maps[j][pa] = x_j``.
    n_maps : int
        Exact: deterministic map combinations covered. Neural: adversary steps taken.
    train_value : float
        Neural: the risk on the optimisation sample (``value`` for exact).
    success : bool
        False when the estimate is not finite (a ``RuntimeWarning`` is issued as well).
    message : str
        How the value was obtained, or why it failed.

    Notes
    -----
    With ``success`` and ``message``, the properties ``status`` (0 success, 2 a non-finite
    estimate: the codes of :class:`theory.ValueIterationResult`) and ``nit`` (adversary Adam
    steps over all restarts for the neural method, 0 for the exact one) complete the result
    vocabulary of iterative work (as ``scipy.optimize.OptimizeResult``).
    """

    value: float
    subset: frozenset
    method: str
    stderr: float = 0.0
    maps: dict | None = None
    n_maps: int = 0
    train_value: float = math.nan
    success: bool = True
    message: str = ""

    @property
    def status(self) -> int:
        """0 when ``success``, else 2 (a non-finite estimate)."""
        return 0 if self.success else 2

    @property
    def nit(self) -> int:
        """Adversary steps over all restarts (neural), 0 for the exact method."""
        return int(self.n_maps) if self.method == "neural" else 0

    def summary(self) -> str:
        """One line: subset, value and method."""
        s = "{" + ", ".join(map(str, sorted_nodes(self.subset))) + "}"
        err = f" ± {self.stderr:.2g}" if self.stderr else ""
        return f"h*({s}) = {self.value:.6g}{err} [{self.method}; {self.message}]"


@dataclass(frozen=True)
class NeuralConfig:
    """Sizes of the neural ``h*`` estimator (continuous SCMs).

    Attributes
    ----------
    n_samples : int
        Samples to fit ``f_{S'}`` (a fifth held out for early stopping) and to train the
        adversary.
    n_eval : int
        Fresh samples to evaluate the learned adversary.
    predictor_steps, adversary_steps : int
        Full-batch Adam steps.
    hidden, adversary_hidden : int
        MLP widths (two tanh layers for ``f``, one for ``g``).
    output_bound : float
        ``B``: ``|g_j - c_j| <= B s_j`` [reconstructed choice of bounded class].
    lr_predictor, lr_adversary : float
    restarts : int
        Random initialisations of the adversary (the best on the training sample is kept).
    """

    n_samples: int = 8000
    n_eval: int = 20000
    predictor_steps: int = 600
    adversary_steps: int = 200
    hidden: int = 16
    adversary_hidden: int = 16
    output_bound: float = 1.0
    lr_predictor: float = 1e-2
    lr_adversary: float = 2e-2
    restarts: int = 1

    def __post_init__(self) -> None:
        for name in ("n_samples", "n_eval", "predictor_steps", "hidden", "adversary_hidden"):
            object.__setattr__(self, name, check_positive_int(name, getattr(self, name)))
        for name in ("adversary_steps", "restarts"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), lo=0))
        for name in ("output_bound", "lr_predictor", "lr_adversary"):
            object.__setattr__(self, name, check_positive(name, getattr(self, name)))


# ---------------------------------------------------------------------------------------------
# Exact risk on discrete SCMs
# ---------------------------------------------------------------------------------------------


def _axes(scm: DiscreteSCM, v: Hashable) -> list[int]:
    idx = {u: i for i, u in enumerate(scm.order)}
    return [idx[p] for p in scm.parents[v]] + [idx[v]]


def _loss_tensor(scm: DiscreteSCM, subset: frozenset) -> np.ndarray:
    """``L(x) = ∏_{v∉M} P(x_v | pa_v) · (y - f_{S'}(x_{S'}, x_M))^2`` over the joint table."""
    n = len(scm.order)
    size = math.prod(scm.cards.values())
    if size > MAX_JOINT:
        raise ValueError(f"the joint table has {size} > {MAX_JOINT} states; too large for exact")
    ops: list = []
    for v in scm.order:
        if v not in scm.mutable:
            ops += [scm.cpts[v], _axes(scm, v)]
    for i, v in enumerate(scm.order):  # all-ones factors make every axis present
        ops += [np.ones(scm.cards[v]), [i]]
    p = np.einsum(*ops, list(range(n)), optimize=True)
    f = _predictor_from_joint(scm, subset, p)
    yi = scm.order.index(scm.target)
    shape = [1] * n
    shape[yi] = scm.cards[scm.target]
    y = scm.target_values.reshape(shape)
    return p * (y - f) ** 2


def _predictor_from_joint(scm: DiscreteSCM, subset: frozenset, p: np.ndarray) -> np.ndarray:
    keep = subset | scm.mutable
    other = tuple(i for i, v in enumerate(scm.order) if v not in keep)
    yi = scm.order.index(scm.target)
    shape = [1] * len(scm.order)
    shape[yi] = scm.cards[scm.target]
    y = scm.target_values.reshape(shape)
    num = np.sum(p * y, axis=other, keepdims=True)
    den = np.sum(p, axis=other, keepdims=True)
    # configurations with P(x_S' | do x_M) = 0 have probability 0 under every g as well
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def discrete_predictor(scm: DiscreteSCM, subset: Iterable[Hashable]) -> np.ndarray:
    """The exact stable predictor ``f_{S'}(x_{S'}, x_M)`` as a table.

    Returns an array with one axis per node of ``scm.order`` (size 1 on the axes of nodes
    outside ``S' ∪ X_M``), from the truncated factorisation with ``X_M`` fixed.
    """
    if not isinstance(scm, DiscreteSCM):
        raise ArgumentTypeError(f"scm must be a DiscreteSCM; got {type(scm).__name__}")
    s = scm.check_subset(subset)
    n = len(scm.order)
    ops: list = []
    for v in scm.order:
        if v not in scm.mutable:
            ops += [scm.cpts[v], _axes(scm, v)]
    for i, v in enumerate(scm.order):
        ops += [np.ones(scm.cards[v]), [i]]
    return _predictor_from_joint(scm, s, np.einsum(*ops, list(range(n)), optimize=True))


def intervened_risk(
    scm: DiscreteSCM, subset: Iterable[Hashable], interventions: Mapping[Hashable, object]
) -> float:
    """``E[(Y - f_{S'})^2]`` when the mutable CPTs are replaced by ``interventions``.

    ``interventions[j]`` is a CPT of the shape of ``scm.cpts[j]`` (deterministic maps are 0/1
    CPTs; stochastic ones are allowed); mutable nodes not named keep their CPT.

    Raises
    ------
    ValueError
        ``scm`` not a DiscreteSCM, a non-stable subset, ``interventions`` naming a non-mutable
        node or holding tables of the wrong shape, non-finite entries or rows that are not
        probability vectors.
    """
    if not isinstance(scm, DiscreteSCM):
        raise ArgumentTypeError(f"scm must be a DiscreteSCM; got {type(scm).__name__}")
    s = scm.check_subset(subset)
    repl = scm.check_interventions(interventions)
    loss = _loss_tensor(scm, s)
    ops: list = [loss, list(range(len(scm.order)))]
    for j in scm.mutable:
        ops += [repl.get(j, scm.cpts[j]), _axes(scm, j)]
    return float(np.einsum(*ops, [], optimize=True))


def _deterministic_maps(scm: DiscreteSCM, j: Hashable) -> Iterable[np.ndarray]:
    """Every deterministic map ``g_j``, as an int array over the parent configurations."""
    pa_shape = scm.cpts[j].shape[:-1]
    n_cfg = math.prod(pa_shape)
    for vals in itertools.product(range(scm.cards[j]), repeat=n_cfg):
        yield np.array(vals, dtype=int).reshape(pa_shape)


def _indicator(scm: DiscreteSCM, j: Hashable, g: np.ndarray) -> np.ndarray:
    return (np.arange(scm.cards[j]) == g[..., None]).astype(np.float64)


def _exact_risk(scm: DiscreteSCM, subset: frozenset, max_maps: int) -> WorstCaseRisk:
    loss = _loss_tensor(scm, subset)
    n = len(scm.order)
    mut = [v for v in scm.order if v in scm.mutable]
    if not mut:
        v = float(loss.sum())
        return WorstCaseRisk(v, subset, "exact", n_maps=1, train_value=v, message="no X_M")
    counts = [scm.cards[j] ** math.prod(scm.cpts[j].shape[:-1]) for j in mut]
    n_enum = math.prod(counts[:-1])
    if n_enum > max_maps:
        raise ValueError(
            f"max_maps = {max_maps} is below the {n_enum} map combinations to enumerate"
        )
    last = mut[-1]
    best, best_maps = -math.inf, None
    for combo in itertools.product(*(list(_deterministic_maps(scm, j)) for j in mut[:-1])):
        ops: list = [loss, list(range(n))]
        for j, g in zip(mut[:-1], combo, strict=True):
            ops += [_indicator(scm, j, g), _axes(scm, j)]
        c = np.einsum(*ops, _axes(scm, last), optimize=True)  # linear in the last indicator
        value = float(np.sum(np.max(c, axis=-1)))
        if value > best:
            best = value
            best_maps = {**dict(zip(mut[:-1], combo, strict=True)), last: np.argmax(c, axis=-1)}
    return WorstCaseRisk(
        best,
        subset,
        "exact",
        maps=best_maps,
        n_maps=math.prod(counts),
        train_value=best,
        message=f"{n_enum} enumerated × closed-form max over {counts[-1]} maps of {last}",
    )


# ---------------------------------------------------------------------------------------------
# Neural estimator on continuous SCMs
# ---------------------------------------------------------------------------------------------


class _MLP(torch.nn.Module):
    """Tanh MLP computed in float32 (speed); inputs and outputs are float64."""

    def __init__(self, d_in: int, hidden: int, layers: int) -> None:
        super().__init__()
        mods: list[torch.nn.Module] = []
        d = d_in
        for _ in range(layers):
            mods += [torch.nn.Linear(d, hidden), torch.nn.Tanh()]
            d = hidden
        mods.append(torch.nn.Linear(d, 1))
        self.net = torch.nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float()).squeeze(-1).double()


@dataclass(frozen=True)
class _StablePredictor:
    """A fitted ``f_{S'}``: columns ``(S' in name order, then X_M in name order)``."""

    columns: tuple
    mean: torch.Tensor
    std: torch.Tensor
    net: torch.nn.Module | None
    constant: float
    train_mse: float

    def __call__(self, values: Mapping[Hashable, torch.Tensor]) -> torch.Tensor:
        if self.net is None:
            n = next(iter(values.values())).shape[0]
            return torch.full((n,), self.constant, dtype=torch.float64)
        x = torch.stack([values[c] for c in self.columns], dim=1)
        return self.net((x - self.mean) / self.std) + self.constant

    def predict(self, values: Mapping[Hashable, np.ndarray]) -> np.ndarray:
        """Numpy convenience: ``values`` maps node names to arrays."""
        with torch.no_grad():
            t = {c: torch.from_numpy(np.array(values[c], dtype=np.float64)) for c in self.columns}
            if not t:
                t = {"_": torch.zeros(len(next(iter(values.values()))), dtype=torch.float64)}
            return self(t).numpy()


def _do_sample(
    scm: ContinuousSCM, n: int, gen: torch.Generator, mutable_values: dict | None = None
) -> dict:
    """Exactly intervened sample: X_M from its joint law, decoupled by one row permutation.

    With ``mutable_values`` the ``X_M`` rows are resampled (jointly, with replacement) from
    those values instead of the model's observational law.
    """
    with torch.no_grad():
        if mutable_values is not None:
            rows = next(iter(mutable_values.values())).shape[0]
            idx = torch.randint(rows, (n,), generator=gen)
            do = {j: mutable_values[j][idx] for j in scm.mutable}
        else:
            obs = scm.propagate(scm.noise(n, gen))
            perm = torch.randperm(n, generator=gen)
            do = {j: obs[j][perm] for j in scm.mutable}
        return scm.propagate(scm.noise(n, gen), do=do)


def _check_mutable_values(scm: ContinuousSCM, mutable_values: object) -> dict | None:
    """Validate ``mutable_values``: one finite 1-D array per mutable node, equal lengths."""
    if mutable_values is None:
        return None
    if not isinstance(mutable_values, Mapping):
        raise ArgumentTypeError(
            f"mutable_values must be a mapping node -> array; got {type(mutable_values).__name__}"
        )
    if set(mutable_values) != set(scm.mutable):
        raise ValueError(
            f"mutable_values must name exactly the mutable nodes "
            f"{list(sorted_nodes(scm.mutable))}; got {list(sorted_nodes(mutable_values))}"
        )
    out = {}
    for j, v in mutable_values.items():
        try:
            a = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ArgumentTypeError(f"mutable_values[{j!r}] must be a numeric array") from exc
        if a.ndim != 1 or a.size < 2 or not np.all(np.isfinite(a)):
            raise ValueError(f"mutable_values[{j!r}] must be a finite 1-D array of >= 2 values")
        out[j] = torch.as_tensor(a.copy())
    if len({t.shape[0] for t in out.values()}) > 1:
        raise ValueError("mutable_values arrays must have equal lengths (rows are joint)")
    return out


def _check_config(config: object) -> NeuralConfig:
    if config is None:
        return NeuralConfig()
    if not isinstance(config, NeuralConfig):
        raise ArgumentTypeError(f"config must be a NeuralConfig; got {type(config).__name__}")
    return config


def fit_stable_predictor(
    scm: ContinuousSCM,
    subset: Iterable[Hashable],
    *,
    config: NeuralConfig | None = None,
    seed: int = 0,
    mutable_values: Mapping[Hashable, object] | None = None,
) -> _StablePredictor:
    """Fit ``f_{S'} ≈ E[Y | X_{S'}, do(X_M)]`` by an MLP on exactly intervened samples.

    Inputs are ``X_{S'}`` and ``X_M`` (as in the authors' code, the empty subset still uses
    ``X_M``),
    standardised; full-batch Adam on the squared error. Returns a callable on
    ``{node: tensor}`` (and ``.predict`` on numpy arrays) with its training MSE.

    ``mutable_values`` (``{j: array (m,)}`` for every mutable node, rows joint) sets the law of
    ``X_M`` in the intervened sample (e.g. the pooled training environments, so that the
    predictor covers their support); default: the model's observational law. The predictor
    ``E[Y | x_{S'}, do(x_M)]`` does not depend on that law, only its support does.

    Raises
    ------
    ValueError
        Wrong ``scm`` or ``config`` type, a non-stable subset, a seed that is not an integer
        in ``[0, 2**63)``, malformed ``mutable_values``.
    """
    if not isinstance(scm, ContinuousSCM):
        raise ArgumentTypeError(f"scm must be a ContinuousSCM; got {type(scm).__name__}")
    s = scm.check_subset(subset)
    cfg = _check_config(config)
    seed = check_seed(seed)
    mv = _check_mutable_values(scm, mutable_values)
    gen = torch.Generator().manual_seed(seed)
    data = _do_sample(scm, cfg.n_samples, gen, mv)
    cols = sorted_nodes(s) + sorted_nodes(scm.mutable)
    y = data[scm.target]
    ybar = float(y.mean())
    if not cols:
        mse = float(((y - ybar) ** 2).mean())
        return _StablePredictor((), torch.zeros(0), torch.ones(0), None, ybar, mse)
    x = torch.stack([data[c] for c in cols], dim=1)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
    xs = (x - mean) / std
    n_val = max(1, cfg.n_samples // 5)  # early stopping on a held-out fifth
    xt, yt, xv, yv = xs[n_val:], y[n_val:], xs[:n_val], y[:n_val]
    with torch.random.fork_rng(devices=[]):  # seeded initialisation, global state restored
        torch.manual_seed(seed)
        net = _MLP(len(cols), cfg.hidden, 2)
    # the MLP computes in float32: cast its inputs once, not at every step (the same values)
    xt32, xv32 = xt.float(), xv.float()
    opt = Adam(net.parameters(), lr=cfg.lr_predictor)
    best_val, best_state = math.inf, None
    for step in range(cfg.predictor_steps):
        opt.zero_grad()
        loss = ((net(xt32) + ybar - yt) ** 2).mean()
        loss.backward()
        opt.step()
        if step % 20 == 19 or step == cfg.predictor_steps - 1:
            with torch.no_grad():
                val = float(((net(xv32) + ybar - yv) ** 2).mean())
            if val < best_val:
                best_val = val
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
    if best_state is not None:
        net.load_state_dict(best_state)
    net.requires_grad_(False)
    mse = best_val
    return _StablePredictor(cols, mean, std, net, ybar, mse)


class _Adversary(torch.nn.Module):
    """``g_j = c_j + B s_j tanh(MLP_j(standardised PA_j))`` for every mutable node."""

    def __init__(self, scm: ContinuousSCM, stats: dict, cfg: NeuralConfig) -> None:
        super().__init__()
        self.scm, self.stats, self.bound = scm, stats, cfg.output_bound
        self.nets = torch.nn.ModuleDict()
        self.keys = {j: f"g{i}" for i, j in enumerate(sorted_nodes(scm.mutable))}
        for j, key in self.keys.items():
            k = len(scm.parents[j])
            self.nets[key] = (
                _MLP(k, cfg.adversary_hidden, 1)
                if k
                else _Constant(torch.randn(1, dtype=torch.float64))
            )

    def functions(self) -> dict:
        out = {}
        for j, key in self.keys.items():
            c, s = self.stats[j]
            pm, ps = self.stats[("pa", j)]
            net = self.nets[key]

            def g(pa: torch.Tensor, net=net, c=c, s=s, pm=pm, ps=ps) -> torch.Tensor:
                return c + self.bound * s * torch.tanh(net((pa - pm) / ps))

            out[j] = g
        return out


class _Constant(torch.nn.Module):
    def __init__(self, init: torch.Tensor) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.theta.expand(x.shape[0])


def _neural_risk(
    scm: ContinuousSCM,
    subset: frozenset,
    cfg: NeuralConfig,
    seed: int,
    predictor: Callable[[Mapping[Hashable, torch.Tensor]], torch.Tensor] | None,
    mutable_values: dict | None = None,
) -> WorstCaseRisk:
    f = predictor or fit_stable_predictor(
        scm, subset, config=cfg, seed=seed, mutable_values=mutable_values
    )
    # the adversaries' initialisations draw from torch's global generator: seed it inside a
    # fork, so that the caller's global state is left as it was
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 1)
        return _adversarial_risk(scm, subset, cfg, seed, f, mutable_values)


def _adversarial_risk(
    scm: ContinuousSCM,
    subset: frozenset,
    cfg: NeuralConfig,
    seed: int,
    f: Callable[[Mapping[Hashable, torch.Tensor]], torch.Tensor],
    mutable_values: dict | None,
) -> WorstCaseRisk:
    """The adversary's ascent and the held-out risk (global torch generator already seeded)."""
    # the nodes no intervention reaches (neither X_M nor a descendant) take the same values on
    # the training noise at every ascent step: computed once (the same values) and held fixed
    stats, train_noise, eval_noise, train_fixed = _adversary_inputs(scm, cfg, seed, mutable_values)

    def risk(adv: _Adversary, noise: dict, fixed: dict | None = None) -> torch.Tensor:
        vals = scm.propagate(noise, interventions=adv.functions(), do=fixed)
        return (vals[scm.target] - f(vals)) ** 2

    best, best_adv = -math.inf, None
    for _ in range(max(1, cfg.restarts)):
        adv = _Adversary(scm, stats, cfg)
        if cfg.adversary_steps and list(adv.parameters()):
            opt = Adam(adv.parameters(), lr=cfg.lr_adversary)
            for _ in range(cfg.adversary_steps):
                opt.zero_grad()
                (-risk(adv, train_noise, train_fixed).mean()).backward()
                opt.step()
        with torch.no_grad():
            v = float(risk(adv, train_noise, train_fixed).mean())
        if best_adv is None or v > best:  # a NaN risk keeps the first adversary
            best, best_adv = v, adv
    with torch.no_grad():
        losses = risk(best_adv, eval_noise)
    value = float(losses.mean())
    stderr = float(losses.std()) / math.sqrt(cfg.n_eval)
    ok = math.isfinite(value)
    if not ok:  # reported in the result and warned about: never a silent NaN
        warnings.warn(
            f"worst_case_risk: the neural estimate of h* is not finite ({value}); the result "
            "has success=False (a diverging predictor or adversary)",
            RuntimeWarning,
            stacklevel=4,
        )
    return WorstCaseRisk(
        value,
        subset,
        "neural",
        stderr=stderr,
        n_maps=cfg.adversary_steps * max(1, cfg.restarts),
        train_value=best,
        success=ok,
        message=(
            f"held-out n={cfg.n_eval}, {cfg.restarts} restart(s) × {cfg.adversary_steps} steps"
            if ok
            else "non-finite risk estimate"
        ),
    )


# ---------------------------------------------------------------------------------------------
# One call for both
# ---------------------------------------------------------------------------------------------


def worst_case_risk(
    scm: DiscreteSCM | ContinuousSCM,
    subset: Iterable[Hashable],
    *,
    max_maps: int = 2**16,
    config: NeuralConfig | None = None,
    predictor: Callable | None = None,
    seed: int = 0,
    mutable_values: Mapping[Hashable, object] | None = None,
) -> WorstCaseRisk:
    """The worst-case risk ``h*(S')`` of the stable predictor of ``subset``.

    Parameters
    ----------
    scm : DiscreteSCM or ContinuousSCM
        Discrete: exact enumeration. Continuous: the neural estimator.
    subset : iterable of nodes
        ``S' ⊆ S`` (stable nodes only).
    max_maps : int
        Discrete: most deterministic map combinations to enumerate (raises beyond).
    config : NeuralConfig, optional
        Continuous: estimator sizes (ignored, with a warning, for discrete SCMs).
    predictor : callable, optional
        Continuous: a known ``f_{S'}`` on ``{node: tensor}`` instead of the fitted one.
    seed : int
        Continuous: seeds the samples and the initialisations.
    mutable_values : mapping node -> array, optional
        Continuous: the law of ``X_M`` used to fit ``f_{S'}`` (rows resampled jointly) and to
        centre and scale the adversary's bounded class ``c_j ± B s_j``; default: the model's
        observational law (see :func:`fit_stable_predictor`).

    Returns
    -------
    WorstCaseRisk

    Raises
    ------
    ValueError
        Wrong ``scm``, ``config`` or ``predictor`` type, a subset with non-stable nodes,
        ``max_maps`` not a positive integer or too small, a seed that is not an integer in
        ``[0, 2**63)``, malformed ``mutable_values``, a joint table too large.

    Notes
    -----
    Exact cost: ``∏_{j≠last} card_j^{|PA_j configs|}`` einsums over the joint table.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("Y", "X1")])
    >>> scm = DiscreteSCM(g, "Y", set(), {"Y": [0.5, 0.5], "X1": [[0.9, 0.1], [0.1, 0.9]]})
    >>> round(worst_case_risk(scm, {"X1"}).value, 6)
    0.09
    """
    seed = check_seed(seed)
    if isinstance(scm, DiscreteSCM):
        if config is not None or predictor is not None or mutable_values is not None:
            warnings.warn(
                "worst_case_risk: config, predictor and mutable_values are ignored for a "
                "DiscreteSCM",
                RuntimeWarning,
                stacklevel=2,
            )
        max_maps = check_positive_int("max_maps", max_maps)
        return _exact_risk(scm, scm.check_subset(subset), max_maps)
    if isinstance(scm, ContinuousSCM):
        s = scm.check_subset(subset)
        cfg = _check_config(config)
        if predictor is not None and not callable(predictor):
            raise ArgumentTypeError(
                f"predictor must be callable on {{node: tensor}}; got {type(predictor).__name__}"
            )
        mv = _check_mutable_values(scm, mutable_values)
        return _neural_risk(scm, s, cfg, seed, predictor, mv)
    raise ArgumentTypeError(f"scm must be a DiscreteSCM or ContinuousSCM; got {type(scm).__name__}")


# ---------------------------------------------------------------------------------------------
# Many subsets at once (one stacked model per batch)
# ---------------------------------------------------------------------------------------------


def _check_subsets(scm: DiscreteSCM | ContinuousSCM, subsets: object) -> list[frozenset]:
    """``subsets``: a list or tuple of collections of stable nodes (a set of nodes is refused)."""
    if isinstance(subsets, str | bytes) or not isinstance(subsets, list | tuple):
        raise ArgumentTypeError(
            f"subsets must be a list or tuple of subsets of stable nodes; got {subsets!r}"
        )
    out = []
    for i, s in enumerate(subsets):
        try:
            out.append(scm.check_subset(s))
        except ArgumentTypeError as exc:
            raise ArgumentTypeError(f"subsets[{i}]: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"subsets[{i}]: {exc}") from None
    return out


def _check_run_seeds(seed: object, n: int) -> list[int]:
    """One seed per subset: an integer (the same for every subset) or a sequence of ``n``."""
    if isinstance(seed, list | tuple | np.ndarray):
        seeds = [check_seed(s, f"seed[{i}]") for i, s in enumerate(seed)]
        if len(seeds) != n:
            raise ValueError(f"seed must be an integer or hold one seed per subset ({n}); got {n}")
        return seeds
    return [check_seed(seed)] * n


def _stack_mlps(nets: list[_MLP], width: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The layers of ``nets`` (one architecture up to the first layer's input width) as stacked
    ``(W (N, out, in), b (N, out))`` float32 copies, first-layer weights zero-padded to
    ``width`` inputs (padded inputs are zero, so they add exact zeros)."""
    lins = [[m for m in net.net if isinstance(m, torch.nn.Linear)] for net in nets]
    out = []
    for li in range(len(lins[0])):
        ws = [lin[li].weight.detach() for lin in lins]
        if li == 0:
            ws = [torch.nn.functional.pad(w, (0, width - w.shape[1])) for w in ws]
        out.append(
            (torch.stack(ws).clone(), torch.stack([lin[li].bias.detach() for lin in lins]).clone())
        )
    return out


def _stacked_forward(layers: list, x: torch.Tensor) -> torch.Tensor:
    """N tanh MLPs at once: ``x`` (N, m, d) float32 -> (N, m) float64 (as :class:`_MLP`)."""
    h = x
    for i, (w, b) in enumerate(layers):
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if i < len(layers) - 1:
            h = torch.tanh(h)
    return h.squeeze(-1).double()


def _unstack_into(net: _MLP, layers: list, i: int) -> None:
    """Copy run ``i`` of stacked ``layers`` into ``net`` (its own first-layer width)."""
    lins = [m for m in net.net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (w, b) in zip(lins, layers, strict=True):
            lin.weight.copy_(w[i, :, : lin.weight.shape[1]])
            lin.bias.copy_(b[i])


def fit_stable_predictors(
    scm: ContinuousSCM,
    subsets: list | tuple,
    *,
    config: NeuralConfig | None = None,
    seed: int | list | tuple = 0,
    mutable_values: Mapping[Hashable, object] | None = None,
) -> list[_StablePredictor]:
    """:func:`fit_stable_predictor` for many subsets at once, trained as one stacked model.

    Run ``i`` is ``fit_stable_predictor(scm, subsets[i], config=config, seed=seeds[i],
    mutable_values=mutable_values)``: the same intervened sample (drawn from its own generator
    ``torch.Generator().manual_seed(seeds[i])``), the same initialisation (torch's generator
    seeded ``seeds[i]`` in a fork) and the same full-batch Adam steps and early stopping, but
    the N networks are evaluated as one stacked model: run ``i`` sees its own columns gathered
    into the first ``|S'_i| + |X_M|`` inputs of a zero-padded first layer (padded inputs are 0,
    so they add exact zeros and their weights get zero gradients), and the summed loss gives
    each run's gradient in its own slice (runs share no parameters; Adam is elementwise).
    [derived] Equivalence: the gradient of ``sum_i L_i`` with respect to run ``i``'s slice is
    ``dL_i``, since ``L_k`` does not depend on it for ``k != i``; Adam updates every entry from
    its own gradient history, so each slice follows run ``i``'s one-by-one trajectory; a padded
    input is 0, so it adds exact zeros to the first layer's sums and gives its weights a zero
    gradient (a zero Adam update: they stay 0). Early stopping keeps each run's best
    validation state. The results equal the one-by-one fits up to floating-point summation
    order (the networks compute in float32; the tests bound the difference at 1e-5 relative,
    about 1e-7 observed).

    Parameters
    ----------
    scm : ContinuousSCM
    subsets : list or tuple of collections of stable nodes
    config : NeuralConfig, optional
    seed : int or sequence of int
        One seed for every subset, or one per subset.
    mutable_values : mapping node -> array, optional
        As for :func:`fit_stable_predictor` (shared by every run).

    Returns
    -------
    list
        One fitted predictor per subset, in order (as :func:`fit_stable_predictor` returns).

    Raises
    ------
    ValueError
        Wrong ``scm`` or ``config`` type, ``subsets`` not a list or tuple or holding a
        non-stable subset, seeds that are not integers in ``[0, 2**63)`` or not one per
        subset, malformed ``mutable_values``.

    Examples
    --------
    >>> from causal.generators import bilinear_scm
    >>> cfg = NeuralConfig(n_samples=200, n_eval=200, predictor_steps=20, adversary_steps=5)
    >>> fs = fit_stable_predictors(bilinear_scm(), [set(), {"X1"}], config=cfg)
    >>> [f.columns for f in fs]
    [('M',), ('X1', 'M')]
    """
    if not isinstance(scm, ContinuousSCM):
        raise ArgumentTypeError(f"scm must be a ContinuousSCM; got {type(scm).__name__}")
    subs = _check_subsets(scm, subsets)
    cfg = _check_config(config)
    seeds = _check_run_seeds(seed, len(subs))
    mv = _check_mutable_values(scm, mutable_values)
    return _fit_batch(scm, subs, cfg, seeds, mv)


#: Rows (runs x samples) stacked in one model: larger stacks leave the CPU caches and run
#: slower per row (the networks are small, their activations are what costs).
STACK_ROWS = 2**14


def _chunks(n_runs: int, n_rows: int) -> list[slice]:
    """Balanced consecutive groups of runs of at most ``STACK_ROWS`` rows (>= 1 run each)."""
    per = max(1, STACK_ROWS // max(1, n_rows))
    k = -(-n_runs // per)  # groups
    size = max(1, -(-n_runs // max(1, k)))
    return [slice(i, i + size) for i in range(0, n_runs, size)]


def _fit_batch(
    scm: ContinuousSCM, subs: list, cfg: NeuralConfig, seeds: list, mv: dict | None
) -> list[_StablePredictor]:
    out = []
    samples: dict = {}  # one intervened sample per distinct seed (the same draws)
    for sl in _chunks(len(subs), cfg.n_samples):
        out += _fit_stack(scm, subs[sl], cfg, seeds[sl], mv, samples)
    return out


def _fit_stack(
    scm: ContinuousSCM,
    subs: list,
    cfg: NeuralConfig,
    seeds: list,
    mv: dict | None,
    samples: dict,
) -> list[_StablePredictor]:
    out: list = [None] * len(subs)
    runs = []  # (index, columns, mean, std, standardised x, y, ybar, net)
    for i, (s, sd) in enumerate(zip(subs, seeds, strict=True)):
        if sd not in samples:
            samples[sd] = _do_sample(scm, cfg.n_samples, torch.Generator().manual_seed(sd), mv)
        data = samples[sd]
        cols = sorted_nodes(s) + sorted_nodes(scm.mutable)
        y = data[scm.target]
        ybar = float(y.mean())
        if not cols:
            mse = float(((y - ybar) ** 2).mean())
            out[i] = _StablePredictor((), torch.zeros(0), torch.ones(0), None, ybar, mse)
            continue
        x = torch.stack([data[c] for c in cols], dim=1)
        mean, std = x.mean(0), x.std(0).clamp_min(1e-12)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sd)
            net = _MLP(len(cols), cfg.hidden, 2)
        runs.append((i, cols, mean, std, (x - mean) / std, y, ybar, net))
    if not runs:
        return out
    width = max(len(r[1]) for r in runs)
    xs = torch.zeros((len(runs), cfg.n_samples, width), dtype=torch.float64)
    for k, r in enumerate(runs):
        xs[k, :, : len(r[1])] = r[4]
    y = torch.stack([r[5] for r in runs])
    ybar = torch.tensor([[r[6]] for r in runs], dtype=torch.float64)
    n_val = max(1, cfg.n_samples // 5)
    xt32, xv32 = xs[:, n_val:].float(), xs[:, :n_val].float()
    yt, yv = y[:, n_val:], y[:, :n_val]
    layers = _stack_mlps([r[7] for r in runs], width)
    params = [t.requires_grad_() for layer in layers for t in layer]
    opt = Adam(params, lr=cfg.lr_predictor)
    best_val = torch.full((len(runs),), math.inf, dtype=torch.float64)
    best = [p.detach().clone() for p in params]
    for step in range(cfg.predictor_steps):
        opt.zero_grad()
        loss = ((_stacked_forward(layers, xt32) + ybar - yt) ** 2).mean(1)
        loss.sum().backward()
        opt.step()
        if step % 20 == 19 or step == cfg.predictor_steps - 1:
            with torch.no_grad():
                val = ((_stacked_forward(layers, xv32) + ybar - yv) ** 2).mean(1)
                better = val < best_val  # per run, as the one-by-one `val < best_val`
                if bool(better.any()):
                    best_val = torch.where(better, val, best_val)
                    for b, p in zip(best, params, strict=True):
                        b[better] = p.detach()[better]
    # a run never improved (non-finite validation losses) keeps its last parameters
    improved = torch.isfinite(best_val)
    with torch.no_grad():
        final = [
            torch.where(_expand(improved, p), b, p.detach())
            for b, p in zip(best, params, strict=True)
        ]
    stacked = [(final[2 * k], final[2 * k + 1]) for k in range(len(layers))]
    for k, (i, cols, mean, std, _, _, yb, net) in enumerate(runs):
        _unstack_into(net, stacked, k)
        net.requires_grad_(False)
        out[i] = _StablePredictor(cols, mean, std, net, yb, float(best_val[k]))
    return out


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A run mask ``(N,)`` shaped to broadcast against ``like`` ``(N, ...)``."""
    return mask.reshape(-1, *([1] * (like.ndim - 1)))


class _StackedPredictors:
    """The predictors of N runs evaluated on N stacked samples ``{node: (N * m,)}`` -> (N, m).

    Fitted :class:`_StablePredictor` networks of one hidden architecture are evaluated as one
    stacked model on the union of their columns (stable nodes in name order, then ``X_M``: each
    run's columns keep their order), each run's first-layer weights placed at its columns and
    zero elsewhere, the columns it does not use set to 0; constant predictors are broadcast;
    any other callable is called on its run's slice.
    """

    def __init__(self, fs: list, scm: ContinuousSCM) -> None:
        self.fs, self.n = fs, len(fs)
        shape = None
        self.stacked: list[int] = []
        for k, f in enumerate(fs):
            if isinstance(f, _StablePredictor) and isinstance(f.net, _MLP):
                sig = [tuple(m.weight.shape) for m in f.net.net if isinstance(m, torch.nn.Linear)]
                sig = [sig[0][0], *sig[1:]]  # the first layer's width may differ
                shape = sig if shape is None else shape
                if sig == shape:
                    self.stacked.append(k)
        self.constant = [
            k for k, f in enumerate(fs) if isinstance(f, _StablePredictor) and f.net is None
        ]
        done = set(self.stacked) | set(self.constant)
        self.other = [k for k in range(self.n) if k not in done]
        if not self.stacked:
            return
        runs = [fs[k] for k in self.stacked]
        used = {c for f in runs for c in f.columns}
        order = sorted_nodes(scm.stable) + sorted_nodes(scm.mutable)
        self.union = [c for c in order if c in used] + list(sorted_nodes(used - set(order)))
        u, r_ = len(self.union), len(runs)
        self.mask = torch.zeros((r_, 1, u), dtype=torch.bool)
        self.mean = torch.zeros((r_, 1, u), dtype=torch.float64)
        self.std = torch.ones((r_, 1, u), dtype=torch.float64)
        pos = []
        for r, f in enumerate(runs):
            at = torch.tensor([self.union.index(c) for c in f.columns], dtype=torch.long)
            pos.append(at)
            self.mask[r, 0, at] = True
            self.mean[r, 0, at], self.std[r, 0, at] = f.mean, f.std
        self.layers = _stack_mlps([f.net for f in runs], u)
        w = torch.zeros_like(self.layers[0][0])
        for r, (f, at) in enumerate(zip(runs, pos, strict=True)):
            w[r][:, at] = f.net.net[0].weight.detach()
        self.layers[0] = (w, self.layers[0][1])
        self.const = torch.tensor([[f.constant] for f in runs], dtype=torch.float64)
        self.all = self.stacked == list(range(self.n))
        self.sel = torch.tensor(self.stacked, dtype=torch.long)

    def __call__(self, values: Mapping[Hashable, torch.Tensor]) -> torch.Tensor:
        m = next(iter(values.values())).shape[0] // self.n
        parts: dict[int, torch.Tensor] = {}
        if self.stacked:
            v = torch.stack([values[c] for c in self.union], dim=1).reshape(self.n, m, -1)
            v = v if self.all else v[self.sel]
            x = torch.where(self.mask, (v - self.mean) / self.std, 0.0)
            out = _stacked_forward(self.layers, x.float()) + self.const
            if self.all and not self.constant and not self.other:
                return out
            parts.update(zip(self.stacked, out.unbind(0), strict=True))
        for k in self.constant:
            parts[k] = torch.full((m,), self.fs[k].constant, dtype=torch.float64)
        for k in self.other:
            parts[k] = self.fs[k]({c: t.reshape(self.n, m)[k] for c, t in values.items()})
        return torch.stack([parts[k] for k in range(self.n)])


def worst_case_risks(
    scm: DiscreteSCM | ContinuousSCM,
    subsets: list | tuple,
    *,
    max_maps: int = 2**16,
    config: NeuralConfig | None = None,
    predictors: list | tuple | None = None,
    seed: int | list | tuple = 0,
    mutable_values: Mapping[Hashable, object] | None = None,
) -> list[WorstCaseRisk]:
    """:func:`worst_case_risk` for many subsets at once (the neural ascents as one model).

    Run ``i`` is ``worst_case_risk(scm, subsets[i], config=config, predictor=predictors[i],
    seed=seeds[i], mutable_values=mutable_values)``. Discrete SCMs: the exact risks, one by
    one. Continuous SCMs: the predictors (fitted by :func:`fit_stable_predictors` when
    ``predictors`` is None) and the adversaries of all runs are trained together: run ``i``'s
    training and held-out noise are drawn from its own generator (seeded ``seeds[i] + 1``), its
    adversaries are initialised from torch's generator seeded ``seeds[i] + 1`` (in a fork, so
    that the caller's global state is left as it was), the N samples are propagated through the
    SCM as one stacked sample of ``N n`` rows (mechanisms act row by row), each adversary and
    each fitted predictor acts on its own run's rows (stacked networks), and the summed losses
    give each run's gradient in its own slice. The results equal the one-by-one calls up to
    floating-point summation order, for predictors that do not draw from torch's global
    generator.

    Parameters
    ----------
    scm : DiscreteSCM or ContinuousSCM
    subsets : list or tuple of collections of stable nodes
    max_maps : int
        Discrete: as for :func:`worst_case_risk`.
    config : NeuralConfig, optional
    predictors : list or tuple of callables, optional
        Continuous: ``f_{S'_i}`` per subset (e.g. from :func:`fit_stable_predictors`).
    seed : int or sequence of int
        One seed for every subset, or one per subset.
    mutable_values : mapping node -> array, optional
        As for :func:`worst_case_risk` (shared by every run).

    Returns
    -------
    list of WorstCaseRisk
        One per subset, in order.

    Raises
    ------
    ValueError
        As :func:`worst_case_risk`, and ``subsets`` not a list or tuple, ``predictors`` not one
        callable per subset, ``seed`` not one seed per subset.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.DiGraph([("Y", "X1")])
    >>> scm = DiscreteSCM(g, "Y", set(), {"Y": [0.5, 0.5], "X1": [[0.9, 0.1], [0.1, 0.9]]})
    >>> [round(r.value, 6) for r in worst_case_risks(scm, [set(), {"X1"}])]
    [0.25, 0.09]
    """
    if not isinstance(scm, DiscreteSCM | ContinuousSCM):
        raise ArgumentTypeError(
            f"scm must be a DiscreteSCM or ContinuousSCM; got {type(scm).__name__}"
        )
    subs = _check_subsets(scm, subsets)
    seeds = _check_run_seeds(seed, len(subs))
    if isinstance(scm, DiscreteSCM):
        if config is not None or predictors is not None or mutable_values is not None:
            warnings.warn(
                "worst_case_risks: config, predictors and mutable_values are ignored for a "
                "DiscreteSCM",
                RuntimeWarning,
                stacklevel=2,
            )
        max_maps = check_positive_int("max_maps", max_maps)
        return [_exact_risk(scm, s, max_maps) for s in subs]
    cfg = _check_config(config)
    if predictors is not None:
        if not isinstance(predictors, list | tuple) or len(predictors) != len(subs):
            raise ArgumentTypeError(
                f"predictors must be a list or tuple of one callable per subset ({len(subs)}); "
                f"got {predictors!r}"
            )
        for i, f in enumerate(predictors):
            if not callable(f):
                raise ArgumentTypeError(
                    f"predictors[{i}] must be callable on {{node: tensor}}; got {type(f).__name__}"
                )
    mv = _check_mutable_values(scm, mutable_values)
    if not subs:
        return []
    fs = list(predictors) if predictors is not None else _fit_batch(scm, subs, cfg, seeds, mv)
    out: list[WorstCaseRisk] = []
    inputs: dict = {}  # one adversary sample per distinct seed (the same draws)
    with torch.random.fork_rng(devices=[]):
        for sl in _chunks(len(subs), cfg.n_samples):
            out += _adversarial_risks(scm, subs[sl], cfg, seeds[sl], fs[sl], mv, inputs)
    return out


def _adversary_inputs(scm: ContinuousSCM, cfg: NeuralConfig, seed: int, mv: dict | None):
    """One run's adversary statistics and noise (as :func:`_adversarial_risk` draws them)."""
    gen = torch.Generator().manual_seed(int(seed) + 1)
    with torch.no_grad():
        obs = scm.propagate(scm.noise(cfg.n_samples, gen))
    stats: dict = {}
    for j in scm.mutable:
        ref = obs[j] if mv is None else mv[j]
        stats[j] = (float(ref.mean()), float(ref.std().clamp_min(1e-12)))
        pa = scm.parents[j]
        if pa:
            x = torch.stack([obs[p] for p in pa], dim=1)
            stats[("pa", j)] = (x.mean(0), x.std(0).clamp_min(1e-12))
        else:
            stats[("pa", j)] = (torch.zeros(0), torch.ones(0))
    train_noise = scm.noise(cfg.n_samples, gen)
    eval_noise = scm.noise(cfg.n_eval, gen)
    reached = set(scm.mutable).union(*(nx.descendants(scm.graph, j) for j in scm.mutable))
    with torch.no_grad():
        base = scm.propagate(train_noise)
    fixed = {v: base[v] for v in scm.order if v not in reached}
    return stats, train_noise, eval_noise, fixed


def _adversarial_risks(
    scm: ContinuousSCM,
    subs: list,
    cfg: NeuralConfig,
    seeds: list,
    fs: list,
    mv: dict | None,
    cache: dict,
) -> list[WorstCaseRisk]:
    """The adversaries' ascents and held-out risks of N runs as one stacked model."""
    n_runs = len(subs)
    for sd in seeds:
        if sd not in cache:
            cache[sd] = _adversary_inputs(scm, cfg, sd, mv)
    runs = [cache[sd] for sd in seeds]

    def cat(key: int) -> dict:
        return {v: torch.cat([r[key][v] for r in runs]) for v in runs[0][key]}

    train_noise, eval_noise, train_fixed = cat(1), cat(2), cat(3)
    mut = sorted_nodes(scm.mutable)
    bound = cfg.output_bound
    # per node: c_j (N, 1), B s_j (N, 1), parent mean and std (N, 1, k)
    c = {j: torch.tensor([[r[0][j][0]] for r in runs], dtype=torch.float64) for j in mut}
    bs = {j: torch.tensor([[bound * r[0][j][1]] for r in runs], dtype=torch.float64) for j in mut}
    pm = {j: torch.stack([r[0][("pa", j)][0] for r in runs]).unsqueeze(1) for j in mut}
    ps = {j: torch.stack([r[0][("pa", j)][1] for r in runs]).unsqueeze(1) for j in mut}
    # every run's adversaries (all restarts), initialised as the one-by-one call does
    inits = []
    for sd, r in zip(seeds, runs, strict=True):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(sd) + 1)
            inits.append([_Adversary(scm, r[0], cfg) for _ in range(max(1, cfg.restarts))])
    f = _StackedPredictors(fs, scm)

    def stack(restart: int) -> dict:
        out = {}
        for j in mut:
            nets = [adv[restart].nets[adv[restart].keys[j]] for adv in inits]
            if isinstance(nets[0], _Constant):
                out[j] = [torch.stack([m.theta.detach() for m in nets]).clone()]
            else:
                out[j] = [t for layer in _stack_mlps(nets, len(scm.parents[j])) for t in layer]
        return out

    def functions(params: dict) -> dict:
        def make(j: Hashable) -> Callable[[torch.Tensor], torch.Tensor]:
            def g(pa: torch.Tensor) -> torch.Tensor:
                m = pa.shape[0] // n_runs
                p = params[j]
                if len(p) == 1:  # a root: one constant per run
                    z = p[0].expand(n_runs, m)
                else:
                    x = (pa.reshape(n_runs, m, -1) - pm[j]) / ps[j]
                    z = _stacked_forward([(p[0], p[1]), (p[2], p[3])], x.float())
                return (c[j] + bs[j] * torch.tanh(z)).reshape(-1)

            return g

        return {j: make(j) for j in mut}

    def risk(params: dict, noise: dict, fixed: dict | None = None) -> torch.Tensor:
        vals = scm.propagate(noise, interventions=functions(params), do=fixed)
        m = vals[scm.target].shape[0] // n_runs
        return (vals[scm.target].reshape(n_runs, m) - f(vals)) ** 2

    best = torch.full((n_runs,), -math.inf, dtype=torch.float64)
    best_params: dict | None = None
    for restart in range(max(1, cfg.restarts)):
        params = stack(restart)
        flat = [t for p in params.values() for t in p]
        if cfg.adversary_steps and flat:
            for t in flat:
                t.requires_grad_()
            opt = Adam(flat, lr=cfg.lr_adversary)
            for _ in range(cfg.adversary_steps):
                opt.zero_grad()
                (-risk(params, train_noise, train_fixed).mean(1)).sum().backward()
                opt.step()
        with torch.no_grad():
            v = risk(params, train_noise, train_fixed).mean(1)
            params = {j: [t.detach() for t in p] for j, p in params.items()}
            if best_params is None:  # the first restart is kept by every run
                best, best_params = v, params
            else:  # a NaN risk keeps the earlier adversary
                better = v > best
                best = torch.where(better, v, best)
                best_params = {
                    j: [
                        torch.where(_expand(better, t), t, b)
                        for t, b in zip(p, best_params[j], strict=True)
                    ]
                    for j, p in params.items()
                }
    with torch.no_grad():
        losses = risk(best_params, eval_noise)
    values = losses.mean(1)
    stderrs = losses.std(1) / math.sqrt(cfg.n_eval)
    out = []
    for k, s in enumerate(subs):
        value = float(values[k])
        ok = math.isfinite(value)
        if not ok:
            warnings.warn(
                f"worst_case_risks: the neural estimate of h* of subsets[{k}] is not finite "
                f"({value}); its result has success=False (a diverging predictor or adversary)",
                RuntimeWarning,
                stacklevel=3,
            )
        out.append(
            WorstCaseRisk(
                value,
                s,
                "neural",
                stderr=float(stderrs[k]),
                n_maps=cfg.adversary_steps * max(1, cfg.restarts),
                train_value=float(best[k]),
                success=ok,
                message=(
                    f"held-out n={cfg.n_eval}, {cfg.restarts} restart(s) × "
                    f"{cfg.adversary_steps} steps"
                    if ok
                    else "non-finite risk estimate"
                ),
            )
        )
    return out
