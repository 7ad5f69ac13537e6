"""Training data: a pre-decoded cache of colour crops, and random batches from it.

On two cores, decoding JPEGs and converting them to Lab inside the training loop takes a
core away from the model. The photos are therefore decoded once into a uint8 array of
square ``CACHE_SIZE`` crops (short side resized to fit, centre crop) kept in an ignored
folder; a training step only slices, flips and converts a batch to Lab in torch.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from ..colour.lab import rgb_to_lab
from ..files.formats import is_image_name

# sides a cache may be decoded at: 128 (the first recipe), 192 and 224 (ImageNet's
# features were learnt on 224-pixel photos)
CACHE_SIZES = (128, 160, 192, 224)
CACHE_SIZE = CACHE_SIZES[0]


def _load_square(path: Path, size: int = CACHE_SIZE) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        scale = size / min(w, h)
        im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        return np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.uint8)


def source_of(path: Path, root: Path) -> str:
    """The set a photo comes from: its first folder under ``root`` ("" for a flat folder)."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else ""


def list_photos(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and is_image_name(p.name))


@dataclass(frozen=True)
class CropCache:
    """uint8 RGB crops ``(N, S, S, 3)`` for training and validation."""

    train: np.ndarray
    val: np.ndarray
    train_paths: list[Path]  # the photo of each training crop, for balancing its sources
    val_paths: list[Path]  # the held-out photos themselves, for choosing the temperature


def _split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, int]:
    """A seeded order of ``n`` photos, and how many of its first are held out."""
    return np.random.default_rng(seed).permutation(n), max(1, int(n * val_fraction))


def held_out_paths(root: Path, val_fraction: float, seed: int) -> list[Path]:
    """The photos under ``root`` that a training run with this split never trains on."""
    paths = list_photos(root)
    order, n_val = _split(len(paths), val_fraction, seed)
    return [paths[i] for i in order[:n_val]]


def build_cache(
    root: Path,
    cache_dir: Path,
    val_fraction: float,
    seed: int,
    size: int = CACHE_SIZE,
    workers: int = 2,
) -> CropCache:
    """Decode every photo under ``root`` once; reuse the arrays on later runs.

    The split is a seeded permutation of the sorted file list, and the cache file name
    hashes that list, so the same data and seed always give the same held-out photos.
    """
    paths = list_photos(root)
    if not paths:
        raise SystemExit(f"no photos found under {root}")
    key = hashlib.sha256(
        "\n".join([str(seed), str(val_fraction), *map(str, paths)]).encode()
    ).hexdigest()[:12]
    file = cache_dir / f"crops{size}-{key}.npz"
    order, n_val = _split(len(paths), val_fraction, seed)
    val_paths = [paths[i] for i in order[:n_val]]
    train_paths = [paths[i] for i in order[n_val:]]
    if file.exists():
        with np.load(file) as z:
            return CropCache(z["train"], z["val"], train_paths, val_paths)
    with ProcessPoolExecutor(workers) as pool:
        crops = np.stack(list(pool.map(partial(_load_square, size=size), paths, chunksize=64)))
    cache = CropCache(crops[order[n_val:]], crops[order[:n_val]], train_paths, val_paths)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npz")
    np.savez(tmp, train=cache.train, val=cache.val)
    tmp.replace(file)
    return cache


def to_lab(batch_uint8: np.ndarray | torch.Tensor, size: int | None = None) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` -> Lab ``(N, 3, H, W)`` float32, optionally shrunk to
    ``size`` pixels a side first (antialiased, in RGB as a photo is shrunk)."""
    rgb = torch.as_tensor(batch_uint8).permute(0, 3, 1, 2).float() / 255.0
    if size is not None and size != rgb.shape[-1]:
        rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", antialias=True)
        rgb = rgb.clamp(0.0, 1.0)
    return rgb_to_lab(rgb)


def source_balance(sources: list[str], power: float) -> np.ndarray:
    """Sampling probability of each photo such that a source with n photos is drawn in
    proportion to n ** ``power``: 1 keeps the data's mix, 0 draws every source equally,
    in between lifts the small, varied sets without repeating them endlessly."""
    _, index, counts = np.unique(sources, return_inverse=True, return_counts=True)
    p = counts[index].astype(np.float64) ** (power - 1.0)
    return p / p.sum()


def random_batch(
    crops: np.ndarray,
    batch_size: int,
    crop: int,
    rng: np.random.Generator,
    p: np.ndarray | None = None,
    whole: bool = False,
) -> torch.Tensor:
    """Random crops of side ``crop`` with random horizontal flips, as Lab; photos drawn
    uniformly, or with probabilities ``p`` (:func:`source_balance`). With ``whole``, the
    whole cached photo shrunk to ``crop`` instead: a cheap step that still sees the
    whole scene (what a low-resolution phase for global context trains on)."""
    if p is None:
        idx = rng.integers(0, len(crops), batch_size)
    else:
        idx = rng.choice(len(crops), batch_size, p=p)
    s = crops.shape[1]
    side = s if whole else crop
    out = np.empty((batch_size, side, side, 3), dtype=np.uint8)
    for j, i in enumerate(idx):
        y, x = (0, 0) if whole else rng.integers(0, s - crop + 1, 2)
        patch = crops[i, y : y + side, x : x + side]
        out[j] = patch[:, ::-1] if rng.random() < 0.5 else patch
    return to_lab(out, crop)
