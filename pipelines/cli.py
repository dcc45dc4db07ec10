"""The `titans` command line.

    titans run NAME_OR_YAML [--set key=value ...] [--output DIR] [--resume]
    titans validate NAME_OR_YAML [--set ...]
    titans evaluate NAME_OR_YAML --checkpoint CKPT [--output DIR]
    titans predict NAME_OR_YAML --checkpoint CKPT --input FILE --output FILE
    titans export CKPT --output DIR
    titans list
    titans schema

Bad input (a definition, an override, a data file, a checkpoint) prints one line naming what and where,
and exits with code 2, without a traceback. A run that fails on its own (the loss diverges, memory or disk
runs out) prints one line with what to change and exits with code 1.
"""

from __future__ import annotations

import errno
import json
import logging
import sys
import warnings
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

try:
    from typer._click.exceptions import UsageError  # typer 0.2x vendors click
except ImportError:
    from click.exceptions import UsageError

from .errors import InputError
from .registry import KINDS, components, describe
from .spec import PipelineSpec, load_spec, shipped_definitions

console, errors = Console(), Console(stderr=True)


@contextmanager
def _usage_errors_as_one_line():
    """A missing option, a bad value or an unknown command: one `error:` line and exit code 2, like bad input."""
    try:
        yield
    except UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # `titans` alone prints the help
            raise
        command = error.ctx.command_path if error.ctx is not None else "titans"
        message = " ".join(error.format_message().split())
        errors.print(
            f"error: {command}: {message} (see {command} --help)", markup=False, highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None


class _Commands(TyperGroup):
    def make_context(self, info_name, args, parent=None, **extra):
        with _usage_errors_as_one_line():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        with _usage_errors_as_one_line():
            return super().invoke(ctx)


app = typer.Typer(cls=_Commands, add_completion=False, no_args_is_help=True, help="Titans and MIRAS pipelines.")

Overrides = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a field: key.sub=value.")]
Definition = Annotated[str, typer.Argument(help="A shipped pipeline name or a YAML file.")]
OutputDir = Annotated[Path | None, typer.Option("--output", "-o", help="Output directory (default runs/<name>).")]
Checkpoint = Annotated[
    Path, typer.Option("--checkpoint", "-c", help="A checkpoint written by `titans run`, or a `titans export` folder.")
]


def _quiet_lightning() -> None:
    """Keep the console to the progress bar, warnings that matter and our own lines."""
    import lightning.pytorch  # noqa: F401  (it sets its loggers to INFO when first imported)

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(set_vital|LeafSpec|smaller than the logging interval).*")
    warnings.filterwarnings("ignore", message=".*(does not have many workers|all_gather is deprecated).*")


RESUME_HINT = "`titans run ... --resume` continues from the last checkpoint"


def run_failure(error: BaseException) -> str | None:
    """One line for the failures a run can meet that are not bad input: divergence, memory, a full disk."""
    if isinstance(error, FloatingPointError):
        return f"training diverged: {error}; {RESUME_HINT}"
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "no details"
        return f"out of memory ({first_line}); lower train.batch_size or the model's dim/depth; {RESUME_HINT}"
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = f" while writing {error.filename}" if error.filename else ""
        return f"no space left on the device{where}; free space or choose --output elsewhere; {RESUME_HINT}"
    return None


def user_errors(command):
    """Bad input: one line on stderr and exit code 2. A run that fails (divergence, memory, disk): one line, code 1."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as error:
            errors.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            errors.print(f"interrupted; {RESUME_HINT}", markup=False)
            raise typer.Exit(130) from None
        except (FloatingPointError, MemoryError, OSError, RuntimeError) as error:
            message = run_failure(error)
            if message is None:
                raise
            errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return run


def _pipeline(definition: str, overrides: list[str] | None, output: Path | None, checkpoint: Path | None = None):
    from .engine import Pipeline

    spec = load_spec(definition, overrides)
    if output is not None:
        spec.output.dir = output
    return Pipeline(spec) if checkpoint is None else Pipeline.for_checkpoint(spec, checkpoint)


@app.command()
@user_errors
def run(
    definition: Definition,
    overrides: Overrides = None,
    output: OutputDir = None,
    resume: Annotated[bool, typer.Option(help="Continue from the output directory's last checkpoint.")] = False,
):
    """Train, evaluate and write every output of a pipeline."""
    _quiet_lightning()
    pipeline = _pipeline(definition, overrides, output)
    result = pipeline.run(resume=resume)
    if result.checkpoint is not None:  # only the first process of a multi-process run reports
        _print_metrics(result.metrics)
        console.print(f"outputs in {result.output_dir}/ (report.md, metrics.json)")


@app.command()
@user_errors
def validate(definition: Definition, overrides: Overrides = None):
    """Check a definition (keys, types, component names and options) without reading data or training."""
    pipeline = _pipeline(definition, overrides, None)
    console.print(f"{definition}: valid ({pipeline.spec.task}, backbone {pipeline.spec.model.backbone.name})")


@app.command()
@user_errors
def evaluate(definition: Definition, checkpoint: Checkpoint, overrides: Overrides = None, output: OutputDir = None):
    """Evaluate a checkpoint on the definition's validation and test splits."""
    _quiet_lightning()
    result = _pipeline(definition, overrides, output, checkpoint).evaluate_checkpoint(checkpoint)
    _print_metrics(result.metrics)


@app.command()
@user_errors
def predict(
    definition: Definition,
    checkpoint: Checkpoint,
    input: Annotated[Path, typer.Option("--input", "-i", help="The file (or, for DNA, folder) to predict for.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the predictions.")],
    overrides: Overrides = None,
):
    """Predict for a new file (or folder of FASTA files) with a trained checkpoint."""
    if not input.exists():
        raise InputError(f"{input}: no such input file")
    count = _pipeline(definition, overrides, None, checkpoint).predict(checkpoint, input, output)
    console.print(f"{count} predictions written to {output}")


@app.command()
@user_errors
def explain(
    definition: Definition,
    checkpoint: Checkpoint,
    input: Annotated[Path, typer.Option("--input", "-i", help="The file to explain.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the tracks and plots.")],
    overrides: Overrides = None,
):
    """Where the model looked: per-position memory surprise and saliency tracks (TSV, bedGraph) and a plot."""
    if not input.is_file():
        raise InputError(f"{input}: no such input file")
    pipeline = _pipeline(definition, overrides, None, checkpoint)
    if not hasattr(pipeline.task, "explain"):
        raise InputError(f"{pipeline.spec.source}: task {pipeline.spec.task!r} has no explanation tracks yet")
    pipeline.load_checkpoint(checkpoint)
    files = pipeline.task.explain(pipeline.module.model.eval(), input, output)
    console.print("written: " + ", ".join(str(file) for file in files))


@app.command()
@user_errors
def generate(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint of a language-modelling run.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="The text to continue.")] = "\n",
    max_tokens: Annotated[int, typer.Option(min=1, help="Tokens to generate.")] = 200,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 is greedy.")] = 0.8,
    top_k: Annotated[int | None, typer.Option(min=1, help="Sample among the k likeliest tokens.")] = None,
    top_p: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="Nucleus sampling mass.")] = None,
    seed: int = 0,
):
    """Continue a prompt with a trained language model (streaming: memory use does not grow with length)."""
    from .engine import Pipeline

    pipeline = Pipeline.from_checkpoint(checkpoint)
    if not hasattr(pipeline.task, "generate"):
        raise InputError(f"{checkpoint}: a {pipeline.spec.task!r} checkpoint; generate needs a language model")
    text = pipeline.task.generate(pipeline.module.model, prompt, max_tokens, temperature, top_k, top_p, seed)
    sys.stdout.write(prompt + text + "\n")


@app.command()
@user_errors
def perplexity(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint of a language-modelling run.")],
    input: Annotated[Path, typer.Option("--input", "-i", help="A text file (plain or .gz) to score.")],
    piece: Annotated[int, typer.Option(min=1, help="Tokens per piece; memory use depends on this only.")] = 2048,
):
    """Streaming perplexity of a text file of any length: read in pieces with the model's state carried."""
    from .engine import Pipeline

    pipeline = Pipeline.from_checkpoint(checkpoint)
    if not hasattr(pipeline.task, "streaming_perplexity"):
        raise InputError(f"{checkpoint}: a {pipeline.spec.task!r} checkpoint; perplexity needs a language model")
    result = pipeline.task.streaming_perplexity(pipeline.module.model, input, piece)
    console.print(
        f"{result.tokens:,} tokens: loss {result.loss:.4f} nats/token, perplexity {result.perplexity:.3f}, "
        f"{result.bits_per_token:.4f} bits/token"
    )


@app.command()
@user_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint written by `titans run`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for model.safetensors and config.json.")],
):
    """Write a checkpoint as safetensors weights and a JSON definition, to share without pickles
    (load with titans.pipelines.export.load_exported)."""
    from .export import export_checkpoint

    files = export_checkpoint(checkpoint, output)
    console.print("written: " + ", ".join(str(file) for file in files))


@app.command("list")
def list_all():
    """Shipped pipelines, backbones and every registered component."""
    from titans.core import list_backbones

    table = Table("kind", "name", "description", title="titans")
    for name, path in sorted(shipped_definitions().items()):
        table.add_row("pipeline", name, load_spec(path).description)
    for name, description in list_backbones().items():
        table.add_row("backbone", name, description)
    for kind in KINDS:
        for name, obj in components(kind).items():
            table.add_row(kind, name, describe(obj))
    console.print(table)


@app.command()
def schema():
    """The JSON Schema of pipeline definitions (for editor completion)."""
    sys.stdout.write(json.dumps(PipelineSpec.model_json_schema(), indent=2) + "\n")


def _print_metrics(metrics: dict[str, float]) -> None:
    table = Table("metric", "value")
    for name, value in sorted(metrics.items()):
        table.add_row(name, f"{value:.4g}")
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
