"""``record``: a camera's stream into time-named segments DIR/CAM/CAM_YYYYmmddTHHMMSSZ.src, each
a complete archive (lossless footage groups, or lossy with ``quality``/``bpp``) whose groups
carry every frame's UTC reception time and stream timestamp, and the gaps, in TIME chunks.

Crash safety: the segment in progress is the archive writer's temporary file, fsynced after
every group, so a kill loses at most the group in flight; the next ``record`` (or ``srcodec
recover DIR``) closes such files into archives (srcodec.recording.segments).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from .._version import __version__
from ..archive.candidates import measured_positions
from ..archive.filewriter import ArchiveWriter
from ..archive.layout import (
    MAX_GROUP_FRAMES,
    FrameInfo,
    GroupRecord,
    Header,
    TimeRecord,
    grouped_version,
)
from ..archive.timeline import Gap
from ..clock import iso, now_us
from ..errors import SrcodecError
from ..frametimes import timing_fields
from ..lowres import LowresCodec, StreamCodec, get_codec
from ..lowres.lossy import Av1Codec
from ..lowres.stream import GroupEncoder
from ..models.store import pick_model
from ..pixels import mode_of
from ..resample import downscale
from .segments import RecoveredSegment, camera_lock, close_open_segments, segment_path
from .source import DEFAULT_TIMEOUT, Drop, Frame, Source, redact

__all__ = ["RECORDING_VERSION", "RecordSummary", "SegmentReport", "camera_name", "record"]

#: ``extra.recording.version`` of a segment's header (docs/format.md, section 3b).
RECORDING_VERSION = 1
#: Segment length by default (seconds): ten minutes, as NVRs cut them.
DEFAULT_SEGMENT = 600.0
#: The lossless codec of recorded footage: x264 qp 0 groups (docs/footage.md).
LOSSLESS_CODEC = "x264"
#: Tile size (pixels) of the lossy candidate choice's restorations: bounds a recorder's memory.
CHOICE_TILE = 192
#: A lossy recording keeps the candidate chosen on a segment's first group for the segments
#: after it while the frame size stays, up to this long (reception time, microseconds), then
#: chooses again (the scene's light changes over a day). Choosing on every segment cost 15 s
#: of CPU for each 30-s segment of vtest (docs/recording.md): a camera in real time on one
#: core could not afford it, four on two cores even less.
RECHOOSE_US = 3600 * 10**6
#: A received frame's pixels once they are in the encoder (its times are kept).
_NO_PIXELS = np.zeros((0, 0, 3), np.uint8)
#: SVT-AV1's look-ahead for a live group (``Av1Codec.lookahead``): the encoder codes while
#: the group fills, so a group is on disk about 0.4 s after its last frame instead of 1 s.
LIVE_LOOKAHEAD = 16
#: The bit depth of a live AV1 group (``Av1Codec.bits``): 8, not the 10 of ``encode``. SVT-AV1
#: at 10 bits holds its pictures in 16 bits: coding a 60-frame group of 768x576 on one core
#: peaked at 362 MB against 264 MB at 8 bits, which took a recorder past its 500 MB budget
#: (docs/recording.md), for 3-5 % fewer bytes (docs/lossy.md).
LIVE_BITS = 8
_CAMERA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class SegmentReport:
    """One segment written: its file, span (microseconds since the epoch, UTC), frames,
    bytes, gaps and the latency from a frame's reception to its group being on disk."""

    path: Path
    camera: str
    start: int
    end: int
    frames: int = 0
    bytes: int = 0
    gaps: list[Gap] = field(default_factory=list)
    latency_mean: float = 0.0  # seconds
    latency_max: float = 0.0
    candidate: str | None = None  # lossy: the candidate chosen for this segment
    choice_cpu_s: float = 0.0  # lossy: CPU seconds (all threads) the choice took

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / 1e6

    @property
    def fps(self) -> float:
        return (self.frames - 1) / self.seconds if self.frames > 1 and self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "event": "segment",
            "path": str(self.path),
            "camera": self.camera,
            "start": iso(self.start),
            "end": iso(self.end),
            "frames": self.frames,
            "bytes": self.bytes,
            "fps": round(self.fps, 3),
            "gaps": [
                {"start": iso(g.start), "end": iso(g.end), "reason": g.reason} for g in self.gaps
            ],  # fmt: skip
            "latency_mean_s": round(self.latency_mean, 3),
            "latency_max_s": round(self.latency_max, 3),
            "candidate": self.candidate,
            "choice_cpu_s": round(self.choice_cpu_s, 3),
        }

    def line(self) -> str:
        gaps = sum(g.end - g.start for g in self.gaps) / 1e6
        lost = f", {len(self.gaps)} gap(s) ({gaps:.1f} s)" if self.gaps else ", no gaps"
        return (
            f"{self.path.name}: {self.frames} frames in {self.seconds:.1f} s "
            f"({self.fps:.2f} fps), {self.bytes:,} bytes{lost}"
        )


@dataclass
class RecordSummary:
    """What ``record`` did: segments written, frames received and stored, frames the recorder
    dropped for being behind, and the unfinished segments of an earlier run it closed."""

    camera: str
    segments: list[SegmentReport] = field(default_factory=list)
    frames_in: int = 0
    frames_stored: int = 0
    dropped: int = 0
    recovered: list[RecoveredSegment] = field(default_factory=list)


def camera_name(source: str) -> str:
    """A camera name for ``source`` when none is given: a file's stem, a URL's host and port."""
    parts = urlsplit(str(source))
    if parts.scheme and parts.netloc:
        base = parts.hostname or "camera"
        base += f"_{parts.port}" if parts.port else ""
    else:
        base = Path(str(source)).stem or "camera"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")
    return name[:64] or "camera"


def check_camera_name(name: str) -> str:
    if not isinstance(name, str) or not _CAMERA_NAME.fullmatch(name):
        raise SrcodecError(
            f"camera name {name!r} must be 1-64 letters, digits, '.', '_' or '-' (not first)"
        )
    return name


class _Coder:
    """How a segment's frames become groups: the header and codec (lossless: fixed; lossy:
    chosen on each segment's first group) and each frame's stored (downscaled) form."""

    def __init__(
        self, quality: float | None, bpp: float | None, model: str | None, weights: list
    ) -> None:
        self.lossy = quality is not None or bpp is not None
        self.quality, self.bpp = quality, bpp
        self.candidate: str | None = None
        #: The scene-plate strength chosen with the candidate (``Trial.plate``), if any.
        self.plate: float | None = None
        if self.lossy:
            from ..archive.candidates import LOSSY_CODEC, measured_candidates, usable_candidates

            # The restorers are loaded once for the whole recording (without a model given,
            # not the bundled x2 one where the quality's choice does not measure it), and
            # restore the sample in tiles, so that the choice's memory stays bounded whatever
            # the camera's size.
            given = bool(weights) or model is not None
            candidates = None if given else measured_candidates(LOSSY_CODEC, quality)
            self._usable = usable_candidates(
                candidates, LOSSY_CODEC, weights, tile=CHOICE_TILE, model=model
            )
            self.scale: int | None = None
            self.codec: LowresCodec | None = None
            self.model_id = ""
            self._chosen: tuple[tuple[int, ...], int] | None = None
        else:
            info = pick_model(model, weights)
            self.scale, self.model_id = info.scale, info.id
            self.codec = get_codec(LOSSLESS_CODEC)

    def ready(self) -> bool:
        return self.codec is not None

    def _live_settings(self) -> None:
        if isinstance(self.codec, Av1Codec):
            self.codec.threads = 1  # a camera on one core (the same stream, less memory)
            self.codec.lookahead = LIVE_LOOKAHEAD
            self.codec.bits = LIVE_BITS

    def choose(self, frames: list[np.ndarray], received: int) -> None:
        """Lossy: choose the candidate and setting on ``frames`` (a segment's first group,
        its first frame received at ``received``)."""
        from ..archive.lossywriter import LOSSY_CODEC, pick_lossy

        best, _, self.model_id, self.codec = pick_lossy(
            frames, self._usable, quality=self.quality, bpp=self.bpp, codec=LOSSY_CODEC
        )
        self.scale, self.candidate, self.plate = best.scale, best.candidate, best.plate
        self._chosen = (frames[0].shape, received)
        self._live_settings()

    def start_provisional(self) -> bool:
        """Lossy at ``--quality`` where only scale-1 candidates are measured
        (``scale1_decides``: they share one stream, at the quality's setting): code at once,
        with the one chosen last (choosing again after ``RECHOOSE_US``), else the last of
        them (a camera profile given, else the bundled x1), in the header, and choose on the
        first group once it is on disk (``decide``). False otherwise: the first group waits
        for the choice (``choose``)."""
        from ..archive.candidates import LOSSY_CODEC, lossy_codec, quality_setting, scale1_decides

        if not scale1_decides([c for c, _, _ in self._usable], LOSSY_CODEC, self.quality):
            return False
        assert self.quality is not None
        ones = [u for u in self._usable if u[0].scale == 1]
        last = [u for u in ones if u[0].name == self.candidate]
        candidate, _, self.model_id = (last or ones)[-1]
        if not last:
            self.plate = None  # not chosen yet: the reader takes the card's (format.md 9.9)
        self.codec = lossy_codec(LOSSY_CODEC, quality_setting(LOSSY_CODEC, self.quality))
        self.scale, self.candidate = 1, candidate.name
        self._live_settings()
        return True

    def decide(
        self,
        originals: dict[int, np.ndarray],
        count: int,
        nbytes: int,
        decoded: dict[int, np.ndarray],
        received: int,
    ) -> bool:
        """The choice on a first group coded by ``start_provisional`` (``count`` frames,
        ``nbytes``; the measured positions' ``originals`` and ``decoded`` frames), kept for
        the segments after it (``holds``); whether the provisional candidate won."""
        from ..archive.candidates import LOSSY_CODEC, Sample, choose, quality_setting

        assert self.quality is not None
        setting = quality_setting(LOSSY_CODEC, self.quality)  # start_provisional's stream
        rgb = getattr(self.codec, "rgb", None)
        sample = Sample.of_stream(originals, count, LOSSY_CODEC, setting, nbytes, decoded, rgb)
        best, _ = choose(sample, [(c, r) for c, r, _ in self._usable], quality=self.quality)
        kept = best.candidate == self.candidate
        self.candidate, self.plate = best.candidate, best.plate
        self.model_id = next(m for c, _, m in self._usable if c.name == best.candidate)
        self._chosen = (next(iter(originals.values())).shape, received)
        return kept

    def holds(self, shape: tuple[int, ...], received: int) -> bool:
        """Lossy: whether the choice made last still holds for a segment starting with a
        frame of ``shape`` received at ``received`` (``RECHOOSE_US``)."""
        if not self.lossy or self._chosen is None:
            return False
        chosen_shape, when = self._chosen
        return chosen_shape == shape and 0 <= received - when < RECHOOSE_US

    def header(self, extra: dict) -> Header:
        assert self.codec is not None and self.scale is not None
        if self.lossy:
            from ..archive.lossywriter import lossy_extra

            asked = lossy_extra(self.quality, self.bpp, self.candidate, self.plate)
            extra = {**extra, "lossy": asked}
        return Header(
            model_id=self.model_id,
            scale=self.scale,
            codec=self.codec.get_config(),
            created=iso(now_us())[:19] + "+00:00",
            srcodec_version=__version__,
            extra=extra,
        )


class _Segment:
    """The segment being written: the group being coded (its frames fed to the encoder as
    they come, once the candidate is known) and the archive writer (its temporary file) once
    the header is known."""

    def __init__(
        self,
        directory: Path,
        camera: str,
        source: str,
        first: Frame,
        length: float,
        coder: _Coder,
        group: int,
    ) -> None:
        self.coder, self.camera, self.source, self.group = coder, camera, source, group
        self.path = segment_path(directory, camera, first.received)
        # Segments end on multiples of their length (UTC), as NVRs cut them: 10-minute segments
        # end at :00, :10, ...
        step = max(1, round(length * 1e6))
        self.boundary = (first.received // step + 1) * step
        self.fps = first.fps
        #: The group's frames: their entry, their pixels only while they wait for the choice
        #: (else None: they are in the encoder), their times.
        self.pending: list[tuple[FrameInfo, np.ndarray | None, Frame]] = []
        self.key: tuple | None = None
        self.encoder: GroupEncoder | None = None
        self.gaps: list[Gap] = []
        self.writer: ArchiveWriter | None = None
        self.report = SegmentReport(self.path, camera, first.received, first.received)
        self.latencies: list[float] = []
        # Lossy: unless the choice of an earlier segment still holds, the first group either
        # is coded at once with a provisional candidate and chosen on as coded (``deciding``),
        # or waits at full size for the choice.
        self.chosen = not coder.lossy or coder.holds(first.image.shape, first.received)
        self.deciding = False
        if coder.lossy and not self.chosen and coder.start_provisional():
            self.chosen = self.deciding = True
        #: The measured positions' frames of a ``deciding`` group, as given to the encoder.
        self.originals: dict[int, np.ndarray] = {}
        #: Whether the segment ends after its group on disk: its provisional candidate lost.
        self.cut = False
        if coder.lossy and self.chosen:
            self.report.candidate = coder.candidate

    def _open(self) -> ArchiveWriter:
        extra = {
            **timing_fields(self.fps, []),
            "recording": {
                "version": RECORDING_VERSION,
                "camera": self.camera,
                "source": redact(self.source),
            },
        }
        codec = self.coder.codec
        compact = isinstance(codec, StreamCodec) and codec.compact
        header = self.coder.header(extra)
        return ArchiveWriter(self.path, header, groups=True, version=grouped_version(compact))

    def _feed(self, position: int, low: np.ndarray) -> None:
        """Give the group's frame at ``position`` (its stored form) to the encoder."""
        codec = self.coder.codec
        assert isinstance(codec, StreamCodec)
        if self.encoder is None:
            picks = measured_positions(self.group, low.shape)[0] if self.deciding else ()
            self.encoder = GroupEncoder(codec, picks)
        if position in self.encoder.keep:
            self.originals[position] = low
        self.encoder.add(low)

    def add(self, frame: Frame) -> None:
        image = frame.image
        key = (image.shape, frame.connection, frame.time_base, frame.fps)
        if self.pending and key != self.key:
            self.flush()  # a new size, rate or connection starts a new group
        self.key = key
        name = f"frame_{self.report.frames + len(self.pending):06d}"
        info = FrameInfo(name, image.shape[1], image.shape[0], mode_of(image))
        times = replace(frame, image=_NO_PIXELS)  # the pixels go to the encoder
        if self.chosen:
            self._feed(len(self.pending), downscale(image, self.coder.scale))
            self.pending.append((info, None, times))
        else:
            self.pending.append((info, image, times))

    def gap(self, gap: Gap) -> None:
        self.flush()  # the frames before a gap are a group of their own
        self.gaps.append(gap)
        self.report.gaps.append(gap)

    def flush(self) -> None:
        """Write the pending frames as one group, with their times (and the gaps before
        them), and make it durable."""
        if not self.pending and (not self.gaps or not self.chosen):
            # Nothing; or, lossy, only gaps before the segment's header is chosen: they wait
            # for its first group (and are only reported if none comes).
            return
        if self.pending and not self.chosen:
            cpu = time.process_time()
            first = self.pending[0][2].received
            self.coder.choose([image for _, image, _ in self.pending], first)  # type: ignore[misc]
            self.report.choice_cpu_s = time.process_time() - cpu
            self.chosen = True
            self.report.candidate = self.coder.candidate
            for k, (info, image, times) in enumerate(self.pending):
                assert image is not None
                self._feed(k, downscale(image, self.coder.scale))
                self.pending[k] = (info, None, times)
        if self.writer is None:
            self.writer = self._open()
        frames = [frame for _, _, frame in self.pending]
        times = TimeRecord(
            self.pending[0][0].name if self.pending else None,
            [f.received for f in frames],
            [f.pts for f in frames],
            _fraction(frames[0].time_base) if frames else None,
            [(g.start, g.end, g.reason) for g in self.gaps],
        )
        payload, decoded = b"", {}
        if self.pending:
            assert self.encoder is not None
            payload, decoded = self.encoder.finish()
        self.encoder = None
        # The times and their group are written together, then made durable.
        self.writer.add_times(times)
        if self.pending:
            self.writer.add_group(GroupRecord([info for info, _, _ in self.pending], payload))
        self.writer.sync()
        done = now_us()
        self.latencies += [(done - f.received) / 1e6 for f in frames]
        self.report.frames += len(frames)
        if frames:
            self.report.end = frames[-1].received
        self.pending, self.gaps = [], []
        if self.deciding and frames:
            # The group is on disk: now the choice, on its frames as coded. Another candidate
            # than the provisional one ends the segment here (``cut``); the next uses it.
            self.deciding = False
            cpu = time.process_time()
            count, originals = len(frames), self.originals
            self.originals = {}
            kept = self.coder.decide(originals, count, len(payload), decoded, frames[0].received)
            self.report.choice_cpu_s = time.process_time() - cpu
            self.cut = not kept

    def close(self) -> SegmentReport:
        self.flush()
        if self.writer is not None:
            self.writer.close()
            self.report.bytes = self.path.stat().st_size
        if self.latencies:
            self.report.latency_mean = float(np.mean(self.latencies))
            self.report.latency_max = float(np.max(self.latencies))
        return self.report


def _fraction(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"


def record(
    source: str | os.PathLike,
    directory: str | os.PathLike,
    *,
    name: str | None = None,
    segment: float = DEFAULT_SEGMENT,
    quality: float | None = None,
    bpp: float | None = None,
    group: int | None = None,
    duration: float | None = None,
    realtime: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    model: str | None = None,
    weights: list | tuple = (),
    stop: threading.Event | None = None,
    on_segment: Callable[[SegmentReport], None] | None = None,
    on_recovered: Callable[[RecoveredSegment], None] | None = None,
) -> RecordSummary:
    """Record ``source`` (any input FFmpeg opens; a file ends, a live stream is reopened with
    backoff when it drops) into ``directory``/CAM as segments of ``segment`` seconds, for
    ``duration`` seconds (None: until the source ends or ``stop`` is set).

    Lossless (x264 qp 0 groups of the x2-reduced frames) by default; ``quality``/``bpp``
    record lossy archives as ``encode_lossy`` writes them, the candidate chosen on a
    segment's first group and kept for the next segments of the same frame size for up to
    an hour (``RECHOOSE_US``). Groups hold up to ``group`` frames (default 64 lossless, 60
    lossy); a change of size, frame rate or connection starts a new one. Unfinished
    segments an earlier run left (a crash) are closed first (``on_recovered`` gets each).
    ``on_segment`` gets each segment's report as it is closed. Raises ``SrcodecError`` if
    the source cannot be opened or is not video, or another recorder holds the camera.
    """
    from ..archive.lossywriter import LIVE_GROUP as LOSSY_GROUP
    from ..archive.writer import DEFAULT_GROUP

    source = os.fspath(source)
    camera = check_camera_name(name or camera_name(source))
    if quality is not None and bpp is not None:
        raise SrcodecError("give a quality or a rate (bits per pixel), not both")
    lossy = quality is not None or bpp is not None
    group = group or (LOSSY_GROUP if lossy else DEFAULT_GROUP)
    if not 1 <= group <= MAX_GROUP_FRAMES:
        raise SrcodecError(f"group must be 1..{MAX_GROUP_FRAMES}, got {group}")
    if segment < 1:
        raise SrcodecError(f"segments must be at least 1 s long, got {segment:g} s")
    folder = Path(directory) / camera
    folder.mkdir(parents=True, exist_ok=True)
    summary = RecordSummary(camera)
    with camera_lock(folder):
        summary.recovered = close_open_segments(folder)
        for item in summary.recovered:
            if on_recovered is not None:
                on_recovered(item)
        coder = _Coder(quality, bpp, model, list(weights))
        src = Source(source, realtime=realtime, timeout=timeout, buffer=group)
        src.open()
        deadline = None if duration is None else time.monotonic() + duration
        current: _Segment | None = None
        early: list[Gap] = []

        def finish(seg: _Segment) -> None:
            report = seg.close()
            summary.segments.append(report)
            summary.frames_stored += report.frames
            if on_segment is not None:
                on_segment(report)

        def take(event: Frame | Gap | Drop) -> None:
            nonlocal current, early
            if isinstance(event, Drop):
                if current is not None:
                    current.flush()  # the connection's last frames: on disk now, not later
                return
            if isinstance(event, Gap):
                (current.gap if current is not None else early.append)(event)
                return
            if current is not None and (current.cut or event.received >= current.boundary):
                # (cut: its provisional candidate lost the choice; the next segment uses the
                # winner)
                finish(current)
                current = None
            if current is None:
                current = _Segment(folder, camera, source, event, segment, coder, group)
                for gap in early:
                    current.gap(gap)
                early = []
            current.add(event)
            if len(current.pending) >= group:
                current.flush()

        try:
            for event in src.events():
                if event is not None:
                    take(event)  # received: stored, even if the recording stops now
                if (deadline is not None and time.monotonic() >= deadline) or (
                    stop is not None and stop.is_set()
                ):
                    break
            # Frames received before the stop are stored too.
            for event in src.drain():
                take(event)
        except BaseException:
            src.close()
            if current is not None:
                # Whatever was already durable stays for recovery; close what can be closed.
                try:
                    finish(current)
                except Exception:
                    pass
                current = None
            raise
        finally:
            src.close()
            summary.frames_in, summary.dropped = src.frames_in, src.dropped
        if current is not None:
            finish(current)
    return summary
