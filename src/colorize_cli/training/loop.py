"""The training loop: a step (batch, input, forward, loss, update, average), logging,
validation, checkpoints and a clean stop on SIGTERM or SIGINT, over a number of steps or
a time budget that counts the time of earlier, resumed attempts."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from ..colour import bins
from ..model.net import Architecture, ColorizerNet, normalise_l
from ..model.weights import ModelSpec, save_weights
from .checkpoint import save_checkpoint
from .inputs import model_input
from .objective import class_loss, targets_ab
from .schedule import lr_at
from .traindata import CropCache, random_batch, to_lab
from .validation import validate

LOG_EVERY = 20  # steps


@dataclass(frozen=True)
class Plan:
    """How long and on what a run trains."""

    steps: int
    minutes: float | None
    batch_size: int
    crop: int
    whole: bool
    lr: float
    warmup: int
    val_every: int
    checkpoint_minutes: float
    degrade: float  # share of photos whose input is damaged (training/inputs.py)
    seed: int


class Trainer:
    """One run: the network, its average, the optimiser and where it stands."""

    def __init__(
        self,
        run_dir: Path,
        net: ColorizerNet,
        ema: AveragedModel | None,
        opt: torch.optim.Optimizer,
        centres: torch.Tensor,
        probs: torch.Tensor,
        arch: Architecture,
        spec: ModelSpec,
        device: torch.device,
        plan: Plan,
    ) -> None:
        self.run_dir, self.net, self.ema, self.opt = run_dir, net, ema, opt
        self.centres, self.probs, self.arch, self.spec = centres, probs, arch, spec
        self.device, self.plan = device, plan
        self.rng = np.random.default_rng(plan.seed)
        self.step, self.trained = 0, 0.0  # steps taken and seconds spent, over all resumes
        self.centres_d = centres.to(device)
        self.class_w_d = bins.rebalance_weights(probs, centres).to(device)

    @property
    def exported(self) -> Path:
        return self.run_dir / "colorizer.safetensors"

    def resume(self, ckpt: dict) -> None:
        self.net.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optim"])
        self.rng.bit_generator.state = ckpt["rng"]
        self.step, self.trained = ckpt["step"], ckpt.get("seconds", 0.0)
        if self.ema is not None and "ema" in ckpt:
            self.ema.load_state_dict(ckpt["ema"])
        click.echo(f"resumed at step {self.step}")

    def scored(self) -> ColorizerNet:
        """What validation scores and what is exported: the average, if there is one."""
        return self.net if self.ema is None else self.ema.module

    def checkpoint(self) -> None:
        save_checkpoint(
            self.run_dir / "last.pt",
            {
                "model": self.net.state_dict(),
                "optim": self.opt.state_dict(),
                "step": self.step,
                "rng": self.rng.bit_generator.state,
                "centres": self.centres,
                "probs": self.probs,
                "arch": self.arch.to_metadata(),
                "seconds": self.trained,
                **({} if self.ema is None else {"ema": self.ema.state_dict()}),
            },
        )
        s = self.spec
        exported = ModelSpec(s.temperature, s.input_size, self.probs, s.undo_rebalancing)
        save_weights(self.exported, self.scored(), self.centres, exported)

    def _progress(self) -> float:
        p = self.plan
        if p.minutes is not None:
            return self.trained / max(p.minutes * 60, 1e-9)
        return (self.step - p.warmup) / max(1, p.steps - p.warmup)

    def _finished(self) -> bool:
        p = self.plan
        return self.trained >= p.minutes * 60 if p.minutes is not None else self.step >= p.steps

    def _validate(self, cache: CropCache, sources: list[str], damaged: torch.Tensor | None):
        args = (cache.val, self.centres_d, self.class_w_d, self.device, sources)
        scores = validate(self.scored(), *args)
        if self.ema is not None:  # the weights themselves beside their average, to compare
            raw = validate(self.net, *args)
            scores |= {f"raw_{k}": v for k, v in raw.items()}
        if damaged is not None:
            seen_damaged = validate(self.scored(), *args, inputs=damaged)
            scores |= {f"d{k}": v for k, v in seen_damaged.items()}
        return scores

    def train(self, cache: CropCache, sources: list[str], draw: np.ndarray | None) -> bool:
        """Train until the plan is done (True) or a signal asks to stop (False, after a
        checkpoint)."""
        from ..model.device import autocast

        p = self.plan
        # the held-out crops damaged once, with a seed of their own, so every validation
        # scores the same damaged copies
        damaged = (
            model_input(to_lab(cache.val), 1.0, np.random.default_rng(p.seed + 1))
            if p.degrade
            else None
        )
        log = open(self.run_dir / "log.jsonl", "a")  # noqa: SIM115 - open for the whole run
        last_ckpt, tick, seen, losses = time.time(), time.time(), 0, []
        stopping = []  # set by SIGTERM/SIGINT: checkpoint, then leave (a scheduler's kill)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))

        while not self._finished() and not stopping:
            started = time.time()
            for g in self.opt.param_groups:
                g["lr"] = g["scale"] * lr_at(self.step, self._progress(), p.lr, p.warmup)
            lab = random_batch(cache.train, p.batch_size, p.crop, self.rng, draw, p.whole)
            lab = lab.to(self.device, non_blocking=True)
            L = model_input(lab, p.degrade, self.rng)
            x = normalise_l(L).contiguous(memory_format=torch.channels_last)
            with autocast(self.device, torch.bfloat16):
                logits = self.net(x)
            loss = class_loss(logits, targets_ab(lab), self.centres_d, self.class_w_d)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            if self.ema is not None:
                self.ema.update_parameters(self.net)
            self.step += 1
            self.trained += time.time() - started
            started = time.time()
            last = self._finished()
            seen += p.batch_size
            losses.append(loss.item())
            if self.step % LOG_EVERY == 0:
                now = time.time()
                rec = {
                    "step": self.step,
                    "loss": sum(losses) / len(losses),
                    "lr": self.opt.param_groups[0]["lr"],
                    "ips": seen / (now - tick),
                    "crop": p.crop,
                    **({"degrade": p.degrade} if p.degrade else {}),
                    **({"whole": True} if p.whole else {}),
                    "time": now,
                }
                _write(log, rec, skip=("time",))
                tick, seen, losses = now, 0, []
            if self.step % p.val_every == 0 or last:
                _write(log, {"step": self.step, **self._validate(cache, sources, damaged)})
            if time.time() - last_ckpt > p.checkpoint_minutes * 60 or last:
                self.checkpoint()
                last_ckpt = time.time()
            self.trained += time.time() - started  # validation and checkpoints count too
        log.close()
        if stopping:
            self.checkpoint()
            click.echo(f"stopped at step {self.step}; run the same command again to resume")
            return False
        if not self.exported.exists():
            self.checkpoint()
        return True


def _write(log, rec: dict, skip: tuple[str, ...] = ()) -> None:
    """One record to the run's log and, readably, to the terminal."""
    log.write(json.dumps(rec) + "\n")
    log.flush()
    click.echo(
        " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in rec.items()
            if k not in skip
        )
    )
