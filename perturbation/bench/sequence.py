"""Benchmark of :mod:`trainers.sequence` against TRL: the GRPO loss, throughput, batched seeds.

Rows (every figure measured in this run, on one thread):

- ``grpo_loss_max_abs_diff_vs_trl``: the toolkit's GRPO loss
  (:func:`trainers.sequence.completion_logprobs` + :func:`trainers.losses.grpo_token_loss`)
  against TRL's ``GRPOTrainer._compute_loss`` on one batch (same prompts, completions of
  random lengths with their masks, group advantages, old and reference log-probs 0.3 N(0, 1)
  away from the model's per token, so the ratio is not 1 and tokens are clipped), for every
  ``loss_type`` (grpo, bnpo, dr_grpo, dapo) with ``beta`` 0 and 0.04 and ``num_iterations=2``:
  the max abs difference of the loss (the JSON figure) and of every parameter's gradient.
- ``grpo_tokens_per_s_ratio_vs_trl``: completion tokens per second of ``train_grpo`` training
  the same Hugging Face GPT-2 module (``policy=...``) against ``GRPOTrainer.train()``, same
  batch (8 prompts x 4 generations), lengths and number of steps; then the same for the
  toolkit's own :class:`~trainers.sequence.TinyCausalLM` of the same width
  (``grpo_tiny_...``) and for N TinyCausalLM seeds stacked in one model, counting every run's
  tokens (``grpo_stacked_...``).
- ``dpo_tokens_per_s_ratio_vs_trl`` (and ``dpo_tiny_...``, ``dpo_stacked_...``):
  ``train_sequence_dpo`` against ``DPOTrainer.train()``, 32 pairs per step, the same pairs.
- ``batched_speedup``: N TinyCausalLM GRPO runs (the trainer's default width 32) as one
  stacked model against the same runs one by one (per run; the one-by-one time is measured on
  the first few runs); the check compares the stacked runs' weights with the one-by-one
  runs'. The same at GPT-2's width 64 (no key): the stacked run of the TRL rows.
- exact enumeration: :func:`trainers.sequence.exact_logprobs` over 1e5 and 1e6 completions
  (one prompt, 10 tokens per position) against teacher forcing every completion (timed on a
  subset and scaled); the check gives the largest difference and ``log sum p``.

The setting shared with TRL: the tied digit-sum task
(:func:`trainers.sequence.tied_digit_sum`: prompt ``S=s``, four digits, an answer, EOS; 6
completion tokens, 33 tokens), a GPT-2 built from ``GPT2Config(n_layer=2, n_head=2, n_embd=64,
n_positions=32)`` with dropout 0 (seeded), a ``tokenizers`` WordLevel tokenizer over the
task's vocabulary, offline (``HF_HUB_OFFLINE=1``), fp32 (``bf16=False``), ``use_cpu=True``,
gradient checkpointing off (TRL's default turns it on, which only costs it time), learning rate
1e-3, Adam without weight decay, gradient norm clipped at 1. The toolkit samples under the
task's grammar (``allowed``), TRL over the whole vocabulary; throughput counts the real
completion tokens (up to and including EOS) each side processed. TRL's rate is its steady
state (the first step is left out); the toolkit's is its whole run after a warm-up call.

TRL is optional (``pip install -e ".[trl]"``, ``make bench-trl``): without it the TRL rows are
skipped with a message and their keys are null in the JSON; the default test suite never
imports it.

References
----------
Z. Shao et al., "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language
Models", arXiv:2402.03300, 2024, Eq. (3) (GRPO).
R. Rafailov et al., "Direct Preference Optimization: Your Language Model is Secretly a Reward
Model", NeurIPS 2023, Eq. (7) (DPO).
L. von Werra et al., "TRL: Transformer Reinforcement Learning", GitHub, 2020 (``GRPOTrainer``,
``DPOTrainer``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from perturbation.bench import BenchRow, best_time
from perturbation.registry import SCALES
from trainers import losses as L
from trainers.sequence import (
    GRPOConfig,
    SequenceDPOConfig,
    TinyCausalLM,
    bradley_terry_pairs,
    completion_logprobs,
    enumerate_completions,
    exact_logprobs,
    tied_digit_sum,
    train_grpo,
    train_sequence_dpo,
)
from trainers.sequence.tasks import SequenceTask

#: The JSON keys this area always writes (null when TRL is not installed).
KEYS = (
    "grpo_loss_max_abs_diff_vs_trl",
    "grpo_tokens_per_s_ratio_vs_trl",
    "grpo_tiny_tokens_per_s_ratio_vs_trl",
    "grpo_stacked_tokens_per_s_ratio_vs_trl",
    "dpo_tokens_per_s_ratio_vs_trl",
    "dpo_tiny_tokens_per_s_ratio_vs_trl",
    "dpo_stacked_tokens_per_s_ratio_vs_trl",
    "batched_speedup",
)

_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
_PROMPTS, _GENERATIONS, _PAIRS = 8, 4, 32
_WIDTH = 64  # GPT-2's n_embd, and the width of the toolkit's TinyCausalLM in the same rows
_LR = 1e-3


@dataclass(frozen=True)
class _Sizes:
    steps: int  # training steps of every throughput row
    n_runs: int  # stacked seeds
    n_loop: int  # seeds trained one by one for the baseline
    exact_lengths: tuple[int, ...]  # 10^L completions each
    loss_batches: int  # timed repeats of the loss comparison


def _sizes(scale: str, repeats: int) -> _Sizes:
    f = SCALES[scale]
    return _Sizes(
        steps=max(5, int(20 * f)),
        n_runs=64 if f >= 1 else 8,
        n_loop=max(2, int(3 * f)),
        exact_lengths=(5, 6) if f >= 1 else (3, 4),
        loss_batches=repeats,
    )


@dataclass(frozen=True)
class _Rate:
    """Completion tokens processed in ``wall`` seconds (wall clock) and ``cpu`` seconds of this
    process's CPU time (the latter is robust to other jobs on a shared machine)."""

    tokens: float
    wall: float
    cpu: float

    @property
    def per_s(self) -> float:
        return self.tokens / self.wall

    @property
    def per_cpu_s(self) -> float:
        return self.tokens / self.cpu


def _cpu_timed(fn: Any) -> tuple[Any, float]:
    """``fn()`` and the process CPU seconds it took."""
    c = time.process_time()
    out = fn()
    return out, time.process_time() - c


def _per_1k(rate: float) -> float:
    """Seconds per 1000 completion tokens at ``rate`` tokens/s (so that a row's ``speedup`` is
    the ratio of the throughputs)."""
    return 1000.0 / rate


# --------------------------------------------------------------------------------------------
# batched seeds and exact enumeration (no TRL)
# --------------------------------------------------------------------------------------------


def _grpo_config(steps: int, width: int = _WIDTH) -> GRPOConfig:
    return GRPOConfig(
        steps=steps,
        batch_prompts=_PROMPTS,
        num_generations=_GENERATIONS,
        lr=_LR,
        d_model=width,
    )


def _batched_row(
    task: SequenceTask, sz: _Sizes, width: int, key: str | None
) -> tuple[BenchRow, _Rate]:
    """N stacked TinyCausalLM GRPO runs of width ``width`` vs the first ``n_loop`` one by one;
    also returns the stacked run's rate (all runs' tokens together)."""
    cfg = _grpo_config(sz.steps, width)
    seeds = list(range(sz.n_runs))
    train_grpo(task, _grpo_config(2, width), seeds=seeds[:2])  # warm-up
    stacked, cpu_batch = _cpu_timed(lambda: train_grpo(task, cfg, seeds=seeds))
    looped, cpu_loop = _cpu_timed(
        lambda: [train_grpo(task, cfg, seeds=[s]) for s in seeds[: sz.n_loop]]
    )
    t_batch = stacked.wall_s / sz.n_runs
    t_loop = sum(r.wall_s for r in looped) / sz.n_loop
    cpu_speedup = (cpu_loop / sz.n_loop) / (cpu_batch / sz.n_runs)
    diff = 0.0
    with torch.no_grad():
        for i, r in enumerate(looped):
            one = stacked.policy.unstack(i)
            for a, b in zip(one.parameters(), r.policy.parameters(), strict=True):
                diff = max(diff, float((a - b).abs().max()))
    reward = stacked.metrics[-1]["charts/reward"]
    row = BenchRow(
        f"GRPO, N={sz.n_runs} TinyCausalLM d={width} seeds stacked (per run)",
        t_batch,
        "one by one (per run)",
        t_loop,
        f"N={sz.n_runs} (loop: {sz.n_loop}), {_PROMPTS} prompts x {_GENERATIONS}, L=6, "
        f"{sz.steps} steps",
        f"CPU-time speedup {cpu_speedup:.1f}x; max |Δθ| stacked vs one by one = {diff:.1e}; "
        f"last reward {reward:.3f}",
        key=key,
    )
    return row, _Rate(stacked.tokens_seen, stacked.wall_s, cpu_batch)


def _exact_rows(sz: _Sizes) -> list[BenchRow]:
    """exact_logprobs over 10^L completions vs teacher forcing each (timed on a subset)."""
    rows = []
    vocab, prompts = 12, torch.tensor([[2]])
    for length in sz.exact_lengths:
        allowed = torch.zeros(length, vocab, dtype=torch.bool)
        allowed[:, 2:] = True  # 10 tokens per position, no EOS: M = 10^L
        t = time.perf_counter()
        tokens, mask = enumerate_completions(allowed)
        t_enum = time.perf_counter() - t
        policy = TinyCausalLM(vocab, max_len=1 + length, seed=0)
        exact_logprobs(policy, prompts, tokens[:64], mask[:64], allowed=allowed)  # warm-up
        t = time.perf_counter()
        logp = exact_logprobs(policy, prompts, tokens, mask, allowed=allowed)[0]
        t_exact = time.perf_counter() - t
        # --- the baseline: one teacher-forced forward per completion, batches of 4096 ---
        n_sub = min(len(tokens), 16384)
        t = time.perf_counter()
        naive = []
        with torch.no_grad():
            for i in range(0, n_sub, 4096):
                tok, m = tokens[i : min(i + 4096, n_sub)], mask[i : min(i + 4096, n_sub)]
                lp = completion_logprobs(
                    policy, prompts.expand(len(tok), 1), tok, m, allowed=allowed
                )
                naive.append(lp.double().sum(-1))
        t_naive = (time.perf_counter() - t) * len(tokens) / n_sub
        diff = float((torch.cat(naive) - logp[:n_sub]).abs().max())
        lse = float(torch.logsumexp(logp, -1))
        rows.append(
            BenchRow(
                f"exact_logprobs, M=10^{length} completions",
                t_exact,
                "teacher forcing each completion"
                + (f" (timed on {n_sub}, scaled)" if n_sub < len(tokens) else ""),
                t_naive,
                f"1 prompt, L={length}, 10 tokens per position, TinyCausalLM d=32; "
                f"enumeration {t_enum:.2f} s",
                f"max |Δ log p| vs teacher forcing {diff:.1e}; log Σ p = {lse:.1e}",
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# TRL: the same model, tokenizer and batches
# --------------------------------------------------------------------------------------------


def _trl_missing() -> str | None:
    """Why the TRL rows cannot run (None when they can)."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[name] = "1"  # never reach the network: the model and tokenizer are local
    try:  # trl first: without it nothing heavy is imported
        for name in ("trl", "transformers", "tokenizers", "datasets"):
            importlib.import_module(name)
    except ImportError as exc:
        return f"{exc}"
    return None


@contextlib.contextmanager
def _quiet():
    """Silence TRL's and transformers' progress bars, log lines and warnings."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


class _HF:
    """The task's vocabulary as a Hugging Face tokenizer, and the tiny GPT-2 (seeded)."""

    def __init__(self, task: SequenceTask, folder: str):
        import datasets
        import transformers
        from tokenizers import Tokenizer, models, pre_tokenizers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        datasets.disable_progress_bars()
        self.task = task
        self.vocab = {w: i for i, w in enumerate(task.vocab)}
        tok = Tokenizer(models.WordLevel(self.vocab, unk_token=task.vocab[task.pad_id]))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        self.tokenizer = transformers.PreTrainedTokenizerFast(
            tokenizer_object=tok,
            eos_token=task.vocab[task.eos_id],
            pad_token=task.vocab[task.pad_id],
        )
        self.config = transformers.GPT2Config(
            n_layer=2,
            n_head=2,
            n_embd=_WIDTH,
            vocab_size=len(self.vocab),
            n_positions=32,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=task.eos_id,
            eos_token_id=task.eos_id,
            pad_token_id=task.pad_id,
        )
        self.folder = folder
        self.model().save_pretrained(os.path.join(folder, "gpt2"))  # TRL's beta > 0 needs a path
        self.path = os.path.join(folder, "gpt2")

    def model(self) -> Any:
        import transformers

        with torch.random.fork_rng():
            torch.manual_seed(0)
            return transformers.GPT2LMHeadModel(self.config)

    def prompt_text(self, prompt_ids: torch.Tensor) -> list[str]:
        return [self.task.vocab[int(p)] for p in prompt_ids[:, 0]]

    def trl_args(self, cls: type, steps: int, **kw: Any) -> Any:
        return cls(
            output_dir=os.path.join(self.folder, "out"),
            use_cpu=True,
            bf16=False,
            gradient_checkpointing=False,
            learning_rate=_LR,
            weight_decay=0.0,
            max_grad_norm=1.0,
            lr_scheduler_type="constant",
            max_steps=steps,
            logging_steps=10**6,
            save_strategy="no",
            report_to="none",
            dataloader_num_workers=0,
            disable_tqdm=True,
            seed=0,
            **kw,
        )


def _clock() -> Any:
    """A TRL callback that records the wall and CPU time at the end of every optimizer step
    (``.times``, ``.cpu``)."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.cpu: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
            self.times.append(time.perf_counter())
            self.cpu.append(time.process_time())

        def rate(self, tokens: float) -> _Rate:
            """``tokens`` processed from the end of the first step to the end of the last."""
            return _Rate(tokens, self.times[-1] - self.times[0], self.cpu[-1] - self.cpu[0])

    return Clock()


def _loss_batch(hf: _HF, model: Any) -> dict[str, torch.Tensor]:
    """One GRPO batch: 8 prompts x 4 completions of random lengths (EOS last), group
    advantages of Bernoulli rewards, and old and reference log-probs that differ from the
    model's by 0.3 N(0, 1) per token (as after an update: ratios away from 1, some clipped)."""
    task, g = hf.task, torch.Generator().manual_seed(1)
    B, Lc = _PROMPTS * _GENERATIONS, task.completion_len
    prompts = task.prompts[torch.randint(task.n_prompts, (_PROMPTS,), generator=g)]
    prompts = prompts.repeat_interleave(_GENERATIONS, 0)
    tokens = torch.randint(2, len(hf.vocab), (B, Lc), generator=g)
    lengths = torch.randint(1, Lc + 1, (B,), generator=g)
    mask = torch.arange(Lc) < lengths[:, None]
    tokens[torch.arange(B), lengths - 1] = task.eos_id
    tokens = torch.where(mask, tokens, task.pad_id)
    rewards = torch.bernoulli(torch.full((_PROMPTS, _GENERATIONS), 0.5), generator=g)
    adv = L.group_advantages(rewards).reshape(B).float()
    with torch.no_grad():
        logp = completion_logprobs(model, prompts, tokens, mask)
    old = (logp + 0.3 * torch.randn(logp.shape, generator=g)) * mask
    ref = (logp + 0.3 * torch.randn(logp.shape, generator=g)) * mask
    return {
        "prompts": prompts,
        "tokens": tokens,
        "mask": mask,
        "advantages": adv,
        "old": old,
        "ref": ref,
    }


def _loss_row(hf: _HF, sz: _Sizes) -> BenchRow:
    """The toolkit's GRPO loss and gradients vs TRL's ``_compute_loss`` on the same batch."""
    from trl import GRPOConfig as TRLGRPOConfig
    from trl import GRPOTrainer

    dataset = _prompt_dataset(hf)
    worst_loss, worst_grad, worst_case, clipped = 0.0, 0.0, "", 0.0
    t_ours = t_trl = 0.0
    for beta in (0.0, 0.04):
        for loss_type in _LOSS_TYPES:
            with _quiet():
                args = hf.trl_args(
                    TRLGRPOConfig,
                    1,
                    per_device_train_batch_size=_PROMPTS * _GENERATIONS,
                    num_generations=_GENERATIONS,
                    max_completion_length=hf.task.completion_len,
                    num_iterations=2,
                    beta=beta,
                    loss_type=loss_type,
                )
                trainer = GRPOTrainer(
                    model=hf.path,
                    reward_funcs=_zero_reward,
                    args=args,
                    train_dataset=dataset,
                    processing_class=hf.tokenizer,
                )
            trainer.current_gradient_accumulation_steps = args.gradient_accumulation_steps
            model = trainer.model.train()
            b = _loss_batch(hf, model)
            inputs = {
                "prompt_ids": b["prompts"],
                "prompt_mask": torch.ones_like(b["prompts"]),
                "completion_ids": b["tokens"],
                "completion_mask": b["mask"].long(),
                "advantages": b["advantages"],
                "old_per_token_logps": b["old"],
                "ref_per_token_logps": b["ref"],
                "num_items_in_batch": b["mask"].sum(),
            }

            def trl_loss(trainer=trainer, model=model, inputs=inputs) -> torch.Tensor:
                model.zero_grad(set_to_none=True)
                loss = trainer._compute_loss(model, inputs)
                loss.backward()
                return loss.detach()

            def our_loss(model=model, b=b, beta=beta, loss_type=loss_type) -> torch.Tensor:
                model.zero_grad(set_to_none=True)
                logp = completion_logprobs(model, b["prompts"], b["tokens"], b["mask"])
                loss, _ = L.grpo_token_loss(
                    logp,
                    b["old"],
                    b["ref"] if beta > 0 else None,
                    b["advantages"],
                    b["mask"],
                    loss_type=loss_type,
                    beta=beta,
                    max_completion_length=hf.task.completion_len,
                )
                loss.backward()
                return loss.detach()

            with _quiet():
                theirs = trl_loss()
            grads = [p.grad.clone() for p in model.parameters()]
            ours = our_loss()
            d_loss = abs(float(ours) - float(theirs))
            d_grad = max(
                float((p.grad - q).abs().max())
                for p, q in zip(model.parameters(), grads, strict=True)
            )
            if d_loss >= worst_loss:
                worst_case = f"{loss_type}, beta={beta}"
            worst_loss, worst_grad = max(worst_loss, d_loss), max(worst_grad, d_grad)
            with torch.no_grad():
                logp = completion_logprobs(model, b["prompts"], b["tokens"], b["mask"])
                ratio = (logp - b["old"]).exp()
                out = ((ratio < 0.8) | (ratio > 1.2)) & b["mask"]
                clipped = float(out.sum() / b["mask"].sum())
            with _quiet():
                t_ours += best_time(our_loss, sz.loss_batches)
                t_trl += best_time(trl_loss, sz.loss_batches)
    return BenchRow(
        "GRPO loss + gradients vs TRL (8 cases)",
        t_ours,
        "TRL GRPOTrainer._compute_loss",
        t_trl,
        f"{'/'.join(_LOSS_TYPES)} x beta 0, 0.04, num_iterations=2; "
        f"{_PROMPTS}x{_GENERATIONS} completions, GPT-2 2x{_WIDTH}",
        f"max |Δloss| = {worst_loss:.1e} ({worst_case}; goal <= 1e-6), "
        f"max |Δgrad| = {worst_grad:.1e}; {100 * clipped:.0f}% of tokens outside the clip",
        key="grpo_loss_max_abs_diff_vs_trl",
        value=worst_loss,
    )


def _zero_reward(prompts: list, completions: list, **kwargs: Any) -> list[float]:
    return [0.0] * len(completions)


def _prompt_dataset(hf: _HF) -> Any:
    import datasets

    text = hf.prompt_text(hf.task.prompts)
    return datasets.Dataset.from_dict({"prompt": text * 8})


def _ratio_rows(
    algo: str,
    trl: _Rate,
    rates: list[tuple[str, str, _Rate, str]],
    size: str,
) -> list[BenchRow]:
    """One row per toolkit rate (label, key suffix, rate, note) against TRL's rate."""
    return [
        BenchRow(
            f"{algo} {label}",
            _per_1k(rate.per_s),
            f"TRL {algo}Trainer.train() (s per 1k tokens)",
            _per_1k(trl.per_s),
            size,
            f"{rate.per_s:.0f} vs {trl.per_s:.0f} completion tokens/s; CPU-time ratio "
            f"{rate.per_cpu_s / trl.per_cpu_s:.1f}x{note}",
            key=f"{algo.lower()}{suffix}_tokens_per_s_ratio_vs_trl",
        )
        for label, suffix, rate, note in rates
    ]


def _grpo_rows(hf: _HF, sz: _Sizes, stacked: _Rate) -> list[BenchRow]:
    """Completion tokens per second: train_grpo vs GRPOTrainer.train(), same steps."""
    from trl import GRPOConfig as TRLGRPOConfig
    from trl import GRPOTrainer

    task, counts = hf.task, []

    def reward(prompts: list, completions: list, completion_ids: list, **kw: Any) -> list[float]:
        # the task's reward on the generated ids (EOS included, cut at L) in one call
        n, Lc = len(completion_ids), task.completion_len
        tokens = torch.full((n, Lc), task.pad_id, dtype=torch.long)
        mask = torch.zeros((n, Lc), dtype=torch.bool)
        for i, ids in enumerate(completion_ids):
            ids = list(ids)[:Lc]
            tokens[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[i, : len(ids)] = True
        counts.append(int(mask.sum()))
        p = torch.tensor([[hf.vocab[s.strip()]] for s in prompts])
        return task.reward(p, tokens, mask).tolist()

    clock = _clock()
    with _quiet():
        args = hf.trl_args(
            TRLGRPOConfig,
            sz.steps,
            per_device_train_batch_size=_PROMPTS * _GENERATIONS,
            num_generations=_GENERATIONS,
            max_completion_length=task.completion_len,
            disable_dropout=True,
        )
        trainer = GRPOTrainer(
            model=hf.model(),
            reward_funcs=reward,
            args=args,
            train_dataset=_prompt_dataset(hf),
            processing_class=hf.tokenizer,
            callbacks=[clock],
        )
        trainer.train()
    # steady state: steps 2..S (the first step builds the data loader and warms up)
    trl_tokens = sum(counts[1:]) / (len(counts) - 1)
    trl = clock.rate(sum(counts[1:]))

    cfg, rates = _grpo_config(sz.steps), []
    for label, suffix, make in (
        ("train_grpo, same GPT-2 module", "", hf.model),
        (f"train_grpo, TinyCausalLM d={_WIDTH}", "_tiny", lambda: None),
    ):
        train_grpo(task, _grpo_config(2), policy=make())  # warm-up
        res, cpu = _cpu_timed(lambda make=make: train_grpo(task, cfg, policy=make()))
        note = f"; {res.tokens_seen / sz.steps:.0f} tokens/step (TRL {trl_tokens:.0f})"
        rates.append((label, suffix, _Rate(res.tokens_seen, res.wall_s, cpu), note))
    label = f"train_grpo, N={sz.n_runs} TinyCausalLM stacked (all runs)"
    rates.append((label, "_stacked", stacked, ""))
    size = (
        f"{_PROMPTS} prompts x {_GENERATIONS}, L<=6, {sz.steps} steps, GPT-2 2x{_WIDTH}, "
        "fp32, 1 thread"
    )
    return _ratio_rows("GRPO", trl, rates, size)


def _dpo_rows(hf: _HF, sz: _Sizes) -> list[BenchRow]:
    """Completion tokens per second: train_sequence_dpo vs DPOTrainer.train(), same pairs."""
    import datasets
    from trl import DPOConfig, DPOTrainer

    task = hf.task
    pairs = bradley_terry_pairs(task, _PAIRS * sz.steps, seed=0)
    tokens, mask = task.completions()

    def text(i: int) -> str:  # TRL appends EOS itself
        keep = mask[i] & (tokens[i] != task.eos_id)
        return " ".join(task.vocab[int(t)] for t in tokens[i][keep])

    data = datasets.Dataset.from_dict(
        {
            # the trailing space keeps the prompt a token prefix of prompt + completion
            "prompt": [s + " " for s in hf.prompt_text(task.prompts[pairs[0]])],
            "chosen": [text(int(i)) for i in pairs[1]],
            "rejected": [text(int(i)) for i in pairs[2]],
        }
    )
    clock = _clock()
    with _quiet():
        trainer = DPOTrainer(
            model=hf.model(),
            ref_model=hf.model(),
            args=hf.trl_args(DPOConfig, sz.steps, per_device_train_batch_size=_PAIRS),
            train_dataset=data,
            processing_class=hf.tokenizer,
            callbacks=[clock],
        )
        trainer.train()
    ds = trainer.train_dataset
    per_pair = sum(
        len(c) + len(r) for c, r in zip(ds["chosen_ids"], ds["rejected_ids"], strict=True)
    )
    trl_tokens = _PAIRS * per_pair / len(ds)
    trl = clock.rate(trl_tokens * (len(clock.times) - 1))

    def cfg(steps: int) -> SequenceDPOConfig:
        return SequenceDPOConfig(steps=steps, batch_size=_PAIRS, lr=_LR, d_model=_WIDTH)

    rates = []
    for label, suffix, make, seeds in (
        ("train_sequence_dpo, same GPT-2 module", "", hf.model, [0]),
        (f"train_sequence_dpo, TinyCausalLM d={_WIDTH}", "_tiny", lambda: None, [0]),
        (
            f"train_sequence_dpo, N={sz.n_runs} TinyCausalLM stacked (all runs)",
            "_stacked",
            lambda: None,
            list(range(sz.n_runs)),
        ),
    ):
        train_sequence_dpo(task, cfg(2), pairs=pairs, seeds=seeds[:1], policy=make())  # warm-up
        res, cpu = _cpu_timed(
            lambda seeds=seeds, make=make: train_sequence_dpo(
                task, cfg(sz.steps), pairs=pairs, seeds=seeds, policy=make()
            )
        )
        per_step = res.tokens_seen / sz.steps / len(seeds)
        note = f"; {per_step:.0f} tokens/step/run (TRL {trl_tokens:.0f})"
        rates.append((label, suffix, _Rate(res.tokens_seen, res.wall_s, cpu), note))
    size = f"{_PAIRS} pairs per step, L=6, {sz.steps} steps, GPT-2 2x{_WIDTH}, fp32, 1 thread"
    return _ratio_rows("DPO", trl, rates, size)


def run(repeats: int = 3, scale: str = "small") -> list[BenchRow]:
    """Run the sequence benchmarks; sizes grow with ``scale`` (``repeats`` times the loss)."""
    sz = _sizes(scale, repeats)
    task = tied_digit_sum()
    # the toolkit's default width (the JSON figure), and GPT-2's width of the TRL rows
    batched, _ = _batched_row(task, sz, GRPOConfig.d_model, "batched_speedup")
    batched_wide, stacked = _batched_row(task, sz, _WIDTH, None)
    rows = [batched, batched_wide, *_exact_rows(sz)]
    missing = _trl_missing()
    if missing is not None:
        print(
            f"stability bench sequence: TRL is not importable ({missing}); install it with "
            "`pip install -e '.[trl]'` (or `make bench-trl`). The rows against TRL are "
            "skipped and their keys are null.",
            file=sys.stderr,
        )
        return rows
    with tempfile.TemporaryDirectory(prefix="stability-bench-trl-") as folder:
        hf = _HF(task, folder)
        trl_rows = [_loss_row(hf, sz), *_grpo_rows(hf, sz, stacked), *_dpo_rows(hf, sz)]
    return trl_rows + rows
