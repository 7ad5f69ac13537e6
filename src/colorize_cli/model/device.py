"""Choose the torch device from the user's ``--device``, and the precision the network
runs in there."""

from __future__ import annotations

import functools

import torch


class DeviceError(ValueError):
    """The device asked for cannot be used on this machine."""


def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA when present; asking for CUDA without it is an error, not a
    silent fall-back, so a GPU job never crawls along on the CPU unnoticed."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise DeviceError(f"unsupported device {name!r} (use auto, cpu, cuda or cuda:N)")
    return dev


def autocast(dev: torch.device, cuda_dtype: torch.dtype = torch.float16) -> torch.autocast:
    """Run the network in half precision where the hardware makes that pay: on CUDA in
    ``cuda_dtype``; on a CPU that multiplies bfloat16 natively (AVX512-BF16 or AMX) in
    bfloat16, about twice as fast in inference and in training (model card); elsewhere in
    float32, because an emulated bfloat16 is slower than float32."""
    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=cuda_dtype)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_bf16())


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively. torch's checks are private and not
    in every torch this package accepts; without them, float32 (never slower)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
