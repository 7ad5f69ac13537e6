"""Which network a run trains, where its weights start, and which of its layers learn:
a new scratch or ImageNet network, one loaded from a colorizer's weights, and the
optimiser's groups (the ImageNet layers slower, or frozen)."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from ..model.net import Architecture, ColorizerNet
from ..model.resnet import ImageNetEncoder, load_imagenet
from ..model.weights import shipped_path


def weights_path(init_from: str | None) -> Path | None:
    """``--init-from``: a file, or ``shipped`` for the weights inside the package."""
    if init_from is None:
        return None
    path = shipped_path() if init_from == "shipped" else Path(init_from)
    if not path.is_file():
        raise click.BadParameter(f"{path}: no such weights file", param_hint="--init-from")
    return path


def new_architecture(init_encoder: Path | None, depth: int, widths: str) -> Architecture:
    try:
        decoder = tuple(int(w) for w in widths.split(","))
    except ValueError:
        decoder = ()
    if len(decoder) != 3 or min(decoder) < 1:
        raise click.BadParameter(f"{widths!r}: three positive widths", param_hint="--decoder")
    if init_encoder is None:
        if depth != 4:
            raise click.BadParameter("a scratch encoder has depth 4", param_hint="--depth")
        return Architecture("scratch", 4, decoder)
    return Architecture("imagenet", depth, decoder)


def load_encoder(net: ColorizerNet, path: Path) -> None:
    """Load the ImageNet layers and say what came from the file and what did not."""
    from safetensors.torch import load_file

    assert isinstance(net.encoder, ImageNetEncoder)
    try:
        state = load_file(str(path))
        loaded = load_imagenet(net.encoder, state)
    except (OSError, ValueError) as exc:  # safetensors raises its own error, a ValueError
        raise click.BadParameter(f"{path}: {exc}", param_hint="--init-encoder") from exc
    unused = sorted(set(state) - set(loaded))
    new = [k for k in net.encoder.state_dict() if k not in loaded]
    count = sum(state[k].numel() for k in loaded)
    click.echo(
        f"init-encoder: loaded {len(loaded)} tensors ({count / 1e6:.2f} M parameters): "
        "conv1, layer1, layer2, layer3"
    )
    click.echo(f"init-encoder: not used from the file: {', '.join(unused)}")
    click.echo(
        f"init-encoder: new (not in the file): {len(new)} tensors of layer4"
        if new
        else "init-encoder: layer3 is the bottleneck, no layer4"
    )


def param_groups(net: ColorizerNet, encoder_lr: float) -> list[dict]:
    """The ImageNet layers at ``encoder_lr`` times the rate, or frozen at 0 (then no
    gradient flows into them at all: nothing before them needs one, so a step's backward
    stops at layer4); everything else at the full rate. ``scale`` is read by the loop."""
    pretrained = (
        {id(p) for m in net.encoder.pretrained() for p in m.parameters()}
        if isinstance(net.encoder, ImageNetEncoder)
        else set()
    )
    fixed = [p for p in net.parameters() if id(p) in pretrained]
    rest = [p for p in net.parameters() if id(p) not in pretrained]
    groups = [{"params": rest, "scale": 1.0}]
    if fixed and encoder_lr > 0:
        groups.append({"params": fixed, "scale": encoder_lr})
    else:
        for p in fixed:
            p.requires_grad_(False)
    return groups


def optimiser(net: ColorizerNet, lr: float, encoder_lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(param_groups(net, encoder_lr), lr=lr, weight_decay=1e-4)
