"""``srcodec decode``: restore archives to a folder of PNGs or a video file."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import click

from .. import display
from ..engines.tiling import MIN_TILE
from .common import (
    DEVICE,
    EXIT_DAMAGED,
    PathArg,
    check_threads,
    files_option,
    parallel_options,
    progress_option,
    run_many,
    show_name,
    show_progress,
)


@click.command()
@click.argument("archive", nargs=-1, required=True, type=PathArg(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=PathArg(),
    help="Folder for the restored PNGs (default: the archive's name), or a video file (.mkv, "
    ".mp4) to write the restored footage to; with --workers/--scheduler, the folder for one "
    "folder per archive.",
)
@click.option(
    "--video-codec",
    type=click.Choice(["ffv1", "x264", "x265", "av1"]),
    default=None,
    help="Video output: codec (default lossless: ffv1 in .mkv, x264 qp 0 in .mp4).",
)
@click.option(
    "--crf", type=click.IntRange(0, 63), default=None, help="Video output: lossy, at this CRF."
)
@files_option("--weights", "Weights file of the archive's model, if not installed (repeatable).")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["auto", "torch", "onnx"]),
    default="auto",
    show_default=True,
    help="onnx: ONNX Runtime on the CPU (the model's ONNX export); torch: PyTorch, CPU or GPU; "
    "auto: torch on a GPU, else onnx when installed and exported, else torch.",
)
@click.option(
    "--int8",
    is_flag=True,
    help="Run the int8 ONNX model: several times faster on the CPU, not bit-identical.",
)
@click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="CPU threads for the network."
)
@click.option("--bicubic", is_flag=True, help="Fast preview: bicubic upscale, no network.")
@click.option(
    "--tile",
    type=click.IntRange(min=MIN_TILE),
    default=None,
    help=f"Tile size in low-resolution pixels (at least {MIN_TILE}).",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "int8", "fp16", "bf16"]),
    default="fp32",
    show_default=True,
    help="Network arithmetic: int8 = --int8; fp16/bf16 on CUDA GPUs (1-2 grey levels from fp32).",
)
@click.option(
    "--self-ensemble",
    is_flag=True,
    help="Average the 8 flips/rotations (EDSR+): a little more PSNR, 8 times slower.",
)
@click.option("--force", is_flag=True, help="Overwrite existing files in the output folder.")
@progress_option
@parallel_options
def decode(
    archive: tuple[str, ...],
    output: str | None,
    weights: tuple[str, ...],
    device: str,
    engine: str,
    int8: bool,
    threads: int | None,
    bicubic: bool,
    tile: int | None,
    precision: str,
    self_ensemble: bool,
    force: bool,
    progress: bool | None,
    quiet: bool,
    workers: int | None,
    scheduler: str | None,
    video_codec: str | None,
    crf: int | None,
) -> None:
    """Restore every frame of ARCHIVE to its original size, as PNG files, or as a video at the
    archive's frame rate (10 fps if none is recorded) when -o names a video file (several
    archives, one task each, with --workers or --scheduler).

    Exit status 3 if the archive is damaged: every intact frame is still written (a video
    leaves damaged frames out) and every lost or damaged one is named on stderr.
    """
    from ..archive.tofolder import decode_to_folder
    from ..archive.tovideo import decode_to_video
    from ..video import is_video

    check_threads(threads)

    if int8 and precision != "fp32":
        raise click.UsageError("--int8 is --precision int8: give one of them")
    if workers or scheduler:
        if output is None:
            raise click.UsageError("--workers/--scheduler need -o, the folder for the results")
        return run_many(
            "decode", archive, output, workers, scheduler, force=force, weights=weights,
            device=device, bicubic=bicubic, tile=tile, engine=engine, self_ensemble=self_ensemble,
            precision="int8" if int8 else precision, threads=threads or 1,
        )  # fmt: skip
    if len(archive) > 1:
        raise click.UsageError("several archives need --workers N or --scheduler ADDRESS")
    archive = archive[0]
    to_video = output is not None and is_video(output)
    if (video_codec or crf is not None) and not to_video:
        raise click.UsageError("--video-codec and --crf go with a video output (-o out.mkv)")
    if crf is not None:
        _check_crf(output, video_codec, crf)
    if to_video:
        restore = partial(decode_to_video, video_codec=video_codec, crf=crf)
    else:
        restore = partial(decode_to_folder, progress=show_progress(progress, quiet))
    s = restore(
        archive,
        output,
        force=force,
        weights=weights,
        device=device,
        bicubic=bicubic,
        tile=tile,
        engine=engine,
        precision="int8" if int8 else precision,
        threads=threads,
        self_ensemble=self_ensemble,
    )
    for name, why in s.damaged:
        click.echo(f"damaged {show_name(name)}: {why}" if name else f"damaged: {why}", err=True)
    # A loss without a name is damage no frame owns (an unusable index, a byte range): not a
    # frame to count among those skipped.
    frames = sum(1 for name, _ in s.damaged if name is not None)
    regions = len(s.damaged) - frames
    click.echo(
        f"{archive}: {display.count(len(s.written), 'frame')} restored into {s.folder}"
        + (f" at {_fps(archive)} fps" if to_video else "")
        + (f", {display.count(frames, 'damaged frame')} skipped" if frames else "")
        + (f", {regions} other damage (above)" if regions else "")
    )
    if s.damaged:
        sys.exit(EXIT_DAMAGED)


def _check_crf(output: str, video_codec: str | None, crf: int) -> None:
    """--crf needs a codec with a lossy mode, in its CRF range (a usage error otherwise)."""
    from ..archive.tovideo import LOSSLESS_BY_SUFFIX
    from ..video import VIDEO_CODECS

    codec = video_codec or LOSSLESS_BY_SUFFIX.get(Path(output).suffix.lower(), "ffv1")
    spec = VIDEO_CODECS[codec]
    if spec.lossy_encoder is None:
        raise click.UsageError(
            f"--crf: video codec {codec} is lossless only; give --video-codec x264, x265 or av1"
        )
    low, high = spec.crf_range
    if not low <= crf <= high:
        raise click.UsageError(f"--crf of video codec {codec} is {low}..{high}, not {crf}")


def _fps(archive: str) -> str:
    from ..archive.filereader import ArchiveReader
    from ..frametimes import DEFAULT_FPS, archive_fps

    with ArchiveReader(archive) as reader:
        fps = archive_fps(reader.header) or DEFAULT_FPS
    return display.fps(fps)
