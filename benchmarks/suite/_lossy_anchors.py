"""The anchors of the lossy benchmarks (issue 23): full-resolution encoders a camera archive
could run instead of srcodec, each run by FFmpeg's own command line (imageio-ffmpeg's static
binary) with PSNR-fair settings, on RGB frames piped in raw (FFmpeg's RGB -> YUV conversion),
their raw bitstreams' bytes counted, decoded by the same binary back to RGB.

- ``SVT-AV1``: libsvtav1 at srcodec's preset (6), FFmpeg's defaults otherwise (one key frame
  for the clip here);
- ``VVenC``: libvvenc medium, QPA off (``-qpa 0``), an intra period of 6 s, 10-bit (its only
  input format), decoded with ``-fps_mode passthrough``;
- ``x265``: libx265 medium ``--tune psnr``.

The clips: vtest.avi (opencv-doc) and the other opencv-doc clips, read by PyAV.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from ..context import ROOT

__all__ = ["ANCHORS", "CLIPS", "clip_path", "encode_anchor", "read_clip"]

#: Where benchmarks.datasets.prepare unpacks opencv-doc, or where Debian installs it.
_OPENCV_DATA = [
    ROOT
    / "data"
    / "pkgs"
    / "opencv-doc"
    / "usr"
    / "share"
    / "doc"
    / "opencv-doc"
    / "examples"
    / "data",
    Path("/usr/share/doc/opencv-doc/examples/data"),
]
#: Clips by name: vtest (the project's CCTV clip: frames before 636 train and validate, the
#: rest is held out) and clips the project never trained or tuned on.
CLIPS = {"vtest": "vtest.avi", "tree": "tree.avi", "megamind": "Megamind.avi"}


def clip_path(name: str) -> Path:
    """The file of clip ``name`` (``CLIPS``), or ``FileNotFoundError`` saying how to get it."""
    for folder in _OPENCV_DATA:
        if (folder / CLIPS[name]).is_file():
            return folder / CLIPS[name]
    raise FileNotFoundError(f"{CLIPS[name]} not found: run python -m benchmarks.datasets.prepare")


def read_clip(first: int, end: int, name: str = "vtest") -> list[np.ndarray]:
    """Frames ``first`` .. ``end - 1`` of clip ``name`` as RGB arrays (its frame rate: ``fps``)."""
    frames = []
    with av.open(str(clip_path(name))) as c:
        for k, f in enumerate(c.decode(video=0)):
            if k >= end:
                break
            if k >= first:
                frames.append(f.to_ndarray(format="rgb24"))
    return frames


def clip_fps(name: str) -> float:
    with av.open(str(clip_path(name))) as c:
        return float(c.streams.video[0].average_rate)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


#: name -> (setting -> the encoder's arguments, raw output format)
ANCHORS: dict[str, tuple[Callable[[float], list[str]], str]] = {
    "SVT-AV1": (lambda crf: ["-c:v", "libsvtav1", "-preset", "6", "-crf", f"{crf:g}"], "obu"),
    "VVenC": (
        lambda qp: [
            "-pix_fmt", "yuv420p10le", "-c:v", "libvvenc", "-preset", "medium",
            "-qpa", "0", "-period", "6", "-qp", f"{qp:g}",
        ],
        "vvc",
    ),
    "x265": (
        lambda crf: [
            "-c:v", "libx265", "-preset", "medium", "-tune", "psnr", "-crf", f"{crf:g}",
            "-x265-params", "log-level=error",
        ],
        "hevc",
    ),
}  # fmt: skip


def _decode_as_srcodec(path: Path, rgb: str) -> list[np.ndarray]:
    """The frames of the raw stream at ``path`` decoded by PyAV and converted to RGB as a
    srcodec lossy stream recording conversion ``rgb`` would."""
    from srcodec.lowres.lossy import RGB_CONVERSIONS

    with av.open(str(path)) as c:
        return [
            f.reformat(format="rgb24", interpolation=RGB_CONVERSIONS[rgb]).to_ndarray()
            for f in c.decode(video=0)
        ]


def encode_anchor(
    name: str, frames: list[np.ndarray], setting: float, fps: float, rgb: str | None = None
) -> tuple[int, list[np.ndarray], float]:
    """``frames`` coded by anchor ``name`` at ``setting``: the raw bitstream's bytes, the frames
    decoded (RGB; by FFmpeg's command line, or with ``rgb`` by PyAV and that conversion of
    ``srcodec.lowres.lossy.RGB_CONVERSIONS``) and the encode's seconds."""
    args, fmt = ANCHORS[name]
    h, w = frames[0].shape[:2]
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}"]
    pix = [] if "-pix_fmt" in args(setting) else ["-pix_fmt", "yuv420p"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"stream.{fmt}"
        cmd = [_ffmpeg(), "-v", "error", "-y", *raw, "-i", "-", *pix, *args(setting), "-f", fmt]
        t0 = time.perf_counter()
        subprocess.run(
            [*cmd, str(out)],
            input=np.stack(frames).tobytes(),
            check=True,
            capture_output=True,
            env={**os.environ, "SVT_LOG": "1"},
        )
        seconds = time.perf_counter() - t0
        if rgb is not None:
            return out.stat().st_size, _decode_as_srcodec(out, rgb), seconds
        decoded = subprocess.run(
            [_ffmpeg(), "-v", "error", "-i", str(out), "-fps_mode", "passthrough"]
            + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            check=True,
            capture_output=True,
        ).stdout
        nbytes = out.stat().st_size
    video = np.frombuffer(decoded, np.uint8).reshape(-1, h, w, 3)
    if len(video) != len(frames):
        raise RuntimeError(f"{name}: {len(video)} frames decoded of {len(frames)}")
    return nbytes, list(video), seconds


def stream_point(codec, frames: list[np.ndarray]) -> dict:
    """``frames`` coded as one stream by a srcodec lossy stream ``codec`` (its raw stream's
    bytes) and decoded: bits per pixel and mean PSNR RGB and Y (the studies' points)."""
    from srcodec.metrics import psnr

    extradata, packets = codec._encode_stream(frames)
    decoded = codec._decode_stream(extradata, packets, frames[0].shape, len(frames))
    nbytes = len(extradata) + sum(map(len, packets))
    pairs = list(zip(frames, decoded, strict=True))
    return {
        "bpp": 8 * nbytes / (frames[0].shape[0] * frames[0].shape[1] * len(frames)),
        "psnr": float(np.mean([psnr(a, b) for a, b in pairs])),
        "psnr_y": float(np.mean([psnr(a, b, y=True) for a, b in pairs])),
    }
