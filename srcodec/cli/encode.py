"""``srcodec encode``: frames, folders or a video into an archive (lossless, or lossy with
--quality / --bpp), appended to one, or many inputs on Dask.
"""

from __future__ import annotations

from pathlib import Path

import click

from .. import display
from ..errors import SrcodecError
from ..models.store import short_id
from .adapt import adapt_config, adapt_line
from .common import (
    PathArg,
    PositionArg,
    files_option,
    parallel_options,
    progress_option,
    run_many,
    show_name,
    show_progress,
)


def _summary_line(s) -> str:
    whole = f" (archive now {s.archive_bytes:,} bytes)" if s.added_bytes != s.archive_bytes else ""
    return (
        f"{display.count(s.frames, 'frame')}, {s.input_bytes:,} input bytes -> "
        f"{s.added_bytes:,} archive bytes ({display.ratio(s.input_bytes, s.added_bytes)}){whole} "
        f"with model {short_id(s.model_id)}"
    )


@click.command()
@click.argument("sources", nargs=-1, required=True, type=PathArg())
@click.option(
    "-o",
    "--output",
    required=True,
    type=PathArg(),
    help="Archive to write (.src); with --workers/--scheduler, the folder for one archive per "
    "source.",
)
@click.option(
    "--model", default=None, help="Model id or name decoders must use (default: the bundled model)."
)
@files_option("--weights", "A weights file to use as the model (repeatable).")
@click.option(
    "--codec",
    "codec_id",
    default=None,
    help="Low-resolution codec (x264, x265, ffv1 in groups; jxl, webp, zstd, png per frame). "
    "Default: x264 for a video or frames that look like a sequence, else jxl.",
)
@click.option(
    "--group",
    type=click.IntRange(1, 4096),
    default=None,
    help="Frames per group (one stream each) of a stream codec (default 64; lossy: 300).",
)
@click.option(
    "--start",
    type=PositionArg(),
    default=None,
    help="Video input: first frame (number, or time: 12.5s).",
)
@click.option(
    "--end", type=PositionArg(), default=None, help="Video input: frame or time to stop before."
)
@click.option(
    "--every", type=click.IntRange(min=1), default=1, help="Video input: keep every N-th frame."
)
@click.option(
    "--level",
    type=int,
    default=None,
    help="Size/speed level of the codec (jxl effort 1-10, webp method 0-6, zstd level 1-22, "
    "png level 0-9).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing archive.")
@click.option(
    "--append",
    "append",
    is_flag=True,
    help="Add the frames to the existing archive OUTPUT (with its model and codec).",
)
@click.option("--skip-bad", is_flag=True, help="Skip unreadable frames and report them.")
@click.option(
    "--adapt",
    "adapt",
    is_flag=True,
    help="Tune the model on these frames and store the update in the archive, if it pays.",
)
@click.option("--adapt-time", default=None, help="Tuning budget (e.g. 300, 90s, 5m; default 5m).")
@click.option(
    "--adapt-steps", type=click.IntRange(min=0), default=None, help="Tuning budget in steps."
)
@click.option(
    "--adapt-rank",
    type=click.IntRange(min=0),
    default=None,
    help="0 (default): every tensor tuned, its update quantised to fit 3 % of the archive; "
    "R > 0: low-rank (rank R) updates of every conv.",
)
@click.option(
    "--quality",
    type=click.FloatRange(0, 100),
    default=None,
    help="Lossy archive at this quality (0-100: AV1 CRF 63-1; with --codec hevc, x265 CRF "
    "51-0): the candidate (base codec, x1 restoration, x2 super-resolution) with the best PSNR "
    "at that rate wins.",
)
@click.option(
    "--bpp",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Lossy archive at this many bits per pixel: each candidate's quality setting (x265: "
    "CRF) is searched for it. --codec hevc codes x265 instead of AV1, --codec avif AVIF stills.",
)
@progress_option
@parallel_options
def encode(
    sources: tuple[str, ...],
    output: str,
    model: str | None,
    weights: tuple[str, ...],
    codec_id: str | None,
    group: int | None,
    start: str | None,
    end: str | None,
    every: int,
    level: int | None,
    force: bool,
    append: bool,
    skip_bad: bool,
    adapt: bool,
    adapt_time: str | None,
    adapt_steps: int | None,
    adapt_rank: int | None,
    quality: float | None,
    bpp: float | None,
    progress: bool | None,
    quiet: bool,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Encode frames (a folder, image files, or one video) into one archive; with --workers or
    --scheduler, each SOURCE (a folder) into its own archive in the folder -o. With --quality
    or --bpp, a lossy archive (srcodec.archive.lossywriter)."""
    show = show_progress(progress, quiet)
    lossy = quality is not None or bpp is not None
    if lossy and (append or workers or scheduler or level is not None or skip_bad):
        raise SrcodecError(
            "--quality/--bpp write one new lossy archive: they do not go with --append, "
            "--workers, --scheduler, --level or --skip-bad"
        )
    from ..archive.writer import DEFAULT_CODEC
    from ..archive.writer import append as append_archive
    from ..archive.writer import encode as encode_archive
    from ..errors import FrameError
    from ..lowres import codec_class
    from ..video import is_video

    # No --codec: chosen by the input (srcodec.archive.autocodec); --level alone keeps meaning
    # jxl's.
    codec: dict | None = {"id": codec_id or DEFAULT_CODEC} if codec_id or level else None
    if codec is not None and level is not None:
        param = codec_class(codec["id"]).level_param
        if param is None:
            raise SrcodecError(f"codec {codec['id']} has no --level")
        codec[param] = level
    video = {"start": start, "end": end, "every": every}
    if group is not None:  # else the library's default for the mode
        video["group"] = group
    if workers or scheduler:
        if append:
            raise SrcodecError("--append does not go with --workers/--scheduler")
        # Each source becomes its own plain archive: options a worker would not carry out are
        # refused rather than dropped in silence.
        unused = [flag for flag, given in (("--adapt", adapt), ("--start", start is not None),
                  ("--end", end is not None), ("--every", every != 1)) if given]  # fmt: skip
        if unused:
            verb = "does" if len(unused) == 1 else "do"
            raise SrcodecError(f"{', '.join(unused)} {verb} not go with --workers/--scheduler")
        options = {"model": model, "weights": weights, "codec": codec, "skip_bad": skip_bad}
        if group is not None:
            options["group"] = group
        return run_many("encode", sources, output, workers, scheduler, force=force, **options)
    if Path(output).is_dir():
        raise SrcodecError(f"{output} is a folder; -o names the archive to write")
    if len(sources) > 1 and any(is_video(s) for s in sources):
        raise click.UsageError(
            "encode writes one video per archive: give one video, or several with --workers N "
            "(one archive each)"
        )
    if group is not None and (codec_id or lossy):
        _check_group_codec(codec_id, lossy)
    if len(sources) == 1 and (Path(sources[0]).is_dir() or is_video(sources[0])):
        frames: str | list[str] = sources[0]
    else:
        folders = [s for s in sources if Path(s).is_dir()]
        if folders:
            raise FrameError(f"{folders[0]}: give one folder, or image files, not both")
        frames = list(sources)
    if (adapt_time, adapt_steps, adapt_rank) != (None, None, None) and not adapt:
        raise SrcodecError("--adapt-time, --adapt-steps and --adapt-rank go with --adapt")
    adapt_cfg = adapt_config(adapt_time, adapt_steps, rank=adapt_rank) if adapt else None
    if lossy:
        return _encode_lossy(
            frames, output, quality, bpp, model, weights, codec_id, force, show, video, adapt_cfg
        )
    if append:
        if adapt:
            raise SrcodecError("--adapt makes a new archive; it does not go with --append")
        if force:
            raise SrcodecError("--append and --force do not go together")
        if not Path(output).is_file():
            raise SrcodecError(f"{output}: no such archive to append to")
        s = append_archive(
            frames,
            output,
            model=model,
            weights=weights,
            codec=codec,
            skip_bad=skip_bad,
            **video,
            progress=show,
        )
    else:
        s = encode_archive(
            frames,
            output,
            model=model,
            weights=weights,
            codec=codec,
            force=force,
            skip_bad=skip_bad,
            progress=show,
            adapt=adapt_cfg,
            **video,
        )
    for name, why in s.skipped:
        click.echo(f"skipped {show_name(name)}: {why}", err=True)
    if s.adapted is not None:
        click.echo(adapt_line(s.adapted))
    click.echo(f"{output}: {'appended ' if append else ''}{_summary_line(s)}")


def _check_group_codec(codec_id: str | None, lossy: bool) -> None:
    """--group goes with a codec that codes groups; refused with one that codes each frame
    alone (it would do nothing)."""
    from ..archive.lossywriter import LOSSY_CODEC, lossy_class
    from ..lowres import StreamCodec, codec_class

    cls = lossy_class(codec_id or LOSSY_CODEC) if lossy else codec_class(codec_id)
    if not issubclass(cls, StreamCodec):
        raise click.UsageError(
            f"--group: codec {cls.codec_id} codes each frame alone; --group goes with a stream "
            "codec (x264, x265, ffv1; lossy: av1, hevc)"
        )


def _encode_lossy(
    frames, output, quality, bpp, model, weights, codec_id, force, show, video, adapt
) -> None:
    """``encode --quality/--bpp``: a lossy archive (srcodec.archive.lossywriter), the trials on
    stderr."""
    from ..archive.lossywriter import LOSSY_CODEC, encode_lossy, lossy_class

    codec = codec_id or LOSSY_CODEC
    param = lossy_class(codec).quality_param
    s = encode_lossy(
        frames,
        output,
        quality=quality,
        bpp=bpp,
        weights=weights,
        model=model,
        codec=codec,
        force=force,
        progress=show,
        adapt=adapt,
        **video,
    )
    for t in s.trials:
        shown = short_id(t.model) if "@" in t.model else t.model
        if t.skipped:
            click.echo(
                f"candidate {t.candidate} (x{t.scale}, {shown}): not measured: {t.skipped}",
                err=True,
            )
            continue
        measured = "not measured (the only candidate)" if len(s.trials) == 1 else display.db(t.psnr)
        plate = "" if t.plate is None else " (scene plate: luma {:g}, chroma {:g})".format(*t.plate)
        click.echo(
            f"candidate {t.candidate} (x{t.scale}, {shown}): {param} {t.setting}, "
            f"{t.bpp:.4f} bpp, {measured}{plate} on the first frames",
            err=True,
        )
    if s.adapted is not None:
        click.echo(adapt_line(s.adapted) if s.adapted.steps else f"adapt: {s.adapted.reason}")
    target = f", target {bpp:g}" if bpp is not None else ""
    click.echo(
        f"{output}: {display.count(s.frames, 'frame')}, {s.archive_bytes:,} bytes "
        f"({s.bpp:.4f} bpp{target}), lossy "
        f"{s.chosen.candidate} (x{s.chosen.scale}, {param} {s.chosen.setting}) with model "
        f"{short_id(s.model_id) if '@' in s.model_id else s.model_id}"
    )
