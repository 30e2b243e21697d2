"""Reading archives: ``Archive`` gives random access to the frames of a .src archive and
restores them with the model its header names (``open``); ``decode`` iterates over them all.
"""

from __future__ import annotations

import os
import re
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..engines.identity import IdentityRestorer, is_identity
from ..engines.tiling import TiledRestorer
from ..errors import CorruptError, DamagedArchiveError, ModelError
from ..lowres import LowresCodec, StreamCodec, get_codec
from ..models.store import ModelInfo, get_model, inspect_weights, scale_problem, short_id, split_id
from ..models.update import ModelUpdate, archive_update, base_id
from ..resample import lowres_size, upscale
from .filereader import ArchiveReader
from .layout import FrameRecord, GroupRecord

__all__ = ["Archive", "decode", "open"]

#: Low-resolution pixels upscaled in one batch of equal-size frames by ``--bicubic`` (the network
#: batches by its restorer's ``batch_pixels``).
BATCH_PIXELS = 512 * 512
#: Frames read and decoded ahead of the network (and, in tofolder.py, PNGs written behind it).
PREFETCH_FRAMES = 8


def decode_group(
    codec: LowresCodec,
    record: FrameRecord,
    scale: int,
    path: str | os.PathLike,
    upto: int | None = None,
) -> list[np.ndarray]:
    """Every low-resolution frame of the group ``record`` belongs to (with ``upto``, its frames
    0..``upto`` only: a seek decodes from the key frame forward, no further), each checked
    against its pixel CRC; ``CorruptError`` naming the group (its size and first frame) if it
    is damaged."""
    group = record.group
    assert group is not None
    first = group.frames[0]
    where = f"group of {len(group)} frames from {first.name!r} of {path}"
    if not isinstance(codec, StreamCodec):
        raise CorruptError(f"{where}: the archive's codec {codec.codec_id} codes no groups")
    lw, lh = lowres_size(first.width, first.height, scale)
    try:
        return codec.decode_group(group.payload, lw, lh, first.channels, len(group), upto)
    except CorruptError as exc:
        raise CorruptError(f"{where}: {exc}") from None


class Archive:
    """An open archive: frames by position or name, restored on demand.

    ``archive[i]`` / ``archive["name"]`` restore one frame; ``lowres(i)`` gives the stored
    low-resolution frame; the model is loaded once, on first use. ``engine``, ``precision`` and
    ``threads`` choose how it runs (``srcodec.engines.choose.make_restorer``); ``restorer``, one
    already made for the archive's model, is used as it is (a model loaded once for many archives).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        weights: Iterable = (),
        device: str = "auto",
        bicubic: bool = False,
        tile: int | None = None,
        engine: str = "auto",
        precision: str = "fp32",
        threads: int | None = None,
        self_ensemble: bool = False,
        restorer: TiledRestorer | None = None,
    ) -> None:
        self.path = Path(path)
        self.reader = ArchiveReader(self.path)
        self.header = self.reader.header
        self.codec = get_codec(self.header.codec)
        self.weights, self.device, self.bicubic, self.tile = list(weights), device, bicubic, tile
        self.engine, self.precision, self.threads = engine, precision, threads
        self.self_ensemble = self_ensemble
        self._restorer: TiledRestorer | None = restorer
        self._update: tuple[ModelUpdate | None, str | None] | None = None
        # The last group decoded for random access: reading frame i+1 after frame i of one
        # group decodes nothing again.
        self._group: tuple[GroupRecord, list[np.ndarray]] | None = None
        if restorer is not None and restorer.scale != self.header.scale:
            raise ModelError(
                f"{self.path}: the archive's frames are reduced x{self.header.scale} but the "
                f"restorer given restores x{restorer.scale}"
            )

    @property
    def names(self) -> list[str]:
        return self.reader.names

    def __len__(self) -> int:
        return len(self.reader)

    def model_info(self) -> ModelInfo:
        """The model the header asks for, found among installed and ``weights`` files;
        ``ModelError`` if it is not found or does not restore the archive's scale."""
        try:
            info = get_model(base_id(self.header.model_id), self.weights)
        except ModelError:
            given = ", ".join(f"{w} is {inspect_weights(w).short_id}" for w in self.weights)
            raise ModelError(
                f"{self.path} needs model {short_id(base_id(self.header.model_id))}, which is not "
                "installed" + (f" ({given})" if given else "; give its weights file with --weights")
            ) from None
        problem = scale_problem(self.header.scale, info)
        if problem:
            raise ModelError(f"{self.path}: {problem}; refusing to restore it")
        return info

    @property
    def update_problem(self) -> str | None:
        """Why the model update the header names cannot be used (damaged, missing), or None.
        The frames are then restored with the general model, and ``frames()`` reports it as
        damage: they are not what the encoder tuned them for."""
        return self._model_update()[1]

    def _model_update(self) -> tuple[ModelUpdate | None, str | None]:
        if self._update is None:
            try:
                self._update = (archive_update(self.reader), None)
            except CorruptError as exc:
                general = short_id(base_id(self.header.model_id))
                why = f"{exc}; its frames are restored with the general model {general} instead"
                self._update = (None, why)
        return self._update

    @property
    def plate_strength(self) -> tuple[float, float] | None:
        """The scene-plate strengths, luma and chroma, the archive's encoder chose
        (``extra.lossy.plate``, docs/format.md 9.9: a number for both, or [luma, chroma]), or
        None (none recorded: the model's card decides)."""
        lossy = self.header.extra.get("lossy")
        value = lossy.get("plate") if isinstance(lossy, dict) else None
        if value is None:
            return None
        pair = value if isinstance(value, list) and len(value) == 2 else [value, value]
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in pair
        ):
            raise CorruptError(
                f"{self.path}: its scene-plate strength {value!r} is not a number >= 0 "
                "or a pair of them"
            )
        return float(pair[0]), float(pair[1])

    @property
    def restorer(self) -> TiledRestorer:
        if self._restorer is None and is_identity(self.header.model_id):
            self._restorer = IdentityRestorer()  # a lossy archive's base codec alone
        if self._restorer is None:
            # Imported here: reading, verifying and recovering archives need no engine.
            from ..engines.choose import make_restorer

            info = self.model_info()
            # An archive that names an update is restored with it; if the update is damaged,
            # with the general model, and frames() reports the damage (update_problem).
            update = self._model_update()[0]
            # The hash checked is the one the archive asks for, read from the weights file as
            # it is loaded (a file swapped after it was found is refused), or the model id
            # embedded in the ONNX export.
            _, sha = split_id(base_id(self.header.model_id))
            expected = sha if sha and re.fullmatch(r"[0-9a-f]{64}", sha) else info.sha256
            self._restorer = make_restorer(
                info,
                self.device,
                self.engine,
                self.precision,
                tile=self.tile,
                threads=self.threads,
                self_ensemble=self.self_ensemble,
                expected_sha256=expected,
                update=update,
            )
            param = getattr(self.codec, "quality_param", None)
            self._restorer.use_setting(getattr(self.codec, param) if param else None)
            plate = self.plate_strength
            if plate is not None:
                self._restorer.use_strength(*plate)
        return self._restorer

    def lowres(self, key: int | str) -> np.ndarray:
        """The stored low-resolution frame (``CorruptError`` naming it if damaged); a frame of
        a group decodes its whole group once, kept until another group is read (reading a group's
        frames in order decodes it once, not once per frame). If the group is damaged after the
        frame, the frame still comes back: the group is decoded from its key frame forward up to
        the frame, no further."""
        record = self.reader.read(key)
        if record.group is None:
            return self._decode_record(record)
        cached = self._group
        if cached is None or cached[0] is not record.group or len(cached[1]) <= record.position:
            scale = self.header.scale
            try:
                lrs = decode_group(self.codec, record, scale, self.path)
            except CorruptError:
                lrs = decode_group(self.codec, record, scale, self.path, record.position)
            cached = (record.group, lrs)
            self._group = cached
        return cached[1][record.position]

    def _decode_record(self, record: FrameRecord) -> np.ndarray:
        """The low-resolution frame of a record of its own (FRAM), or of a group's."""
        if record.group is not None:
            return self._decode_group(record)[record.position]
        lw, lh = lowres_size(record.width, record.height, self.header.scale)
        try:
            return self.codec.decode(record.payload, lw, lh, record.channels)
        except CorruptError as exc:
            raise CorruptError(f"frame {record.name!r} of {self.path}: {exc}") from None

    def _decode_group(self, record: FrameRecord) -> list[np.ndarray]:
        """Every low-resolution frame of ``record``'s group (``CorruptError`` naming the group's
        first frame, if its stream is damaged)."""
        return decode_group(self.codec, record, self.header.scale, self.path)

    def _restore(self, lrs: list[np.ndarray], records: list[FrameRecord]) -> list[np.ndarray]:
        sizes = [(r.width, r.height) for r in records]
        if self.bicubic:
            return [
                upscale(lr, size, self.header.scale) for lr, size in zip(lrs, sizes, strict=True)
            ]
        return self.restorer.restore_batch(lrs, sizes)

    def _record(self, key: int | str) -> FrameRecord:
        if isinstance(key, int) and not -len(self) <= key < len(self):
            raise IndexError(f"frame {key} is out of range: {self.path} has {len(self)} frames")
        return self.reader.read(key)

    def __getitem__(self, key: int | str) -> np.ndarray:
        """The restored frame at position ``key`` (``IndexError`` out of range) or of name
        ``key`` (``FrameNotFoundError``); ``CorruptError`` if it is damaged."""
        record = self._record(key)
        return self._restore([self.lowres(key)], [record])[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.reader._positions

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        """``for name, frame in archive``: ``frames()``."""
        return self.frames()

    def frames(
        self,
        on_damage: Callable[[str | None, CorruptError], None] | None = None,
        skip: Collection[str] = (),
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(name, restored frame) in order, frames of equal size restored in batches.

        Every intact frame comes out, whatever is damaged. What is not (a damaged frame, an
        unusable index, byte ranges a scan had to skip, a file that ends early, a damaged
        model update: its frames then come out restored by the general model) is, with
        ``on_damage``, reported to ``on_damage(name, error)`` as it is found (``name`` None
        where no frame name can be read: ``error`` then gives the byte range); without it,
        ``DamagedArchiveError`` listing all of it is raised after the last intact frame.
        Frames named in ``skip`` are neither read nor restored.
        """
        lost: list[tuple[str | None, str]] = []

        def damaged(name: str | None, exc: CorruptError) -> None:
            if on_damage is None:
                lost.append((name, str(exc)))
            else:
                on_damage(name, exc)

        for name, why in self.reader.losses():
            damaged(name, CorruptError(why))
        if self.update_problem is not None:
            damaged(None, CorruptError(self.update_problem))
        yield from self._intact_frames(damaged, skip)
        if lost:
            raise DamagedArchiveError(self.path, lost)

    def _intact_frames(
        self, damaged: Callable[[str | None, CorruptError], None], skip: Collection[str]
    ) -> Iterator[tuple[str, np.ndarray]]:
        batch: list[tuple[FrameRecord, np.ndarray]] = []
        budget = BATCH_PIXELS if self.bicubic else self.restorer.batch_pixels

        def flush() -> Iterator[tuple[str, np.ndarray]]:
            out = self._restore([lr for _, lr in batch], [r for r, _ in batch])
            yield from ((r.name, img) for (r, _), img in zip(batch, out, strict=True))
            batch.clear()

        # Low-resolution decoding runs ahead in a thread while the network works; the file is
        # read on this thread only, so random access (``archive[i]``) between frames is safe.
        # The frames of a group share one decoding of the whole group.
        records = iter(self.reader.records())
        ahead: deque[tuple[str, FrameRecord | CorruptError, Future | None]] = deque()
        last: list = [None, None]  # the group read last, and its decoding

        def decoding(record: FrameRecord) -> Future:
            if record.group is None:
                return pool.submit(self._decode_record, record)
            if last[0] is not record.group:
                last[:] = [record.group, pool.submit(self._decode_group, record)]
            return last[1]

        def read_ahead() -> None:
            while len(ahead) < PREFETCH_FRAMES:
                item = next(records, None)
                if item is None:
                    return
                name, record = item
                if name in skip:
                    continue
                if isinstance(record, CorruptError):
                    ahead.append((name, record, None))
                else:
                    ahead.append((name, record, decoding(record)))

        pool = ThreadPoolExecutor(1, thread_name_prefix="srcodec-read")
        try:
            read_ahead()
            while ahead:
                name, record, future = ahead.popleft()
                try:
                    if future is None:
                        raise record  # type: ignore[misc]
                    lr = future.result()
                    if isinstance(lr, list):
                        lr = lr[record.position]  # type: ignore[union-attr]
                except CorruptError as exc:
                    damaged(name, exc)
                    read_ahead()
                    continue
                read_ahead()
                if batch and (
                    lr.shape != batch[0][1].shape
                    or (len(batch) + 1) * lr.shape[0] * lr.shape[1] > budget
                ):
                    yield from flush()
                batch.append((record, lr))  # type: ignore[arg-type]
            if batch:
                yield from flush()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def info(self) -> dict:
        """A JSON-safe description: header, model, codec, frames and their sizes, and groups.

        ``payload_bytes`` of a frame is its own payload's, or None for a frame of a group,
        whose frames share one payload: ``groups`` lists each group's first frame, frame count
        and payload bytes, and a frame's ``group`` is its group's number in that list. A
        damaged group keeps its number (its ``damaged`` says why, its ``payload_bytes`` is
        None), so that later groups keep theirs. ``damaged`` names the damaged frames;
        ``update_problem`` says why a model update named by the header cannot be used.
        """
        frames, sizes = [], {}
        groups: list[dict] = []
        group_of: dict[int, int] = {}  # chunk offset -> group number
        entries = [self.reader.entry(i) for i in range(len(self))]
        shared = Counter(e.offset for e in entries)
        stream = isinstance(self.codec, StreamCodec)  # every frame is in a group
        for (name, record), entry in zip(self.reader.records(), entries, strict=True):
            grouped = stream or shared[entry.offset] > 1 or entry.position > 0
            if grouped and entry.offset not in group_of:
                group_of[entry.offset] = len(groups)
                groups.append({"first": name, "frames": shared[entry.offset]})
            frame: dict = {"name": name}
            if isinstance(record, CorruptError):
                frame.update(size=None, mode=None, damaged=str(record))
                if grouped:
                    groups[group_of[entry.offset]].setdefault("damaged", str(record))
            else:
                size = f"{record.width}x{record.height} {record.mode}"
                sizes[size] = sizes.get(size, 0) + 1
                frame.update(size=f"{record.width}x{record.height}", mode=record.mode)
                if grouped:
                    groups[group_of[entry.offset]]["payload_bytes"] = len(record.payload)
            if grouped:
                frame.update(payload_bytes=None, group=group_of[entry.offset])
            else:
                frame["payload_bytes"] = entry.payload_size
            frames.append(frame)
        for g in groups:
            g.setdefault("payload_bytes", None)
        own = sum(f["payload_bytes"] or 0 for f in frames)
        # Recorded footage: the first and last reception times (UTC) and the gaps; None and []
        # for an archive that records no times (docs/format.md, 4b).
        from .timeline import segment_times

        timeline = segment_times(self.reader).summary()
        return {
            "path": str(self.path),
            "format_version": self.reader.format_version,
            "file_bytes": self.reader.file_size,
            "model_id": self.header.model_id,
            "scale": self.header.scale,
            "codec": self.header.codec,
            "fps": self.header.extra.get("fps"),
            "created": self.header.created,
            "srcodec_version": self.header.srcodec_version,
            "frames": len(frames),
            "payload_bytes": own + sum(g["payload_bytes"] or 0 for g in groups),
            "sizes": sizes,
            "groups": groups,
            "damaged": [f["name"] for f in frames if f.get("damaged")],
            "index_recovered": self.reader.index_recovered,
            "damage": self.reader.damage,
            "update_problem": self.update_problem,
            "frame_list": frames,
            **timeline,
        }

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: str | os.PathLike, **kwargs) -> Archive:  # noqa: A001 - mirrors io.open
    """Open an archive for random access: ``srcodec.open("a.src")[0]``.

    ``kwargs`` are ``Archive``'s. Returns the ``Archive`` (a context manager). Raises
    ``FormatError`` if ``path`` is not an archive this version reads or its codec is unknown,
    ``CorruptError`` if its header is damaged, and ``OSError`` if it cannot be opened.
    """
    return Archive(path, **kwargs)


def decode(path: str | os.PathLike, **kwargs) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (name, restored uint8 frame) for every frame of the archive, in order.

    ``kwargs`` are ``Archive``'s, and ``on_damage`` as ``Archive.frames`` takes it. Raises what
    ``open`` raises, ``ModelError`` if the archive's model is not found, and, after every intact
    frame has been yielded, ``DamagedArchiveError`` listing what is lost if the archive is not
    whole (unless ``on_damage`` is given: then it is told each loss instead).
    """
    on_damage = kwargs.pop("on_damage", None)
    with Archive(path, **kwargs) as archive:
        yield from archive.frames(on_damage)
