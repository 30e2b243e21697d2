"""What every srcodec command shares: exit statuses, argument types and options, the progress
switch, how frame names are shown, and running many inputs on Dask.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from ..errors import SrcodecError, SrcodecWarning

DEVICE = click.Choice(["auto", "cpu", "cuda"])

#: Exit statuses. Damage has its own, so a script can tell "some frames are lost" from a usage
#: mistake (Click's 2) or any other error.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DAMAGED = 3
EXIT_STATUSES = (
    "Exit status: 0 success; 1 error; 2 usage error; 3 the archive is damaged (every intact "
    "frame was still handled, the damaged ones are named on stderr); 141 the reader of the "
    "output went away (srcodec info --frames a.src | head -1), nothing said."
)


#: Exit status when the reader of our output has gone (``srcodec info | head -1``): 128 +
#: SIGPIPE, what a shell reports for a Unix tool that SIGPIPE stopped.
EXIT_PIPE = 141


class PositionArg(click.ParamType):
    """A video position (``--start``/``--end``): a frame number or a time, checked here so that
    a malformed one is a usage error; passed on as given."""

    name = "position"

    def convert(self, value, param, ctx):
        from ..errors import FrameError
        from ..video import parse_position

        try:
            parse_position(value)
        except FrameError as exc:
            self.fail(str(exc), param, ctx)
        return value


class PathArg(click.Path):
    """A file or folder argument; ``-`` (standard input/output) is refused clearly, as srcodec
    reads archives by random access and writes them by an atomic rename."""

    def convert(self, value, param, ctx):
        if value == "-":
            self.fail("'-' (standard input/output) is not supported; give a file name", param, ctx)
        return super().convert(value, param, ctx)


def files_option(flag: str, help: str):
    """A repeatable option naming files (weights files, mostly)."""
    return click.option(flag, multiple=True, type=PathArg(dir_okay=False), help=help)


def progress_option(f):
    """``--progress/--no-progress`` (default: only when stderr is a terminal) and ``-q``."""
    f = click.option("-q", "--quiet", is_flag=True, help="No progress bar.")(f)
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar (default: only when stderr is a terminal).",
    )(f)


def parallel_options(f):
    """``--workers N`` / ``--scheduler ADDRESS``: many inputs, one task each, on Dask."""
    f = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Run one task per input on this Dask scheduler (e.g. tcp://host:8786); -o is a "
        "folder.",
    )(f)
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="Run one task per input on a local Dask cluster of N single-threaded processes; "
        "-o is a folder.",
    )(f)


def show_progress(progress: bool | None, quiet: bool) -> bool:
    if quiet:
        return False
    return sys.stderr.isatty() if progress is None else progress


def check_threads(threads: int | None) -> None:
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        click.echo(
            f"srcodec: warning: --threads {threads} is more than this machine's {cores} cores; "
            "expect it to be slower, not faster",
            err=True,
        )


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """srcodec's own warnings as one line on stderr (others as Python shows them)."""
    if issubclass(category, SrcodecWarning):
        click.echo(f"srcodec: warning: {message}", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _reader_gone() -> None:
    """The reader of standard output went away: stop quietly, as Unix tools do. Standard output
    is pointed at /dev/null first, so that flushing it at exit does not fail again (Python's
    "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's capture)
        pass
    sys.exit(EXIT_PIPE)


class CommandGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except BrokenPipeError:
            _reader_gone()
        except SrcodecError as exc:
            click.echo(f"srcodec: error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except OSError as exc:  # a file system refusal (permissions, disk full): still one line
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"srcodec: error: {where}{exc.strerror or exc}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("srcodec: interrupted", err=True)
            sys.exit(130)


def show_name(name: str) -> str:
    """A frame name fit for the terminal: quoted if it holds control characters."""
    return name if name.isprintable() else repr(name)


def run_many(
    kind: str,
    inputs: tuple[str, ...],
    output: str,
    workers: int | None,
    scheduler: str | None,
    **options,
) -> None:
    """Run ``kind`` on every input as its own task, then report each outcome: one bad input
    stops nothing, and the exit status says whether any failed (1) or lost frames (3)."""
    from ..distributed.cluster import run_many

    results = run_many(kind, list(inputs), output, workers=workers, scheduler=scheduler, **options)
    failed = [r for r in results if not r.ok]
    what = "skipped" if kind == "encode" else "damaged"
    for r in results:
        for name, why in r.problems:
            # A loss no frame owns (an unusable index, a byte range) has no name.
            named = f" {show_name(name)}" if name is not None else ""
            click.echo(f"{r.input}: {what}{named}: {why}", err=True)
        if r.ok:
            click.echo(f"{r.input} -> {r.output}: {r.summary}")
    for r in failed:
        click.echo(f"srcodec: error: {r.input}: {r.error}", err=True)
    done = len(results) - len(failed)
    click.echo(f"{done} of {len(results)} inputs done" + (f", {len(failed)} failed" * bool(failed)))
    if failed:
        sys.exit(EXIT_ERROR)
    if kind == "decode" and any(r.problems for r in results):
        sys.exit(EXIT_DAMAGED)
