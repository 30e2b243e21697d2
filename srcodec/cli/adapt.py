"""``srcodec adapt``: tune a model to one camera's footage (and the tuning budget that
``encode --adapt`` shares).
"""

from __future__ import annotations

from pathlib import Path

import click

from .. import display
from ..errors import SrcodecError
from ..models.plain import PLATE_ENTRIES, PLATE_ENTRY
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

    seconds = parse_duration(time_budget) if time_budget is not None else None
    if seconds is None and steps is None:
        seconds = 300.0
    rank = AdaptConfig.rank if rank is None else rank
    return AdaptConfig(blocks=blocks, rank=rank, seconds=seconds, steps=steps)


def adapt_line(r) -> str:
    """What tuning gained on the held-back frames, and whether the update was kept."""
    if not r.held_back:  # it could not start (frames too small): nothing was measured
        return f"adapt: general model kept: {r.reason}"
    gain = (
        f"{display.db_gain(r.gain_db)} RGB / {display.db_gain(r.gain_y_db)} Y on "
        f"{display.count(len(r.held_back), 'held-back frame')} ({display.db(r.base['psnr_rgb'])} "
        f"-> {display.db(r.tuned['psnr_rgb'])}), {display.count(r.steps, 'step')} in "
        f"{r.seconds:.0f} s"
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
@click.option("--camera", default=None, help="The camera's name, kept in the model's card.")
@click.option(
    "--codec",
    "codec_id",
    default=None,
    help="Tune on the footage as this lossy codec decodes it (av1, hevc): for x2 models of lossy "
    "archives; x1 models default to the codec they were trained on.",
)
@click.option(
    "--quality-range",
    default=None,
    help="Lossy: the --quality span (A:B) the footage is coded across (default 0:75).",
)
@click.option("--time", "time_budget", default=None, help="Budget (e.g. 10m; default 5m).")
@click.option("--steps", type=click.IntRange(min=0), default=None, help="Budget in steps.")
@click.option(
    "--blocks",
    default="all",
    help="Last residual blocks tuned, with body conv, upsampler and tail, and the weights "
    "that take the scene plate in, if the network sees it (default all).",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads.")
@click.option(
    "--plate-input/--no-plate-input",
    default=True,
    help="Lossy x1: the network learns to see the camera's scene plate beside each frame "
    "(default), or is tuned on the frames alone and only blended towards the plate.",
)
@click.option(
    "--plate-entry",
    type=click.Choice(PLATE_ENTRIES),
    default=PLATE_ENTRY,
    show_default=True,
    help="With --plate-input: where the network sees the plate: its first layer (head: "
    "decodes as fast as the model tuned from), or a small branch of its own (about 20 % "
    "slower; docs/profiles.md compares them).",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@progress_option
def adapt(
    source: str,
    output: str,
    model: str | None,
    weights: str | None,
    name: str | None,
    camera: str | None,
    codec_id: str | None,
    quality_range: str | None,
    time_budget: str | None,
    steps: int | None,
    blocks: str,
    threads: int | None,
    plate_input: bool,
    plate_entry: str,
    force: bool,
    progress: bool | None,
    quiet: bool,
) -> None:
    """Tune a model to one camera's footage (SOURCE: a folder of frames, a video, or the
    recording of one camera: 'srcodec record' segments, in time order) and write it as a camera
    profile (a full weights file): 'encode --weights OUTPUT' (or --model NAME once installed)
    then makes archives of that camera that need no update. An x1 model (or an x2 one with
    --codec) is tuned on the footage as the lossy codec decodes it, across the --quality span;
    the gain printed is measured on the footage's last tenth, later than every frame tuned on,
    against the model it was tuned from."""
    from ..archive.profile import make_profile, parse_quality_range, plan_profile, profile_config
    from ..atomic import exists_error
    from ..models.store import DEFAULT_MODEL, get_model, inspect_weights
    from ..training.adaptconfig import split_setting

    if Path(output).exists() and not force:
        raise exists_error(Path(output))
    if blocks != "all" and not blocks.isdigit():
        raise SrcodecError(f"--blocks takes a number or 'all', not {blocks!r}")
    span = parse_quality_range(quality_range) if quality_range is not None else None
    info = inspect_weights(weights) if weights else get_model(model or DEFAULT_MODEL)
    plan = plan_profile(info, codec_id, span)
    cfg = adapt_config(time_budget, steps, None if blocks == "all" else int(blocks))
    cfg.threads = threads
    cfg = profile_config(cfg, plan)
    new, r, _ = make_profile(
        info,
        recording_footage(Path(source)) or source,
        output,
        cfg,
        plan=plan,
        name=name or Path(output).stem,
        camera=camera or "",
        progress=show_progress(progress, quiet),
        see_plate=plate_input,
        plate_entry=plate_entry,
    )
    plate = new.card.get("plate")
    seen = ""
    if plate:
        which = "seen by the network and " if new.config.sees_plate else ""
        seen = (
            f"; scene plate (from the {display.count(plate['frames'], 'frame')} tuned on), "
            f"{which}blended towards: {display.db_gain(plate['gain_db'])} RGB more on them"
        )
    if r is None:  # the network did not gain: the general one with the camera's plate
        click.echo(
            f"{output}: model {new.short_id}, {info.short_id} untuned ({plan.describe()}: "
            f"tuning did not gain on the later frames){seen}"
        )
        return
    frames = len({split_setting(n)[0] for n in r.held_back})
    by_setting = " / ".join(
        f"{setting} {display.db_gain(rgb)}" for setting, (rgb, _) in r.gains_by_setting().items()
    )
    click.echo(
        f"{output}: model {new.short_id} tuned from {info.short_id} ({plan.describe()}): "
        f"{display.db_gain(r.gain_db)} RGB / {display.db_gain(r.gain_y_db)} Y on "
        f"{display.count(frames, 'later frame')} held back ({display.db(r.base['psnr_rgb'])} -> "
        f"{display.db(r.tuned['psnr_rgb'])}"
        + (f"; RGB by setting: {by_setting}" if by_setting else "")
        + f"), {display.count(r.steps, 'step')} in {r.seconds:.0f} s{seen}"
    )


def recording_footage(path: Path):
    """``path`` as footage if it is a camera's recording (a folder of ``srcodec record``
    segments, or a recording folder of one camera): every frame in time order, as the
    recording decodes it (lossless segments: the x2 model's full-size restorations), named by
    its reception time; None for anything else."""
    from ..archive.profile import Footage
    from ..recording.index import Recording
    from ..recording.segments import list_segments

    if not path.is_dir():
        return None
    if not list_segments(path) and not any(list_segments(p) for p in path.iterdir() if p.is_dir()):
        return None
    recording = Recording(path)
    count = sum(s.frames for s in recording.segments)

    def frames():
        return ((t.isoformat(), frame) for t, frame in recording.frames())

    return Footage(count, frames, f"recording {recording.folder}")
