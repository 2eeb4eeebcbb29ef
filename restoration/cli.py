"""Command line: ``python -m restoration restore|detect-scratches|weights``.

    python -m restoration restore INPUT [INPUT ...] --output DIR
        [--tasks scratch,denoise] [--reference REF] [--mask MASK] [--engine auto|classical|diffusion]
        [--seed N] [--steps N] [--fast] [--save-mask] [--report REPORT.json] [--overwrite]
        [scratch: --sensitivity S --mask-mode add|replace --resample N --damage-prior --detector learned|classical]
        [denoise: --grain LEVELS --sharpen SIGMA --fade F --keep-tone/--no-keep-tone --strength S]
    python -m restoration detect-scratches INPUT --output MASK.png [--sensitivity S] [--detector learned|classical]
    python -m restoration weights status|download|verify [--model NAME]

The stage flags come from each stage's options dataclass (see ``restoration.options``); a flag
of a stage that is not in ``--tasks`` is an error. Outputs are ``DIR/<stem>.png`` (and
``DIR/<stem>.mask.png`` with ``--save-mask``); existing
outputs are skipped unless ``--overwrite``, so a stopped run resumes. One bad file never stops
a folder run. Without ``--tasks`` every stage runs (colorize only with ``--reference`` or
``--hints``). For each photo the standard output lists every stage run with the share of pixels
it changed ("changed nothing" included) and its notice; ``--report`` holds the same and each
stage's findings; each output PNG records it as its XMP edit history (``restoration.provenance``).
Exit codes: 0 all done, 1 some inputs failed, 2 usage or bad input, 3 weights
needed but unavailable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from . import imageio, pipeline, provenance, weights
from .errors import InputError, RestorationError, WeightsUnavailableError
from .options import ENGINES, OptionField, RestoreOptions, input_fields, option_fields
from .pipeline import detect_scratches, parse_tasks, restore, stage_named
from .regions import coverage_percent
from .stages.context import INPUT_KINDS
from .stages.scratch import DEFAULT_DETECTOR, DETECTORS

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_BAD_INPUT", "EXIT_NO_WEIGHTS"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_INPUT, EXIT_NO_WEIGHTS = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; the restore command's task flags come from the stages' options."""
    parser = argparse.ArgumentParser(prog="python -m restoration", description="Restore old photographs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what each stage does")
    commands = parser.add_subparsers(dest="command", required=True)

    restore_parser = commands.add_parser("restore", help="restore photos (files or folders)")
    restore_parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    restore_parser.add_argument("--output", required=True, type=Path, metavar="DIR", help="folder for <stem>.png")
    names = [stage.name for stage in pipeline.STAGES]
    restore_parser.add_argument(
        "--tasks",
        help=f"comma-separated, from: {', '.join(names)} (default: all of them; colorize only with --reference or --hints)",
    )
    for kind, description in INPUT_KINDS.items():
        takers = [stage.name for stage in pipeline.STAGES if kind in stage.inputs]
        restore_parser.add_argument(f"--{kind}", type=Path, help=f"{description} (tasks: {', '.join(takers)}); one INPUT only")
    restore_parser.add_argument("--engine", choices=ENGINES, default="auto")
    restore_parser.add_argument("--seed", type=int, default=0)
    restore_parser.add_argument("--steps", type=int, help="denoising steps (default 25; fast mode 4)")
    restore_parser.add_argument("--fast", action="store_true", help="LCM-LoRA fast mode (diffusion engine)")
    _add_stage_flags(restore_parser)
    restore_parser.add_argument("--save-mask", action="store_true", help="also write <stem>.mask.png")
    restore_parser.add_argument("--report", type=Path, help="write a JSON report here")
    restore_parser.add_argument("--overwrite", action="store_true", help="redo inputs whose output exists")

    detect_parser = commands.add_parser("detect-scratches", help="write the scratch mask of one photo")
    detect_parser.add_argument("input", metavar="INPUT")
    detect_parser.add_argument("--output", required=True, type=Path, metavar="MASK.png")
    detect_parser.add_argument("--sensitivity", type=float, default=0.5)
    detect_parser.add_argument(
        "--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
        help=f"the learned network or the hand-made classical detector (default {DEFAULT_DETECTOR})",
    )

    weights_parser = commands.add_parser("weights", help="report, fetch or check the model weights")
    weights_parser.add_argument("action", choices=("status", "download", "verify"))
    weights_parser.add_argument("--model", action="append", help="only this manifest entry (repeatable)")
    return parser


def _add_stage_flags(parser: argparse.ArgumentParser) -> None:
    """One argument group per stage, one flag per option field (default None = not given)."""
    seen: dict[str, str] = {}
    for stage in pipeline.STAGES:
        group = parser.add_argument_group(f"{stage.name} task", stage.description)
        for option in option_fields(stage.options):
            if option.flag in seen:
                raise RuntimeError(f"{option.flag} is declared by both the {seen[option.flag]} and {stage.name} stages")
            seen[option.flag] = stage.name
            help_text = f"{option.help} (default: {option.default})"
            if option.kind is bool:
                group.add_argument(option.flag, dest=_dest(stage.name, option), action=argparse.BooleanOptionalAction,
                                   default=None, help=help_text)
            else:
                group.add_argument(option.flag, dest=_dest(stage.name, option), type=option.kind, choices=option.choices,
                                   default=None, metavar=None if option.choices else option.name.upper(), help=help_text)


def _dest(stage_name: str, option: OptionField) -> str:
    return f"{stage_name}__{option.name}"


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
    given = {kind for kind in INPUT_KINDS if getattr(arguments, kind) is not None}
    tasks = parse_tasks(pipeline.default_tasks(given) if arguments.tasks is None else arguments.tasks)
    options = RestoreOptions(
        engine=arguments.engine, seed=arguments.seed, steps=arguments.steps, fast=arguments.fast,
        stages=_stage_options_from(arguments, tasks),
    )
    inputs = imageio.find_images(arguments.inputs)
    if not inputs:
        raise InputError(f"no images found in {' '.join(arguments.inputs)}")
    for kind in INPUT_KINDS:
        if getattr(arguments, kind) is not None and len(inputs) != 1:
            raise InputError(f"--{kind} applies to one photo, but {len(inputs)} inputs were given")
    _check_unique_stems(inputs)
    arguments.output.mkdir(parents=True, exist_ok=True)
    entries = []
    from tqdm import tqdm

    with tqdm(inputs, unit="photo", file=sys.stderr, disable=None) as bar:
        for path in bar:
            bar.set_description(path.name)
            entry = _restore_one(path, tasks, options, arguments)
            entries.append(entry)
            if entry["status"] == "error":
                tqdm.write(f"error: {path}: {entry['error']}", file=sys.stderr)
            else:
                tqdm.write(_printed_summary(entry), file=sys.stdout)
            if entry.get("weights_unavailable"):
                break
    if arguments.report is not None:
        _write_report(arguments.report, entries)
    return _exit_code(entries)


def _stage_options_from(arguments: argparse.Namespace, tasks: tuple[str, ...]) -> dict[str, object]:
    """Options objects of the requested stages from the flags given; a flag or input file for
    a stage that is not requested is an InputError."""
    stage_options = {}
    for stage in pipeline.STAGES:
        given = {
            option.name: getattr(arguments, _dest(stage.name, option))
            for option in option_fields(stage.options)
            if getattr(arguments, _dest(stage.name, option)) is not None
        }
        if stage.name not in tasks:
            if given:
                flags = ", ".join("--" + name.replace("_", "-") for name in given)
                raise InputError(f"{flags}: option(s) of the {stage.name} task, which is not in --tasks; add it or drop them")
            continue
        stage_options[stage.name] = stage.options(**given)
    for kind in INPUT_KINDS:
        if getattr(arguments, kind) is not None and not any(kind in stage_named(name).inputs for name in tasks):
            takers = [stage.name for stage in pipeline.STAGES if kind in stage.inputs]
            raise InputError(f"--{kind} is used by the {' and '.join(takers)} task only; drop it or change --tasks")
    return stage_options


def _with_inputs(options: RestoreOptions, photo: imageio.Photo, arguments: argparse.Namespace) -> RestoreOptions:
    """``options`` with the input files (--mask, --reference) loaded for this photo and set on
    the stage options fields that take them."""
    stages = dict(options.stages)
    for name, stage_options in stages.items():
        loaded = {
            name: _load_input(kind, getattr(arguments, kind), photo)
            for name, kind in input_fields(type(stage_options)).items()
            if getattr(arguments, kind) is not None
        }
        stages[name] = replace(stage_options, **loaded) if loaded else stage_options
    return replace(options, stages=stages)


def _load_input(kind: str, path: Path, photo: imageio.Photo):
    """A mask at the photo's size, (H, W) float32 in [0, 1]; colour hints read from a JSON file
    (checked by the stage's options); or a reference photo's pixels."""
    if kind == "mask":
        return imageio.load_mask(path, size=photo.size)
    if kind == "hints":
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(f"could not read the colour hints file {path}: {error}") from None
    return imageio.load_photo(path).pixels


def _check_unique_stems(inputs: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in inputs:
        if path.stem in seen:
            raise InputError(f"{seen[path.stem]} and {path} would both be written as {path.stem}.png; rename one")
        seen[path.stem] = path


def _restore_one(path: Path, tasks: tuple[str, ...], options: RestoreOptions, arguments) -> dict:
    output = arguments.output / f"{path.stem}.png"
    mask_output = arguments.output / f"{path.stem}.mask.png"
    entry: dict = {"input": str(path), "output": str(output)}
    if output.exists() and not arguments.overwrite:
        return entry | {"status": "skipped", "reason": "output exists (use --overwrite to redo it)"}
    try:
        photo = imageio.load_photo(path)
        result = restore(photo.pixels, tasks, _with_inputs(options, photo, arguments))
        if arguments.save_mask and "scratch" in result.masks:
            imageio.save_mask(result.masks["scratch"], mask_output)
            entry["mask"] = str(mask_output)
        provenance.save_restored(photo, result, output, source_name=path.name)
    except RestorationError as error:
        failure = entry | {"status": "error", "error": str(error), "bad_input": isinstance(error, InputError)}
        return failure | {"weights_unavailable": isinstance(error, WeightsUnavailableError)}
    except Exception as error:  # one bad file never stops the batch
        logger.exception("unexpected failure on %s", path)
        return entry | {"status": "error", "error": f"unexpected {type(error).__name__}: {error}", "bad_input": False}
    summary = result.summary()
    summary["notices"] = list(photo.metadata.notices) + summary["notices"]
    return entry | {"status": "done", "size": list(photo.size)} | summary


def _printed_summary(entry: dict) -> str:
    """Lines for one done or skipped input: where it went, the engine, and every stage run with
    the share of pixels it changed (stages that changed nothing too) and its notice."""
    if entry["status"] == "skipped":
        return f"{entry['input']}: skipped, {entry['reason']}"
    seconds = sum(stage["seconds"] for stage in entry["stages"])
    lines = [f"{entry['input']} -> {entry['output']} ({entry['engine']} engine, {seconds:.1f} s)"]
    for stage in entry["stages"]:
        changed = stage["changed_percent"]
        did = f"changed {changed:g} % of the pixels" if changed > 0 else "changed nothing"
        notice = stage["findings"].get("notice")
        lines.append(f"  {stage['name']:<9} {did}" + (f"; {notice}" if notice else ""))
    lines += [f"  note: {notice}" for notice in entry["notices"] if notice not in {s["findings"].get("notice") for s in entry["stages"]}]
    return "\n".join(lines)


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
    mask = detect_scratches(photo.pixels, sensitivity=arguments.sensitivity, detector=arguments.detector)
    imageio.save_mask(mask, arguments.output)
    print(f"{arguments.output}: {coverage_percent(mask):.2f} % of the photo marked as damaged")
    return EXIT_OK


def _weights_command(arguments: argparse.Namespace) -> int:
    """status / download / verify of the models named with --model, else of those the
    available stages need (opt-in models, e.g. non-commercial ones, only by name)."""
    names = arguments.model or None
    stages = [stage.name for stage in pipeline.STAGES]
    if arguments.action == "download":
        states = weights.download(names, stages=stages)
    elif arguments.action == "verify":
        states = weights.verify(names, stages=stages)
    else:
        states = weights.file_states(names, stages=stages)
    for state in states:
        detail = f"  ({state.detail})" if state.detail else ""
        print(f"{state.state:9} {state.model:22} {state.path}{detail}")
    bad = {"missing", "mismatch"}
    return EXIT_NO_WEIGHTS if any(state.state in bad for state in states) and arguments.action != "status" else EXIT_OK
