"""The recording commands: ``record`` a camera into segments,
``cut`` a time window out of them, ``transcode`` an archive lossy for retention, and ``recover``
of a recording folder (closing what a killed recorder left open).
"""

from __future__ import annotations

import json
import signal
import sys
import threading

import click

from .common import DEVICE, EXIT_DAMAGED, PathArg, files_option


def _duration(text: str | None) -> float | None:
    from ..training.adaptconfig import parse_duration

    return None if text is None else parse_duration(text)


@click.command()
@click.argument("source")
@click.option("-o", "--output", required=True, type=PathArg(file_okay=False),
              help="Recording folder: segments go to OUTPUT/NAME/.")  # fmt: skip
@click.option("--name", default=None, help="Camera name (default: from SOURCE).")
@click.option("--segment", default="10m", show_default=True, help="Segment length (90s, 10m, 1h).")
@click.option("--quality", type=click.FloatRange(0, 100), default=None,
              help="Lossy segments at this quality (0-100), as 'encode --quality'.")  # fmt: skip
@click.option("--bpp", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Lossy segments at this many bits per pixel, as 'encode --bpp'.")  # fmt: skip
@click.option("--group", type=click.IntRange(1, 4096), default=None,
              help="Frames per group (default 64 lossless, 60 lossy): at most this many are "
              "lost if the recorder is killed.")  # fmt: skip
@click.option("--duration", default=None, help="Stop after this long (default: never).")
@click.option("--realtime", is_flag=True, help="Pace a file SOURCE at its frame rate.")
@click.option("--timeout", default="10s", show_default=True,
              help="Wait this long for the stream to open or send its next frame.")  # fmt: skip
@click.option("--model", default=None,
              help="Lossless: the model to decode with; lossy: a candidate.")  # fmt: skip
@files_option("--weights", "A weights file to use as the model (repeatable).")
@click.option("--json-status", is_flag=True, help="Status as JSON lines (one per segment).")
def record(
    source: str,
    output: str,
    name: str | None,
    segment: str,
    quality: float | None,
    bpp: float | None,
    group: int | None,
    duration: str | None,
    realtime: bool,
    timeout: str,
    model: str | None,
    weights: tuple[str, ...],
    json_status: bool,
) -> None:
    """Record the camera SOURCE (rtsp://, http://, tcp://, udp://, a file ...) into time-named
    segments OUTPUT/NAME/NAME_YYYYmmddTHHMMSSZ.src, each a complete archive with every
    frame's UTC reception time. A dropped stream is reopened with backoff and the gap
    recorded. Stop with Ctrl-C or SIGTERM (the open segment is closed); after a kill the next
    'record' (or 'srcodec recover OUTPUT') closes it."""
    from ..errors import SrcodecError
    from ..recording import record as run

    if quality is not None and bpp is not None:
        raise click.UsageError("give --quality or --bpp, not both")

    def emit(obj: dict, line: str) -> None:
        click.echo(json.dumps(obj) if json_status else line)
        sys.stdout.flush()

    stop = threading.Event()

    def stopping(signum, frame) -> None:
        stop.set()

    previous = {s: signal.signal(s, stopping) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        summary = run(
            source,
            output,
            name=name,
            segment=_duration(segment) or 0,
            quality=quality,
            bpp=bpp,
            group=group,
            duration=_duration(duration),
            realtime=realtime,
            timeout=_duration(timeout) or 0.1,
            model=model,
            weights=weights,
            stop=stop,
            on_segment=lambda r: emit(r.to_dict(), r.line()),
            on_recovered=lambda r: emit(
                {
                    "event": "recovered",
                    "temp": str(r.temp),
                    "path": str(r.path) if r.path else None,
                    "frames": r.frames,
                    "lost": len(r.lost),
                    "note": r.note,
                },
                f"closed unfinished segment {r.path or r.temp.name}: {r.frames} frames"
                + (f", {len(r.lost)} lost" if r.lost else "")
                + (f" ({r.note})" if r.note else ""),
            ),  # fmt: skip
        )
    except SrcodecError:
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    done = {
        "event": "done",
        "camera": summary.camera,
        "segments": len(summary.segments),
        "frames_in": summary.frames_in,
        "frames_stored": summary.frames_stored,
        "dropped": summary.dropped,
    }
    emit(
        done,
        f"{summary.camera}: {len(summary.segments)} segment(s), {summary.frames_stored} of "
        f"{summary.frames_in} frames stored"
        + (f", {summary.dropped} dropped" * bool(summary.dropped)),
    )


@click.command()
@click.argument("directory", type=PathArg(file_okay=False, exists=True))
@click.option("--name", default=None, help="Camera (needed if DIRECTORY holds several).")
@click.option("--from", "start", required=True, help="Start time, ISO 8601 (UTC unless given).")
@click.option("--to", "end", required=True, help="End time (excluded), ISO 8601.")
@click.option("-o", "--output", required=True, type=PathArg(),
              help="A folder of PNGs, or a video file (.mkv, .mp4 ...).")  # fmt: skip
@click.option("--video-codec", default=None, help="Video output: codec (default lossless).")
@click.option("--crf", type=click.IntRange(0, 63), default=None, help="Video output: lossy CRF.")
@click.option("--bicubic", is_flag=True, help="Fast preview: bicubic upscale, no network.")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite existing output.")
def cut(
    directory: str,
    name: str | None,
    start: str,
    end: str,
    output: str,
    video_codec: str | None,
    crf: int | None,
    bicubic: bool,
    device: str,
    force: bool,
) -> None:
    """Restore the frames a camera recorded in DIRECTORY between --from and --to into OUTPUT,
    decoding only the groups that hold them."""
    from ..recording.cut import cut as run

    s = run(directory, output, start=start, end=end, name=name, force=force,
            video_codec=video_codec, crf=crf, bicubic=bicubic, device=device)  # fmt: skip
    click.echo(
        f"{output}: {s.frames} frames from {s.times[0].isoformat()} to {s.times[-1].isoformat()}"
    )


@click.command()
@click.argument("archive", type=PathArg(dir_okay=False, exists=True))
@click.option("-o", "--output", required=True, type=PathArg(dir_okay=False))
@click.option("--quality", type=click.FloatRange(0, 100), default=None, help="Lossy quality.")
@click.option("--bpp", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Lossy rate in bits per pixel.")  # fmt: skip
@click.option("--bicubic", is_flag=True, help="Restore the source with bicubic (no network).")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def transcode(
    archive: str,
    output: str,
    quality: float | None,
    bpp: float | None,
    bicubic: bool,
    device: str,
    force: bool,
) -> None:
    """Re-code ARCHIVE as a lossy archive OUTPUT (lossless to lossy, or a lower rate), keeping
    frame names, recorded times and gaps; the header records the source's model and codec."""
    from ..recording.transcode import transcode as run

    if (quality is None) == (bpp is None):
        raise click.UsageError("give --quality or --bpp")
    s = run(archive, output, quality=quality, bpp=bpp, force=force, bicubic=bicubic,
            device=device)  # fmt: skip
    click.echo(
        f"{output}: {s.frames} frames, {s.archive_bytes:,} bytes ({s.bpp:.4f} bpp), lossy "
        f"({s.chosen.candidate})"
    )


def recover_directory(directory: str, as_json: bool) -> None:
    """``srcodec recover DIR``: close the segments killed recorders left in DIR."""
    from pathlib import Path

    from ..recording import recover_directory as run

    results = run(Path(directory))
    lost = False
    out = []
    for camera, outcome in results:
        if isinstance(outcome, str):
            out.append({"camera": camera, "skipped": outcome})
            if not as_json:
                click.echo(f"{camera}: skipped: {outcome}")
            continue
        for r in outcome:
            lost = lost or bool(r.lost) or r.path is None
            out.append({"camera": camera, "temp": str(r.temp),
                        "path": str(r.path) if r.path else None, "frames": r.frames,
                        "lost": r.lost, "note": r.note})  # fmt: skip
            if not as_json:
                click.echo(
                    f"{camera}: {r.path or r.temp.name}: {r.frames} frames recovered"
                    + (f", {len(r.lost)} lost" if r.lost else "")
                    + (f" ({r.note})" if r.note else "")
                )
    if as_json:
        click.echo(json.dumps(out, indent=2))
    elif not any(isinstance(o, list) and o for _, o in results):
        click.echo(f"{directory}: no unfinished segment")
    if lost:
        sys.exit(EXIT_DAMAGED)
