"""ResNet18 encoders, written out because torchvision does not import beside every torch.

Two kinds, both with torchvision's parameter names:

- :class:`ResNet18Encoder`, trained here from scratch (the weights of colorize-cli 0.1):
  batch norm after every convolution, a one-channel stem that takes L/50 - 1.
- :class:`ImageNetEncoder`, started from torchvision's ImageNet ResNet18 with batch norm
  folded into the convolutions (``--init-encoder``). Its stem to layer3 keep the folded
  biases and never take batch statistics, so the features stay the ones ImageNet taught;
  it sees the grey photo as ImageNet saw photos (R = G = B = the sRGB grey, normalised
  per channel). Its layer4 is new (the file lacks its 3x3 weights) and has batch norm,
  or is left out when layer3 is the bottleneck.
"""

from __future__ import annotations

import torch
from torch import nn

from ..colour.lab import l_to_gray

# torchvision's input normalisation of an RGB photo in [0, 1]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# the layers an ImageNet encoder takes from the pretrained file (layer4 is always new)
PRETRAINED_PREFIXES = ("conv1.", "layer1.", "layer2.", "layer3.")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or projected) shortcut; ``folded``: the
    batch norms already folded into the convolutions' biases (pretrained, fixed)."""

    def __init__(self, cin: int, cout: int, stride: int, folded: bool = False) -> None:
        super().__init__()

        def norm() -> nn.Module:
            return nn.Identity() if folded else nn.BatchNorm2d(cout)

        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=folded)
        self.bn1 = norm()
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=folded)
        self.bn2 = norm()
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=folded), norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def _layer(cin: int, cout: int, stride: int, folded: bool = False) -> nn.Sequential:
    return nn.Sequential(BasicBlock(cin, cout, stride, folded), BasicBlock(cout, cout, 1, folded))


def _init_new(module: nn.Module) -> None:
    """He initialisation; the last batch norm of each block at zero, so that a new block
    starts as its shortcut."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    for m in module.modules():
        if isinstance(m, BasicBlock) and isinstance(m.bn2, nn.BatchNorm2d):
            nn.init.zeros_(m.bn2.weight)


class ResNet18Encoder(nn.Module):
    """Returns the four stage outputs (strides 4, 8, 16, 32) for the decoder's skips."""

    channels = (64, 128, 256, 512)

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _layer(64, 64, 1)
        self.layer2 = _layer(64, 128, 2)
        self.layer3 = _layer(128, 256, 2)
        self.layer4 = _layer(256, 512, 2)
        _init_new(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats


class ImageNetEncoder(nn.Module):
    """The ImageNet ResNet18's stem to layer3 (folded, fixed normalisation) and a new
    layer4 (``depth`` 4) or none (``depth`` 3). Takes L/50 - 1 like every colorizer, so
    callers need not know which encoder a weights file holds."""

    def __init__(self, depth: int = 4) -> None:
        super().__init__()
        if depth not in (3, 4):
            raise ValueError(f"depth must be 3 or 4, not {depth}")
        self.channels = (64, 128, 256, 512)[:depth]
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _layer(64, 64, 1, folded=True)
        self.layer2 = _layer(64, 128, 2, folded=True)
        self.layer3 = _layer(128, 256, 2, folded=True)
        self.layer4 = _layer(256, 512, 2) if depth == 4 else None
        _init_new(self)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)

    def imagenet_input(self, x: torch.Tensor) -> torch.Tensor:
        """L/50 - 1 ``(N, 1, H, W)`` -> the photo as ImageNet's normalised RGB
        ``(N, 3, H, W)``: three equal channels of the grey, so the stem's zero padding
        means what it meant in training (a one-channel fold would change the borders)."""
        grey = l_to_gray((x.float() + 1.0) * 50.0)
        return ((grey - self.mean) / self.std).to(x.dtype)

    def pretrained(self) -> list[nn.Module]:
        """The modules whose weights come from ImageNet (what a frozen phase holds fixed)."""
        return [self.conv1, self.layer1, self.layer2, self.layer3]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.conv1(self.imagenet_input(x))))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            if layer is not None:
                x = layer(x)
                feats.append(x)
        return feats


def load_imagenet(encoder: ImageNetEncoder, state: dict[str, torch.Tensor]) -> list[str]:
    """Copy the folded ImageNet ResNet18's stem to layer3 into ``encoder``; returns the
    names loaded. Raises ``ValueError`` naming a tensor that is absent or misshapen."""
    own = encoder.state_dict()
    loaded = []
    for name, tensor in own.items():
        if not name.startswith(PRETRAINED_PREFIXES):
            continue
        if name not in state:
            raise ValueError(f"{name} is missing from the pretrained file")
        if state[name].shape != tensor.shape:
            raise ValueError(
                f"{name} has shape {tuple(state[name].shape)}, not {tuple(tensor.shape)}"
            )
        tensor.copy_(state[name])
        loaded.append(name)
    return loaded
