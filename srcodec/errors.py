"""The exceptions srcodec raises: one hierarchy, so callers can catch ``SrcodecError``.

Every message names the file or object at fault; the CLI prints it on one line, without a traceback.
"""


class SrcodecError(Exception):
    """Base class of every error srcodec raises on purpose."""


class FrameError(SrcodecError):
    """An input frame cannot be read or is of an unsupported kind."""


class FormatError(SrcodecError):
    """A file is not a srcodec archive, or is of a newer format version."""


class CorruptError(FormatError):
    """A record of an archive (or a weights file) failed its checksum or is truncated."""


class DamagedArchiveError(CorruptError):
    """An archive is not whole. Raised after every intact frame has been yielded; ``lost``
    lists (frame name or None, why) for everything missing, as ``verify`` names it."""

    def __init__(self, path: object, lost: list[tuple[str | None, str]]) -> None:
        self.lost = lost
        shown = "; ".join(f"{name!r}: {why}" if name is not None else why for name, why in lost[:5])
        more = f"; and {len(lost) - 5} more" if len(lost) > 5 else ""
        super().__init__(f"{path} is damaged ({len(lost)} problem(s)): {shown}{more}")


class ModelError(SrcodecError):
    """A model id is unknown, or a weights file is corrupt or does not match its hash."""


class DataError(SrcodecError):
    """Training or validation data is missing or unusable."""


class SrcodecWarning(UserWarning):
    """Something srcodec did differently from what was asked, and says so (the CLI prints it
    on one line): e.g. an archive's model update run with the fp32 export instead of int8."""
