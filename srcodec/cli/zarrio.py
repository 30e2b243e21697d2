"""``srcodec export-zarr`` and ``import-zarr``: low-resolution frames between archives and Zarr."""

from __future__ import annotations

import click

from .common import PathArg, files_option


@click.command("export-zarr")
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
    from ..distributed.zarrstore import archive_to_zarr, describe

    array = archive_to_zarr(
        archive, store, chunk_frames=chunk_frames, codec=codec_id, overwrite=force
    )
    click.echo(f"{archive} -> {store}: {describe(array)}")


@click.command("import-zarr")
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
    from ..archive.filereader import ArchiveReader
    from ..archive.layout import Header
    from ..distributed.zarrstore import ATTRS_KEY, describe, open_zarr, zarr_to_archive

    zarr_to_archive(store, archive, model=model, weights=weights, codec=codec_id, force=force)
    array = open_zarr(store)
    click.echo(f"{store} -> {archive}: {describe(array)}")
    recorded = (array.attrs.get(ATTRS_KEY) or {}).get("header")
    with ArchiveReader(archive) as reader:
        written = reader.header.codec
    was = Header.from_json(recorded.encode("utf-8")).codec if recorded else written
    if codec_id is None and was["id"] != written["id"]:
        click.echo(
            f"the recorded lossy codec {was['id']} is not coded lossily again: the frames are "
            f"stored losslessly with {written['id']} (--codec chooses another)"
        )
