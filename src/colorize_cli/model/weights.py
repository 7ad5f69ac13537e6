"""Colorizer weights on disk: the shipped file, its checksum, safe loading and saving.

Weights are safetensors (no pickled code can run on load). Besides the network's tensors
the file carries everything needed to decode its output, so one file is one model: the
a/b bin centres (``bins.centres``), how often each occurs in the training photos
(``bins.prior``, which a reference photo's palette replaces), the annealed-mean
temperature, the share of the training's class rebalancing taken back at decoding, the
inference size, and the estimate behind each photo's confidence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..colour.confidence import Estimate
from .net import Architecture, ColorizerNet

FORMAT = "colorize-cli/1"
SHIPPED_NAME = "colorizer.safetensors"
# sha256 of weights/colorizer.safetensors; MODEL_CARD.md states the same value.
SHIPPED_SHA256 = "ca7d8c19dd0cc9ca3c84f162ba8a8860264b89027505fa2681bc69a1edf8c69e"
CENTRES_KEY = "bins.centres"
PRIOR_KEY = "bins.prior"


class WeightsError(Exception):
    """A weights file that is missing, damaged or not a colorize-cli colorizer."""


@dataclass(frozen=True)
class ModelSpec:
    """What, besides the tensors, decoding the network's output needs."""

    temperature: float
    input_size: int
    # (Q,) share of each a/b class among the training photos' pixels; None in files
    # written before it was stored (a reference palette then cannot be used)
    prior: torch.Tensor | None = field(default=None, compare=False)
    # share of the class rebalancing taken back at decoding (bins.rebalancing_shift),
    # chosen on validation with the temperature; 0 in files written before it was stored
    undo_rebalancing: float = 0.0
    # how sure it is of each photo (colour/confidence.py), fitted on held-out photos when
    # the decoding is chosen; None in files written before it was stored
    confidence: Estimate | None = field(default=None, compare=False)


def shipped_path() -> Path:
    return Path(str(resources.files("colorize_cli.shipped").joinpath(SHIPPED_NAME)))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_weights(
    path: Path, net: ColorizerNet, centres: torch.Tensor, spec: ModelSpec, half: bool = True
) -> None:
    """Write weights atomically; floating tensors in half precision unless ``half`` is off."""
    tensors = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in net.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    tensors[CENTRES_KEY] = centres.float().cpu().contiguous()
    if spec.prior is not None:
        tensors[PRIOR_KEY] = spec.prior.float().cpu().contiguous()
    meta = {
        "format": FORMAT,
        "temperature": repr(spec.temperature),
        "input_size": str(spec.input_size),
        "undo_rebalancing": repr(spec.undo_rebalancing),
        **net.arch.to_metadata(),
    }
    if spec.confidence is not None:
        meta["confidence"] = spec.confidence.to_json()
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def load_weights(
    path: Path | None = None, expected_sha256: str | None = None
) -> tuple[ColorizerNet, torch.Tensor, ModelSpec]:
    """Load a colorizer; ``path`` None means the shipped weights, checked against their sha256.

    Raises :class:`WeightsError` naming the file and what is wrong with it.
    """
    if path is None:
        path, expected_sha256 = shipped_path(), SHIPPED_SHA256
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if expected_sha256 is not None:
        actual = sha256_of(path)
        if actual != expected_sha256:
            raise WeightsError(
                f"{path}: checksum mismatch (sha256 {actual}, expected {expected_sha256}); "
                "the file is damaged or not the shipped colorizer"
            )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    if meta.get("format") != FORMAT or CENTRES_KEY not in tensors:
        raise WeightsError(f"{path}: not a colorize-cli colorizer (format {meta.get('format')!r})")
    centres = tensors.pop(CENTRES_KEY)
    prior = tensors.pop(PRIOR_KEY, None)
    if prior is not None and prior.shape != centres.shape[:1]:
        raise WeightsError(f"{path}: {PRIOR_KEY} has {prior.shape}, expected one per class")
    try:
        arch = Architecture.from_metadata(meta)
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from exc
    net = ColorizerNet(num_bins=centres.shape[0], arch=arch)
    try:
        net.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=False)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: tensors do not fit the colorizer ({exc})") from exc
    missing = set(net.state_dict()) - set(tensors)
    if any(not k.endswith("num_batches_tracked") for k in missing):
        raise WeightsError(f"{path}: missing tensors {sorted(missing)[:3]}")
    try:
        estimate = Estimate.from_json(meta["confidence"]) if "confidence" in meta else None
    except (ValueError, TypeError) as exc:
        raise WeightsError(f"{path}: {exc}") from exc
    spec = ModelSpec(
        temperature=float(meta["temperature"]),
        input_size=int(meta["input_size"]),
        prior=None if prior is None else prior.float(),
        undo_rebalancing=float(meta.get("undo_rebalancing", 0.0)),
        confidence=estimate,
    )
    if spec.undo_rebalancing and prior is None:
        raise WeightsError(f"{path}: undo_rebalancing {spec.undo_rebalancing} needs {PRIOR_KEY}")
    return net.eval(), centres.float(), spec
