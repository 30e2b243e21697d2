"""The ``srcodec`` command line: encode, decode, info, models and train. User errors are one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .errors import SrcodecError

DEVICE = click.Choice(["auto", "cpu", "cuda"])


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SrcodecError as exc:
            click.echo(f"srcodec: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("srcodec: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="srcodec")
def main() -> None:
    """Archive camera frames at half resolution; restore them with an EDSR x2 network."""


@main.command()
@click.option(
    "--weights",
    "weights",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Also list this weights file (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models(weights: tuple[str, ...], as_json: bool) -> None:
    """List the installed models (bundled, user directory, and --weights files)."""
    from .registry import list_models, user_dir

    found = list_models(list(weights))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": m.id,
                        "name": m.name,
                        "sha256": m.sha256,
                        "architecture": m.config.to_dict(),
                        "source": m.source,
                        "path": str(m.path),
                        "val_psnr_rgb": m.card.get("validation", {}).get("psnr_rgb"),
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


@main.command()
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
@click.option("--name", default="", help="Model name recorded in its id (default: architecture).")
@click.option("--blocks", default=16, show_default=True, help="Residual blocks.")
@click.option("--features", default=64, show_default=True, help="Feature channels.")
@click.option("--res-scale", default=1.0, show_default=True, help="Residual scaling.")
@click.option(
    "--bicubic-skip/--no-bicubic-skip",
    default=False,
    show_default=True,
    help="Add the bicubic upsample of the input to the output (learn the residual).",
)
@click.option("--patch", default=48, show_default=True, help="Low-resolution patch size.")
@click.option("--batch", default=16, show_default=True, help="Patches per step.")
@click.option("--steps", default=300_000, show_default=True, help="Total training steps.")
@click.option("--lr", default=1e-4, show_default=True, help="Adam learning rate.")
@click.option(
    "--decay-every",
    default=200_000,
    show_default=True,
    help="Multiply the learning rate by --decay-gamma every this many steps.",
)
@click.option("--decay-gamma", default=0.5, show_default=True)
@click.option("--val-every", default=1000, show_default=True, help="Validate every N steps.")
@click.option("--seed", default=0, show_default=True)
@click.option("--init", default=None, help="Start from this model (id or weights file): fine-tune.")
@click.option(
    "--resume",
    type=click.Path(exists=True, dir_okay=False),
    help="Continue from a checkpoint (<output>.ckpt).",
)
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
def train(
    hr: str,
    val: str,
    output: str,
    name: str,
    blocks: int,
    features: int,
    res_scale: float,
    bicubic_skip: bool,
    patch: int,
    batch: int,
    steps: int,
    lr: float,
    decay_every: int,
    decay_gamma: float,
    val_every: int,
    seed: int,
    init: str | None,
    resume: str | None,
    device: str,
    threads: int | None,
    log_dir: str | None,
    time_limit: float | None,
) -> None:
    """Train an EDSR x2 model on HR images (folder or video); write the best to OUTPUT."""
    import torch

    from .training import TrainConfig
    from .training import train as run

    if threads:
        torch.set_num_threads(threads)
    cfg = TrainConfig(
        blocks=blocks,
        features=features,
        res_scale=res_scale,
        bicubic_skip=bicubic_skip,
        patch=patch,
        batch=batch,
        steps=steps,
        lr=lr,
        decay_every=decay_every,
        decay_gamma=decay_gamma,
        val_every=val_every,
        seed=seed,
        name=name,
    )
    result = run(
        hr,
        val,
        output,
        config=cfg,
        init=init,
        resume=resume,
        device=device,
        log_dir=log_dir,
        time_limit=time_limit * 60 if time_limit else None,
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
