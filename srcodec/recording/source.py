"""Frames from a camera: any input FFmpeg opens (rtsp://, http://, tcp://, udp://, a file),
decoded by PyAV in a thread, each stamped with its UTC reception time; a live stream that drops
is reopened with backoff and the outage reported as a ``Gap``, never in silence.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import av
import numpy as np

from ..archive.timeline import Gap
from ..clock import now_us
from ..errors import SrcodecError

__all__ = ["Drop", "Frame", "Gap", "Source", "redact"]

#: Reopening a dropped stream waits this long first, doubling up to ``MAX_BACKOFF`` seconds.
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 30.0
#: How long opening a stream, or waiting for its next packet, may take (seconds) by default.
DEFAULT_TIMEOUT = 10.0
#: Probing a live stream before its first frame: 1 s of it at most, so recording starts fast.
_PROBE_OPTIONS = {"analyzeduration": "1000000", "probesize": "1000000"}


@dataclass
class Frame:
    """A decoded frame (RGB, HxWx3 uint8), when it was received (microseconds since the epoch,
    UTC), its stream timestamp (``pts`` in ``time_base`` seconds; None if the stream has none),
    the stream's nominal frame rate and which connection it came through (from 0)."""

    image: np.ndarray
    received: int
    pts: int | None
    time_base: Fraction | None
    fps: Fraction | None
    connection: int


@dataclass
class Drop:
    """A live connection ended (at ``when``, microseconds since the epoch, UTC): its frames are
    complete, so a recorder stores the group in flight now rather than when the stream comes
    back (the outage itself is a ``Gap``, reported once its end is known)."""

    when: int
    reason: str


def redact(source: str) -> str:
    """``source`` with any password in its URL hidden, for headers and messages."""
    parts = urlsplit(source)
    if parts.password is None:
        return source
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


def is_file(source: str) -> bool:
    """Whether ``source`` is a local file (which ends, rather than drops)."""
    return "://" not in source and Path(source).is_file()


class Source:
    """Frames of ``url`` until ``stop()`` or, for a file, its end.

    ``frames()`` yields ``Frame`` and ``Gap`` events from a reader thread through a queue of
    ``buffer`` frames; a live stream whose reader is ahead of its consumer by a full queue
    loses the oldest frames to come, reported as a ``Gap``. ``realtime`` paces a file at its
    frame rate, as a camera would deliver it. The first connection failing raises
    ``SrcodecError``; later drops of a live stream are retried with backoff for as long as
    the source runs.
    """

    def __init__(
        self,
        url: str,
        *,
        realtime: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        buffer: int = 64,
    ) -> None:
        self.url, self.realtime, self.timeout = str(url), realtime, timeout
        self.live = not is_file(self.url)
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, buffer))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_in = 0  # frames received before any stop: handed on or dropped
        self.dropped = 0  # frames lost because the consumer was behind

    def _open(self) -> av.container.InputContainer:
        try:
            container = av.open(
                self.url,
                timeout=(self.timeout, self.timeout),
                options=_PROBE_OPTIONS if self.live else {},
            )
        except av.FFmpegError as exc:
            raise SrcodecError(f"cannot open {redact(self.url)}: {_why(exc)}") from None
        # FFmpeg reads any text file as ANSI art ("tty"): a camera is never that.
        if not container.streams.video or container.format.name in _NOT_VIDEO:
            container.close()
            raise SrcodecError(f"cannot open {redact(self.url)}: it has no video stream")
        return container

    def open(self) -> None:
        """Open the first connection (``SrcodecError`` if that fails) and start reading."""
        container = self._open()
        self._thread = threading.Thread(
            target=self._run, args=(container,), name="srcodec-source", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.stop()
        while self._thread is not None and self._thread.is_alive():
            try:  # unblock a reader waiting on a full queue
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(0.05)

    def drain(self) -> list[Frame | Gap | Drop]:
        """Stop reading and return the frames and gaps already queued (received before the
        stop, so never to be lost in silence)."""
        self.stop()
        if self._thread is not None:
            # A frame being handed on as the stop came is in the queue once the reader is done
            # with it (an instant: a live frame is queued or dropped without waiting). A reader
            # blocked on the network (waiting for a packet, or reconnecting) holds no frame:
            # the frames queued are not kept waiting for it (they waited up to the timeout).
            self._thread.join(_DRAIN_WAIT)
        items = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if isinstance(item, (Frame, Gap, Drop)):
                items.append(item)

    def events(self, poll: float = 0.1) -> Iterator[Frame | Gap | Drop | None]:
        """Frames, gaps and drops as they come; None every ``poll`` seconds without one (so
        the caller can keep time), ending when the source has ended."""
        while True:
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item: object, droppable: bool) -> bool:
        """Queue ``item``; a live frame that finds the queue full is dropped (False)."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1 if not droppable else 0)
                return True
            except queue.Full:
                if droppable:
                    return False
        return False

    def _run(self, container: av.container.InputContainer) -> None:
        connection, backoff = 0, FIRST_BACKOFF
        try:
            while not self._stop.is_set():
                reason, last = self._read(container, connection)
                container.close()
                if not self.live or self._stop.is_set():
                    if reason and not self.live:
                        self._put(SrcodecError(f"{self.url}: {reason}"), droppable=False)
                    break
                self._put(Drop(now_us(), reason or "stream ended"), droppable=False)
                # A live stream dropped: reopen with backoff; the gap runs from the last frame
                # (or the drop) to the first frame of the new connection.
                since = last if last is not None else now_us()
                container = None
                while container is None and not self._stop.is_set():
                    self._stop.wait(backoff)
                    backoff = min(MAX_BACKOFF, backoff * 2)
                    try:
                        container = self._open()
                    except SrcodecError:
                        continue
                if container is None:
                    self._put(Gap(since, now_us(), reason or "stream ended"), droppable=False)
                    break
                connection += 1
                self._pending_gap = (since, reason or "stream ended")
                backoff = FIRST_BACKOFF
        except BaseException as exc:  # reported to the consumer, never lost in the thread
            self._put(exc, droppable=False)
        finally:
            if not self._put(_END, droppable=False):
                try:  # stopped: the consumer may be gone, so never wait for it
                    self._queue.put_nowait(_END)
                except queue.Full:
                    pass

    _pending_gap: tuple[int, str] | None = None

    def _read(self, container: av.container.InputContainer, connection: int):
        """Decode ``container`` to the queue until it ends, fails or the source stops;
        returns (why it ended, or None at a file's end; reception time of its last frame)."""
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = stream.average_rate or stream.guessed_rate
        base = stream.time_base
        start_wall, start_pts, last = None, None, None
        dropped_since: int | None = None
        try:
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return None, last
                if self.realtime and frame.time is not None:
                    # Deliver the file as a camera would: frame k at its own time.
                    if start_wall is None:
                        start_wall, start_pts = time.monotonic(), frame.time
                    delay = start_wall + (frame.time - start_pts) - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return None, last
                image = frame.to_ndarray(format="rgb24")
                received = now_us()
                if self._pending_gap is not None:
                    since, why = self._pending_gap
                    self._pending_gap = None
                    self._put(Gap(since, received, why), droppable=False)
                if dropped_since is not None:
                    self._put(Gap(dropped_since, received, _BEHIND), droppable=False)
                    dropped_since = None
                item = Frame(image, received, frame.pts, base, fps, connection)
                if self._put(item, droppable=self.live):
                    self.frames_in += 1
                    last = received
                elif not self._stop.is_set():
                    self.frames_in += 1
                    self.dropped += 1
                    if dropped_since is None:
                        dropped_since = last if last is not None else received
        except av.FFmpegError as exc:
            return f"stream lost ({_why(exc)})", last
        return ("stream ended" if self.live else None), last


_END = object()
#: How long ``drain`` lets the reader finish handing on a frame (seconds).
_DRAIN_WAIT = 1.0
_NOT_VIDEO = {"tty"}
_BEHIND = "frames dropped: the recorder fell behind the stream"


def _why(exc: av.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc)
