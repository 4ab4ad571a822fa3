"""The ``stability`` command: ``verify`` (the claim report), ``bench AREA``, ``list``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _check_device(device: str) -> str:
    if device == "cpu":
        return device
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SystemExit(f"stability: --device {device}: CUDA is not available on this machine")
        return device
    raise SystemExit(f"stability: --device must be 'cpu' or 'cuda[:N]'; got {device!r}")


def _verify(args: argparse.Namespace) -> int:
    from perturbation.verify import verify

    device = _check_device(args.device)
    try:
        result = verify(
            args.out,
            only=args.only,
            scale=args.scale,
            seed=args.seed,
            device=device,
            progress=not args.quiet,
        )
    except ValueError as exc:
        print(f"stability verify: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    for r in result.results:
        if not r.passed:
            print(f"  FAILED {r.claim.id}: {r.error or r.evidence.note}", file=sys.stderr)
    return 0 if result.passed else 1


def _bench(args: argparse.Namespace) -> int:
    from perturbation.bench import format_table, run_benchmark

    try:
        rows = run_benchmark(args.area, repeats=args.repeats, scale=args.scale)
    except ValueError as exc:
        print(f"stability bench: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        payload = {"area": args.area, "repeats": args.repeats, "rows": [r.to_dict() for r in rows]}
        payload.update({r.key: r.speedup for r in rows if getattr(r, "key", None)})
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def _list(args: argparse.Namespace) -> int:
    from perturbation.registry import claims

    for c in claims(args.only):
        print(f"{c.id:45s} {c.reference}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stability`` console command."""
    from perturbation.bench import AREAS
    from perturbation.registry import SCALES

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # parallelism comes from batching, not threads
    parser = argparse.ArgumentParser(prog="stability", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="run every registered claim into one report")
    v.add_argument("--out", default="stability-report", help="output directory")
    v.add_argument("--scale", default="small", choices=list(SCALES), help="experiment size")
    v.add_argument("--only", default=None, help="glob or substring of claim ids (comma-separated)")
    v.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    v.add_argument("--seed", type=int, default=0, help="seed of every experiment")
    v.add_argument("--quiet", action="store_true", help="no progress output")
    v.set_defaults(func=_verify)

    b = sub.add_parser("bench", help="run an area's benchmark (ratios measured in this run)")
    b.add_argument("area", choices=sorted(AREAS))
    b.add_argument("--json", default=None, help="also write the table as JSON to this path")
    b.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    b.add_argument("--scale", default="small", choices=list(SCALES))
    b.set_defaults(func=_bench)

    ls = sub.add_parser("list", help="list registered claims")
    ls.add_argument("--only", default=None)
    ls.set_defaults(func=_list)

    from perturbation.sweeps.cli import add_parser as add_sweep_parser  # `stability sweep`

    add_sweep_parser(sub)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `stability list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
