"""``colorize IN OUT``: a thin layer over :func:`colorize_cli.api.colorize_dir`.

Heavy imports (torch) wait until the command really runs, so ``--help`` and
``--version`` answer at once. Exit status: 0 all done, 1 any file failed (or the run
stopped early), 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import click

from ..config import DEFAULT_CHECK_BELOW, DISTRIBUTION, Options
from ..files.formats import FORMATS
from .options import device_option, temperature_option, weights_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", metavar="IN", type=click.Path(exists=True, path_type=Path))
@click.argument("dst", metavar="OUT", type=click.Path(path_type=Path))
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1024),
    default=Options.batch_size,
    show_default=True,
    help="Images per forward pass.",
)
@device_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    help="Output format (default: each input's own).",
)
@click.option("--overwrite", is_flag=True, help="Redo outputs that already exist.")
@weights_option
@temperature_option
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=Options.workers,
    show_default=True,
    help="Threads for decoding, and for encoding.",
)
@click.option(
    "--reference",
    type=click.Path(exists=True, path_type=Path),
    help="A colour photo whose palette every input takes, or a folder mirroring IN with "
    "one per input (same relative path, any image extension).",
)
@click.option(
    "--reference-strength",
    type=click.FloatRange(0.0, 5.0),
    default=Options.reference_strength,
    show_default=True,
    help="How far the reference palette replaces the model's own (0: not at all).",
)
@click.option(
    "--hints",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder mirroring IN: colour hints for IN/a/b.tif in HINTS/a/b.hints.json "
    '({"points": [{"x": 120, "y": 48, "rgb": [200, 30, 40]}]}, x and y in the upright '
    "photo's pixels; optional radius in pixels).",
)
@click.option(
    "--sequence/--no-sequence",
    default=None,
    help="Colour each folder's photos as the frames of one film (--sequence), or each on "
    "its own (--no-sequence). Default: a folder of 3 or more numbered names of one size "
    "(frame_0001.png ...) is a film.",
)
@click.option(
    "--temporal-window",
    type=click.IntRange(0, 1000),
    default=Options.temporal_window,
    show_default=True,
    help="Frames of a film over which colour is kept steady; 0 colours each frame alone. "
    "Cuts start it over.",
)
@click.option(
    "--video-crf",
    type=click.IntRange(0, 51),
    default=Options.video_crf,
    show_default=True,
    help="H.264 quality of coloured videos (.mp4 .mov .mkv .avi .m4v): lower is better "
    "and larger; audio and subtitles are copied as they are.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default=Options.engine,
    show_default=True,
    help="local: this process. ray: Ray, from one machine to a cluster (the ray extra): "
    "photos as a Ray Data pipeline, each film whole on one worker; IN and OUT must be on "
    "storage every node sees under the same path.",
)
@click.option(
    "--ray-address",
    metavar="ADDRESS",
    help="With --engine ray: the cluster to join (auto, or ray://host:port); default: "
    "start a local Ray instance.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON line per input (input, output, status, reason, seconds, "
    "reference, hints, confidence...).",
)
@click.option(
    "--check-below",
    type=click.FloatRange(0.0, 1.0),
    default=DEFAULT_CHECK_BELOW,
    show_default=True,
    help="Count in the summary the photos coloured with a confidence below this (0-1: "
    "the share of held-out photos the model expected to come out worse).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only failures.")
@click.option(
    "--debug",
    is_flag=True,
    envvar="COLORIZE_DEBUG",
    help="With --engine ray: let Ray's own log lines through to the terminal (otherwise "
    "they go to a log file, kept and named when the cluster misbehaved). Also "
    "COLORIZE_DEBUG=1.",
)
@click.version_option(package_name=DISTRIBUTION, message="%(prog)s (%(package)s) %(version)s")
def main(
    src: Path,
    dst: Path,
    batch_size: int,
    device: str,
    fmt: str | None,
    overwrite: bool,
    weights: Path | None,
    temperature: float | None,
    workers: int,
    reference: Path | None,
    reference_strength: float,
    hints: Path | None,
    sequence: bool | None,
    temporal_window: int,
    video_crf: int,
    engine: str,
    ray_address: str | None,
    manifest: Path | None,
    check_below: float,
    quiet: bool,
    debug: bool,
) -> None:
    """Colour every black-and-white photo, film frame and video under IN into a mirror
    under OUT."""
    from rich.console import Console

    from ..api import Colorizer, EngineError, OutputError, colorize_dir
    from ..files.manifest import Manifest
    from ..model.device import DeviceError
    from ..model.weights import WeightsError
    from .progress import Reporter
    from .ray_output import ray_output_aside

    options = Options(
        batch_size=batch_size,
        device=device,
        format=fmt,
        overwrite=overwrite,
        weights=weights,
        temperature=temperature,
        workers=workers,
        reference=reference,
        reference_strength=reference_strength,
        hints=hints,
        sequence=sequence,
        temporal_window=temporal_window,
        video_crf=video_crf,
        engine=engine,
        ray_address=ray_address,
        debug=debug,
        check_below=check_below,
    )
    try:
        colorizer = Colorizer(options.weights, options.device, options.temperature)
    except (WeightsError, DeviceError) as exc:
        raise click.UsageError(str(exc)) from None
    if reference is not None and colorizer.spec.prior is None:
        raise click.UsageError(f"--reference: {options.weights}: weights without a prior")

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: leave now (temporary files are cleaned later)
            sys.exit(130)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    log = Manifest(manifest) if manifest else None
    with ray_output_aside(engine == "ray" and not debug) as aside:
        console = Console(file=aside.terminal, highlight=False, soft_wrap=True)
        reporter = Reporter(quiet, console)

        def on_result(result: object) -> None:
            reporter(result)  # type: ignore[arg-type]
            if log:
                log.write(result)  # type: ignore[arg-type]

        try:
            summary = colorize_dir(
                src,
                dst,
                options,
                colorizer=colorizer,
                on_result=on_result,
                on_total=reporter.start,
                on_frames=reporter.frames,
                on_films=reporter.films,
                on_notice=reporter.notice,
                stop=stop,
            )
        except (OutputError, EngineError) as exc:
            raise click.UsageError(str(exc)) from None
        finally:
            if log:
                log.close()
        reporter.finish(summary, manifest)
        # Ray's log is worth keeping when the cluster misbehaved, not for a bad file
        aside.keep = summary.fatal is not None or reporter.noticed
    if engine == "ray":  # Ray's threads may still wait on a lost head: leave without them
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(summary.exit_code)
    sys.exit(summary.exit_code)


def entry() -> None:
    """The ``colorize`` program: ``colorize serve ...`` starts the service (a folder
    named serve is ``./serve``); anything else colours IN into OUT."""
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        from .serve import serve

        serve(args=sys.argv[2:], prog_name="colorize serve")
    else:
        main()
