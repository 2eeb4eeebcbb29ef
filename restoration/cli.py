"""Command line: ``python -m restoration restore|detect-scratches|weights``.

    python -m restoration restore INPUT [INPUT ...] --output DIR
        [--tasks scratch] [--reference REF] [--mask MASK] [--engine auto|classical|diffusion]
        [--seed N] [--steps N] [--sensitivity S] [--fast] [--resample N] [--damage-prior]
        [--save-mask] [--report REPORT.json] [--overwrite]
    python -m restoration detect-scratches INPUT --output MASK.png [--sensitivity S]
    python -m restoration weights status|download|verify [--model NAME]

Outputs are ``DIR/<stem>.png`` (and ``DIR/<stem>.mask.png`` with ``--save-mask``); existing
outputs are skipped unless ``--overwrite``, so a stopped run resumes. One bad file never stops
a folder run. Exit codes: 0 all done, 1 some inputs failed, 2 usage or bad input, 3 weights
needed but unavailable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from . import imageio, weights
from .errors import InputError, RestorationError, WeightsUnavailableError
from .options import ENGINES
from .pipeline import TASKS, RestoreOptions, detect_scratches, parse_tasks, restore
from .regions import coverage_percent

__all__ = ["main", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_BAD_INPUT", "EXIT_NO_WEIGHTS"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_INPUT, EXIT_NO_WEIGHTS = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m restoration", description="Restore old photographs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")
    commands = parser.add_subparsers(dest="command", required=True)

    restore_parser = commands.add_parser("restore", help="restore photos (files or folders)")
    restore_parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    restore_parser.add_argument("--output", required=True, type=Path, metavar="DIR", help="folder for <stem>.png")
    restore_parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from: {', '.join(TASKS)}")
    restore_parser.add_argument("--reference", type=Path, help="colour reference photo (colorize task)")
    restore_parser.add_argument("--mask", type=Path, help="damage mask (white = damaged) for a single INPUT")
    restore_parser.add_argument("--mask-mode", choices=("add", "replace"), default="add",
                                help="add the mask to the detected one, or use it alone (default: add)")
    restore_parser.add_argument("--engine", choices=ENGINES, default="auto")
    restore_parser.add_argument("--seed", type=int, default=0)
    restore_parser.add_argument("--steps", type=int, help="denoising steps (default 25; fast mode 4)")
    restore_parser.add_argument("--sensitivity", type=float, default=0.5, help="scratch detection, 0-1")
    restore_parser.add_argument("--fast", action="store_true", help="LCM-LoRA fast mode (diffusion engine)")
    restore_parser.add_argument("--resample", type=int, default=1,
                                help="RePaint resampling rounds per step (diffusion engine; 1 = off)")
    restore_parser.add_argument("--damage-prior", action="store_true",
                                help="sharpen scratch detection with the diffusion model's damage prior")
    restore_parser.add_argument("--save-mask", action="store_true", help="also write <stem>.mask.png")
    restore_parser.add_argument("--report", type=Path, help="write a JSON report here")
    restore_parser.add_argument("--overwrite", action="store_true", help="redo inputs whose output exists")

    detect_parser = commands.add_parser("detect-scratches", help="write the scratch mask of one photo")
    detect_parser.add_argument("input", metavar="INPUT")
    detect_parser.add_argument("--output", required=True, type=Path, metavar="MASK.png")
    detect_parser.add_argument("--sensitivity", type=float, default=0.5)

    weights_parser = commands.add_parser("weights", help="report, fetch or check the model weights")
    weights_parser.add_argument("action", choices=("status", "download", "verify"))
    weights_parser.add_argument("--model", action="append", help="only this manifest entry (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if arguments.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handlers = {"restore": _restore_command, "detect-scratches": _detect_command, "weights": _weights_command}
    try:
        return handlers[arguments.command](arguments)
    except WeightsUnavailableError as error:
        _print_error(error)
        return EXIT_NO_WEIGHTS
    except RestorationError as error:
        _print_error(error)
        return EXIT_BAD_INPUT


def _print_error(error: Exception) -> None:
    print(f"error: {error}", file=sys.stderr)


def _restore_command(arguments: argparse.Namespace) -> int:
    tasks = parse_tasks(arguments.tasks)
    if arguments.reference is not None and "colorize" not in tasks:
        raise InputError("--reference is used by the colorize task only; drop it or add colorize to --tasks")
    inputs = imageio.find_images(arguments.inputs)
    if not inputs:
        raise InputError(f"no images found in {' '.join(arguments.inputs)}")
    if arguments.mask is not None and len(inputs) != 1:
        raise InputError(f"--mask applies to one photo, but {len(inputs)} inputs were given")
    _check_unique_stems(inputs)
    base_options = RestoreOptions(
        engine=arguments.engine, seed=arguments.seed, steps=arguments.steps, sensitivity=arguments.sensitivity,
        mask_mode=arguments.mask_mode, fast=arguments.fast, resample=arguments.resample,
        damage_prior=arguments.damage_prior,
    )
    arguments.output.mkdir(parents=True, exist_ok=True)
    entries = []
    from tqdm import tqdm

    with tqdm(inputs, unit="photo", file=sys.stderr, disable=None) as bar:
        for path in bar:
            bar.set_description(path.name)
            entry = _restore_one(path, tasks, base_options, arguments)
            entries.append(entry)
            if entry["status"] == "error":
                tqdm.write(f"error: {path}: {entry['error']}", file=sys.stderr)
            if entry.get("weights_unavailable"):
                break
    if arguments.report is not None:
        _write_report(arguments.report, entries)
    return _exit_code(entries)


def _check_unique_stems(inputs: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in inputs:
        if path.stem in seen:
            raise InputError(f"{seen[path.stem]} and {path} would both be written as {path.stem}.png; rename one")
        seen[path.stem] = path


def _restore_one(path: Path, tasks: tuple[str, ...], base_options: RestoreOptions, arguments) -> dict:
    output = arguments.output / f"{path.stem}.png"
    mask_output = arguments.output / f"{path.stem}.mask.png"
    entry: dict = {"input": str(path), "output": str(output)}
    if output.exists() and not arguments.overwrite:
        return entry | {"status": "skipped", "reason": "output exists (use --overwrite to redo it)"}
    try:
        photo = imageio.load_photo(path)
        mask = imageio.load_mask(arguments.mask, size=photo.size) if arguments.mask else None
        options = replace(base_options, mask=mask)
        result = restore(photo.pixels, tasks, options)
        if arguments.save_mask and "scratch" in result.masks:
            imageio.save_mask(result.masks["scratch"], mask_output)
            entry["mask"] = str(mask_output)
        imageio.save_photo(photo.with_pixels(result.image), output)
    except RestorationError as error:
        failure = entry | {"status": "error", "error": str(error), "bad_input": isinstance(error, InputError)}
        return failure | {"weights_unavailable": isinstance(error, WeightsUnavailableError)}
    except Exception as error:  # one bad file never stops the batch
        logger.exception("unexpected failure on %s", path)
        return entry | {"status": "error", "error": f"unexpected {type(error).__name__}: {error}", "bad_input": False}
    summary = result.summary()
    summary["notices"] = list(photo.metadata.notices) + summary["notices"]
    return entry | {"status": "done", "size": list(photo.size)} | summary


def _write_report(path: Path, entries: list[dict]) -> None:
    counts = {status: sum(e["status"] == status for e in entries) for status in ("done", "skipped", "error")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": counts, "inputs": entries}, indent=2), encoding="utf-8")


def _exit_code(entries: list[dict]) -> int:
    failures = [e for e in entries if e["status"] == "error"]
    if any(e.get("weights_unavailable") for e in failures):
        return EXIT_NO_WEIGHTS
    if not failures:
        return EXIT_OK
    if len(failures) == len(entries) and all(e["bad_input"] for e in failures):
        return EXIT_BAD_INPUT
    return EXIT_SOME_FAILED


def _detect_command(arguments: argparse.Namespace) -> int:
    photo = imageio.load_photo(arguments.input)
    for notice in photo.metadata.notices:
        print(f"note: {notice}", file=sys.stderr)
    mask = detect_scratches(photo.pixels, sensitivity=arguments.sensitivity)
    imageio.save_mask(mask, arguments.output)
    print(f"{arguments.output}: {coverage_percent(mask):.2f} % of the photo marked as damaged")
    return EXIT_OK


def _weights_command(arguments: argparse.Namespace) -> int:
    manifest = weights.load_manifest()
    if arguments.model:
        unknown = [name for name in arguments.model if name not in manifest]
        if unknown:
            raise InputError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(manifest)}")
        manifest = {name: manifest[name] for name in arguments.model}
    if arguments.action == "download":
        states = weights.download(list(manifest), manifest=manifest)
    elif arguments.action == "verify":
        states = weights.verify(manifest=manifest)
    else:
        states = weights.file_states(manifest=manifest)
    for state in states:
        detail = f"  ({state.detail})" if state.detail else ""
        print(f"{state.state:9} {state.model:22} {state.path}{detail}")
    bad = {"missing", "mismatch"}
    return EXIT_NO_WEIGHTS if any(state.state in bad for state in states) and arguments.action != "status" else EXIT_OK
