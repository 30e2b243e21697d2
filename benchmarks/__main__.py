"""The suite's one entry point, run from the repository root:

    python -m benchmarks list
    python -m benchmarks run [NAMES...] [--quick] [--model M] [--out DIR]
    python -m benchmarks report [NAMES...] [--results DIR] [-o docs/benchmarks.md] [--check]
    python -m benchmarks record NAME --json OUT [--chosen-on ...] [--reported-on ...] -- CMD...

``run`` measures and stores ``DIR/NAME.json`` (default benchmarks/results; a ``--quick`` run, a
smoke test, goes to runs/benchmarks-quick so that it never replaces a measurement); ``report``
renders docs/benchmarks.md and its plots from the stored results without measuring anything,
and fills every figure marked in README.md and docs/*.md from them (``--check``: change nothing,
exit 1 if any figure differs from what the results render); ``record`` stores what a study
(``benchmarks/studies``) measures as a result, with the same record of where and how.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from . import RESULTS, BenchmarkError, plan, registry
from .context import DEFAULT_SETS, DOCS, ROOT, Context, provenance, rel, store
from .report import check, write

QUICK_RESULTS = ROOT / "runs" / "benchmarks-quick"


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    ctx = Context(args.model, args.quick, args.threads, args.cctv_stride, out)
    command = "python -m benchmarks " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    for b in plan(args.names):
        ctx.progress(f"{b.name}: start")
        meta = provenance(command.strip(), {"chosen_on": b.chosen_on})
        t0 = time.perf_counter()
        result = b.run(ctx)
        inputs = ctx.describe_inputs()
        sets = "; ".join(f"{n}: {d}" for n, d in inputs["sets"].items())
        meta["frames"]["reported_on"] = b.reported_on or sets or "no frames"
        meta.update(
            benchmark=b.name,
            seconds=round(time.perf_counter() - t0, 1),
            load=[meta["machine"]["load_before"], round(os.getloadavg()[0], 2)],
            quick=args.quick,
            threads=args.threads,
            **inputs,
        )
        ctx.progress(f"{b.name}: wrote {rel(store(out, b.name, result, meta))}")
    ctx.progress(f"render with: python -m benchmarks report --results {rel(out)}")


def record(args: argparse.Namespace) -> None:
    """Run a study's command (it writes JSON to ``--json``) and store that JSON as
    ``benchmarks/results/NAME.json`` with the same record as ``run``'s results."""
    if not args.cmd:
        raise BenchmarkError("record: give the study's command after --")
    command = shlex.join(args.cmd)
    meta = provenance(command, {"chosen_on": args.chosen_on, "reported_on": args.reported_on})
    t0 = time.perf_counter()
    args.json.unlink(missing_ok=True)
    done = subprocess.run(args.cmd, cwd=ROOT)
    if done.returncode != 0 or not args.json.is_file():
        raise BenchmarkError(f"record: {command} failed (exit {done.returncode}, no {args.json})")
    meta.update(
        benchmark=args.name,
        seconds=round(time.perf_counter() - t0, 1),
        load=[meta["machine"]["load_before"], round(os.getloadavg()[0], 2)],
        quick=False,
    )
    result = json.loads(args.json.read_text())
    print(f"wrote {rel(store(args.out, args.name, result, meta))}")


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
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if docs/benchmarks.md or a marked figure in README.md or "
        "docs/ differs from what the stored results render",
    )
    c = sub.add_parser("record", help="store a study's JSON output as a result, with its record")
    c.add_argument("name", help="the result's name: benchmarks/results/NAME.json")
    c.add_argument("--json", type=Path, required=True, help="the file the command writes")
    c.add_argument("--chosen-on", required=True, help="the frames that chose its settings")
    c.add_argument("--reported-on", required=True, help="the frames its figures report")
    c.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    c.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the study's command")
    args = ap.parse_args(argv)
    try:
        if args.command == "list":
            for name, b in registry().items():
                needs = f" (needs {', '.join(b.requires)})" if b.requires else ""
                doc = (sys.modules[type(b).__module__].__doc__ or "").strip().splitlines()
                print(f"{name:10s} section {b.section:g}: {doc[0] if doc else ''}{needs}")
        elif args.command == "run":
            run(args)
        elif args.command == "record":
            args.cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            record(args)
        elif args.check:
            stale = check(args.results)
            for line in stale:
                print(line, file=sys.stderr)
            if stale:
                print(
                    f"{len(stale)} figure(s) differ from benchmarks/results: re-measure, or "
                    "render with `python -m benchmarks report`",
                    file=sys.stderr,
                )
                return 1
            print("every marked figure matches the stored results")
        else:
            for out in write(args.output, args.results, args.names or None, args.figures):
                print(f"wrote {rel(out)}")
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
