"""The colorizer network: ResNet18 encoder, small U-Net decoder, a/b class logits.

Input is lightness normalised to about [-1, 1]; output is logits over the a/b bins at a
quarter of the input resolution (colour varies slowly, so the full-resolution L carries
the detail). Decoding to a/b is :func:`colorize_cli.colour.bins.annealed_mean`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .resnet import ResNet18Encoder

DECODER_CHANNELS = (256, 128, 128)  # at strides 16, 8, 4


def normalise_l(L: torch.Tensor) -> torch.Tensor:
    """L in [0, 100] -> network input in [-1, 1]."""
    return L / 50.0 - 1.0


def _conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class UpBlock(nn.Module):
    """Upsample by two, concatenate the encoder's skip, mix with one 3x3 convolution."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv = _conv_bn_relu(cin + cskip, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat((x, skip), dim=1))


class ColorizerNet(nn.Module):
    """L ``(N, 1, H, W)`` -> a/b logits ``(N, Q, H/4, W/4)``."""

    def __init__(self, num_bins: int) -> None:
        super().__init__()
        self.encoder = ResNet18Encoder(in_channels=1)
        c1, c2, c3, c4 = ResNet18Encoder.channels
        d3, d2, d1 = DECODER_CHANNELS
        self.up3 = UpBlock(c4, c3, d3)
        self.up2 = UpBlock(d3, c2, d2)
        self.up1 = UpBlock(d2, c1, d1)
        self.refine = _conv_bn_relu(d1, d1)
        self.head = nn.Conv2d(d1, num_bins, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1, f2, f3, f4 = self.encoder(x)
        y = self.up1(self.up2(self.up3(f4, f3), f2), f1)
        return self.head(self.refine(y))
