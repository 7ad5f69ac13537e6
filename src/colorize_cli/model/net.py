"""The colorizer network: ResNet18 encoder, small U-Net decoder, a/b class logits.

Input is lightness normalised to about [-1, 1]; output is logits over the a/b bins at a
quarter of the input resolution (colour varies slowly, so the full-resolution L carries
the detail). Decoding to a/b is :func:`colorize_cli.colour.bins.annealed_mean`.

:class:`Architecture` names the variant; the weights file records it, so any file loads
into the network it was trained as.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .resnet import ImageNetEncoder, ResNet18Encoder

DECODER_CHANNELS = (256, 128, 128)  # at strides 16, 8, 4


@dataclass(frozen=True)
class Architecture:
    """``encoder``: ``scratch`` (batch norm throughout, colorize-cli 0.1's weights) or
    ``imagenet`` (stem to layer3 from ImageNet); ``depth``: the encoder's deepest stage
    (4: layer4 at stride 32; 3: layer3 at stride 16 is the bottleneck); ``decoder``: the
    decoder's channels at strides 16, 8 and 4."""

    encoder: str = "scratch"
    depth: int = 4
    decoder: tuple[int, int, int] = DECODER_CHANNELS

    def to_metadata(self) -> dict[str, str]:
        return {
            "encoder": self.encoder,
            "depth": str(self.depth),
            "decoder": ",".join(map(str, self.decoder)),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> Architecture:
        """Files written before the architecture was recorded are the scratch network."""
        decoder = tuple(int(c) for c in meta.get("decoder", "256,128,128").split(","))
        if len(decoder) != 3:
            raise ValueError(f"decoder needs three widths, not {meta['decoder']!r}")
        arch = cls(meta.get("encoder", "scratch"), int(meta.get("depth", "4")), decoder)
        if arch.encoder not in ("scratch", "imagenet") or arch.depth not in (3, 4):
            raise ValueError(f"unknown architecture {arch}")
        if arch.encoder == "scratch" and arch.depth != 4:
            raise ValueError("a scratch encoder has depth 4")
        return arch


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

    def __init__(self, num_bins: int, arch: Architecture | None = None) -> None:
        super().__init__()
        self.arch = arch = arch or Architecture()
        self.encoder: ResNet18Encoder | ImageNetEncoder = (
            ResNet18Encoder() if arch.encoder == "scratch" else ImageNetEncoder(arch.depth)
        )
        c1, c2, c3, c4 = (64, 128, 256, 512)
        d3, d2, d1 = arch.decoder
        # the stride-16 level: layer4 upsampled onto layer3, or layer3 mixed on its own
        self.up3: nn.Module = UpBlock(c4, c3, d3) if arch.depth == 4 else _conv_bn_relu(c3, d3)
        self.up2 = UpBlock(d3, c2, d2)
        self.up1 = UpBlock(d2, c1, d1)
        self.refine = _conv_bn_relu(d1, d1)
        self.head = nn.Conv2d(d1, num_bins, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and the encoder's stride-8 features ``(N, 128, H/8, W/8)``: what the
        network sees a region as, which tells apart things of like lightness and colour
        (a wall and a face) where hints must not cross."""
        feats = self.encoder(x)
        f1, f2, f3 = feats[:3]
        y = self.up3(feats[3], f3) if self.arch.depth == 4 else self.up3(f3)
        y = self.up1(self.up2(y, f2), f1)
        return self.head(self.refine(y)), f2
