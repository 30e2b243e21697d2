"""The ``srcodec`` command line, one module per command group: encode (encode.py), decode
(decode.py), info, verify and recover (archives.py), models and train (models.py), adapt
(adapt.py), export-zarr and import-zarr (zarrio.py), record, cut and transcode (record.py);
what they share is in common.py. User errors are one line on stderr and a non-zero exit, never
a traceback.
"""

from __future__ import annotations

import click

from .adapt import adapt
from .archives import info, recover, verify
from .common import EXIT_DAMAGED, EXIT_ERROR, EXIT_STATUSES, EXIT_USAGE, CommandGroup
from .decode import decode
from .encode import encode
from .models import models, train
from .record import cut, record, transcode
from .zarrio import export_zarr, import_zarr

__all__ = ["EXIT_DAMAGED", "EXIT_ERROR", "EXIT_USAGE", "main"]


@click.group(cls=CommandGroup, epilog=EXIT_STATUSES)
@click.version_option(package_name="srcodec")
def main() -> None:
    """Archive camera frames at half resolution; restore them with an EDSR x2 network."""


for _command in (
    encode,
    decode,
    info,
    verify,
    recover,
    models,
    train,
    adapt,
    export_zarr,
    import_zarr,
    record,
    cut,
    transcode,
):
    main.add_command(_command)
