"""Frame names are data, never paths: the policy for which names can be restored as files in a
folder, and which file each one restores to. Used by the encoder, decoding and ``verify``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection, Iterable
from pathlib import Path

from .errors import CorruptError, FrameError

__all__ = [
    "MAX_OUTPUT_NAME_BYTES",
    "check_names",
    "output_key",
    "output_name_problem",
    "output_targets",
    "restored_name",
    "safe_output_name",
]

#: Longest restored file name, in UTF-8 bytes: within the usual file-system limit of 255.
MAX_OUTPUT_NAME_BYTES = 250
_WINDOWS_UNSAFE = re.compile(r'[<>:"|?*]')
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in "123456789"
}


def restored_name(name: str) -> str:
    """The PNG file name frame ``name`` restores to (its suffix, if any, replaced by .png)."""
    return f"{Path(name).stem if Path(name).suffix else name}.png"


def output_key(out: str) -> str:
    """The key under which a file system may store the file ``out``: two names that a
    case-insensitive or normalising file system (macOS, Windows) would store as one file
    have the same key."""
    return unicodedata.normalize("NFC", out).casefold()


def output_name_problem(name: str) -> str | None:
    """Why frame ``name`` cannot be restored as a file in a folder, or None if it can.

    Frame names are data, never paths: a name is refused (not rewritten) if it holds a path
    separator, a control or other non-printable character (NUL, newline, escape, bidi
    override...), is empty or all dots, restores to a name starting with "..", or is too long;
    on Windows also if it holds one of <>:"|?*, ends in a dot or space, or is a device name.
    """
    if not isinstance(name, str) or name.strip(".") == "":
        return "is not a plain file name"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if not name.isprintable():
        return "contains a control or non-printable character"
    out = restored_name(name)
    if out.startswith(".."):
        return "is not a plain file name"
    if len(out.encode("utf-8")) > MAX_OUTPUT_NAME_BYTES:
        return f"is too long for a file name (over {MAX_OUTPUT_NAME_BYTES} UTF-8 bytes)"
    if os.name == "nt" and (
        _WINDOWS_UNSAFE.search(name)
        or name[-1] in ". "
        or out.split(".")[0].upper() in _WINDOWS_DEVICES
    ):
        return "is not a valid Windows file name"
    return None


def safe_output_name(name: str) -> str:
    """The PNG file name a frame restores to.

    Raises ``CorruptError`` if the name is not a plain file name (``output_name_problem``): a
    crafted archive never writes outside its folder.
    """
    problem = output_name_problem(name)
    if problem:
        raise CorruptError(f"frame name {name!r} {problem}; refusing to write it")
    return restored_name(name)


def output_targets(names: Iterable[str], folder: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """({name: output path} for the frames that can be written, {name: why} for the others:
    unsafe names, and any name restoring to the same file as an earlier frame."""
    targets: dict[str, Path] = {}
    refused: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for name in names:
        try:
            out = safe_output_name(name)
        except CorruptError as exc:
            refused[name] = str(exc)
            continue
        other = claimed.setdefault(output_key(out), name)
        if other != name:
            refused[name] = f"frame {name!r} restores to the same file as {other!r}; skipped"
            continue
        targets[name] = folder / out
    return targets, refused


def check_names(names: list[str], existing: Collection[str] = (), archive: object = None) -> None:
    """Refuse names that could not be decoded to a folder, repeat a name, or would restore to
    the same file as another frame (new or already in ``archive``)."""
    outputs = {output_key(restored_name(n)): n for n in existing}
    for name in names:
        problem = output_name_problem(name)
        if problem:
            raise FrameError(f"frame name {name!r} {problem}")
        if name in existing:
            raise FrameError(f"frame {name!r} is already in {archive}; rename it")
        other = outputs.setdefault(output_key(restored_name(name)), name)
        if other != name:
            raise FrameError(
                f"frames {other!r} and {name!r} would both restore to "
                f"{restored_name(name)!r}; rename one"
            )
