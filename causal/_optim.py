"""Adam for the small full-batch fits of :mod:`causal` (the stable predictors, the adversaries,
the fitted SCM mechanisms), stepped without ``torch.optim.Optimizer``'s per-step overhead.

:class:`Adam` is ``torch.optim.Adam(params, lr=lr)`` with its default hyper-parameters (betas
(0.9, 0.999), eps 1e-8, no weight decay, no amsgrad): :meth:`Adam.step` runs torch's functional
Adam (:func:`torch.optim.adam.adam`, the computation ``torch.optim.Adam.step`` runs, in its
foreach form, whose updates equal the default single-tensor form's bit for bit) on the same
lazily created state. What it leaves out is the optimizer wrapper around that computation
(profiling hooks, the grad-mode switch, the per-step state lookup), which costs about as much
as the update itself for these fits of a few hundred parameters.

References
----------
.. [1] D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015
   (arXiv:1412.6980), Algorithm 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.optim.adam import adam as _functional_adam


class Adam:
    """``torch.optim.Adam(params, lr=lr)`` (default hyper-parameters), stepped functionally.

    ``zero_grad()`` sets the gradients to ``None`` (as ``torch.optim``'s default); ``step()``
    updates the parameters that have a gradient, creating their state at their first step.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.params = list(params)
        self.lr = float(lr)
        self._state: dict[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for p in self.params:
            if p.grad is None:
                continue
            state = self._state.get(p)
            if state is None:  # torch.optim.Adam's lazy initialisation (CPU step counter)
                state = self._state[p] = (
                    torch.zeros_like(p, memory_format=torch.preserve_format),
                    torch.zeros_like(p, memory_format=torch.preserve_format),
                    torch.tensor(0.0, dtype=_step_dtype()),
                )
            params.append(p)
            grads.append(p.grad)
            exp_avgs.append(state[0])
            exp_avg_sqs.append(state[1])
            steps.append(state[2])
        if not params:
            return
        _functional_adam(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            foreach=True,
            amsgrad=False,
            beta1=0.9,
            beta2=0.999,
            lr=self.lr,
            weight_decay=0.0,
            eps=1e-8,
            maximize=False,
        )


def _step_dtype() -> torch.dtype:
    """The dtype of ``torch.optim``'s step counters: float64 under a float64 default dtype."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
