"""titans.pipelines: declarative pipeline definitions, the engine that runs them, and the `titans` CLI.

    from titans.pipelines import Pipeline
    result = Pipeline.from_yaml("my-pipeline.yaml", ["train.max_epochs=3"]).run()

Domains plug in by registering tasks, datasets, featurizers, heads and metrics (see `registry`).
"""

from .errors import InputError, SpecError
from .registry import components, lookup, register
from .spec import PipelineSpec, load_spec, parse_spec
from .task import Components, Splits, Task, build_task

__all__ = [
    "Components",
    "InputError",
    "Pipeline",
    "PipelineSpec",
    "RunResult",
    "SpecError",
    "Splits",
    "Task",
    "build_task",
    "components",
    "load_spec",
    "lookup",
    "parse_spec",
    "register",
]


def __getattr__(name: str):
    if name in ("Pipeline", "RunResult"):  # the engine imports Lightning: only when asked for
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'titans.pipelines' has no attribute {name!r}")
