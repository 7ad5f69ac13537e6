"""``colorize-train``: train the colorizer on a folder of colour photos: from scratch,
from ImageNet features (``--init-encoder``), or on from a colorizer (``--init-from``).

Resumable by design: the run folder holds ``last.pt`` (model, optimiser, step, random
state), rewritten atomically every few minutes, and ``log.jsonl`` with the losses; running
the same command again continues where a cut-off run stopped. Each checkpoint also exports
``colorizer.safetensors``, the file that ships.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import torch
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..colour import bins
from ..colour.lab import gray_to_l, lab_to_rgb
from ..model.net import DECODER_CHANNELS, Architecture, ColorizerNet, normalise_l
from ..model.resnet import ImageNetEncoder, load_imagenet
from ..model.weights import ModelSpec, load_weights, save_weights, shipped_path
from .degrade import archive_mix, degrade
from .metrics import stratified_mean
from .traindata import (
    CACHE_SIZES,
    CropCache,
    build_cache,
    random_batch,
    source_balance,
    source_of,
    to_lab,
)

OUTPUT_STRIDE = 4  # the network predicts a/b at a quarter of its input resolution
MIN_BIN_PIXELS = 1  # every a/b bin that occurs in the training targets becomes a class
DEFAULT_TEMPERATURE = 0.38
DEFAULT_INPUT_SIZE = 128  # until --choose-temperature picks one on validation


def targets_ab(lab: torch.Tensor) -> torch.Tensor:
    """a/b at the network's output resolution (area average, as the pipeline upsamples)."""
    return F.avg_pool2d(lab[:, 1:], OUTPUT_STRIDE)


def derive_bins(crops: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Classes and their prior from every training pixel at output resolution."""
    abs_ = []
    for i in range(0, len(crops), 512):
        ab = targets_ab(to_lab(crops[i : i + 512]))
        abs_.append(ab.permute(0, 2, 3, 1).reshape(-1, 2))
    return bins.occupied_bins(torch.cat(abs_), min_count=MIN_BIN_PIXELS)


def class_loss(
    logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Rebalanced cross-entropy against soft-encoded targets (Zhang et al., eq. 2)."""
    target = bins.soft_encode(ab, centres)
    logp = F.log_softmax(logits.float(), dim=1)
    pixel_w = weights[target.argmax(dim=1)]
    return -(pixel_w * (target * logp).sum(dim=1)).mean()


def degraded_l(lab: torch.Tensor, share: float, rng: np.random.Generator) -> torch.Tensor:
    """The batch's L with ``share`` of its photos degraded as archive photos are
    (:func:`~colorize_cli.training.degrade.archive_mix`); the targets stay the clean a/b,
    so the network learns the clean photo's colour from a damaged print."""
    L = lab[:, :1].clone()
    rgb = None
    for j in range(len(lab)):
        if rng.random() < share:
            rgb = lab_to_rgb(lab[:, :3]) if rgb is None else rgb
            kinds, strength = archive_mix(rng)
            L[j, 0] = gray_to_l(degrade(rgb[j], kinds, strength, rng))
    return L


def lr_at(step: int, progress: float, peak: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 2% of the peak as
    ``progress`` (the share of the run's steps, or of its time budget, done) reaches 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@dataclass(frozen=True)
class Recipe:
    """Defaults that differ between training from scratch and fine-tuning."""

    lr: float
    warmup: int
    val_fraction: float
    ema: float


SCRATCH = Recipe(lr=1e-3, warmup=200, val_fraction=0.02, ema=0.0)
# A fine-tune starts from good weights: a smaller step, a short warm-up so the new
# optimiser's moments settle, and a larger held-out share, since a user's collection has
# hundreds of photos, not tens of thousands, and its validation chooses the settings.
# Measured in 30 CPU-minutes on two collections (model card), with an average over the
# last ~100 steps: 6e-4 gained +0.51 and +0.59 dB, 3e-4 +0.48 and +0.33; 1e-4 without
# the average +0.38 and +0.17.
FINE_TUNE = Recipe(lr=6e-4, warmup=20, val_fraction=0.1, ema=0.99)


def _weights_path(init_from: str | None) -> Path | None:
    """``--init-from``: a file, or ``shipped`` for the weights inside the package."""
    if init_from is None:
        return None
    path = shipped_path() if init_from == "shipped" else Path(init_from)
    if not path.is_file():
        raise click.BadParameter(f"{path}: no such weights file", param_hint="--init-from")
    return path


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a - b).square().mean().item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@torch.inference_mode()
def validate(
    net: ColorizerNet,
    val: np.ndarray,
    centres: torch.Tensor,
    weights: torch.Tensor,
    device: torch.device,
    sources: list[str],
    temperatures: tuple[float, ...] = (1.0, 0.6, DEFAULT_TEMPERATURE),
    inputs: torch.Tensor | None = None,
) -> dict[str, float]:
    """Validation loss and RGB PSNR per decoding temperature, beside the grey baseline:
    over all crops (``val_psnr_*``) and as the mean over ``sources`` (``val_spsnr_*``,
    each crop's source set; the figure that chooses settings and checkpoints). With
    ``inputs``, the network sees these L ``(N, 1, H, W)`` (degraded copies) instead of
    the crops' own, and is scored against the clean crops."""
    net.eval()
    losses: list[float] = []
    mse: dict[float | str, list[float]] = {t: [] for t in (*temperatures, "grey")}
    for i in range(0, len(val), 64):
        lab = to_lab(val[i : i + 64]).to(device)
        seen = lab[:, :1] if inputs is None else inputs[i : i + 64].to(device)
        logits = net(normalise_l(seen))
        target = targets_ab(lab)
        losses += [
            class_loss(lg[None], tg[None], centres, weights).item()
            for lg, tg in zip(logits, target, strict=True)
        ]
        truth = lab_to_rgb(lab)
        for t in temperatures:
            ab = bins.annealed_mean(logits, centres, t)
            ab = F.interpolate(ab, size=lab.shape[-2:], mode="bilinear", align_corners=False)
            rgb = lab_to_rgb(torch.cat((lab[:, :1], ab), dim=1))
            mse[t] += (rgb - truth).square().mean(dim=(1, 2, 3)).tolist()
        grey = lab_to_rgb(torch.cat((lab[:, :1], torch.zeros_like(lab[:, 1:])), dim=1))
        mse["grey"] += (grey - truth).square().mean(dim=(1, 2, 3)).tolist()
    out = {"val_loss": float(np.mean(losses)), "val_sloss": stratified_mean(losses, sources)}
    for t, errs in mse.items():
        out[f"val_psnr_{t}"] = 10 * math.log10(1.0 / float(np.mean(errs)))
        psnrs = [10 * math.log10(1.0 / max(e, 1e-12)) for e in errs]
        out[f"val_spsnr_{t}"] = stratified_mean(psnrs, sources)
    net.train()
    return out


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--run",
    "run_dir",
    type=click.Path(path_type=Path),
    default=Path("runs/colorizer"),
    show_default=True,
    help="Folder for checkpoints, log and exported weights.",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(path_type=Path),
    default=Path("runs/cache"),
    show_default=True,
    help="Folder for the pre-decoded crop cache.",
)
@click.option("--steps", type=int, default=2800, show_default=True)
@click.option(
    "--minutes",
    type=click.FloatRange(min=0.0),
    help="Train for this long instead of --steps (the schedule follows the clock); "
    "resumed runs count the time already spent.",
)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option(
    "--cache-size",
    type=click.Choice([str(s) for s in CACHE_SIZES]),
    default=str(CACHE_SIZES[0]),
    show_default=True,
    help="Side of the square each photo is decoded to once (crops are cut from it).",
)
@click.option("--crop", type=click.IntRange(32, max(CACHE_SIZES)), default=96, show_default=True)
@click.option(
    "--whole",
    is_flag=True,
    help="Train on whole photos shrunk to --crop pixels instead of random --crop crops: "
    "cheaper steps that see the whole scene, but what is learnt at a smaller scale does "
    "not carry to the inference size (measured in the model card, phases 8-9).",
)
@click.option(
    "--lr",
    type=float,
    help=f"Peak learning rate [default: {SCRATCH.lr:g}; {FINE_TUNE.lr:g} with --init-from].",
)
@click.option(
    "--warmup",
    type=int,
    help=f"Warm-up steps [default: {SCRATCH.warmup}; {FINE_TUNE.warmup} with --init-from].",
)
@click.option(
    "--val-fraction",
    type=float,
    help="Share of the photos held out for validation "
    f"[default: {SCRATCH.val_fraction:g}; {FINE_TUNE.val_fraction:g} with --init-from].",
)
@click.option("--val-every", type=int, default=250, show_default=True)
@click.option("--checkpoint-minutes", type=float, default=5.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--balance-sources",
    type=click.FloatRange(0.0, 1.0),
    default=1.0,
    show_default=True,
    help="Draw a source set (a first-level folder) with n photos in proportion to n to "
    "this power: 1 keeps the data's mix, 0.5 lifts the small sets, 0 draws all equally.",
)
@click.option(
    "--ema",
    "ema_decay",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="Validate and export an exponential moving average of the weights with this "
    f"decay per step, 0 for the weights themselves [default: {SCRATCH.ema:g}; "
    f"{FINE_TUNE.ema:g} with --init-from].",
)
@click.option(
    "--degrade",
    "degrade_share",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of training photos whose input L is degraded as an archive photo's is "
    "(grain, blur, fading, stains, halftone, toning...); the targets stay the clean "
    "colours. Validation is then also scored on degraded copies (dval_*).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=None, help="CPU threads (default: all cores).")
@click.option(
    "--init-from",
    help="Start from these colorizer weights (a new phase, or a fine-tune): a "
    ".safetensors file, or 'shipped' for the weights that ship with colorize-cli.",
)
@click.option(
    "--init-encoder",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Start the encoder's stem to layer3 from torchvision's ImageNet ResNet18 with "
    "batch norm folded into the convolutions (a .safetensors file); layer4 and the "
    "decoder are new.",
)
@click.option(
    "--depth",
    type=click.IntRange(3, 4),
    default=4,
    show_default=True,
    help="With --init-encoder: 4 adds a new layer4 (stride 32), 3 makes layer3 the bottleneck.",
)
@click.option(
    "--decoder",
    "decoder_widths",
    default=",".join(map(str, DECODER_CHANNELS)),
    show_default=True,
    help="A new network's decoder channels at strides 16, 8 and 4.",
)
@click.option(
    "--encoder-lr",
    type=click.FloatRange(min=0.0),
    default=0.0,
    show_default=True,
    help="Learning rate of the ImageNet layers as a share of --lr; 0 keeps them frozen "
    "(and their backward pass is skipped).",
)
@click.option(
    "--choose-temperature/--keep-temperature",
    default=None,
    help="When done, pick the inference size and decoding temperature on the validation "
    "photos and store them in the exported weights [default: choose with --init-from].",
)
def main(
    data_dir: Path,
    run_dir: Path,
    cache_dir: Path,
    steps: int,
    minutes: float | None,
    batch_size: int,
    cache_size: str,
    crop: int,
    whole: bool,
    lr: float | None,
    warmup: int | None,
    val_fraction: float | None,
    val_every: int,
    checkpoint_minutes: float,
    seed: int,
    balance_sources: float,
    ema_decay: float | None,
    degrade_share: float,
    device: str,
    threads: int | None,
    init_from: str | None,
    init_encoder: Path | None,
    depth: int,
    decoder_widths: str,
    encoder_lr: float,
    choose_temperature: bool | None,
) -> None:
    """Train the colorizer on the colour photos under DATA_DIR.

    To teach the shipped colorizer your own collection (a few hundred colour photos like
    the ones you colour), fine-tune it for a fixed time:

    \b
        colorize-train MY_PHOTOS --init-from shipped --minutes 30 --run runs/mine
    """
    from ..model.device import autocast, pick_device

    recipe = FINE_TUNE if init_from is not None else SCRATCH
    lr = recipe.lr if lr is None else lr
    warmup = recipe.warmup if warmup is None else warmup
    val_fraction = recipe.val_fraction if val_fraction is None else val_fraction
    ema_decay = recipe.ema if ema_decay is None else ema_decay
    choose_temperature = init_from is not None if choose_temperature is None else choose_temperature
    init_path = _weights_path(init_from)
    dev = pick_device(device)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    torch.manual_seed(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if crop > int(cache_size):
        raise click.BadParameter(f"{crop} is larger than --cache-size", param_hint="--crop")
    cache: CropCache = build_cache(data_dir, cache_dir, val_fraction, seed, int(cache_size))
    click.echo(
        f"cache: {len(cache.train)} train, {len(cache.val)} val crops ({time.time() - t0:.0f}s)"
    )
    val_sources = [source_of(p, data_dir) for p in cache.val_paths]
    draw = (
        None
        if balance_sources == 1.0
        else source_balance([source_of(p, data_dir) for p in cache.train_paths], balance_sources)
    )

    ckpt_path = run_dir / "last.pt"
    ckpt = torch.load(ckpt_path, weights_only=True) if ckpt_path.exists() else None
    # a fine-tune keeps its starting weights' decoding settings until it chooses its own
    init_net, init_centres, spec = (
        load_weights(init_path)
        if init_path is not None
        else (None, None, ModelSpec(DEFAULT_TEMPERATURE, DEFAULT_INPUT_SIZE))
    )
    if ckpt is not None:
        centres, probs = ckpt["centres"], ckpt["probs"]
    elif init_centres is not None:
        centres = init_centres
        probs = _probs_for(centres, cache.train)
    else:
        centres, probs = derive_bins(cache.train)
    class_w = bins.rebalance_weights(probs, centres)
    if ckpt is not None:
        arch = Architecture.from_metadata(ckpt["arch"])
    elif init_net is not None:
        arch = init_net.arch
    else:
        arch = _new_architecture(init_encoder, depth, decoder_widths)
    net = ColorizerNet(num_bins=len(centres), arch=arch)
    if init_net is not None and ckpt is None:
        net.load_state_dict(init_net.state_dict())
    if init_encoder is not None and ckpt is None:
        _load_encoder(net, init_encoder)
    net = net.to(dev, memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(_param_groups(net, encoder_lr), lr=lr, weight_decay=1e-4)
    # the averaged copy is what validation scores and what is exported
    ema = (
        AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
        if ema_decay
        else None
    )
    rng = np.random.default_rng(seed)
    step, trained = 0, 0.0  # steps taken and seconds spent training, over all resumes
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optim"])
        rng.bit_generator.state = ckpt["rng"]
        step, trained = ckpt["step"], ckpt.get("seconds", 0.0)
        if ema is not None and "ema" in ckpt:
            ema.load_state_dict(ckpt["ema"])
        click.echo(f"resumed at step {step}")
    budget = None if minutes is None else minutes * 60

    def progress() -> float:
        if budget is not None:
            return trained / max(budget, 1e-9)
        return (step - warmup) / max(1, steps - warmup)

    def finished() -> bool:
        return trained >= budget if budget is not None else step >= steps

    centres_d, class_w_d = centres.to(dev), class_w.to(dev)
    # the held-out crops degraded once, with a seed of their own, so every validation
    # scores the same damaged copies
    val_degraded = (
        degraded_l(to_lab(cache.val), 1.0, np.random.default_rng(seed + 1))
        if degrade_share
        else None
    )
    click.echo(f"{len(centres)} a/b classes, device {dev}, {torch.get_num_threads()} threads")

    log = open(run_dir / "log.jsonl", "a")  # noqa: SIM115 - open for the whole run
    last_ckpt, tick, seen, losses = time.time(), time.time(), 0, []

    def checkpoint() -> None:
        _save_checkpoint(
            ckpt_path,
            {
                "model": net.state_dict(),
                "optim": opt.state_dict(),
                "step": step,
                "rng": rng.bit_generator.state,
                "centres": centres,
                "probs": probs,
                "arch": arch.to_metadata(),
                "seconds": trained,
                **({} if ema is None else {"ema": ema.state_dict()}),
            },
        )
        exported = ModelSpec(spec.temperature, spec.input_size, probs, spec.undo_rebalancing)
        save_weights(run_dir / "colorizer.safetensors", scored(), centres, exported)

    def scored() -> ColorizerNet:
        return net if ema is None else ema.module

    stopping = []  # set by SIGTERM/SIGINT: checkpoint, then leave (a scheduler's kill)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))

    while not finished() and not stopping:
        started = time.time()
        for g in opt.param_groups:
            g["lr"] = g["scale"] * lr_at(step, progress(), lr, warmup)
        lab = random_batch(cache.train, batch_size, crop, rng, draw, whole).to(
            dev, non_blocking=True
        )
        L = degraded_l(lab, degrade_share, rng) if degrade_share else lab[:, :1]
        x = normalise_l(L).contiguous(memory_format=torch.channels_last)
        with autocast(dev, torch.bfloat16):
            logits = net(x)
        loss = class_loss(logits, targets_ab(lab), centres_d, class_w_d)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(net)
        step += 1
        trained += time.time() - started
        started = time.time()
        last = finished()
        seen += batch_size
        losses.append(loss.item())
        if step % 20 == 0:
            now = time.time()
            rec = {
                "step": step,
                "loss": sum(losses) / len(losses),
                "lr": opt.param_groups[0]["lr"],
                "ips": seen / (now - tick),
                "crop": crop,
                **({"degrade": degrade_share} if degrade_share else {}),
                **({"whole": True} if whole else {}),
                "time": now,
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()
            click.echo(
                " ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in rec.items()
                    if k != "time"
                )
            )
            tick, seen, losses = now, 0, []
        if step % val_every == 0 or last:
            scores = validate(scored(), cache.val, centres_d, class_w_d, dev, val_sources)
            if ema is not None:  # the weights themselves beside their average, to compare
                raw = validate(net, cache.val, centres_d, class_w_d, dev, val_sources)
                scores |= {f"raw_{k}": v for k, v in raw.items()}
            if val_degraded is not None:
                damaged = validate(
                    scored(),
                    cache.val,
                    centres_d,
                    class_w_d,
                    dev,
                    val_sources,
                    inputs=val_degraded,
                )
                scores |= {f"d{k}": v for k, v in damaged.items()}
            rec = {"step": step, **scores}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            click.echo(" ".join(f"{k}={v:.4g}" for k, v in rec.items()))
        if time.time() - last_ckpt > checkpoint_minutes * 60 or last:
            checkpoint()
            last_ckpt = time.time()
        trained += time.time() - started  # validation and checkpoints count too
    log.close()
    if stopping:
        checkpoint()
        click.echo(f"stopped at step {step}; run the same command again to resume")
        return
    exported = run_dir / "colorizer.safetensors"
    if not exported.exists():
        checkpoint()
    click.echo(f"done: {step} steps; weights in {exported}")
    if choose_temperature:
        from .temperature import choose

        chosen, table = choose(exported, cache.val_paths, val_sources)
        net_, centres_, _ = load_weights(exported)
        save_weights(exported, net_, centres_, chosen)
        settings = {
            "input_size": chosen.input_size,
            "temperature": chosen.temperature,
            "undo_rebalancing": chosen.undo_rebalancing,
        }
        (run_dir / "temperature.json").write_text(json.dumps({**settings, "table": table}))
        click.echo(
            "chose "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.items())
            + f" on {len(cache.val_paths)} validation photos"
        )


def _new_architecture(init_encoder: Path | None, depth: int, widths: str) -> Architecture:
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


def _load_encoder(net: ColorizerNet, path: Path) -> None:
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


def _param_groups(net: ColorizerNet, encoder_lr: float) -> list[dict]:
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


def _probs_for(centres: torch.Tensor, crops: np.ndarray) -> torch.Tensor:
    """Prior over existing classes (nearest centre), for a phase started from weights."""
    counts = torch.zeros(len(centres))
    for i in range(0, len(crops), 512):
        ab = targets_ab(to_lab(crops[i : i + 512])).permute(0, 2, 3, 1).reshape(-1, 2)
        counts += torch.bincount(torch.cdist(ab, centres).argmin(1), minlength=len(centres))
    return counts / counts.sum()


if __name__ == "__main__":
    main()
