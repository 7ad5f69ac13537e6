"""The network: torchvision-compatible encoder names, the ImageNet encoder and its file,
training lowers the loss, weights I/O with the architecture recorded."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from colorize_cli.colour import bins
from colorize_cli.colour.lab import l_to_gray
from colorize_cli.colour.resample import thumbnail
from colorize_cli.model.batch import stack_l
from colorize_cli.model.device import cpu_has_bf16
from colorize_cli.model.net import Architecture, ColorizerNet, normalise_l
from colorize_cli.model.resnet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetEncoder,
    ResNet18Encoder,
    load_imagenet,
)
from colorize_cli.model.weights import ModelSpec, WeightsError, load_weights, save_weights
from colorize_cli.training.objective import class_loss, derive_bins, targets_ab
from colorize_cli.training.traindata import random_batch

from conftest import SAMPLES


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


PRETRAINED = Path(__file__).resolve().parents[2] / "shared/data/pretrained"
PRETRAINED_FILE = PRETRAINED / "resnet18_imagenet_bnfolded.safetensors"


def _folded_file_like_the_shared_one(path: Path) -> dict[str, torch.Tensor]:
    """The tensors its README lists: every convolution with a bias, no batch norm, fc,
    and layer4 without its four 3x3 weights."""
    state = {"conv1.weight": torch.randn(64, 3, 7, 7), "conv1.bias": torch.randn(64)}
    for layer, cin, cout in ((1, 64, 64), (2, 64, 128), (3, 128, 256), (4, 256, 512)):
        for b in (0, 1):
            p = f"layer{layer}.{b}"
            for conv, ci in (("conv1", cin if b == 0 else cout), ("conv2", cout)):
                if layer != 4:
                    state[f"{p}.{conv}.weight"] = torch.randn(cout, ci, 3, 3)
                state[f"{p}.{conv}.bias"] = torch.randn(cout)
        if layer > 1:
            state[f"layer{layer}.0.downsample.0.weight"] = torch.randn(cout, cin, 1, 1)
            state[f"layer{layer}.0.downsample.0.bias"] = torch.randn(cout)
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    save_file(state, str(path))
    return state


def test_imagenet_encoder_takes_stem_to_layer3_from_the_folded_file(tmp_path):
    state = _folded_file_like_the_shared_one(tmp_path / "r18.safetensors")
    assert len(state) == 38  # as the shared file's README counts
    enc = ImageNetEncoder(depth=4)
    layer4_before = enc.layer4[0].conv1.weight.clone()
    loaded = load_imagenet(enc, state)
    assert len(loaded) == 30
    assert all(k.split(".")[0] in ("conv1", "layer1", "layer2", "layer3") for k in loaded)
    assert torch.equal(enc.conv1.weight, state["conv1.weight"])
    assert torch.equal(enc.layer3[1].conv2.bias, state["layer3.1.conv2.bias"])
    assert torch.equal(enc.layer4[0].conv1.weight, layer4_before)  # layer4 is new
    del state["layer2.1.conv1.bias"]
    with pytest.raises(ValueError, match=r"layer2\.1\.conv1\.bias is missing"):
        load_imagenet(ImageNetEncoder(), state)


def test_imagenet_encoder_sees_the_grey_as_imagenet_normalised_rgb():
    L = torch.linspace(0, 100, 11).view(1, 1, 1, 11)
    x = ImageNetEncoder().imagenet_input(normalise_l(L))
    grey = l_to_gray(L)
    for c in range(3):
        expected = (grey - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        assert torch.allclose(x[:, c : c + 1], expected, atol=1e-5)


def test_imagenet_layers_take_no_batch_statistics():
    """Folded layers keep ImageNet's normalisation: in training mode a photo's features
    do not depend on the other photos of its batch (batch norm's would)."""
    enc = ImageNetEncoder(depth=3).train()
    a, b = torch.rand(1, 1, 64, 64) * 2 - 1, torch.rand(3, 1, 64, 64) * 2 - 1
    with torch.no_grad():
        alone = enc(a)[-1]
        together = enc(torch.cat((a, b)))[-1][:1]
    assert torch.allclose(alone, together, atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.pretrained()[1].modules())


@pytest.mark.parametrize("depth", [3, 4])
def test_the_architecture_is_recorded_and_loaded_back(tmp_path, depth):
    arch = Architecture("imagenet", depth, (64, 32, 32))
    net = ColorizerNet(num_bins=5, arch=arch).eval()
    path = tmp_path / "w.safetensors"
    save_weights(path, net, torch.arange(10.0).reshape(5, 2), ModelSpec(0.3, 128))
    with safe_open(str(path), "pt") as f:
        assert f.metadata()["encoder"] == "imagenet" and f.metadata()["depth"] == str(depth)
    loaded, _, _ = load_weights(path)
    assert loaded.arch == arch
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    with torch.inference_mode():
        assert loaded(x).shape == (2, 5, 16, 16)
        assert torch.allclose(loaded(x), net.half().float()(x), atol=1e-2)


def test_the_share_of_rebalancing_taken_back_is_kept_and_needs_the_prior(tmp_path):
    net = ColorizerNet(num_bins=5).eval()
    centres, prior = torch.arange(10.0).reshape(5, 2), torch.full((5,), 0.2)
    path = tmp_path / "w.safetensors"
    save_weights(path, net, centres, ModelSpec(0.3, 128, prior, undo_rebalancing=0.2))
    assert load_weights(path)[2].undo_rebalancing == 0.2
    save_weights(path, net, centres, ModelSpec(0.3, 128, None, undo_rebalancing=0.2))
    with pytest.raises(WeightsError, match=r"undo_rebalancing 0\.2 needs bins\.prior"):
        load_weights(path)


def test_taking_the_rebalancing_back_calms_the_colour(tmp_path):
    """The shipped weights with half their rebalancing taken back: the same photo comes
    out nearer grey (the common colours win where the model is unsure)."""
    from colorize_cli.model.colorizer import Colorizer

    net, centres, spec = load_weights(None)
    path = tmp_path / "calmer.safetensors"
    save_weights(path, net, centres, replace(spec, undo_rebalancing=0.5))
    gray = np.asarray(Image.open(SAMPLES / "people" / "astronaut.png"), np.float32) / 255
    L = stack_l([thumbnail(gray, spec.input_size)])
    chroma = [Colorizer(w, "cpu").predict_ab(L).norm(dim=1).mean() for w in (None, path)]
    assert chroma[1] < 0.8 * chroma[0]


def test_the_colorizer_runs_in_the_cheaper_precision_without_changing_the_colour(colorizer):
    """On a CPU with native bfloat16 the colorizer runs the network in it (twice as fast);
    the colour of every sample stays within a fraction of a just noticeable difference
    (about 2.3 a/b units) of the network run in float32."""
    grays = [
        np.asarray(Image.open(p).convert("L"), np.float32) / 255
        for p in sorted(SAMPLES.rglob("*"))
        if p.suffix in (".png", ".jpg", ".tif")
    ]
    L = stack_l([thumbnail(g, colorizer.input_size) for g in grays])
    fast = colorizer.predict_ab(L)
    with torch.inference_mode():
        logits = colorizer.net(normalise_l(L).contiguous(memory_format=torch.channels_last))
    exact = colorizer.decode(logits.float() + colorizer._undo)
    change = (fast - exact).norm(dim=1)
    assert change.mean() < 0.5
    assert torch.quantile(change.flatten(), 0.99) < 2.3
    assert (change.max() > 0) == cpu_has_bf16()  # it is the float32 network on other CPUs


def test_files_without_an_architecture_load_as_the_scratch_network(tmp_path):
    """colorize-cli 0.1 wrote no architecture: its files (and fine-tunes of them) load."""
    net = ColorizerNet(num_bins=5).eval()
    path = tmp_path / "old.safetensors"
    tensors = {k: v.half() for k, v in net.state_dict().items() if "num_batches" not in k}
    tensors["bins.centres"] = torch.arange(10.0).reshape(5, 2)
    meta = {"format": "colorize-cli/1", "temperature": "0.2", "input_size": "128"}
    save_file(tensors, str(path), metadata=meta)
    loaded, _, spec = load_weights(path)
    assert loaded.arch == Architecture() and isinstance(loaded.encoder, ResNet18Encoder)
    assert spec == ModelSpec(0.2, 128)


@pytest.mark.skipif(not PRETRAINED_FILE.is_file(), reason=f"{PRETRAINED_FILE} is not here")
def test_train_with_init_encoder_says_what_it_loaded_and_keeps_it_frozen(tmp_path):
    photos = tmp_path / "photos" / "set"
    photos.mkdir(parents=True)
    for i, crop in enumerate(_tiny_colour_set(n=12, size=64)):
        Image.fromarray(crop).save(photos / f"p{i}.png")
    run = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "colorize_cli.training.train", tmp_path / "photos",
         "--run", run, "--cache", tmp_path / "cache", "--init-encoder", PRETRAINED_FILE,
         "--steps", "3", "--batch-size", "2", "--crop", "64", "--threads", "1",
         "--lr", "1e-2", "--warmup", "1",  # steps large enough to show in half precision
         "--val-fraction", "0.2", "--keep-temperature"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "init-encoder: loaded 30 tensors (2.78 M parameters)" in r.stdout
    assert "layer4.0.downsample.0.weight" in r.stdout  # in the file, not used
    assert "new (not in the file): 30 tensors of layer4" in r.stdout
    trained, _, _ = load_weights(run / "colorizer.safetensors")
    with safe_open(str(PRETRAINED_FILE), "pt") as f:
        stem = f.get_tensor("conv1.weight")
        layer3 = f.get_tensor("layer3.1.conv2.weight")
    assert trained.arch.encoder == "imagenet"
    assert torch.allclose(trained.encoder.conv1.weight, stem, atol=1e-3)  # frozen (half)
    assert torch.allclose(trained.encoder.layer3[1].conv2.weight, layer3, atol=1e-3)


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


def test_fine_tuning_a_file_of_the_imagenet_kind_keeps_its_architecture(tmp_path):
    """--init-from takes weights of either kind; an ImageNet encoder's layers stay frozen
    unless --encoder-lr says otherwise, and the export keeps the architecture."""
    photos = tmp_path / "photos" / "set"
    photos.mkdir(parents=True)
    for i, crop in enumerate(_tiny_colour_set(n=12, size=64)):
        Image.fromarray(crop).save(photos / f"p{i}.png")
    arch = Architecture("imagenet", 3, (64, 32, 32))
    start = tmp_path / "start.safetensors"
    centres, probs = derive_bins(_tiny_colour_set(n=12, size=64))
    save_weights(start, ColorizerNet(len(centres), arch), centres, ModelSpec(0.3, 64, probs))
    run = tmp_path / "run"
    r = subprocess.run(
        [sys.executable, "-m", "colorize_cli.training.train", tmp_path / "photos",
         "--run", run, "--cache", tmp_path / "cache", "--init-from", start,
         "--steps", "3", "--batch-size", "2", "--crop", "64", "--threads", "1",
         "--lr", "1e-2", "--warmup", "1", "--keep-temperature"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    before, _, _ = load_weights(start)
    after, _, spec = load_weights(run / "colorizer.safetensors")
    assert after.arch == arch and spec.input_size == 64
    assert torch.equal(after.encoder.layer2[0].conv1.weight, before.encoder.layer2[0].conv1.weight)
    assert not torch.equal(after.head.weight, before.head.weight)  # the rest was trained
