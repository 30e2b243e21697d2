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


class ModelError(SrcodecError):
    """A model id is unknown, or a weights file is corrupt or does not match its hash."""


class DataError(SrcodecError):
    """Training or validation data is missing or unusable."""
