"""The network: torchvision-compatible encoder names, training lowers the loss, weights I/O."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from colorize_cli.colour import bins
from colorize_cli.model.net import ColorizerNet, normalise_l
from colorize_cli.model.resnet import ResNet18Encoder, adapt_torchvision_state
from colorize_cli.model.weights import ModelSpec, WeightsError, load_weights, save_weights
from colorize_cli.training.train import class_loss, derive_bins, targets_ab
from colorize_cli.training.traindata import random_batch


def _block(prefix, cin, cout, down):
    names = [(f"{prefix}.conv1.weight", (cout, cin, 3, 3))]
    for bn in ("bn1", "bn2"):
        names += [
            (f"{prefix}.{bn}.{p}", (cout,))
            for p in ("weight", "bias", "running_mean", "running_var")
        ]
        names += [(f"{prefix}.{bn}.num_batches_tracked", ())]
        if bn == "bn1":
            names += [(f"{prefix}.conv2.weight", (cout, cout, 3, 3))]
    if down:
        names += [(f"{prefix}.downsample.0.weight", (cout, cin, 1, 1))]
        names += [
            (f"{prefix}.downsample.1.{p}", (cout,))
            for p in ("weight", "bias", "running_mean", "running_var")
        ]
        names += [(f"{prefix}.downsample.1.num_batches_tracked", ())]
    return names


# torchvision.models.resnet18().state_dict() without fc, written out by hand; conv1 takes
# one channel (L) instead of three.
TORCHVISION_RESNET18 = [
    ("conv1.weight", (64, 1, 7, 7)),
    ("bn1.weight", (64,)),
    ("bn1.bias", (64,)),
    ("bn1.running_mean", (64,)),
    ("bn1.running_var", (64,)),
    ("bn1.num_batches_tracked", ()),
    *_block("layer1.0", 64, 64, False),
    *_block("layer1.1", 64, 64, False),
    *_block("layer2.0", 64, 128, True),
    *_block("layer2.1", 128, 128, False),
    *_block("layer3.0", 128, 256, True),
    *_block("layer3.1", 256, 256, False),
    *_block("layer4.0", 256, 512, True),
    *_block("layer4.1", 512, 512, False),
]


def test_encoder_state_dict_has_torchvision_names_and_shapes():
    state = ResNet18Encoder().state_dict()
    assert len(TORCHVISION_RESNET18) == 120  # torchvision's 122 less fc.weight, fc.bias
    assert [(k, tuple(v.shape)) for k, v in state.items()] == TORCHVISION_RESNET18


def test_torchvision_rgb_state_loads_into_one_channel_encoder():
    rgb_state = {k: torch.randn(s) if s else torch.tensor(0) for k, s in TORCHVISION_RESNET18}
    rgb_state["conv1.weight"] = torch.randn(64, 3, 7, 7)
    rgb_state["fc.weight"], rgb_state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    enc = ResNet18Encoder()
    enc.load_state_dict(adapt_torchvision_state(rgb_state))
    assert torch.allclose(enc.conv1.weight, rgb_state["conv1.weight"].sum(1, keepdim=True))


def test_output_is_a_quarter_of_the_input():
    net = ColorizerNet(num_bins=7).eval()
    with torch.inference_mode():
        assert net(torch.zeros(2, 1, 64, 96)).shape == (2, 7, 16, 24)


def _tiny_colour_set(n=24, size=48, seed=0):
    """Colourful synthetic crops: sky-blue tops, green bottoms, a red disc, noise in L."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        split = rng.integers(size // 3, 2 * size // 3)
        out[i, :split] = (90, 150, 230)
        out[i, split:] = (60, 160, 60)
        cy, cx = rng.integers(8, size - 8, 2)
        out[i][(yy - cy) ** 2 + (xx - cx) ** 2 < 36] = (220, 40, 40)
        out[i] = np.clip(out[i] + rng.integers(-10, 10, (size, size, 1)), 0, 255)
    return out


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    crops = _tiny_colour_set()
    centres, probs = derive_bins(crops)
    weights = bins.rebalance_weights(probs, centres)
    net = ColorizerNet(len(centres))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    fixed = random_batch(crops, 16, 32, np.random.default_rng(1))

    def loss_on(lab):
        return class_loss(net(normalise_l(lab[:, :1])), targets_ab(lab), centres, weights)

    # compared in training mode: after 30 steps BatchNorm's running statistics are not
    # settled yet, and they are not what this test is about
    with torch.no_grad():
        before = loss_on(fixed).item()
    for _ in range(30):
        loss = loss_on(random_batch(crops, 16, 32, rng))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = loss_on(fixed).item()
    assert after < 0.8 * before


def test_weights_round_trip_and_checksum(tmp_path):
    net = ColorizerNet(num_bins=5).eval()
    centres = torch.arange(10.0).reshape(5, 2)
    path = tmp_path / "w.safetensors"
    save_weights(path, net, centres, ModelSpec(temperature=0.42, input_size=160))
    loaded, c, spec = load_weights(path)
    assert spec == ModelSpec(0.42, 160)
    assert torch.equal(c, centres)
    x = torch.randn(1, 1, 32, 32)
    with torch.inference_mode():
        assert torch.allclose(loaded(x), net.half().float()(x), atol=1e-3)
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_weights(path, expected_sha256="0" * 64)


def test_foreign_and_damaged_weights_are_refused_with_the_file_named(tmp_path):
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(3)}, str(foreign))
    with pytest.raises(WeightsError, match="not a colorize-cli colorizer"):
        load_weights(foreign)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsError, match=r"damaged\.safetensors"):
        load_weights(damaged)
    pickled = tmp_path / "pickled.pt"
    torch.save({"a": 1}, pickled)
    with pytest.raises(WeightsError, match=r"pickled\.pt"):
        load_weights(pickled)
