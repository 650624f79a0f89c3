"""`zoo denoise MODEL INPUT... -o OUT`: denoise image files, keeping their format and bit depth."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from zoo.cli import imagejob
from zoo.cli.engine import add_engine, say
from zoo.cli.options import (add_device, add_precision, add_threads, add_tiling, add_weights, check_tiling_options,
                              precision_of, threads_said, use_threads)
from zoo.cli.ranks import Ranks
from zoo.contract import noise_channels
from zoo.errors import ZooError, first_line
from zoo.export.engines import ENGINES, EngineChoice
from zoo.export.precision import choose
from zoo.factory import create_model
from zoo.imageio import RAW_SUFFIXES, readable_suffixes
from zoo.contract import input_channels
from zoo.infer import denoise
from zoo.infer.budget import BUDGET_ENV, auto_tile, memory_budget, untiled_bytes_per_pixel
from zoo.limits import check_threads
from zoo.infer.conditioning import MAX_STRENGTH, check_strength
from zoo.ops.noiselevel import NoiseLevel
from zoo.version import __version__

OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "tif": ".tif", "npy": ".npy", "dng": ".dng"}
# Inputs whose result goes to another format in a folder by default: camera raw to a DNG,
# JPEG to PNG (a second JPEG compression would add artefacts to the denoised image).
DEFAULT_SUFFIX = {"raw": ".dng", ".jpg": ".png", ".jpeg": ".png"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "denoise", help="denoise image files (PNG, JPEG, TIFF, .npy, camera raw)",
        description="Denoise PNG/TIFF (8 and 16 bit, kept at their depth), JPEG (written as PNG unless "
        "-o names a .jpg), .npy, and camera raw files "
        "(DNG, NEF, CR2, ... through rawpy: the mosaic is denoised in the model's CFA phase and written "
        "as a DNG (-o x.dng, the default in a folder), developed by LibRaw (-o x.png/.jpg/.tif), or as "
        "the mosaic (--raw-output mosaic, .npy). A failed image is reported and "
        "the rest continue; existing outputs are kept unless --force. The first line printed names the "
        "engine that ran (PyTorch, onnxruntime or OpenVINO: --engine) and why.",
    )
    parser.add_argument("model", help="registered model name")
    add_image_arguments(parser)
    add_weights(parser)
    add_precision(parser)
    add_device(parser, dtype=False)
    add_engine(parser, ENGINES)
    add_threads(parser)
    parser.add_argument("--memory-budget", metavar="SIZE",
                        help=f"tile an image on its own when its untiled pass is estimated to need more (e.g. 1500M, 4G; "
                        f"0: never; default ${BUDGET_ENV}, else 2G or half the free memory); --tile overrides it")
    parser.set_defaults(run=run)


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    """Inputs, output and the inference options shared by `zoo denoise` and `zoo ort`."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, or folders (their image files; with --recursive, their subfolders' too)")
    parser.add_argument("--recursive", action="store_true",
                        help="take the image files of a folder's subfolders too, written into the same subfolders of -o")
    parser.add_argument("--name", metavar="TEMPLATE",
                        help="output file names in a folder, from {stem} (the input's name without suffix) and {ext} "
                        "(the output format's suffix), e.g. '{stem}-zoo.{ext}' (default '{stem}.{ext}')")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file (one input) or folder (created if missing)")
    parser.add_argument("--format", choices=["same", *OUTPUT_FORMATS], default="same",
                        help="output format in a folder (default: as the input; camera raw gives .dng, JPEG .png)")
    parser.add_argument("--ensemble", action="store_true", help="x8 self-ensemble (8x the time)")
    parser.add_argument("--strength", type=_strength, default=1.0, metavar="S",
                        help="a noise-aware model: how much noise to remove, 0 (the input as it is) to 2; 1 (default) "
                        "is the level estimated or given; lower keeps more fine detail (and noise), higher smooths more")
    parser.add_argument("--noise-level", type=_noise_level, metavar="SIGMA|SHOT,READ",
                        help="a noise-aware model: the noise level instead of the estimate: a standard deviation in "
                        "image units (0-1, e.g. 0.02), or a raw mosaic's shot and read variances (sigma^2 = shot x + read)")
    add_tiling(parser)
    imagejob.add_arguments(parser)
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")


def _strength(text: str) -> float:
    try:
        return check_strength(float(text))
    except (ValueError, ZooError):
        raise argparse.ArgumentTypeError(f"expected a number from 0 to {MAX_STRENGTH:g}, got {text!r}") from None


def _noise_level(text: str) -> float | tuple[float, float]:
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0.0 <= v < 1.0 for v in values):  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a standard deviation (0-1) or SHOT,READ, got {text!r}")
    return values[0] if len(values) == 1 else (values[0], values[1])


def _told_level(args: argparse.Namespace, from_file: NoiseLevel | None,
                runner: object) -> NoiseLevel | float | tuple[float, float] | None:
    """The level a noise-aware model is told: --noise-level, else the file's (a DNG's
    NoiseProfile), else none (estimated from the image); a blind model is told nothing."""
    if args.noise_level is not None:
        return args.noise_level
    return from_file if noise_channels(runner) else None


def output_path(source: Path, output: Path, to_folder: bool, fmt: str, is_raw: bool, name: str | None = None,
                folder: Path | None = None) -> Path:
    """Where ``source``'s result goes: ``output`` itself, or ``output/<name>`` (``{stem}.{ext}`` by
    default), in the subfolder ``source`` has below the input ``folder`` it was found in."""
    if not to_folder:
        return output
    if fmt != "same":
        suffix = OUTPUT_FORMATS[fmt]
    else:
        suffix = DEFAULT_SUFFIX["raw"] if is_raw else DEFAULT_SUFFIX.get(source.suffix.lower(), source.suffix)
    below = source.parent.relative_to(folder) if folder is not None else Path()
    return output / below / _file_name(name or "{stem}.{ext}", source.stem, suffix.lstrip("."))


def _file_name(template: str, stem: str, ext: str) -> str:
    try:
        name = template.format(stem=stem, ext=ext)
    except (KeyError, IndexError, ValueError) as exc:
        raise ZooError(f"--name {template!r}: use {{stem}} and {{ext}} only ({type(exc).__name__}: {exc})") from None
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ZooError(f"--name {template!r} must give a file name, not a path (got {name!r})")
    return name


def expand_inputs(inputs: list[str], recursive: bool) -> list[tuple[Path, Path | None]]:
    """Each input file, with the folder it was found in (None when named itself); folders give
    their image files, sorted (and their subfolders' with ``recursive``); a folder with none is an error."""
    found: list[tuple[Path, Path | None]] = []
    for text in inputs:
        path = Path(text)
        if not path.is_dir():
            found.append((path, None))
            continue
        files = path.rglob("*") if recursive else path.iterdir()
        images = sorted(f for f in files if f.is_file() and f.suffix.lower() in readable_suffixes()
                        and not f.name.startswith("."))
        if not images:
            raise ZooError(f"{path} is a folder with no image files" + ("" if recursive else " (--recursive takes its subfolders)"))
        found += [(image, path) for image in images]
    return found


def run(args: argparse.Namespace) -> int:
    precision = precision_of(args)

    def chosen() -> EngineChoice:
        # A noise-aware model runs on any engine: its map is built beside the network (zoo.denoise).
        model = create_model(args.model, weights=args.weights)
        return choose(model, precision=precision, engine=args.engine, device=args.device, threads=args.threads, log=say)

    return denoise_files(args, chosen, args.model)


def denoise_files(args: argparse.Namespace, choose: Callable[[], EngineChoice], label: str) -> int:
    """Denoise every input into its output with the engine ``choose`` picks once the arguments
    are found sound (the first line names it and why); a failed image is reported and the rest
    go on. Under ``torchrun``
    the inputs are split across the ranks (:mod:`zoo.cli.ranks`) and rank 0 prints the summary."""
    ranks = Ranks.from_environment()
    with ranks.errors_from_main():
        if not ranks.several:  # before any engine starts: each takes torch's count (ranks share the cores themselves)
            use_threads(args)
        elif getattr(args, "threads", None) is not None:
            check_threads(args.threads)
            torch.set_num_threads(args.threads)
        found = expand_inputs(args.inputs, getattr(args, "recursive", False))
        inputs = [source for source, _ in found]
        output = Path(args.output)
        to_folder = len(inputs) > 1 or output.is_dir() or args.output.endswith(("/", "\\")) or \
            any(folder is not None for _, folder in found)
        if to_folder and output.exists() and not output.is_dir():
            raise ZooError(f"{output} is a file; with several inputs -o must be a folder")
        targets = [output_path(source, output, to_folder, args.format, source.suffix.lower() in RAW_SUFFIXES,
                               getattr(args, "name", None), folder) for source, folder in found]
        for source, target in zip(inputs, targets):  # before any work: a bad output name would fail only after denoising
            imagejob.check_target(source, target, args)
        clashes = sorted({str(t) for t in targets if targets.count(t) > 1})
        if clashes:
            raise ZooError(f"several inputs would be written to {clashes[0]}: give inputs distinct names or one at a time")
    place = ranks.join(getattr(args, "device", None))
    try:
        return _denoise_share(args, choose, label, ranks, place, inputs, targets)
    finally:
        ranks.leave()


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reported when it is read


def _denoise_share(args: argparse.Namespace, choose: Callable[[], EngineChoice], label: str, ranks: Ranks,
                   place: str, inputs: list[Path], targets: list[Path]) -> int:
    """This rank's share of the inputs (all of them on one rank); the summary on rank 0."""
    with ranks.errors_from_main():
        chosen = choose()
        runner = chosen.runner
        check_tiling_options(args, runner.size_multiple)  # on the model's own grid, before any image is read
    with ranks.errors_from_main():
        model = chosen.model
        budget = memory_budget(getattr(args, "memory_budget", None)) if model is not None else None
        per_pixel = untiled_bytes_per_pixel(model, input_channels(model), runner.size_multiple) \
            if budget and model is not None else None

    def tiles(data) -> int | None:
        """--tile, else a tile from the memory budget when the untiled pass would exceed it."""
        if args.tile is not None or not budget or not per_pixel:
            return args.tile
        height, width = data.shape[-2:]
        tile = auto_tile(per_pixel, height, width, budget, runner.size_multiple, args.overlap)
        if tile is not None and ranks.main:
            tqdm.write(f"zoo: {height}x{width}: tiles of {tile} (untiled about {per_pixel * height * width / 2**20:.0f} MiB, "
                       f"over the {budget / 2**20:.0f} MiB memory budget: --memory-budget or --tile)", file=sys.stderr)
        return tile

    notes = getattr(runner, "notes", [])
    if ranks.main:
        spread = f", {ranks.world} ranks" if ranks.several else ""
        precision = f" [{chosen.precision_reason}]" if chosen.precision_reason else ""
        print(f"zoo: {label} on {runner.device}{precision} [{chosen.engine}: {chosen.reason}]{spread}{threads_said(args)}" +
              (f" (passed over: {'; '.join(notes)})" if notes else ""), file=sys.stderr)
    mine = ranks.share([_file_size(p) for p in inputs]) if ranks.several else range(len(inputs))
    failures = 0
    for source, target in tqdm([(inputs[i], targets[i]) for i in mine], unit="image",
                               disable=len(inputs) < 2 or not ranks.main):
        try:
            if target.exists() and not args.force:
                raise ZooError(f"{target} exists (use --force to overwrite)")
            imagejob.denoise_file(
                source, target, args,
                lambda data, level: denoise(runner, data, ensemble=args.ensemble, tile=tiles(data), overlap=args.overlap,
                                            progress=ranks.main, strength=args.strength,
                                            noise_level=_told_level(args, level, runner)),
                in_channels=getattr(runner, "in_channels", None), label=label, software=f"zoo {__version__} ({label})")
        except ZooError as exc:
            failures += 1
            tqdm.write(f"zoo: error: {source}: {exc}", file=sys.stderr)
        except Exception as exc:  # e.g. out of memory on one large image: report it, go on
            failures += 1
            hint = "; try --tile" if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) and args.tile is None else ""
            tqdm.write(f"zoo: error: {source}: {type(exc).__name__}: {first_line(exc)}{hint}", file=sys.stderr)
    shares = ranks.gather((len(mine), failures, place))
    failures = sum(failed for _, failed, _ in shares)
    if ranks.main and ranks.several:
        print(f"zoo: {len(inputs)} images on {ranks.world} ranks: " + "; ".join(
            f"rank {rank} ({where}) {count}" + (f", {failed} failed" if failed else "")
            for rank, (count, failed, where) in enumerate(shares)), file=sys.stderr)
    if failures and ranks.main:
        print(f"zoo: {failures} of {len(inputs)} images failed", file=sys.stderr)
    return 1 if failures else 0
