"""Share a trained model without pickles: `titans export CHECKPOINT --output DIR` writes

    DIR/model.safetensors   the model's weights and the task state's tensors (safetensors: loading runs no code)
    DIR/config.json         the resolved pipeline definition and the task's other state (JSON)

and `load_exported` rebuilds the model from them, ready to predict:

    from titans.pipelines.export import load_exported
    pipeline = load_exported("DIR")
    pipeline.predict_file("new.fa", "predictions.csv")      # or pipeline.module.model, a torch module

On the command line, `titans predict`, `evaluate` and `explain` take the folder in place of a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import InputError
from .outputs import write_atomic, write_json
from .spec import parse_spec

if TYPE_CHECKING:
    from .engine import Pipeline

FORMAT, VERSION = "titans-export", 1
WEIGHTS, CONFIG = "model.safetensors", "config.json"
TASK_STATE = "task_state/"  # the prefix of the task state's tensors in model.safetensors


def export_checkpoint(checkpoint: Path, directory: Path) -> list[Path]:
    """Write a checkpoint's model as DIR/model.safetensors and DIR/config.json; returns the two files."""
    from .engine import Pipeline

    pipeline = Pipeline.from_checkpoint(checkpoint)
    state = pipeline.task.state_dict()
    plain = {key: value for key, value in state.items() if not isinstance(value, torch.Tensor)}
    try:
        json.dumps(plain)
    except TypeError as error:
        raise InputError(f"{checkpoint}: the task state of {pipeline.spec.task!r} is not JSON ({error})") from None
    tensors = {
        name: tensor.detach().clone().contiguous() for name, tensor in pipeline.module.model.state_dict().items()
    }
    tensors |= {TASK_STATE + key: value.clone().contiguous() for key, value in state.items() if key not in plain}
    config = {
        "format": FORMAT,
        "version": VERSION,
        "spec": pipeline.spec.model_dump(mode="json"),
        "task_state": plain,
        "task_state_tensors": sorted(set(state) - set(plain)),
    }
    directory = Path(directory)
    weights = write_atomic(directory / WEIGHTS, lambda temporary: save_file(tensors, temporary, {"format": "pt"}))
    return [weights, write_json(directory / CONFIG, config)]


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path}: no such file (an exported model folder holds {WEIGHTS} and {CONFIG})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error.__class__.__name__})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise InputError(f'{path}: not a titans export (no "format": "{FORMAT}")')
    if config.get("version") != VERSION:
        raise InputError(f"{path}: export version {config.get('version')!r}, this titans reads version {VERSION}")
    for field, kind in (("spec", dict), ("task_state", dict), ("task_state_tensors", list)):
        if not isinstance(config.get(field), kind):
            raise InputError(f"{path}: a damaged titans export ({field} is missing)")
    return config


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(f"{path}: no such file (an exported model folder holds {WEIGHTS} and {CONFIG})")
    try:
        return load_file(path)
    except SafetensorError as error:
        raise InputError(f"{path}: not a readable safetensors file (truncated or corrupted: {error})") from None


def exported_checkpoint(directory: Path) -> dict[str, Any]:
    """An exported folder in the shape of a checkpoint (weights, definition, task state), so everything that
    takes a checkpoint (`titans predict`, `evaluate`, `explain`) also takes an export."""
    directory = Path(directory)
    config, weights = _read_config(directory / CONFIG), _read_weights(directory / WEIGHTS)
    missing = [name for name in config["task_state_tensors"] if TASK_STATE + name not in weights]
    if missing:
        raise InputError(f"{directory / WEIGHTS}: no tensor {TASK_STATE + missing[0]!r} of the task state")
    state = config["task_state"] | {name: weights.pop(TASK_STATE + name) for name in config["task_state_tensors"]}
    return {
        "state_dict": {f"model.{name}": tensor for name, tensor in weights.items()},
        "titans": {"spec": config["spec"], "task_state": state},
    }


def load_exported(directory: Path) -> Pipeline:
    """The pipeline of an exported model, its task state and weights restored, the model in eval mode."""
    from .engine import Pipeline

    directory = Path(directory)
    checkpoint = exported_checkpoint(directory)
    pipeline = Pipeline(parse_spec(checkpoint["titans"]["spec"], str(directory / CONFIG)))
    pipeline.task.load_state_dict(checkpoint["titans"]["task_state"])
    try:
        pipeline.module.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError) as error:
        detail = " ".join(str(error).splitlines()[1:2]).strip()[:200] or str(error)
        raise InputError(f"{directory / WEIGHTS}: its weights do not fit the model of {CONFIG} ({detail})") from None
    pipeline.module.model.eval()
    return pipeline
