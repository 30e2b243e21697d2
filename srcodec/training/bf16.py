"""bfloat16 autocast for training on CPUs that compute it: the forward pass in bf16 (convolutions
through oneDNN's native AVX512-BF16 / AMX kernels), weights, optimizer and loss in fp32. On this
project's 2-core AVX512-BF16 machine a 16x64 EDSR step takes 0.205 s against 0.444 s in fp32
(batch 8 of 48 px, 2 threads; docs/adaptation.md). CPUs without these instructions, where oneDNN
would emulate bf16 more slowly than fp32, and GPUs keep fp32 under "auto".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported on use: the config and the CLI import this module
    import torch

__all__ = ["PRECISIONS", "autocast", "cpu_has_bf16", "use_bf16"]

#: "auto": bf16 on a CPU with bf16 instructions, else fp32; or either, forced.
PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX, from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def use_bf16(precision: str, device: torch.device | str = "cpu") -> bool:
    """Whether a training run asked for ``precision`` on ``device`` computes in bf16."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    import torch

    kind = torch.device(device).type
    return precision == "bf16" or (precision == "auto" and kind == "cpu" and cpu_has_bf16())


def autocast(enabled: bool, device: torch.device | str = "cpu") -> torch.autocast:
    """The forward pass's context: bf16 autocast on ``device`` when ``enabled``."""
    import torch

    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=enabled)
