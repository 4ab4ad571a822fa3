"""The ``stability`` command: ``verify`` (the claim report), ``bench AREA``, ``list``."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

__all__ = ["main"]


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2, nothing run."""


def _check_device(device: str) -> str:
    if device == "cpu":
        return device
    if re.fullmatch(r"cuda(:\d+)?", device):
        import torch

        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: CUDA is not available on this machine")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return device
    raise UsageError(f"--device must be 'cpu' or 'cuda[:N]'; got {device!r}")


def _verify(args: argparse.Namespace) -> int:
    from perturbation.verify import EXIT_CODES, default_jobs, verify

    device = _check_device(args.device)
    try:
        result = verify(
            args.out,
            only=args.only,
            scale=args.scale,
            seed=args.seed,
            device=device,
            progress=not args.quiet,
            jobs=default_jobs() if args.jobs is None else args.jobs,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    except KeyboardInterrupt:
        print("stability verify: interrupted; the previous report is unchanged", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    print(result.summary())
    for r in result.results:
        if r.outcome in ("FAIL", "ERROR"):
            print(f"  {r.outcome} {r.claim.id}: {r.error or r.evidence.note}", file=sys.stderr)
    return result.exit_code


def _bench(args: argparse.Namespace) -> int:
    from perturbation.bench import _json_keys, format_markdown, format_table, run_benchmark

    try:
        rows = run_benchmark(args.area, repeats=args.repeats, scale=args.scale)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(format_table(rows))
    if args.markdown:
        page = format_markdown(rows, area=args.area, repeats=args.repeats, scale=args.scale)
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(page)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        payload = {"area": args.area, "repeats": args.repeats, "rows": [r.to_dict() for r in rows]}
        payload.update(_json_keys(args.area, rows))
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from perturbation.leaderboard import METHODS, run_leaderboard

    device = _check_device(args.device)
    methods = None if args.methods is None else [m.strip() for m in args.methods.split(",")]
    perts = (
        None if args.perturbations is None else [p.strip() for p in args.perturbations.split(",")]
    )
    for m in methods or ():
        if m not in METHODS:
            raise UsageError(f"--methods: unknown method {m!r}; choose from {', '.join(METHODS)}")
    for p in perts or ():
        if p not in ("P1", "P2", "P3"):
            raise UsageError(f"--perturbations: unknown perturbation {p!r}; choose from P1, P2, P3")
    out = Path(args.out) / "leaderboard"
    result = run_leaderboard(
        args.scale,
        methods=methods,
        perturbations=perts,
        seed=args.seed,
        device=device,
        out_dir=out,
        progress=not args.quiet,
    )
    print(result.table())
    print(f"wrote {out} ({result.wall_s:.0f} s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    from perturbation.registry import claims

    selected = claims(args.only)
    if not selected:
        raise UsageError(f"--only {args.only!r} matches no registered claim")
    for c in selected:
        print(f"{c.id:45s} {c.reference}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stability`` console command.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``), e.g.
        ``["verify", "--scale", "small"]``.

    Returns
    -------
    int
        The exit status (see ``stability --help``). A bad command line exits through
        argparse (status 2) or returns 2 with a one-line message.

    Raises
    ------
    TypeError
        If ``argv`` is not None or a list of strings (a single string such as
        ``"verify --scale small"`` is refused, not split into characters).
    """
    from perturbation.bench import AREAS
    from perturbation.registry import SCALES
    from theory.checks import ArgumentTypeError

    if argv is not None and (
        not isinstance(argv, list | tuple) or not all(isinstance(a, str) for a in argv)
    ):
        raise ArgumentTypeError(
            f"argv must be None or a list of strings (e.g. ['verify', '--quiet']); got {argv!r}"
        )

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # parallelism comes from batching, not threads
    parser = argparse.ArgumentParser(
        prog="stability",
        description=__doc__,
        epilog="exit status of verify: 0 every claim passed (or was reported as empirical), "
        "1 a claim failed, 2 bad arguments (nothing ran), 3 a claim could not run, "
        "130 interrupted (the previous report is left as it was)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="run every registered claim into one report")
    v.add_argument("--out", default="stability-report", help="output directory")
    v.add_argument("--scale", default="small", choices=list(SCALES), help="experiment size")
    v.add_argument(
        "--only",
        default=None,
        help="claim ids or globs, comma-separated (an exact id selects exactly that claim)",
    )
    v.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    v.add_argument("--seed", type=int, default=0, help="seed of every experiment")
    v.add_argument("--quiet", action="store_true", help="no progress output")
    v.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes that run claims: this one and N-1 workers (default: the cores "
        "available, at most 2; the report is the same)",
    )
    v.set_defaults(func=_verify)

    b = sub.add_parser("bench", help="run an area's benchmark (ratios measured in this run)")
    b.add_argument("area", choices=sorted(AREAS))
    b.add_argument("--json", default=None, help="also write the table as JSON to this path")
    b.add_argument("--markdown", default=None, help="also write the table as a generated page")
    b.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    b.add_argument("--scale", default="small", choices=list(SCALES))
    b.set_defaults(func=_bench)

    lb = sub.add_parser(
        "leaderboard", help="every policy-optimization objective under one perturbation protocol"
    )
    lb.add_argument("--out", default="stability-report", help="report folder (writes leaderboard/)")
    lb.add_argument("--scale", default="small", choices=["tiny", "small", "medium"])
    lb.add_argument("--methods", default=None, help="method keys, comma-separated (default: all)")
    lb.add_argument(
        "--perturbations", default=None, help="P1, P2, P3, comma-separated (default: all)"
    )
    lb.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    lb.add_argument("--seed", type=int, default=0)
    lb.add_argument("--quiet", action="store_true", help="no progress output")
    lb.set_defaults(func=_leaderboard)

    ls = sub.add_parser("list", help="list registered claims")
    ls.add_argument("--only", default=None)
    ls.set_defaults(func=_list)

    from perturbation.sweeps.cli import add_parser as add_sweep_parser  # `stability sweep`

    add_sweep_parser(sub)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"stability {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `stability list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
