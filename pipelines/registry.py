"""Named components that pipeline definitions refer to.

A domain registers what it offers with a decorator, so adding one never edits `titans.pipelines`:

    @register("featurizer", "patches")
    def patches(patch_length: int = 16, stride: int = 8): ...

The keyword-only parameters of a registered callable are its options: a definition's `{name: patches,
patch_length: 24}` is checked against them (unknown keys, wrong types) before anything runs; its other
parameters are supplied by the task (e.g. a head's input width).  Domains are found through the
`titans.plugins` entry-point group, which this distribution fills with its three domains, and through the
comma-separated module names in the TITANS_PLUGINS environment variable (your own components).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

KINDS = ("task", "dataset", "featurizer", "head", "metric")
_REGISTRY: dict[str, dict[str, Callable]] = {kind: {} for kind in KINDS}
_plugins_loaded = False


class RegistryError(LookupError):
    """An unknown kind or name."""


def register(kind: str, name: str) -> Callable[[Callable], Callable]:
    if kind not in KINDS:
        raise RegistryError(f"unknown component kind {kind!r}; kinds are {', '.join(KINDS)}")

    def decorate(obj: Callable) -> Callable:
        _REGISTRY[kind][name] = obj
        return obj

    return decorate


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def load_plugins() -> None:
    """Import the `titans.plugins` entry points and TITANS_PLUGINS modules once, so their components register."""
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for entry in entry_points(group="titans.plugins"):
            entry.load()
        for module in filter(None, os.environ.get("TITANS_PLUGINS", "").split(",")):
            importlib.import_module(module.strip())


def lookup(kind: str, name: str) -> Callable:
    load_plugins()
    known = _REGISTRY[kind]
    if name not in known:
        choices = ", ".join(sorted(known)) or "none registered"
        raise RegistryError(f"unknown {kind} {name!r}{did_you_mean(name, known)} (known: {choices})")
    return known[name]


def components(kind: str) -> dict[str, Callable]:
    load_plugins()
    return dict(sorted(_REGISTRY[kind].items()))


def describe(obj: Callable) -> str:
    """The first line of a component's docstring."""
    return (inspect.getdoc(obj) or "").split("\n", 1)[0]


def options_model(obj: Callable) -> type[BaseModel]:
    """A strict pydantic model of a callable's keyword-only parameters (its options)."""
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(obj, eval_str=True).parameters.values():
        if parameter.kind is not parameter.KEYWORD_ONLY:
            continue
        annotation = Any if parameter.annotation is parameter.empty else parameter.annotation
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{getattr(obj, '__name__', 'Component')}Options", __config__=config, **fields)


def check_options(obj: Callable, options: dict[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    """Validated options, or ValueError naming the first bad one (with a did-you-mean for unknown keys).
    Options typed as paths resolve relative to `base_dir` (the definition's folder)."""
    model = options_model(obj)
    if base_dir is not None:
        options = {key: _resolve(key, value, base_dir, model.model_fields.get(key)) for key, value in options.items()}
    try:
        values = model.model_validate(options).model_dump()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            hint = did_you_mean(field, model.model_fields)
            raise ValueError(f"{field}: unknown option{hint} (options: {', '.join(model.model_fields)})") from None
        raise ValueError(f"{field}: {first['msg']}") from None
    return values


def _resolve(key: str, value: Any, base_dir: Path, field) -> Any:
    """A relative path option, joined to the definition's folder (options annotated with a Path type)."""
    if field is None or "Path" not in str(field.annotation) or not isinstance(value, str | Path):
        return value
    try:
        path = Path(value).expanduser()
    except RuntimeError:
        raise ValueError(f"{key}: cannot expand {str(value)!r} (no such user's home folder)") from None
    return path if path.is_absolute() else base_dir / path
