"""``srcodec models`` (list, install, export to ONNX) and ``srcodec train``."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from ..engines.export import RECIPES
from ..errors import SrcodecError
from ..models.store import short_id
from .common import DEVICE, files_option


@click.command()
@files_option("--weights", "Also list this weights file (repeatable).")
@files_option("--install", "Copy this weights file into the user directory (repeatable).")
@click.option(
    "--export-onnx",
    "export",
    multiple=True,
    metavar="MODEL",
    help="Export this model (id, name or weights file) to ONNX for the onnx engine (repeatable).",
)
@click.option("--int8", is_flag=True, help="With --export-onnx: also write the int8 model.")
@click.option(
    "--calibration",
    multiple=True,
    type=click.Path(exists=True),
    help="Frames (folder or video) to calibrate the int8 model on; real frames, never the "
    "evaluation ones (repeatable); for a camera profile that sees its scene plate, the "
    "camera's own, at the plate's size.",
)
@click.option(
    "--int8-recipe",
    type=click.Choice(list(RECIPES)),
    default=None,
    help="With --int8: how to quantize (default: percentile ranges calibrated on the frames and "
    "their smooth, dark and bright variants, last layer and upsampler in float; minmax: "
    "min-max ranges, first layer in float too; legacy: before issue 15).",
)
@click.option(
    "--onnx-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the ONNX files (default: the user model directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models(
    weights: tuple[str, ...],
    install: tuple[str, ...],
    export: tuple[str, ...],
    int8: bool,
    calibration: tuple[str, ...],
    int8_recipe: str | None,
    onnx_dir: str | None,
    as_json: bool,
) -> None:
    """List the installed models (bundled, user directory, and --weights files), with their
    ONNX exports; install weights files, or export models to ONNX."""
    from ..models.store import PRECISIONS, find_onnx, list_models, register_model, user_dir

    for path in install:
        info = register_model(path)
        click.echo(f"installed {info.short_id} as {info.path}", err=as_json)
    if (int8 or calibration or int8_recipe or onnx_dir) and not export:
        raise SrcodecError(
            "--int8, --calibration, --int8-recipe and --onnx-dir go with --export-onnx"
        )
    for spec in export:
        from ..engines.export import export_model
        from ..models.store import get_model, inspect_weights

        info = inspect_weights(spec) if Path(spec).is_file() else get_model(spec, list(weights))
        for path in export_model(
            info,
            onnx_dir,
            int8=int8,
            calibration=calibration,
            recipe=int8_recipe or "default",
        ):
            click.echo(f"exported {info.short_id} to {path}", err=as_json)
    found = list_models(list(weights))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": m.id,
                        "name": m.name,
                        "sha256": m.sha256,
                        "family": m.family,
                        "scale": m.scale,
                        "architecture": m.config.to_dict(),
                        "source": m.source,
                        "path": str(m.path),
                        "val_psnr_rgb": m.card.get("validation", {}).get("psnr_rgb"),
                        "onnx": {p: _str_or_none(find_onnx(m, p)) for p in PRECISIONS},
                        "profile": _profile_of(m),
                    }
                    for m in found
                ],
                indent=2,
            )
        )
        return
    if not found:
        click.echo(f"no models installed (user directory: {user_dir()})")
    for m in found:
        val = m.card.get("validation", {})
        psnr = f"val {val['psnr_rgb']:.2f} dB (bicubic {val['bicubic_rgb']:.2f})" if val else ""
        click.echo(f"{m.short_id:40s} {m.config.name:18s} {m.source:8s} {psnr}")
        click.echo(f"    {m.path}")
        profile = _profile_of(m)
        if profile:
            click.echo(f"    {_profile_line(profile)}")
        for p in PRECISIONS:
            onnx = find_onnx(m, p)
            if onnx:
                click.echo(f"    onnx {p}: {onnx}")


def _profile_of(m) -> dict | None:
    """What a camera profile's card says it was tuned on (None for other models)."""
    adapted = m.card.get("adapted")
    if not isinstance(adapted, dict):
        return None
    profile = adapted.get("profile") if isinstance(adapted.get("profile"), dict) else {}
    general, tuned = adapted.get("general", {}), adapted.get("tuned", {})
    gain = None
    if "psnr_rgb" in general and "psnr_rgb" in tuned:
        gain = round(tuned["psnr_rgb"] - general["psnr_rgb"], 3)
    return {
        "camera": profile.get("camera", ""),
        "footage": profile.get("footage") or adapted.get("data", ""),
        "footage_frames": profile.get("footage_frames", adapted.get("frames")),
        "codec": profile.get("codec"),
        "settings": profile.get("settings", []),
        "base_model_id": adapted.get("base_model_id", ""),
        "gain_db": gain,
        "untuned": "untuned" in adapted,
        "plate": m.card.get("plate"),
        "plate_input": m.config.sees_plate,
    }


def _profile_line(p: dict) -> str:
    """One line saying which camera and footage a profile was tuned on."""
    camera = f"camera {p['camera']!r}" if p["camera"] else "an unnamed camera"
    coded = f", as {p['codec']} decodes it at {p['settings']}" if p["codec"] else ""
    gain = "" if p["gain_db"] is None else f", {p['gain_db']:+.2f} dB on later frames"
    base = short_id(p["base_model_id"]) if p["base_model_id"] else "?"
    plate = p.get("plate")
    seen = ""
    if plate:
        network = "seen by its network, " if p.get("plate_input") else ""
        seen = (
            f"; scene plate ({network}from {plate['frames']} frames, its blend "
            f"{plate['gain_db']:+.2f} dB on later frames)"
        )
    how = "untuned (it did not gain), from" if p.get("untuned") else "tuned from"
    return (
        f"profile of {camera}: {how} {base} on {p['footage'] or 'frames'} "
        f"({p['footage_frames']} frames{coded}){gain}{seen}"
    )


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _train_config_options(command):
    """One option per ``TrainConfig`` field, its default, type and help taken from the dataclass
    (the one list of training defaults)."""
    from dataclasses import MISSING, fields

    from ..training.config import TrainConfig

    for f in reversed(fields(TrainConfig)):
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        kind = meta.get("type", type(f.default))
        if "choices" in meta:
            kind = click.Choice(meta["choices"])
        elif "range" in meta:
            kind = click.FloatRange(*meta["range"])
        show = f.default is not MISSING and f.default not in ("", None)
        if kind is bool:
            decl, kind = f"{flag}/--no-{flag[2:]}", None
        else:
            decl = flag
        command = click.option(
            decl, f.name, type=kind, default=f.default, show_default=show, help=meta.get("help")
        )(command)
    return command


@click.command()
@click.argument("hr", type=click.Path(exists=True))
@click.option(
    "--val",
    "val",
    required=True,
    type=click.Path(),
    help="Validation images (folder or video), never trained on.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the best model (.safetensors).",
)
@_train_config_options
@click.option("--init", default=None, help="Start from this model (id or weights file): fine-tune.")
@click.option(
    "--resume",
    type=click.Path(exists=True, dir_okay=False),
    help="Continue from a checkpoint (<output>.ckpt).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing OUTPUT and its checkpoint.")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option(
    "--tensorboard",
    "log_dir",
    type=click.Path(file_okay=False),
    help="Write TensorBoard logs here.",
)
@click.option(
    "--time-limit",
    type=float,
    default=None,
    help="Stop after this many minutes (with a final validation).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar (validations still print).")
def train(
    hr: str,
    val: str,
    output: str,
    init: str | None,
    resume: str | None,
    force: bool,
    device: str,
    threads: int | None,
    log_dir: str | None,
    time_limit: float | None,
    quiet: bool,
    **options,
) -> None:
    """Train an x2 model (EDSR, or another --family) on HR images (folder or video); write the
    best to OUTPUT."""
    try:
        import torch
    except ImportError:
        raise SrcodecError("srcodec train needs PyTorch: pip install 'srcodec[torch]'") from None

    from ..training.config import TrainConfig
    from ..training.trainer import train as train_model

    try:
        cfg = TrainConfig(**options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    if threads:
        torch.set_num_threads(threads)
    result = train_model(
        hr,
        val,
        output,
        config=cfg,
        init=init,
        resume=resume,
        device=device,
        log_dir=log_dir,
        time_limit=time_limit * 60 if time_limit else None,
        progress=not quiet,
        command=shlex.join(["srcodec", *sys.argv[1:]]),
        force=force,
    )
    if result.best is None:
        raise SrcodecError("training ended before the first validation; nothing written")
    v = result.best.card["validation"]
    click.echo(
        f"best model {result.best.short_id} -> {Path(output)}: "
        f"{v['psnr_rgb']:.2f} dB RGB / {v['psnr_y']:.2f} dB Y "
        f"(bicubic {v['bicubic_rgb']:.2f} / {v['bicubic_y']:.2f}) "
        f"at step {result.best.card['training']['steps']}"
    )
