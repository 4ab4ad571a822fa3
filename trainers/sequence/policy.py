"""A tiny causal transformer language model, N seeds stacked natively, and the policy protocol.

A *policy* is any torch callable mapping token ids of shape ``(*, T)`` to next-token logits
``(*, T, V)``, or returning an object with a ``.logits`` attribute (a Hugging Face causal LM
works unchanged); :func:`policy_logits` calls one and checks what comes back.

:class:`TinyCausalLM` is the small policy the sequence trainers use: a pre-LN decoder-only
transformer (Vaswani et al. 2017, Sec. 3; the pre-LN placement of Xiong et al. 2020, as in
GPT-2) with learned positions, causal multi-head self-attention, a GELU MLP, a final layer norm
and an output head (untied, or tied to the token embedding). With ``seeds=[s_1, ..., s_N]`` it
holds N independent models as parameters with a leading run axis and evaluates them with
batched matrix products (no ``torch.vmap``): ids ``(N, *, T)`` -> logits ``(N, *, T, V)``.
Run i starts with exactly the weights of ``TinyCausalLM(..., seed=s_i)``; since runs share no
parameter, one optimizer step on the sum of the N losses is N independent steps, so N seeds
train as one model. :meth:`TinyCausalLM.unstack` returns run i as a single model.

``forward(ids, cache=...)`` with a :class:`KVCache` from :meth:`TinyCausalLM.init_cache`
feeds only the new tokens and extends the cache (incremental decoding, used by
:func:`trainers.sequence.sampling.sample`).

References
----------
Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser, Polosukhin. "Attention Is All You
Need", NeurIPS 2017 (scaled dot-product attention, Eq. 1; multi-head attention, Sec. 3.2.2).
Radford, Wu, Child, Luan, Amodei, Sutskever. "Language Models are Unsupervised Multitask
Learners", 2019 (GPT-2: pre-LN blocks, N(0, 0.02) initialisation, residual scaling).
Xiong et al. "On Layer Normalization in the Transformer Architecture", ICML 2020 (pre-LN).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from theory.checks import (
    ArgumentTypeError,
    check_bool,
    check_int,
    check_positive_int,
    check_seed,
)

__all__ = ["KVCache", "TinyCausalLM", "policy_logits"]

#: A policy: ids (*, T) -> logits (*, T, V) (or an object with ``.logits``).
Policy = Callable[[torch.Tensor], object]


@dataclass
class KVCache:
    """Keys and values of every layer for the tokens fed so far (incremental decoding).

    Built by :meth:`TinyCausalLM.init_cache`; ``kv[l]`` holds layer l's keys and values as
    one tensor ``(R, B, capacity, 2, H, d_head)`` (R runs, B = the flattened batch; index 0 of
    the fourth axis the keys, 1 the values), of which the first ``length`` positions are
    filled. ``forward(ids, cache)`` writes the new tokens' keys and values in place (without
    gradients; with gradients it concatenates, so every step's graph is kept).
    """

    batch_shape: tuple[int, ...]
    kv: list[torch.Tensor | None] = field(default_factory=list)
    length: int = 0

    def _extend(self, layer: int, new: torch.Tensor, capacity: int) -> torch.Tensor:
        """Append ``new`` (R, B, T, 2, H, dh) to layer ``layer``; return the filled part."""
        past, t = self.length, new.shape[2]
        buf = self.kv[layer]
        if torch.is_grad_enabled() and (
            new.requires_grad or (buf is not None and buf.requires_grad)
        ):
            full = new if buf is None or past == 0 else torch.cat([buf[:, :, :past], new], dim=2)
            self.kv[layer] = full
            return full
        if buf is None or buf.shape[2] < past + t or buf.requires_grad:
            grown = new.new_empty((*new.shape[:2], capacity, *new.shape[3:]))
            if buf is not None and past:
                grown[:, :, :past] = buf[:, :, :past]
            buf = self.kv[layer] = grown
        buf[:, :, past : past + t] = new
        return buf[:, :, : past + t]


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-run affine map: x (R, M, din), w (R, din, dout), b (R, dout) -> (R, M, dout), one
    batched matrix product for all runs (rows M = batch x positions)."""
    return torch.baddbmm(b.unsqueeze(1), x, w)


def _layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """LayerNorm over the last axis of x (R, M, d) with per-run gain and bias (R, d)."""
    if w.shape[0] == 1:  # a single run: the fused affine layer norm
        return F.layer_norm(x, x.shape[-1:], w[0], b[0])
    return torch.addcmul(b.unsqueeze(1), F.layer_norm(x, x.shape[-1:]), w.unsqueeze(1))


def _attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, future: torch.Tensor | None
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d_h)) v (Vaswani et al. 2017, Eq. 1) per run, sequence and head.

    q (R, B, T, H, dh), k and v (R, B, Tk, H, dh) (views of the fused projection, positions
    before heads); ``future`` (T, Tk) bool marks the keys a query may not see (None: all
    visible). Returns (R, B, T, H, dh). One query per sequence (a decoding step) is written
    as a broadcast multiply-and-sum, which on CPU beats R B H matrix products of one row;
    longer queries use batched matrix products.
    """
    scale = q.shape[-1] ** -0.5
    kt, vt = k.transpose(2, 3), v.transpose(2, 3)  # (R, B, H, Tk, dh)
    if q.shape[2] == 1:
        scores = (q.unsqueeze(4) * kt.unsqueeze(2)).sum(-1) * scale  # (R, B, 1, H, Tk)
        if future is not None:
            scores = scores.masked_fill(future.unsqueeze(1), float("-inf"))
        return (torch.softmax(scores, dim=-1).unsqueeze(-1) * vt.unsqueeze(2)).sum(-2)
    scores = torch.matmul(q.transpose(2, 3), kt.transpose(-1, -2)) * scale  # (R, B, H, T, Tk)
    if future is not None:
        scores = scores.masked_fill(future, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), vt).transpose(2, 3)


class _Block(nn.Module):
    """One pre-LN transformer block with a leading run axis on every parameter:
    x + Attn(LN(x)), then x + MLP(LN(x)) (Vaswani et al. 2017, Sec. 3.1, pre-LN order)."""

    def __init__(self, runs: int, d_model: int, n_heads: int, dtype: torch.dtype):
        super().__init__()
        d, r = d_model, runs

        def p(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.empty(r, *shape, dtype=dtype))

        self.n_heads = n_heads
        self.ln1_w, self.ln1_b = p(d), p(d)
        self.qkv_w, self.qkv_b = p(d, 3 * d), p(3 * d)
        self.out_w, self.out_b = p(d, d), p(d)
        self.ln2_w, self.ln2_b = p(d), p(d)
        self.fc_w, self.fc_b = p(d, 4 * d), p(4 * d)
        self.proj_w, self.proj_b = p(4 * d, d), p(d)

    def forward(
        self,
        x: torch.Tensor,
        shape: tuple[int, int],
        future: torch.Tensor | None,
        cache: KVCache | None,
        layer: int,
        capacity: int,
    ) -> torch.Tensor:
        """x (R, B T, d) -> (R, B T, d); ``shape`` = (B, T)."""
        r, _, d = x.shape
        (b, t), h = shape, self.n_heads
        # causal multi-head self-attention (Vaswani et al. 2017, Eq. 1 and Sec. 3.2.2): one
        # fused q/k/v projection, heads split by a view
        qkv = _linear(_layer_norm(x, self.ln1_w, self.ln1_b), self.qkv_w, self.qkv_b)
        qkv = qkv.view(r, b, t, 3, h, d // h)
        kv = qkv[:, :, :, 1:]  # (R, B, T, 2, H, dh)
        if cache is not None:
            kv = cache._extend(layer, kv, capacity)
        att = _attention(qkv[:, :, :, 0], kv[:, :, :, 0], kv[:, :, :, 1], future)
        x = x + _linear(att.reshape(r, b * t, d), self.out_w, self.out_b)
        # position-wise MLP with GELU
        hid = F.gelu(_linear(_layer_norm(x, self.ln2_w, self.ln2_b), self.fc_w, self.fc_b))
        return x + _linear(hid, self.proj_w, self.proj_b)


class TinyCausalLM(nn.Module):
    """A small pre-LN causal transformer LM; ``seeds=[...]`` stacks N independent runs.

    Parameters
    ----------
    vocab_size : int
        Number of tokens V (>= 2).
    max_len : int
        Longest sequence (prompt + completion) the learned positions cover.
    d_model, n_layers, n_heads : int
        Width (divisible by ``n_heads``), depth and attention heads.
    seed : int, optional
        Seed of the initialisation of a single model (``torch.Generator().manual_seed(seed)``).
    seeds : sequence of int, optional
        N distinct seeds: N stacked runs, run i initialised exactly as
        ``TinyCausalLM(..., seed=seeds[i])``. With neither ``seed`` nor ``seeds`` the model is a
        single one initialised from torch's global RNG.
    tied : bool
        Tie the output head to the token embedding (logits = h E^T); default untied.
    dtype : torch.dtype
        Floating dtype of the parameters (float32 by default).

    Notes
    -----
    Initialisation as GPT-2 (Radford et al. 2019): weights N(0, 0.02), residual output
    projections N(0, 0.02 / sqrt(2 n_layers)), biases 0, layer-norm gains 1. No dropout.
    ``forward`` maps ids ``(*, T)`` (single) or ``(N, *, T)`` (stacked) to logits
    ``(..., T, V)``; the cost is that of one model on the flattened batch times N.

    Examples
    --------
    >>> m = TinyCausalLM(5, max_len=8, seeds=[0, 1])
    >>> m(torch.zeros(2, 3, 4, dtype=torch.long)).shape
    torch.Size([2, 3, 4, 5])
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        max_len: int = 32,
        d_model: int = 32,
        n_layers: int = 2,
        n_heads: int = 2,
        seed: int | None = None,
        seeds: Sequence[int] | None = None,
        tied: bool = False,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self._vocab_size = check_positive_int("vocab_size", vocab_size)
        if self._vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2; got {vocab_size!r}")
        self._max_len = check_positive_int("max_len", max_len)
        self.d_model = check_positive_int("d_model", d_model)
        self.n_layers = check_positive_int("n_layers", n_layers)
        self.n_heads = check_positive_int("n_heads", n_heads)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads; got d_model={d_model}, n_heads={n_heads}"
            )
        self.tied = check_bool("tied", tied)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ArgumentTypeError(f"dtype must be a floating torch.dtype; got {dtype!r}")
        if seed is not None and seeds is not None:
            raise ValueError("give seed (one model) or seeds (stacked runs), not both")
        if seeds is not None:
            if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence):
                raise ArgumentTypeError(f"seeds must be a sequence of integers; got {seeds!r}")
            run_seeds: list[int | None] = [
                check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds)
            ]
            if not run_seeds:
                raise ValueError("seeds must hold at least one seed")
            self._n_runs: int | None = len(run_seeds)
        else:
            run_seeds = [None if seed is None else check_seed(seed)]
            self._n_runs = None
        self._make_parameters(len(run_seeds), dtype)
        with torch.no_grad():
            for i, s in enumerate(run_seeds):
                gen = None if s is None else torch.Generator().manual_seed(s)
                self._init_run(i, gen)

    # ------------------------------------------------------------------ properties
    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def max_len(self) -> int:
        return self._max_len

    @property
    def n_runs(self) -> int | None:
        """Number of stacked runs; None for a single model."""
        return self._n_runs

    def _make_parameters(self, r: int, dtype: torch.dtype) -> None:
        """Uninitialised parameters with a leading run axis of size ``r``."""
        d, v = self.d_model, self._vocab_size
        self.tok_emb = nn.Parameter(torch.empty(r, v, d, dtype=dtype))
        self.pos_emb = nn.Parameter(torch.empty(r, self._max_len, d, dtype=dtype))
        self.blocks = nn.ModuleList(
            [_Block(r, d, self.n_heads, dtype) for _ in range(self.n_layers)]
        )
        self.lnf_w = nn.Parameter(torch.empty(r, d, dtype=dtype))
        self.lnf_b = nn.Parameter(torch.empty(r, d, dtype=dtype))
        self.head_w = None if self.tied else nn.Parameter(torch.empty(r, d, v, dtype=dtype))
        # constants of the forward pass, built once: the causal mask (True above the diagonal:
        # key j > query i is in the future) and each run's offset into the flattened token
        # table (run i's tokens are rows i V .. i V + V - 1)
        causal = torch.ones(self._max_len, self._max_len, dtype=torch.bool).triu(1)
        self.register_buffer("_causal", causal, persistent=False)
        self.register_buffer("_offsets", torch.arange(r)[:, None, None] * v, persistent=False)

    def _init_run(self, i: int, gen: torch.Generator | None) -> None:
        """GPT-2 initialisation of run ``i``, drawn in a fixed order from ``gen``."""
        std, resid_std = 0.02, 0.02 / math.sqrt(2 * self.n_layers)

        def normal(p: torch.Tensor, s: float) -> None:
            p[i] = torch.randn(p.shape[1:], generator=gen, dtype=torch.float32) * s

        normal(self.tok_emb, std)
        normal(self.pos_emb, std)
        for blk in self.blocks:
            for w, s in ((blk.qkv_w, std), (blk.out_w, resid_std)):
                normal(w, s)
            for w, s in ((blk.fc_w, std), (blk.proj_w, resid_std)):
                normal(w, s)
            for gain in (blk.ln1_w, blk.ln2_w):
                gain[i] = 1.0
            for bias in (blk.ln1_b, blk.ln2_b, blk.qkv_b, blk.out_b, blk.fc_b, blk.proj_b):
                bias[i] = 0.0
        self.lnf_w[i] = 1.0
        self.lnf_b[i] = 0.0
        if self.head_w is not None:
            normal(self.head_w, std)

    # ------------------------------------------------------------------ decoding state
    def init_cache(self, batch_shape: Sequence[int]) -> KVCache:
        """An empty :class:`KVCache` for ids of shape ``batch_shape + (T,)``.

        ``batch_shape`` starts with the run axis N for a stacked model. The cache is meant for
        decoding under ``torch.no_grad()`` (it is extended by concatenation, so it also works
        with gradients, at the cost of keeping every step's graph).
        """
        if isinstance(batch_shape, torch.Size):
            batch_shape = tuple(batch_shape)
        if not isinstance(batch_shape, tuple | list):
            raise ArgumentTypeError(f"batch_shape must be a tuple of ints; got {batch_shape!r}")
        shape = tuple(check_positive_int(f"batch_shape[{i}]", s) for i, s in enumerate(batch_shape))
        if self._n_runs is not None and (not shape or shape[0] != self._n_runs):
            raise ValueError(
                f"batch_shape must start with the run axis {self._n_runs} of this stacked "
                f"model; got {shape}"
            )
        return KVCache(shape, [None] * self.n_layers, 0)

    def _check_ids(self, ids: object, cache: KVCache | None) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor):
            raise ArgumentTypeError(
                f"ids must be a torch.Tensor of token ids; got {type(ids).__name__}"
            )
        if ids.dtype != torch.long:
            raise ArgumentTypeError(f"ids must have dtype torch.long; got {ids.dtype}")
        min_rank = 1 if self._n_runs is None else 2
        if ids.ndim < min_rank or ids.shape[-1] == 0:
            raise ValueError(
                f"ids must have shape {'(*, T)' if min_rank == 1 else '(N, *, T)'} with T >= 1; "
                f"got {tuple(ids.shape)}"
            )
        if self._n_runs is not None and ids.shape[0] != self._n_runs:
            raise ValueError(
                f"ids must have the leading run axis N={self._n_runs} of this stacked model; "
                f"got shape {tuple(ids.shape)}"
            )
        if ids.numel():
            lo, hi = torch.aminmax(ids)
            if bool((lo < 0) | (hi >= self._vocab_size)):
                raise ValueError(
                    f"ids must lie in [0, {self._vocab_size}); got values in "
                    f"[{lo.item()}, {hi.item()}]"
                )
        past = 0
        if cache is not None:
            if not isinstance(cache, KVCache):
                raise ArgumentTypeError(f"cache must be a KVCache; got {type(cache).__name__}")
            if tuple(ids.shape[:-1]) != cache.batch_shape:
                raise ValueError(
                    f"ids must have shape {cache.batch_shape} + (T,) to extend the cache; "
                    f"got {tuple(ids.shape)}"
                )
            past = cache.length
        if past + ids.shape[-1] > self._max_len:
            raise ValueError(
                f"ids are longer than max_len={self._max_len}: {past} cached + "
                f"{ids.shape[-1]} new tokens"
            )
        return ids

    # ------------------------------------------------------------------ forward
    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Next-token logits ``(*, T, V)`` (``(N, *, T, V)`` stacked) for ids ``(*, T)``.

        With ``cache``, ``ids`` are the new tokens only (positions continue after the cached
        ones) and the cache is extended in place. ``ids`` are checked (type, shape, range: one
        host synchronisation); :func:`trainers.sequence.sampling.sample` checks the prompts
        once and feeds the tokens it drew itself to the unchecked :meth:`_logits`.
        """
        return self._logits(self._check_ids(ids, cache), cache)

    def _logits(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """:meth:`forward` on ids already known to be valid (no checks, no host sync)."""
        lead, t = ids.shape[:-1], ids.shape[-1]
        tok_emb = self.tok_emb
        r, v, d = tok_emb.shape
        x_ids = ids.reshape(r, -1, t)  # (R, B, T)
        b = x_ids.shape[1]
        past = 0 if cache is None else cache.length
        if r > 1:  # run i's tokens index rows i*V .. i*V + V - 1 of the flattened table
            x_ids = x_ids + self._offsets
        x = F.embedding(x_ids, tok_emb.reshape(r * v, d)) + self.pos_emb[:, None, past : past + t]
        x = x.reshape(r, b * t, d)
        future = self._causal[past : past + t, : past + t] if t > 1 else None
        for layer, blk in enumerate(self.blocks):
            x = blk(x, (b, t), future, cache, layer, self._max_len)
        x = _layer_norm(x, self.lnf_w, self.lnf_b)
        head = tok_emb.transpose(1, 2) if self.head_w is None else self.head_w
        logits = torch.bmm(x, head)
        if cache is not None:
            cache.length += t
        return logits.reshape(*lead, t, v)

    # ------------------------------------------------------------------ runs
    def unstack(self, i: int) -> TinyCausalLM:
        """Run ``i`` of a stacked model as a single :class:`TinyCausalLM` (a copy of its
        current weights, on the same device and dtype)."""
        if self._n_runs is None:
            raise ValueError("unstack needs a stacked model (built with seeds=[...])")
        i = check_int("i", i, lo=0, hi=self._n_runs - 1)
        one = TinyCausalLM.__new__(TinyCausalLM)
        nn.Module.__init__(one)
        for name in ("_vocab_size", "_max_len", "d_model", "n_layers", "n_heads", "tied"):
            setattr(one, name, getattr(self, name))
        one._n_runs = None
        one._make_parameters(1, self.tok_emb.dtype)
        one.to(self.tok_emb.device)
        with torch.no_grad():
            theirs = dict(self.named_parameters())
            for name, p in one.named_parameters():
                p.copy_(theirs[name][i : i + 1])
        return one

    def extra_repr(self) -> str:
        runs = "" if self._n_runs is None else f", n_runs={self._n_runs}"
        return (
            f"vocab_size={self._vocab_size}, max_len={self._max_len}, d_model={self.d_model}, "
            f"n_layers={self.n_layers}, n_heads={self.n_heads}, tied={self.tied}{runs}"
        )


def policy_logits(policy: Policy, ids: torch.Tensor) -> torch.Tensor:
    """Call ``policy`` on ``ids`` (*, T) and return its logits (*, T, V), checked.

    ``policy`` may return the logits or an object with ``.logits`` (a Hugging Face
    ``CausalLMOutput``). Raises ``ValueError``/``TypeError`` naming ``policy`` when the output is
    not a floating tensor of shape ``ids.shape + (V,)``.
    """
    if not callable(policy):
        raise ArgumentTypeError(
            f"policy must be callable (ids -> logits); got {type(policy).__name__}"
        )
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise ArgumentTypeError(
            f"ids must be a torch.long tensor; got "
            f"{ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__}"
        )
    out = policy(ids)
    logits = getattr(out, "logits", out)
    if not isinstance(logits, torch.Tensor):
        raise ArgumentTypeError(
            f"policy must return a logits tensor or an object with .logits; got "
            f"{type(logits).__name__}"
        )
    if not logits.is_floating_point():
        raise ArgumentTypeError(f"policy must return floating logits; got dtype {logits.dtype}")
    if logits.ndim != ids.ndim + 1 or logits.shape[:-1] != ids.shape or logits.shape[-1] < 2:
        raise ValueError(
            f"policy must map ids of shape {tuple(ids.shape)} to logits of shape "
            f"{tuple(ids.shape)} + (V,) with V >= 2; got {tuple(logits.shape)}"
        )
    return logits
