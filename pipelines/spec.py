"""Pipeline definitions: a YAML file (or dict) that names a task, its data, features, model, training,
evaluation and outputs.  Every section is a strict pydantic model, so an unknown key is an error with a
did-you-mean, and components (`{name: ..., option: value}`) are checked against the options their
registered callable accepts.

    name: demo
    task: forecasting
    data: {name: csv, path: series.csv}     # input paths resolve relative to this file
    model: {backbone: {name: mag, dim: 64}, head: {name: linear}}
    train: {max_epochs: 5, lr: 1e-3}
    extends: base.yaml                       # optional: inherit, then override key by key
"""

from __future__ import annotations

from collections.abc import Hashable
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import SpecError
from .registry import did_you_mean

SHIPPED = files("titans.pipelines") / "definitions"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Component(BaseModel):
    """A registered component by name; every other key is one of its options."""

    model_config = ConfigDict(extra="allow")
    name: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelSpec(_Strict):
    backbone: Component = Field(default_factory=lambda: Component(name="mag"))
    head: Component | None = None  # the task's default head when absent


class TrainSpec(_Strict):
    lr: float = Field(1e-3, gt=0)
    weight_decay: NonNegativeFloat = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: NonNegativeInt = 100  # linear warm-up, then cosine decay to min_lr_ratio * lr
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    max_epochs: PositiveInt | None = 10
    max_steps: int = Field(-1, ge=-1)  # -1: no step limit
    max_minutes: float | None = Field(None, gt=0)  # optional wall-clock budget
    batch_size: PositiveInt = 32
    eval_batch_size: PositiveInt | None = None  # default: batch_size
    gradient_clip: NonNegativeFloat | None = 1.0
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = "auto"  # auto: bf16-mixed where supported
    # torch.compile the training loss: minutes of compiling at the first step, then cheaper steps (a MAG step on
    # CPU about 30% cheaper); each epoch's last partial batch is dropped so that every step has one shape.
    compile: bool = False
    # An exponential moving average of the weights after every step (Lightning's EMAWeightAveraging), e.g. 0.999:
    # validation, checkpoints, evaluation and prediction use the average; training goes on from the raw weights.
    ema_decay: float | None = Field(None, gt=0, lt=1)
    # The cosine decay ends with the wall-clock budget as well: its progress is the larger of the steps' and
    # max_minutes' shares spent, so a time-limited run still anneals. Each step's rate then depends on the
    # machine's speed (as the stopping point of any max_minutes run does).
    schedule_over_minutes: bool = False
    seed: int = 0
    deterministic: bool = True
    accelerator: str = "auto"
    devices: PositiveInt | Literal["auto"] = "auto"
    strategy: str = "auto"  # e.g. ddp; runs unchanged under torchrun or a cluster launcher
    num_nodes: PositiveInt = 1
    early_stopping_patience: PositiveInt | None = None  # validation rounds without improvement
    checkpoint_every_n_steps: PositiveInt | None = None  # also save `last.ckpt` mid-epoch (for --resume)
    num_workers: NonNegativeInt = 0
    log_every_n_steps: PositiveInt = 10
    tensorboard: bool = False

    @model_validator(mode="after")
    def _clock_needs_a_budget(self) -> TrainSpec:
        if self.schedule_over_minutes and self.max_minutes is None:
            raise ValueError("schedule_over_minutes is true but max_minutes, the budget it spans, is not set")
        return self

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, value: Any) -> Any:
        """`--set train.precision=32` and `precision: 32` in YAML arrive as a number."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class EvaluateSpec(_Strict):
    metrics: list[str] = Field(default_factory=list)  # the task's defaults when empty
    monitor: str = "val/loss"  # selects the best checkpoint and drives early stopping
    mode: Literal["min", "max"] = "min"


class OutputSpec(_Strict):
    dir: Path | None = None  # default runs/<name>; relative to the working directory
    predictions: bool = True
    plots: bool = True


class PipelineSpec(_Strict):
    name: str
    task: str
    description: str = ""
    data: Component
    features: Component | None = None  # the task's default featurizer when absent
    model: ModelSpec = Field(default_factory=ModelSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr("<dict>")

    @property
    def base_dir(self) -> Path:
        """The definition's folder: input paths in component options resolve relative to it."""
        return self._base_dir

    @property
    def source(self) -> str:
        """Where the definition came from (its file), for error messages."""
        return self._source

    @property
    def output_dir(self) -> Path:
        return self.output.dir or Path("runs") / self.name


def shipped_definitions() -> dict[str, Path]:
    """The definitions that ship inside the package, by name."""
    if not SHIPPED.is_dir():
        return {}
    return {Path(entry.name).stem: Path(str(entry)) for entry in SHIPPED.iterdir() if entry.name.endswith(".yaml")}


def resolve_definition(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SpecError(f"{path}: no such pipeline definition file")
        return path
    shipped = shipped_definitions()
    if str(name_or_path) not in shipped:
        hint = did_you_mean(str(name_or_path), shipped)
        names = ", ".join(sorted(shipped)) or "none"
        raise SpecError(f"{name_or_path!r} is neither a YAML file nor a shipped pipeline{hint} (shipped: {names})")
    return shipped[str(name_or_path)]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base loader reports it
            if key in keys:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep)


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The definition at `path` with its `extends:` chain merged in (the child wins, key by key)."""
    path = path.resolve()
    if path in chain:
        raise SpecError(f"{path}: extends: loops back to itself ({' -> '.join(p.name for p in (*chain, path))})")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except OSError as error:
        raise SpecError(f"{path}: cannot read ({error.__class__.__name__}: {error})") from None
    except UnicodeDecodeError as error:
        raise SpecError(f"{path}: not UTF-8 text at byte {error.start} (a binary file or another encoding)") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise SpecError(f"{path}: a pipeline definition must be a mapping of sections, got {got}")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise SpecError(f"{path}: extends: expected a YAML file or a shipped pipeline name, got {parent!r}")
    parent_path = Path(parent) if Path(parent).is_absolute() else path.parent / parent
    if not parent_path.exists():
        try:
            parent_path = resolve_definition(parent)
        except SpecError as error:
            raise SpecError(f"{path}: extends: {error}") from None
    return deep_merge(_read_yaml(parent_path, (*chain, path)), raw)


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        both_maps = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = deep_merge(merged[key], value) if both_maps else value
    return merged


def _is_relative_existing_path(value: str) -> bool:
    try:
        return bool(value) and not Path(value).is_absolute() and Path(value).exists()
    except OSError:  # e.g. a name too long for the file system: not a file
        return False


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `key.sub=value` overrides (the value is parsed as YAML: numbers, booleans, lists, maps).
    A relative value naming an existing file or folder is taken relative to the working directory."""
    raw = deep_merge(raw, {})
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set {item!r}: expected key=value, e.g. train.lr=3e-4")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise SpecError(f"--set {item!r}: the value is not valid YAML") from None
        if isinstance(value, str) and _is_relative_existing_path(value):
            value = str(Path(value).resolve())  # a file named on the command line is relative to where you are
        parts = key.strip().split(".")
        if not all(parts):
            raise SpecError(f"--set {item!r}: {key.strip()!r} has an empty part; write section.field=value")
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(f"--set {item!r}: {'.'.join(parts[: depth + 1])} is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def _format_error(error: ValidationError, model: type[BaseModel]) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    field = ".".join(location)
    if first["type"] == "extra_forbidden":
        section: Any = model
        for part in location[:-1]:
            annotation = section.model_fields[part].annotation if part in getattr(section, "model_fields", {}) else None
            section = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
            if section is None:
                break
        choices = list(section.model_fields) if section is not None else []
        return f"{field}: unknown key{did_you_mean(location[-1], choices)}"
    return f"{field}: {first['msg'].removeprefix('Value error, ')}"


def parse_spec(raw: dict, source: str = "<dict>", base_dir: Path | None = None) -> PipelineSpec:
    try:
        spec = PipelineSpec.model_validate(raw)
    except ValidationError as error:
        raise SpecError(f"{source}: {_format_error(error, PipelineSpec)}") from None
    spec._base_dir, spec._source = base_dir or Path.cwd(), source
    return spec


def load_spec(name_or_path: str | Path, overrides: list[str] | None = None) -> PipelineSpec:
    """A validated definition from a YAML file or a shipped name, with `--set` overrides applied."""
    path = resolve_definition(name_or_path)
    raw = apply_overrides(_read_yaml(path), overrides or [])
    return parse_spec(raw, str(path), path.resolve().parent)
