"""``srcodec info``, ``verify`` and ``recover``: what an archive holds, whether it is intact, and
a copy of every intact frame of a damaged one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .. import display
from ..errors import SrcodecError
from .common import EXIT_DAMAGED, EXIT_ERROR, PathArg, show_name


def _each_archive(archives: tuple[str, ...], run) -> None:
    """``run(archive)`` for every archive, returning whether it is damaged; one that cannot be
    read is an error on stderr and the others still run. Exit status 1 if any could not be
    read, else 3 if any is damaged."""
    failed = damaged = False
    for archive in archives:
        try:
            damaged |= bool(run(archive))
        except SrcodecError as exc:
            if len(archives) == 1:
                raise
            click.echo(f"srcodec: error: {exc}", err=True)
            failed = True
    if failed:
        sys.exit(EXIT_ERROR)
    if damaged:
        sys.exit(EXIT_DAMAGED)


@click.command()
@click.argument("archives", nargs=-1, required=True, type=PathArg(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--frames", "show_frames", is_flag=True, help="List every frame.")
def info(archives: tuple[str, ...], as_json: bool, show_frames: bool) -> None:
    """Describe archives: header, model, codec, frames and sizes, and any damage.

    Exit status: 0 if every archive is whole, 3 if one is damaged (its damaged frames are
    counted and, with --frames, named), 1 if one cannot be read.
    """
    from ..archive.reader import open as open_archive

    found: list[dict] = []

    def describe(archive: str) -> bool:
        with open_archive(archive) as a:
            d = a.info()
        if not as_json:
            if found:
                click.echo()
            _show_info(d, show_frames)
        found.append(d)
        return bool(d["damaged"] or d["damage"] or d["index_recovered"] or d["update_problem"])

    try:
        _each_archive(archives, describe)
    finally:
        if as_json and found:
            click.echo(json.dumps(found[0] if len(archives) == 1 else found, indent=2))


def _show_info(d: dict, show_frames: bool) -> None:
    click.echo(
        f"archive      {d['path']} ({d['file_bytes']:,} bytes, format {d['format_version']})"
    )
    click.echo(f"model        {d['model_id']}")
    click.echo(f"scale        x{d['scale']}")
    click.echo(f"codec        {json.dumps(d['codec'])}")
    click.echo(f"created      {d['created']} by srcodec {d['srcodec_version']}")
    damaged = len(d["damaged"])
    click.echo(
        f"frames       {d['frames']} ({d['payload_bytes']:,} payload bytes)"
        + (f", {damaged} DAMAGED (srcodec verify; srcodec recover)" if damaged else "")
    )
    if d["fps"]:
        click.echo(f"frame rate   {display.fps(d['fps'])} fps")
    if d["start"]:
        click.echo(f"recorded     {d['start']} .. {d['end']} (UTC)")
    for gap in d["gaps"]:
        span = f"{gap['start']} .. {gap['end']} ({gap['seconds']:g} s)"
        click.echo(f"gap          {span}: {gap['reason']}")
    if d["groups"]:
        sizes = sorted({g["frames"] for g in d["groups"]})
        bad = sum(1 for g in d["groups"] if g.get("damaged"))
        click.echo(
            f"groups       {len(d['groups'])} of {'/'.join(map(str, sizes))} frames "
            f"({sum(g['payload_bytes'] or 0 for g in d['groups']):,} payload bytes)"
            + (f", {bad} DAMAGED" if bad else "")
        )
    if d["damage"]:
        click.echo(f"damage       {d['damage'].removeprefix('; ')}")
    if d["update_problem"]:
        click.echo(f"model update DAMAGED: {d['update_problem']}")
    for size, count in d["sizes"].items():
        click.echo(f"  {count} x {size}")
    if show_frames:
        for f in d["frame_list"]:
            if f.get("damaged"):
                where = f"  group {f['group']}" if "group" in f else ""
                click.echo(f"  {show_name(f['name'])}  DAMAGED{where}: {f['damaged']}")
            else:
                where = f"group {f['group']}" if "group" in f else f"{f['payload_bytes']:,} bytes"
                click.echo(f"  {show_name(f['name'])}  {f['size']} {f['mode']}  {where}")


@click.command()
@click.argument("archives", nargs=-1, required=True, type=PathArg(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(archives: tuple[str, ...], as_json: bool) -> None:
    """Check every checksum, the index and every frame's payload (no network is run).

    Exit status: 0 if every archive is intact, 3 if one is damaged, 1 if one is unreadable.
    """
    from ..archive.recovery import verify as verify_archive

    reports: list[dict] = []

    def check(archive: str) -> bool:
        r = verify_archive(archive)
        if as_json:
            reports.append(r.to_dict())
        else:
            _show_verify(archive, r)
        return not r.ok

    try:
        _each_archive(archives, check)
    finally:
        if as_json and reports:
            click.echo(json.dumps(reports[0] if len(archives) == 1 else reports, indent=2))


def _show_verify(archive: str, r) -> None:
    if not r.index_ok:
        click.echo(f"index: {r.index_problem}; frames found by scanning the chunks")
    if r.update_problem:
        click.echo(f"model update: {r.update_problem}")
    for d in r.damaged_regions:
        where = f" (frame {show_name(d.name)})" if d.name else ""
        click.echo(f"damaged bytes {d.offset}..{d.end}{where}: {d.reason}")
    for name in r.not_in_index:
        click.echo(f"frame {show_name(name)} is in the file but not in the index")
    for name in r.not_found_by_scan:
        click.echo(f"frame {show_name(name)} is in the index but not found by the scan")
    for name, why in r.damaged:
        click.echo(f"damaged {show_name(name)}: {why}")
    if r.model_problem:
        click.echo(f"model: {r.model_problem}")
    state = "intact" if r.ok else "DAMAGED"
    update = (
        "; its model update is DAMAGED: they restore with the general model"
        if r.update_problem
        else ""
    )
    click.echo(
        f"{archive}: {state}: {len(r.intact)} of {display.count(r.frames, 'frame')} intact{update}"
    )


@click.command()
@click.argument("archive", type=PathArg())
@click.option(
    "-o",
    "--output",
    default=None,
    type=PathArg(dir_okay=False),
    help="Archive to write with every intact frame (not for a recording folder).",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def recover(archive: str, output: str, force: bool, as_json: bool) -> None:
    """Copy every intact frame of a damaged ARCHIVE into a new archive OUTPUT.

    ARCHIVE may be a recording folder (of 'srcodec record'): the segments a killed recorder
    left unfinished are closed into archives of their complete groups.

    Exit status: 0 if nothing was lost; 3 if frames were lost or damage was found where no
    frame name can be read (OUTPUT is written either way).
    """
    from ..archive.recovery import recover as recover_archive

    if Path(archive).is_dir():
        if output is not None:
            raise click.UsageError("a recording folder is recovered in place: no -o")
        from .record import recover_directory

        return recover_directory(archive, as_json)
    if output is None:
        raise click.UsageError("Missing option '-o' / '--output'.")

    r = recover_archive(archive, output, force=force)
    if as_json:
        click.echo(json.dumps(r.to_dict(), indent=2))
    else:
        for name, why in r.lost:
            click.echo(f"lost {show_name(name)}: {why}")
        for d in r.unnamed_damage:
            click.echo(f"damaged bytes {d.offset}..{d.end}: {d.reason}")
        if r.update_dropped:
            click.echo(
                f"model update DROPPED ({r.update_dropped}); {output} names the general model"
            )
        click.echo(
            f"{output}: {display.count(len(r.recovered), 'frame')} recovered from {archive}"
            + (f", {len(r.lost)} lost" if r.lost else "")
        )
    if r.lost or r.unnamed_damage or r.update_dropped:
        sys.exit(EXIT_DAMAGED)
