"""The ``srcodec`` command line: encode, decode, info, verify, recover, models and train. User
errors are one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from functools import partial
from pathlib import Path

import click

from .errors import SrcodecError
from .export import RECIPES
from .registry import short_id
from .tiling import MIN_TILE

DEVICE = click.Choice(["auto", "cpu", "cuda"])

#: Exit statuses. Damage has its own, so a script can tell "some frames are lost" from a usage
#: mistake (Click's 2) or any other error.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DAMAGED = 3
EXIT_STATUSES = (
    "Exit status: 0 success; 1 error; 2 usage error; 3 the archive is damaged (every intact "
    "frame was still handled, the damaged ones are named on stderr)."
)


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


def _show_progress(progress: bool | None, quiet: bool) -> bool:
    if quiet:
        return False
    return sys.stderr.isatty() if progress is None else progress


def _check_threads(threads: int | None) -> None:
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores:
        click.echo(
            f"srcodec: warning: --threads {threads} is more than this machine's {cores} cores; "
            "expect it to be slower, not faster",
            err=True,
        )


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
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


@click.group(cls=_Group, epilog=EXIT_STATUSES)
@click.version_option(package_name="srcodec")
def main() -> None:
    """Archive camera frames at half resolution; restore them with an EDSR x2 network."""


@main.command()
@files_option("--weights", "Also list this weights file (repeatable).")
@files_option("--install", "Copy this weights file into the user directory (repeatable).")
@click.option(
    "--export-onnx",
    "export",
    multiple=True,
    metavar="MODEL",
    help="Export this model (id, name or weights file) to ONNX for the onnx engine (repeatable).",
)
@click.option("--int8", is_flag=True, help="With --export-onnx: also write the int8 model.")
@click.option(
    "--calibration",
    multiple=True,
    type=click.Path(exists=True),
    help="Frames (folder or video) to calibrate the int8 model on; real frames, never the "
    "evaluation ones (repeatable).",
)
@click.option(
    "--int8-recipe",
    type=click.Choice(list(RECIPES)),
    default=None,
    help="With --int8: how to quantize (default: percentile ranges calibrated on the frames and "
    "their smooth, dark and bright variants, last layer and upsampler in float; minmax: "
    "min-max ranges, first layer in float too; legacy: before issue 15).",
)
@click.option(
    "--onnx-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the ONNX files (default: the user model directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models(
    weights: tuple[str, ...],
    install: tuple[str, ...],
    export: tuple[str, ...],
    int8: bool,
    calibration: tuple[str, ...],
    int8_recipe: str | None,
    onnx_dir: str | None,
    as_json: bool,
) -> None:
    """List the installed models (bundled, user directory, and --weights files), with their
    ONNX exports; install weights files, or export models to ONNX."""
    from .registry import PRECISIONS, find_onnx, install_model, list_models, user_dir

    for path in install:
        info = install_model(path)
        click.echo(f"installed {info.short_id} as {info.path}", err=as_json)
    if (int8 or calibration or int8_recipe or onnx_dir) and not export:
        raise SrcodecError(
            "--int8, --calibration, --int8-recipe and --onnx-dir go with --export-onnx"
        )
    for spec in export:
        from .export import export_model
        from .registry import inspect_weights, resolve

        info = inspect_weights(spec) if Path(spec).is_file() else resolve(spec, list(weights))
        for path in export_model(
            info,
            onnx_dir,
            int8=int8,
            calibration=calibration,
            recipe=int8_recipe or "default",
        ):
            click.echo(f"exported {info.short_id} to {path}", err=as_json)
    found = list_models(list(weights))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": m.id,
                        "name": m.name,
                        "sha256": m.sha256,
                        "family": m.family,
                        "scale": m.scale,
                        "architecture": m.config.to_dict(),
                        "source": m.source,
                        "path": str(m.path),
                        "val_psnr_rgb": m.card.get("validation", {}).get("psnr_rgb"),
                        "onnx": {p: _str_or_none(find_onnx(m, p)) for p in PRECISIONS},
                    }
                    for m in found
                ],
                indent=2,
            )
        )
        return
    if not found:
        click.echo(f"no models installed (user directory: {user_dir()})")
    for m in found:
        val = m.card.get("validation", {})
        psnr = f"val {val['psnr_rgb']:.2f} dB (bicubic {val['bicubic_rgb']:.2f})" if val else ""
        click.echo(f"{m.short_id:40s} {m.config.name:18s} {m.source:8s} {psnr}")
        click.echo(f"    {m.path}")
        for p in PRECISIONS:
            onnx = find_onnx(m, p)
            if onnx:
                click.echo(f"    onnx {p}: {onnx}")


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _train_config_options(command):
    """One option per ``TrainConfig`` field, its default, type and help taken from the dataclass
    (the one list of training defaults)."""
    from dataclasses import MISSING, fields

    from .trainconfig import TrainConfig

    for f in reversed(fields(TrainConfig)):
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        kind = meta.get("type", type(f.default))
        if "choices" in meta:
            kind = click.Choice(meta["choices"])
        elif "range" in meta:
            kind = click.FloatRange(*meta["range"])
        show = f.default is not MISSING and f.default not in ("", None)
        if kind is bool:
            decl, kind = f"{flag}/--no-{flag[2:]}", None
        else:
            decl = flag
        command = click.option(
            decl, f.name, type=kind, default=f.default, show_default=show, help=meta.get("help")
        )(command)
    return command


@main.command()
@click.argument("hr", type=click.Path(exists=True))
@click.option(
    "--val",
    "val",
    required=True,
    type=click.Path(),
    help="Validation images (folder or video), never trained on.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the best model (.safetensors).",
)
@_train_config_options
@click.option("--init", default=None, help="Start from this model (id or weights file): fine-tune.")
@click.option(
    "--resume",
    type=click.Path(exists=True, dir_okay=False),
    help="Continue from a checkpoint (<output>.ckpt).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing OUTPUT and its checkpoint.")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option(
    "--tensorboard",
    "log_dir",
    type=click.Path(file_okay=False),
    help="Write TensorBoard logs here.",
)
@click.option(
    "--time-limit",
    type=float,
    default=None,
    help="Stop after this many minutes (with a final validation).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar (validations still print).")
def train(
    hr: str,
    val: str,
    output: str,
    init: str | None,
    resume: str | None,
    force: bool,
    device: str,
    threads: int | None,
    log_dir: str | None,
    time_limit: float | None,
    quiet: bool,
    **options,
) -> None:
    """Train an x2 model (EDSR, or another --family) on HR images (folder or video); write the
    best to OUTPUT."""
    try:
        import torch
    except ImportError:
        raise SrcodecError("srcodec train needs PyTorch: pip install 'srcodec[torch]'") from None

    from .trainconfig import TrainConfig
    from .training import train as run

    try:
        cfg = TrainConfig(**options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    if threads:
        torch.set_num_threads(threads)
    result = run(
        hr,
        val,
        output,
        config=cfg,
        init=init,
        resume=resume,
        device=device,
        log_dir=log_dir,
        time_limit=time_limit * 60 if time_limit else None,
        progress=not quiet,
        command=shlex.join(["srcodec", *sys.argv[1:]]),
        force=force,
    )
    if result.best is None:
        raise SrcodecError("training ended before the first validation; nothing written")
    v = result.best.card["validation"]
    click.echo(
        f"best model {result.best.short_id} -> {Path(output)}: "
        f"{v['psnr_rgb']:.2f} dB RGB / {v['psnr_y']:.2f} dB Y "
        f"(bicubic {v['bicubic_rgb']:.2f} / {v['bicubic_y']:.2f}) "
        f"at step {result.best.card['training']['steps']}"
    )


def _summary_line(s) -> str:
    whole = f" (archive now {s.archive_bytes:,} bytes)" if s.added_bytes != s.archive_bytes else ""
    return (
        f"{s.frames} frames, {s.input_bytes:,} input bytes -> {s.added_bytes:,} archive "
        f"bytes ({s.ratio:.2f}x smaller){whole} with model {short_id(s.model_id)}"
    )


@main.command()
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
    help="Frames per group (one stream each) of a stream codec (default 64; lossy: 60).",
)
@click.option("--start", default=None, help="Video input: first frame (number, or time: 12.5s).")
@click.option("--end", default=None, help="Video input: frame or time to stop before.")
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
@click.option("--adapt-steps", type=int, default=None, help="Tuning budget in steps.")
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
    or --bpp, a lossy archive (srcodec.ratecontrol)."""
    show = _show_progress(progress, quiet)
    lossy = quality is not None or bpp is not None
    if lossy and (append or workers or scheduler or model or level is not None or skip_bad):
        raise SrcodecError(
            "--quality/--bpp write one new lossy archive: they do not go with --append, "
            "--workers, --scheduler, --model, --level or --skip-bad"
        )
    from .errors import FrameError
    from .lowres import codec_class
    from .video import is_video
    from .writer import DEFAULT_CODEC
    from .writer import append as run_append
    from .writer import encode as run

    # No --codec: chosen by the input (srcodec.autocodec); --level alone keeps meaning jxl's.
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
        return _run_many("encode", sources, output, workers, scheduler, force=force, **options)
    if Path(output).is_dir():
        raise SrcodecError(f"{output} is a folder; -o names the archive to write")
    if len(sources) == 1 and (Path(sources[0]).is_dir() or is_video(sources[0])):
        frames: str | list[str] = sources[0]
    else:
        folders = [s for s in sources if Path(s).is_dir()]
        if folders:
            raise FrameError(f"{folders[0]}: give one folder, or image files, not both")
        frames = list(sources)
    if (adapt_time, adapt_steps, adapt_rank) != (None, None, None) and not adapt:
        raise SrcodecError("--adapt-time, --adapt-steps and --adapt-rank go with --adapt")
    adapt_cfg = _adapt_config(adapt_time, adapt_steps, rank=adapt_rank) if adapt else None
    if lossy:
        return _encode_lossy(
            frames, output, quality, bpp, weights, codec_id, force, show, video, adapt_cfg
        )
    if append:
        if adapt:
            raise SrcodecError("--adapt makes a new archive; it does not go with --append")
        if force:
            raise SrcodecError("--append and --force do not go together")
        if not Path(output).is_file():
            raise SrcodecError(f"{output}: no such archive to append to")
        s = run_append(
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
        s = run(
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
        click.echo(f"skipped {_show(name)}: {why}", err=True)
    if s.adapted is not None:
        click.echo(_adapt_line(s.adapted))
    click.echo(f"{output}: {'appended ' if append else ''}{_summary_line(s)}")


def _encode_lossy(
    frames, output, quality, bpp, weights, codec_id, force, show, video, adapt
) -> None:
    """``encode --quality/--bpp``: a lossy archive (srcodec.ratecontrol), the trials on stderr."""
    from .ratecontrol import LOSSY_CODEC, encode_lossy, lossy_class

    codec = codec_id or LOSSY_CODEC
    param = lossy_class(codec).quality_param
    s = encode_lossy(
        frames,
        output,
        quality=quality,
        bpp=bpp,
        weights=weights,
        codec=codec,
        force=force,
        progress=show,
        adapt=adapt,
        **video,
    )
    for t in s.trials:
        click.echo(
            f"candidate {t.candidate} (x{t.scale}, {t.model}): {param} {t.setting}, "
            f"{t.bpp:.4f} bpp, {t.psnr:.2f} dB on the first group",
            err=True,
        )
    if s.adapted is not None:
        click.echo(_adapt_line(s.adapted) if s.adapted.steps else f"adapt: {s.adapted.reason}")
    click.echo(
        f"{output}: {s.frames} frames, {s.archive_bytes:,} bytes ({s.bpp:.4f} bpp), lossy "
        f"{s.chosen.candidate} (x{s.chosen.scale}, {param} {s.chosen.setting}) with model "
        f"{short_id(s.model_id) if '@' in s.model_id else s.model_id}"
    )


def _show(name: str) -> str:
    """A frame name fit for the terminal: quoted if it holds control characters."""
    return name if name.isprintable() else repr(name)


@main.command()
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
    from .tofolder import decode_to_folder
    from .tovideo import decode_to_video
    from .video import is_video

    _check_threads(threads)

    if int8 and precision != "fp32":
        raise click.UsageError("--int8 is --precision int8: give one of them")
    if workers or scheduler:
        if output is None:
            raise click.UsageError("--workers/--scheduler need -o, the folder for the results")
        return _run_many(
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
    if to_video:
        run = partial(decode_to_video, video_codec=video_codec, crf=crf)
    else:
        run = partial(decode_to_folder, progress=_show_progress(progress, quiet))
    s = run(
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
        click.echo(f"damaged {_show(name)}: {why}" if name else f"damaged: {why}", err=True)
    # A loss without a name is damage no frame owns (an unusable index, a byte range): not a
    # frame to count among those skipped.
    frames = sum(1 for name, _ in s.damaged if name is not None)
    regions = len(s.damaged) - frames
    click.echo(
        f"{archive}: {len(s.written)} frames restored into {s.folder}"
        + (f" at {_fps(archive)} fps" if to_video else "")
        + (f", {frames} damaged frames skipped" if frames else "")
        + (f", {regions} other damage (above)" if regions else "")
    )
    if s.damaged:
        sys.exit(EXIT_DAMAGED)


def _fps(archive: str) -> str:
    from .container import ArchiveReader
    from .timing import DEFAULT_FPS, archive_fps

    with ArchiveReader(archive) as reader:
        fps = archive_fps(reader.header) or DEFAULT_FPS
    return f"{float(fps):g}"


@main.command()
@click.argument("archive", type=PathArg(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--frames", "show_frames", is_flag=True, help="List every frame.")
def info(archive: str, as_json: bool, show_frames: bool) -> None:
    """Describe an archive: header, model, codec, frames and sizes."""
    from .archive import open as open_archive

    with open_archive(archive) as a:
        d = a.info()
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(
        f"archive      {d['path']} ({d['file_bytes']:,} bytes, format {d['format_version']})"
    )
    click.echo(f"model        {d['model_id']}")
    click.echo(f"scale        x{d['scale']}")
    click.echo(f"codec        {json.dumps(d['codec'])}")
    click.echo(f"created      {d['created']} by srcodec {d['srcodec_version']}")
    click.echo(f"frames       {d['frames']} ({d['payload_bytes']:,} payload bytes)")
    if d["fps"]:
        click.echo(f"frame rate   {d['fps']} fps")
    if d["groups"]:
        sizes = sorted({g["frames"] for g in d["groups"]})
        click.echo(
            f"groups       {len(d['groups'])} of {'/'.join(map(str, sizes))} frames "
            f"({sum(g['payload_bytes'] for g in d['groups']):,} payload bytes)"
        )
    if d["damage"]:
        click.echo(f"damage       {d['damage']}")
    for size, count in d["sizes"].items():
        click.echo(f"  {count} x {size}")
    if show_frames:
        for f in d["frame_list"]:
            if f.get("damaged"):
                click.echo(f"  {_show(f['name'])}  DAMAGED: {f['damaged']}")
            else:
                where = f"group {f['group']}" if "group" in f else f"{f['payload_bytes']:,} bytes"
                click.echo(f"  {_show(f['name'])}  {f['size']} {f['mode']}  {where}")


@main.command()
@click.argument("archive", type=PathArg(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(archive: str, as_json: bool) -> None:
    """Check every checksum, the index and every frame's payload (no network is run).

    Exit status: 0 if the archive is intact, 3 if anything is damaged, 1 if it is unreadable.
    """
    from .recovery import verify as run

    r = run(archive)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=2))
    else:
        if not r.index_ok:
            click.echo(f"index: {r.index_problem}; frames found by scanning the chunks")
        if r.update_problem:
            click.echo(f"model update: {r.update_problem}")
        for d in r.damaged_regions:
            where = f" (frame {_show(d.name)})" if d.name else ""
            click.echo(f"damaged bytes {d.offset}..{d.end}{where}: {d.reason}")
        for name in r.not_in_index:
            click.echo(f"frame {_show(name)} is in the file but not in the index")
        for name in r.not_found_by_scan:
            click.echo(f"frame {_show(name)} is in the index but not found by the scan")
        for name, why in r.damaged:
            click.echo(f"damaged {_show(name)}: {why}")
        if r.model_problem:
            click.echo(f"model: {r.model_problem}")
        state = "intact" if r.ok else "DAMAGED"
        click.echo(f"{archive}: {state}: {len(r.intact)} of {r.frames} frames intact")
    if not r.ok:
        sys.exit(EXIT_DAMAGED)


@main.command()
@click.argument("archive", type=PathArg(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=PathArg(dir_okay=False),
    help="Archive to write with every intact frame.",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def recover(archive: str, output: str, force: bool, as_json: bool) -> None:
    """Copy every intact frame of a damaged ARCHIVE into a new archive OUTPUT.

    Exit status: 0 if nothing was lost; 3 if frames were lost or damage was found where no
    frame name can be read (OUTPUT is written either way).
    """
    from .recovery import recover as run

    r = run(archive, output, force=force)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=2))
    else:
        for name, why in r.lost:
            click.echo(f"lost {_show(name)}: {why}")
        for d in r.unnamed_damage:
            click.echo(f"damaged bytes {d.offset}..{d.end}: {d.reason}")
        if r.update_dropped:
            click.echo(
                f"model update DROPPED ({r.update_dropped}); {output} names the general model"
            )
        click.echo(
            f"{output}: {len(r.recovered)} frames recovered from {archive}"
            + (f", {len(r.lost)} lost" if r.lost else "")
        )
    if r.lost or r.unnamed_damage or r.update_dropped:
        sys.exit(EXIT_DAMAGED)


# --- many inputs on Dask, and Zarr ---------------------------------------------------------------


def _run_many(
    kind: str,
    inputs: tuple[str, ...],
    output: str,
    workers: int | None,
    scheduler: str | None,
    **options,
) -> None:
    """Run ``kind`` on every input as its own task, then report each outcome: one bad input
    stops nothing, and the exit status says whether any failed (1) or lost frames (3)."""
    from .parallel import run_many

    results = run_many(kind, list(inputs), output, workers=workers, scheduler=scheduler, **options)
    failed = [r for r in results if not r.ok]
    for r in results:
        for name, why in r.problems:
            what = "skipped" if kind == "encode" else "damaged"
            click.echo(f"{r.input}: {what} {_show(name)}: {why}", err=True)
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


@main.command("export-zarr")
@click.argument("archive", type=PathArg(dir_okay=False, exists=True))
@click.argument("store")
@click.option(
    "--chunk-frames", type=click.IntRange(min=1), default=1, show_default=True,
    help="Frames per Zarr chunk.",
)  # fmt: skip
@click.option("--codec", "codec_id", default=None, help="Chunk codec (default: the archive's).")
@click.option("--force", is_flag=True, help="Overwrite an existing array at STORE.")
def export_zarr(
    archive: str, store: str, chunk_frames: int, codec_id: str | None, force: bool
) -> None:
    """Copy the low-resolution frames of ARCHIVE, bit-exact, into a Zarr array at STORE (a path
    or an fsspec URL such as s3://bucket/cam1.zarr), with its header and frame names."""
    from .zarrstore import archive_to_zarr, describe

    array = archive_to_zarr(
        archive, store, chunk_frames=chunk_frames, codec=codec_id, overwrite=force
    )
    click.echo(f"{archive} -> {store}: {describe(array)}")


@main.command("import-zarr")
@click.argument("store")
@click.argument("archive", type=PathArg(dir_okay=False))
@click.option(
    "--model", default=None, help="Model id to record (default: the one recorded, else bundled)."
)
@files_option("--weights", "A weights file to use as the model (repeatable).")
@click.option("--codec", "codec_id", default=None, help="Codec of the archive (default: the "
              "one recorded, else jxl).")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing archive.")
def import_zarr(
    store: str,
    archive: str,
    model: str | None,
    weights: tuple[str, ...],
    codec_id: str | None,
    force: bool,
) -> None:
    """Write a Zarr array of low-resolution frames at STORE (as export-zarr makes, or any
    frames x H x W x C uint8 array) into the archive ARCHIVE."""
    from .zarrstore import describe, open_zarr, zarr_to_archive

    zarr_to_archive(store, archive, model=model, weights=weights, codec=codec_id, force=force)
    click.echo(f"{store} -> {archive}: {describe(open_zarr(store))}")


def _adapt_config(
    time_budget: str | None,
    steps: int | None,
    blocks: int | None = None,
    rank: int | None = None,
):
    """The tuning asked for: steps and/or time (5 minutes when neither is given), the last
    ``blocks`` residual blocks (None: every tensor), low-rank updates of ``rank`` (None: the
    default, dense)."""
    from .adapt import AdaptConfig, parse_duration

    if steps is not None and steps < 0:
        raise SrcodecError(f"--adapt-steps must be >= 0, got {steps}")
    seconds = parse_duration(time_budget) if time_budget is not None else None
    if seconds is None and steps is None:
        seconds = 300.0
    rank = AdaptConfig.rank if rank is None else rank
    return AdaptConfig(blocks=blocks, rank=rank, seconds=seconds, steps=steps)


def _adapt_line(r) -> str:
    """What tuning gained on the held-back frames, and whether the update was kept."""
    gain = (
        f"{r.gain_db:+.2f} dB RGB / {r.gain_y_db:+.2f} dB Y on {len(r.held_back)} held-back "
        f"frame(s) ({r.base['psnr_rgb']:.2f} -> {r.tuned['psnr_rgb']:.2f} dB), "
        f"{r.steps} steps in {r.seconds:.0f} s"
    )
    if r.update is None:
        return f"adapt: general model kept: {r.reason or 'no update'} ({gain})"
    return f"adapt: update of {r.update_bytes:,} bytes stored in the archive: {gain}"


@main.command()
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
    from .adapt import adapt_camera
    from .atomic import exists_error
    from .frames import read_images
    from .registry import DEFAULT_MODEL, inspect_weights, resolve

    if Path(output).exists() and not force:
        raise exists_error(Path(output))
    if blocks != "all" and not blocks.isdigit():
        raise SrcodecError(f"--blocks takes a number or 'all', not {blocks!r}")
    info = inspect_weights(weights) if weights else resolve(model or DEFAULT_MODEL)
    cfg = _adapt_config(time_budget, steps, None if blocks == "all" else int(blocks))
    cfg.threads = threads
    new, r = adapt_camera(
        info,
        read_images(source),
        output,
        cfg,
        name=name or Path(output).stem,
        source=str(source),
        progress=_show_progress(progress, quiet),
    )
    click.echo(
        f"{output}: model {new.short_id} tuned from {info.short_id}: "
        f"{r.gain_db:+.2f} dB RGB / {r.gain_y_db:+.2f} dB Y on held-back frames "
        f"({r.base['psnr_rgb']:.2f} -> {r.tuned['psnr_rgb']:.2f} dB), {r.steps} steps in "
        f"{r.seconds:.0f} s"
    )
