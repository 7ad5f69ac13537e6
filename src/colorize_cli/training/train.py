"""``colorize-train``: train the colorizer on a folder of colour photos: from scratch,
from ImageNet features (``--init-encoder``), or on from a colorizer (``--init-from``).

Resumable by design: the run folder holds ``last.pt`` (model, optimiser, step, random
state), rewritten atomically every few minutes, and ``log.jsonl`` with the losses; running
the same command again continues where a cut-off run stopped. Each checkpoint also exports
``colorizer.safetensors``, the file that ships.

This module is the command: it reads the options and puts a run together from the parts,
each in a module of its own: the data (``traindata``), what the network sees
(``inputs``), the network and its optimiser (``network``), what it predicts and the loss
(``objective``), the schedule (``schedule``), the loop with its logging and checkpoints
(``loop``, ``checkpoint``), validation (``validation``) and the decoding choice
(``temperature``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..model.net import DECODER_CHANNELS, Architecture, ColorizerNet
from ..model.weights import ModelSpec, load_weights, save_weights
from .checkpoint import load_checkpoint
from .loop import Plan, Trainer
from .network import load_encoder, new_architecture, optimiser, weights_path
from .objective import derive_bins, probs_for
from .schedule import FINE_TUNE, SCRATCH
from .traindata import CACHE_SIZES, CropCache, build_cache, source_balance, source_of
from .validation import DEFAULT_TEMPERATURE

DEFAULT_INPUT_SIZE = 128  # until --choose-temperature picks one on validation


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
    "photos, fit the confidence estimate there, and store both in the exported weights "
    "[default: choose with --init-from].",
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
    from ..model.device import pick_device

    recipe = FINE_TUNE if init_from is not None else SCRATCH
    lr = recipe.lr if lr is None else lr
    warmup = recipe.warmup if warmup is None else warmup
    val_fraction = recipe.val_fraction if val_fraction is None else val_fraction
    ema_decay = recipe.ema if ema_decay is None else ema_decay
    choose_temperature = init_from is not None if choose_temperature is None else choose_temperature
    init_path = weights_path(init_from)
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

    ckpt = load_checkpoint(run_dir / "last.pt")
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
        probs = probs_for(centres, cache.train)
    else:
        centres, probs = derive_bins(cache.train)
    if ckpt is not None:
        arch = Architecture.from_metadata(ckpt["arch"])
    elif init_net is not None:
        arch = init_net.arch
    else:
        arch = new_architecture(init_encoder, depth, decoder_widths)
    net = ColorizerNet(num_bins=len(centres), arch=arch)
    if init_net is not None and ckpt is None:
        net.load_state_dict(init_net.state_dict())
    if init_encoder is not None and ckpt is None:
        load_encoder(net, init_encoder)
    net = net.to(dev, memory_format=torch.channels_last).train()
    opt = optimiser(net, lr, encoder_lr)
    # the averaged copy is what validation scores and what is exported
    ema = (
        AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True)
        if ema_decay
        else None
    )
    plan = Plan(
        steps, minutes, batch_size, crop, whole, lr, warmup, val_every, checkpoint_minutes,
        degrade_share, seed,
    )  # fmt: skip
    trainer = Trainer(run_dir, net, ema, opt, centres, probs, arch, spec, dev, plan)
    if ckpt is not None:
        trainer.resume(ckpt)
    click.echo(f"{len(centres)} a/b classes, device {dev}, {torch.get_num_threads()} threads")
    if not trainer.train(cache, val_sources, draw):
        return
    exported = trainer.exported
    click.echo(f"done: {trainer.step} steps; weights in {exported}")
    if choose_temperature:
        from .confidence import refit
        from .temperature import choose

        chosen, table = choose(exported, cache.val_paths, val_sources)
        net_, centres_, _ = load_weights(exported)
        save_weights(exported, net_, centres_, chosen)
        fitted = refit(exported, cache.val_paths, spec.confidence)
        settings = {
            "input_size": chosen.input_size,
            "temperature": chosen.temperature,
            "undo_rebalancing": chosen.undo_rebalancing,
        }
        (run_dir / "temperature.json").write_text(json.dumps({**settings, "table": table}))
        click.echo(
            "chose "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in settings.items())
            + f" on {len(cache.val_paths)} validation photos; {fitted}"
        )


if __name__ == "__main__":
    main()
