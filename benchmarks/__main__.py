"""The suite's one entry point, run from the repository root:

    python -m benchmarks list
    python -m benchmarks run [NAMES...] [--quick] [--model M] [--out DIR]
    python -m benchmarks report [NAMES...] [--results DIR] [-o docs/benchmarks.md]

``run`` measures and stores ``DIR/NAME.json`` (default benchmarks/results; a ``--quick`` run, a
smoke test, goes to runs/benchmarks-quick so that it never replaces a measurement); ``report``
renders docs/benchmarks.md and its plots from the stored results without measuring anything.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import RESULTS, BenchmarkError, plan, registry
from .context import DEFAULT_SETS, DOCS, ROOT, Context, machine, rel, store
from .report import write

QUICK_RESULTS = ROOT / "runs" / "benchmarks-quick"


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    ctx = Context(args.model, args.quick, args.threads, args.cctv_stride, out)
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    for b in plan(args.names):
        ctx.progress(f"{b.name}: start")
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        load0, t0 = os.getloadavg()[0], time.perf_counter()
        result = b.run(ctx)
        meta = {
            "benchmark": b.name,
            "command": command.strip(),
            "started": started,
            "seconds": round(time.perf_counter() - t0, 1),
            "load": [load0, os.getloadavg()[0]],
            "quick": args.quick,
            "threads": args.threads,
            "machine": machine(),
            **ctx.describe_inputs(),
        }
        ctx.progress(f"{b.name}: wrote {rel(store(ctx, b.name, result, meta))}")
    ctx.progress(f"render with: python -m benchmarks report --results {rel(out)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the registered benchmarks, in the report's order")
    r = sub.add_parser("run", help="measure and store results")
    r.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    r.add_argument("--quick", action="store_true", help="a few frames per set (smoke test)")
    r.add_argument("--model", action="append", default=[], help="extra weights file or id")
    r.add_argument("--cctv-stride", type=int, default=DEFAULT_SETS["cctv"][1])
    r.add_argument("--threads", type=int, default=2, help="torch threads for quality runs")
    r.add_argument("--out", type=Path, help="results folder")
    p = sub.add_parser("report", help="render docs/benchmarks.md from stored results")
    p.add_argument("names", nargs="*", help="sections to render (default: all)")
    p.add_argument("--results", type=Path, default=RESULTS, help="results folder")
    p.add_argument("-o", "--output", type=Path, default=DOCS / "benchmarks.md")
    p.add_argument("--no-figures", dest="figures", action="store_false", help="keep the plots")
    args = ap.parse_args(argv)
    try:
        if args.command == "list":
            for name, b in registry().items():
                needs = f" (needs {', '.join(b.requires)})" if b.requires else ""
                doc = (sys.modules[type(b).__module__].__doc__ or "").strip().splitlines()
                print(f"{name:10s} section {b.section:g}: {doc[0] if doc else ''}{needs}")
        elif args.command == "run":
            run(args)
        else:
            out = write(args.output, args.results, args.names or None, args.figures)
            print(f"wrote {rel(out)}")
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
