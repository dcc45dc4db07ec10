"""Pipeline definitions: strict validation with did-you-mean, extends, overrides, relative paths, schema."""

from pathlib import Path

import pytest
import yaml

from titans.pipelines import SpecError, load_spec, lookup, parse_spec, register
from titans.pipelines.registry import check_options
from titans.pipelines.spec import PipelineSpec, apply_overrides

from .conftest import TINY


@register("dataset", "test-file")
def _file_dataset(*, path: Path, rows: int = 10):
    """A dataset option typed as a path."""
    return path, rows


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_valid_definition_fills_defaults(tiny_yaml):
    spec = load_spec(tiny_yaml)
    assert spec.train.batch_size == 16 and spec.train.weight_decay == 0.01
    assert spec.model.backbone.options["dim"] == 16 and spec.base_dir == tiny_yaml.parent


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1", "train.lrr: unknown key; did you mean 'lr'?"),
        ("tassk=x", "tassk: unknown key; did you mean 'task'?"),
        ("evaluate.mode=up", "evaluate.mode: Input should be 'min' or 'max'"),
        ("train.batch_size=0", "train.batch_size: Input should be greater than 0"),
        ("train.lr=fast", "train.lr: Input should be a valid number"),
        ("train.schedule_over_minutes=true", "train: schedule_over_minutes is true but max_minutes, the budget"),
    ],
)
def test_bad_fields_are_named_with_the_file(tiny_yaml, override, message):
    with pytest.raises(SpecError) as error:
        load_spec(tiny_yaml, [override])
    assert str(error.value).startswith(f"{tiny_yaml}: {message}")


@pytest.mark.parametrize(
    ("override", "message"),
    [("foo", "expected key=value"), ("train.lr.x=1", "train.lr is not a section"), ("a=[", "not valid YAML")],
)
def test_bad_overrides(override, message):
    with pytest.raises(SpecError, match=message):
        apply_overrides({"train": {"lr": 1.0}}, [override])


def test_overrides_parse_values_as_yaml():
    raw = apply_overrides(
        {"train": {"lr": 1.0}}, ["train.lr=0.5", "train.deterministic=false", "evaluate.metrics=[a, b]"]
    )
    assert raw == {"train": {"lr": 0.5, "deterministic": False}, "evaluate": {"metrics": ["a", "b"]}}


def test_exponent_learning_rates_validate(tiny_yaml):
    assert load_spec(tiny_yaml, ["train.lr=3e-4"]).train.lr == 3e-4


def test_extends_inherits_and_overrides_key_by_key(tmp_path):
    _write(tmp_path / "base.yaml", TINY)
    child = _write(tmp_path / "child.yaml", {"extends": "base.yaml", "name": "child", "train": {"lr": 0.01}})
    spec = load_spec(child)
    assert spec.name == "child" and spec.train.lr == 0.01 and spec.train.batch_size == 16


def test_extends_loops_are_reported(tmp_path):
    _write(tmp_path / "a.yaml", {"extends": "b.yaml"})
    _write(tmp_path / "b.yaml", {"extends": "a.yaml"})
    with pytest.raises(SpecError, match="loops back"):
        load_spec(tmp_path / "a.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [("name: [unclosed", "not valid YAML"), ("- a\n- b\n", "must be a mapping"), ("", "must be a mapping")],
)
def test_unreadable_definitions(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_missing_definition_and_unknown_shipped_name(tmp_path):
    with pytest.raises(SpecError, match="no such pipeline definition file"):
        load_spec(tmp_path / "absent.yaml")
    with pytest.raises(SpecError, match="neither a YAML file nor a shipped pipeline"):
        load_spec("no-such-pipeline")


def test_component_options_are_checked_and_paths_resolve_against_the_definition(tmp_path):
    assert check_options(_file_dataset, {"path": "data/x.csv"}, tmp_path) == {
        "path": tmp_path / "data/x.csv",
        "rows": 10,
    }
    assert check_options(_file_dataset, {"path": "/abs/x.csv"}, tmp_path)["path"] == Path("/abs/x.csv")
    with pytest.raises(ValueError, match="rowz: unknown option; did you mean 'rows'"):
        check_options(_file_dataset, {"path": "x", "rowz": 3})
    with pytest.raises(ValueError, match="path: Field required"):
        check_options(_file_dataset, {})


def test_unknown_component_names_suggest_the_closest():
    with pytest.raises(LookupError, match="unknown dataset 'tiny-mean'; did you mean 'tiny-means'"):
        lookup("dataset", "tiny-mean")


def test_the_json_schema_describes_every_section():
    schema = PipelineSpec.model_json_schema()
    assert {"task", "data", "features", "model", "train", "evaluate", "output"} <= set(schema["properties"])
    assert "base_dir" not in schema["properties"]


def test_parse_spec_from_a_dict_names_its_source():
    with pytest.raises(SpecError, match=r"^<dict>: data: Field required"):
        parse_spec({"name": "x", "task": "tiny-regression"})
