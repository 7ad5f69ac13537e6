"""``colorize-eval``: score the colorizer on colour photos it has never seen.

Each photo is made grey (its own CIE lightness), coloured through the same code path as
``colorize`` (decode, thumbnail, batched model, full-resolution compose), and compared with
the original: PSNR, SSIM, a/b AuC and the colourfulness ratio, each beside the grey
baseline (output = the grey input). With ``--reference`` and ``--hints`` it also scores
the colour controls beside the automatic result. Prints a table, writes ``metrics.json``
and one contact sheet per set (grey | ours | original) into ``--out``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps

from ..cli.options import device_option, temperature_option, weights_option
from ..colour.hints import Hint, apply_hints
from ..colour.resample import thumbnail
from ..colour.rgb import compose, guide_grid
from ..config import DEFAULT_REFERENCE_STRENGTH
from ..files.controls import read_reference, reference_ab
from ..files.formats import is_image_name
from ..files.read import Decoded, decode_pil
from ..model.batch import stack_l
from ..model.colorizer import Colorizer
from . import metrics
from .degrade import KINDS, archive_mix, degrade

METRICS = ("psnr", "ssim", "auc", "colourfulness_ratio")
ARCHIVE = "archive"  # one to three degradations at once, drawn per photo
DEGRADED_STRENGTH = 0.6  # each single degradation's strength in the evaluation


@dataclass
class Scored:
    """Per-set means for one method (ours or grey)."""

    psnr: float
    ssim: float
    auc: float
    colourfulness_ratio: float


def photo_sets(roots: list[Path]) -> dict[str, list[Path]]:
    """A folder with images is a set; a folder of such folders gives one set per subfolder."""
    sets: dict[str, list[Path]] = {}
    for root in roots:
        direct = sorted(p for p in root.iterdir() if p.is_file() and is_image_name(p.name))
        if direct:
            sets[root.name] = direct
            continue
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            files = sorted(p for p in sub.rglob("*") if p.is_file() and is_image_name(p.name))
            if files:
                sets[sub.name] = files
    return sets


def load_photo(path: Path) -> tuple[Decoded, np.ndarray]:
    """Decode a colour photo once: its grey (as ``colorize`` reads it) and its RGB truth,
    both upright (EXIF orientation applied to both)."""
    with Image.open(path) as im:
        upright = ImageOps.exif_transpose(im) or im
        return decode_pil(upright, im.format), np.asarray(upright.convert("RGB"))


def degraded_photo(path: Path, kind: str, seed: int) -> tuple[Decoded, np.ndarray]:
    """The photo as an archive would hold it: the grey of a copy damaged by ``kind`` (one
    of :data:`~colorize_cli.training.degrade.KINDS`, or :data:`ARCHIVE` for a mix drawn
    for this photo), seeded by ``seed``; the truth stays the clean original."""
    decoded, truth = load_photo(path)
    rng = np.random.default_rng([seed, (*KINDS, ARCHIVE).index(kind)])
    kinds, strength = archive_mix(rng) if kind == ARCHIVE else ((kind,), DEGRADED_STRENGTH)
    rgb = torch.from_numpy(truth.copy()).permute(2, 0, 1).float() / 255
    gray = degrade(rgb, kinds, strength, rng).numpy().astype(np.float32)
    return replace(decoded, gray=gray), truth


def grey_rgb(decoded: Decoded) -> np.ndarray:
    """The grey baseline: the grey input itself as an 8-bit RGB image."""
    g = np.rint(decoded.gray * 255).astype(np.uint8)
    return np.stack([g, g, g], axis=-1)


@dataclass(frozen=True)
class Method:
    """One way of colouring an evaluation photo: automatically, with a reference photo
    (``oracle``: the photo itself; ``fair``: the next photo of the same set, in name
    order), or with ``hints`` points whose colour is taken from the original at random
    positions (seeded by the photo's place in its set, nested: the first 3 of 10 are
    the 3)."""

    name: str
    reference: str | None = None
    hints: int = 0


AUTOMATIC = Method("ours")


def methods_for(references: tuple[str, ...], hint_counts: tuple[int, ...]) -> list[Method]:
    return [
        AUTOMATIC,
        *(Method(f"ref-{r}", reference=r) for r in references),
        *(Method(f"hints-{k}", hints=k) for k in hint_counts),
    ]


def truth_hints(truth: np.ndarray, k: int, seed: int) -> list[Hint]:
    """``k`` hints at random positions with the original's colour there."""
    rng = np.random.default_rng(seed)
    h, w = truth.shape[:2]
    points = rng.integers(0, (w, h), size=(k, 2))
    return [Hint(int(x), int(y), tuple(int(v) for v in truth[y, x])) for x, y in points]


def colorize_photos(
    colorizer: Colorizer,
    paths: list[Path],
    batch_size: int = 8,
    methods: list[Method] | tuple[Method, ...] = (AUTOMATIC,),
    strength: float = DEFAULT_REFERENCE_STRENGTH,
    degraded: str | None = None,
):
    """Yield (grey RGB, {method name: RGB}, original RGB) uint8 arrays for ``paths``; with
    ``degraded``, each coloured from a copy damaged that way (:func:`degraded_photo`)."""
    for i in range(0, len(paths), batch_size):
        chunk = paths[i : i + batch_size]
        photos = [
            load_photo(p) if degraded is None else degraded_photo(p, degraded, i + j)
            for j, p in enumerate(chunk)
        ]
        L = stack_l([thumbnail(d.gray, colorizer.input_size) for d, _ in photos])
        logits, features = colorizer.logits_and_features(L)
        auto = colorizer.decode(logits)
        outs: list[dict[str, np.ndarray]] = [{} for _ in photos]
        for method in methods:
            ab = auto
            if method.reference is not None:
                refs = [
                    reference_ab(Image.fromarray(truth))
                    if method.reference == "oracle"
                    else read_reference(paths[(i + j + 1) % len(paths)])
                    for j, (_, truth) in enumerate(photos)
                ]
                shift = torch.stack([colorizer.reference_shift(r, strength) for r in refs])
                ab = colorizer.predict_ab(L, shift)
            for j, (d, truth) in enumerate(photos):
                if method.hints:
                    hints = truth_hints(truth, method.hints, seed=i + j)
                    guide = guide_grid(d.gray, ab.shape[-1])
                    hinted = apply_hints(guide, ab[j], features[j], hints, d.size)
                    outs[j][method.name] = compose(d.gray, ab[j], 8, guide=guide, hinted=hinted)
                else:
                    outs[j][method.name] = compose(d.gray, ab[j], 8)
        for (d, truth), out in zip(photos, outs, strict=True):
            yield grey_rgb(d), out, truth


def score_set(
    colorizer: Colorizer,
    paths: list[Path],
    sheet: Path | None = None,
    sheet_count: int = 8,
    methods: list[Method] | tuple[Method, ...] = (AUTOMATIC,),
    strength: float = DEFAULT_REFERENCE_STRENGTH,
    degraded: str | None = None,
) -> dict[str, Scored]:
    """Mean metrics over one set for each method and for the grey baseline (with
    ``degraded``: coloured from damaged copies, scored against the clean originals)."""
    names = [m.name for m in methods] + ["grey"]
    rows: dict[str, list[list[float]]] = {n: [] for n in names}
    cf: dict[str, list[float]] = {n: [] for n in names}
    cf_truth: list[float] = []
    picks = set(np.linspace(0, len(paths) - 1, min(sheet_count, len(paths))).astype(int))
    thumbs = []
    photos = colorize_photos(
        colorizer, paths, methods=methods, strength=strength, degraded=degraded
    )
    for k, (grey, outs, truth) in enumerate(photos):
        cf_truth.append(metrics.colourfulness(truth))
        for name, out in (*outs.items(), ("grey", grey)):
            rows[name].append(
                [metrics.psnr(out, truth), metrics.ssim(out, truth), metrics.ab_auc(out, truth)]
            )
            cf[name].append(metrics.colourfulness(out))
        if k in picks:
            thumbs.append((grey, outs[methods[0].name], truth))
    if sheet is not None:
        contact_sheet(thumbs, sheet)
    out = {}
    for name, vals in rows.items():
        m = np.mean(vals, axis=0)
        out[name] = Scored(
            float(m[0]),
            float(m[1]),
            float(m[2]),
            float(np.mean(cf[name]) / max(np.mean(cf_truth), 1e-9)),
        )
    return out


def contact_sheet(
    triples: list[tuple[np.ndarray, ...]],
    path: Path,
    height: int = 200,
    labels: tuple[str, ...] = ("grey input", "colorize-cli", "original"),
) -> None:
    """Rows of grey input | ours | original (or as many columns as ``labels``), labelled,
    saved as PNG."""
    rows = []
    n = len(labels)
    for triple in triples:
        ims = [Image.fromarray(a) for a in triple]
        w = round(ims[0].width * height / ims[0].height)
        row = Image.new("RGB", (n * w + 4 * (n - 1), height), "white")
        for j, im in enumerate(ims):
            row.paste(im.resize((w, height), Image.LANCZOS), (j * (w + 4), 0))
        rows.append(row)
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, 20 + sum(r.height + 4 for r in rows)), "white")
    draw = ImageDraw.Draw(sheet)
    column = rows[0].width // n
    for j, label in enumerate(labels):
        draw.text((j * column + 4, 4), label, fill="black")
    y = 20
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 4
    sheet.save(path)


def print_table(results: dict[str, dict[str, Scored]], title: str = "colorize-eval") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("set")
    table.add_column("method")
    for m in METRICS:
        table.add_column(m, justify="right")
    for name, r in results.items():
        for method, scored in r.items():
            table.add_row(name, method, *[f"{getattr(scored, m):.3f}" for m in METRICS])
    Console().print(table)


def mean_over_sets(results: dict[str, dict[str, Scored]]) -> dict[str, Scored]:
    methods = next(iter(results.values()))
    return {
        k: Scored(*[float(np.mean([getattr(r[k], m) for r in results.values()])) for m in METRICS])
        for k in methods
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument(
    "gt_dirs",
    metavar="GT_DIR...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval-out"),
    show_default=True,
    help="Folder for metrics.json and the contact sheets.",
)
@weights_option
@temperature_option
@device_option
@click.option("--sheet-count", type=int, default=8, show_default=True)
@click.option(
    "--reference",
    "references",
    type=click.Choice(["oracle", "fair"]),
    multiple=True,
    help="Also colour with a reference: each photo itself (oracle) or the next photo of "
    "its set (fair). Repeatable.",
)
@click.option(
    "--reference-strength",
    type=click.FloatRange(0.0, 5.0),
    default=DEFAULT_REFERENCE_STRENGTH,
    show_default=True,
)
@click.option(
    "--hints",
    "hint_counts",
    type=click.IntRange(1, 1000),
    multiple=True,
    help="Also colour with K hints taken from the original at random points. Repeatable.",
)
@click.option(
    "--degraded",
    "degradations",
    type=click.Choice(["all", *KINDS, ARCHIVE]),
    multiple=True,
    help="Also score copies of every photo damaged as archive photos are (grain, soft, "
    "motion, faded, crushed, uneven, vignette, scanner, dust, halftone, toned, cast; "
    "archive: one to three at once), coloured from the damaged grey and scored against "
    "the clean original; 'all' for each. Seeded: the same copies every run. Repeatable.",
)
def main(
    gt_dirs: tuple[Path, ...],
    out_dir: Path,
    weights: Path | None,
    temperature: float | None,
    device: str,
    sheet_count: int,
    references: tuple[str, ...],
    reference_strength: float,
    hint_counts: tuple[int, ...],
    degradations: tuple[str, ...],
) -> None:
    """Score the colorizer on folders of colour photos (each folder, or subfolder, a set)."""
    colorizer = Colorizer(weights, device, temperature)
    methods = methods_for(references, hint_counts)
    out_dir.mkdir(parents=True, exist_ok=True)
    sets = photo_sets(list(gt_dirs))
    results = {}
    for name, paths in sets.items():
        sheet = out_dir / f"sheet_{name}.png"
        results[name] = score_set(colorizer, paths, sheet, sheet_count, methods, reference_strength)
    if len(results) > 1:
        results["mean"] = mean_over_sets(results)
    print_table(results)
    report = {
        "temperature": colorizer.temperature,
        "input_size": colorizer.input_size,
        "sets": {n: {k: vars(v) for k, v in r.items()} for n, r in results.items()},
    }
    kinds = [*KINDS, ARCHIVE] if "all" in degradations else list(dict.fromkeys(degradations))
    if kinds:
        damaged = {}
        for kind in kinds:
            per_set = {
                name: score_set(
                    colorizer,
                    paths,
                    out_dir / f"sheet_{name}_{kind}.png",
                    sheet_count,
                    degraded=kind,
                )
                for name, paths in sets.items()
            }
            damaged[kind] = mean_over_sets(per_set)
            report.setdefault("degraded", {})[kind] = {
                n: {k: vars(v) for k, v in r.items()} for n, r in per_set.items()
            } | {"mean": {k: vars(v) for k, v in damaged[kind].items()}}
        damaged["degraded mean"] = mean_over_sets(damaged)
        report["degraded_mean"] = {k: vars(v) for k, v in damaged["degraded mean"].items()}
        print_table(damaged, "degraded (means over the sets, against the clean originals)")
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    click.echo(f"wrote {out_dir / 'metrics.json'} and contact sheets")


if __name__ == "__main__":
    main()
