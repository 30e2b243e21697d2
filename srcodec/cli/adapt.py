"""``srcodec adapt``: tune a model to one camera's footage (and the tuning budget that
``encode --adapt`` shares).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import SrcodecError
from .common import PathArg, progress_option, show_progress


def adapt_config(
    time_budget: str | None,
    steps: int | None,
    blocks: int | None = None,
    rank: int | None = None,
):
    """The tuning asked for: steps and/or time (5 minutes when neither is given), the last
    ``blocks`` residual blocks (None: every tensor), low-rank updates of ``rank`` (None: the
    default, dense)."""
    from ..training.adaptconfig import AdaptConfig, parse_duration

    if steps is not None and steps < 0:
        raise SrcodecError(f"--adapt-steps must be >= 0, got {steps}")
    seconds = parse_duration(time_budget) if time_budget is not None else None
    if seconds is None and steps is None:
        seconds = 300.0
    rank = AdaptConfig.rank if rank is None else rank
    return AdaptConfig(blocks=blocks, rank=rank, seconds=seconds, steps=steps)


def adapt_line(r) -> str:
    """What tuning gained on the held-back frames, and whether the update was kept."""
    gain = (
        f"{r.gain_db:+.2f} dB RGB / {r.gain_y_db:+.2f} dB Y on {len(r.held_back)} held-back "
        f"frame(s) ({r.base['psnr_rgb']:.2f} -> {r.tuned['psnr_rgb']:.2f} dB), "
        f"{r.steps} steps in {r.seconds:.0f} s"
    )
    if r.update is None:
        return f"adapt: general model kept: {r.reason or 'no update'} ({gain})"
    return f"adapt: update of {r.update_bytes:,} bytes stored in the archive: {gain}"


@click.command()
@click.argument("source", type=PathArg())
@click.option(
    "-o",
    "--output",
    required=True,
    type=PathArg(dir_okay=False),
    help="Weights file to write (.safetensors).",
)
@click.option("--model", default=None, help="Base model id or name (default: the bundled model).")
@click.option("--weights", type=PathArg(dir_okay=False), default=None, help="Base weights file.")
@click.option("--name", default=None, help="Name of the new model (default: OUTPUT's stem).")
@click.option("--time", "time_budget", default=None, help="Budget (e.g. 10m; default 5m).")
@click.option("--steps", type=int, default=None, help="Budget in steps.")
@click.option(
    "--blocks",
    default="all",
    help="Last residual blocks tuned, with body conv, upsampler and tail (default all).",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads.")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@progress_option
def adapt(
    source: str,
    output: str,
    model: str | None,
    weights: str | None,
    name: str | None,
    time_budget: str | None,
    steps: int | None,
    blocks: str,
    threads: int | None,
    force: bool,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Tune a model to one camera's footage (SOURCE: a folder of frames or a video) and write
    it as a full weights file: 'encode --weights OUTPUT' (or --model NAME once installed)
    then makes archives of that camera that need no update."""
    from ..atomic import exists_error
    from ..inputs import read_images
    from ..models.store import DEFAULT_MODEL, get_model, inspect_weights
    from ..training.adapt import adapt_camera

    if Path(output).exists() and not force:
        raise exists_error(Path(output))
    if blocks != "all" and not blocks.isdigit():
        raise SrcodecError(f"--blocks takes a number or 'all', not {blocks!r}")
    info = inspect_weights(weights) if weights else get_model(model or DEFAULT_MODEL)
    cfg = adapt_config(time_budget, steps, None if blocks == "all" else int(blocks))
    cfg.threads = threads
    new, r = adapt_camera(
        info,
        read_images(source),
        output,
        cfg,
        name=name or Path(output).stem,
        source=str(source),
        progress=show_progress(progress, quiet),
    )
    click.echo(
        f"{output}: model {new.short_id} tuned from {info.short_id}: "
        f"{r.gain_db:+.2f} dB RGB / {r.gain_y_db:+.2f} dB Y on held-back frames "
        f"({r.base['psnr_rgb']:.2f} -> {r.tuned['psnr_rgb']:.2f} dB), {r.steps} steps in "
        f"{r.seconds:.0f} s"
    )
