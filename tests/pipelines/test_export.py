"""`titans export`: a checkpoint as safetensors weights and a JSON definition, loaded back without pickle,
predicting exactly as the checkpoint does."""

import json

import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from titans.pipelines import InputError, Pipeline
from titans.pipelines.cli import app
from titans.pipelines.export import load_exported

SMALL = ["model.backbone.dim=16", "model.backbone.depth=1", "model.backbone.heads=2", "model.backbone.window=8",
         "model.backbone.chunk_size=4", "train.max_epochs=1", "train.warmup_steps=1", "output.plots=false"]  # fmt: skip
SERIES = "date,a,b\n" + "".join(
    f"2024-01-{1 + h // 24:02d} {h % 24:02d}:00,{h % 5},{(h * 3) % 7}\n" for h in range(120)
)
FASTA = "".join(f">s{i} label={'ab'[i % 2]}\n{'ACGTTGCA'[i % 4 :]}ACGTAC\n" for i in range(40))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(definition, checkpoint, an input to predict for) of a forecaster and a DNA classifier."""
    root = tmp_path_factory.mktemp("export")
    (root / "series.csv").write_text(SERIES)
    (root / "train.fa").write_text(FASTA)
    forecast = [f"data.path={root / 'series.csv'}", "data.lookback=16", "data.horizon=4", "features.patch_length=8",
                "features.stride=4", f"output.dir={root / 'forecast'}"]  # fmt: skip
    dna = [f"data.train={root / 'train.fa'}", "data.val_fraction=0.25", f"output.dir={root / 'dna'}"]
    runs = {"forecast-csv": (forecast, "series.csv"), "genomics-fasta": (dna, "train.fa")}
    for definition, (overrides, _) in runs.items():
        Pipeline.from_yaml(definition, [*SMALL, *overrides]).run()
    return {
        definition: (overrides, root / overrides[-1].split("=")[1] / "checkpoints" / "best.ckpt", root / input_file)
        for definition, (overrides, input_file) in runs.items()
    }


@pytest.mark.parametrize("definition", ["forecast-csv", "genomics-fasta"])
def test_an_export_predicts_exactly_as_its_checkpoint(definition, trained, tmp_path):
    overrides, checkpoint, input_file = trained[definition]
    exported = CliRunner().invoke(app, ["export", str(checkpoint), "--output", str(tmp_path / "shared")])
    assert exported.exit_code == 0, exported.output
    assert sorted(path.name for path in (tmp_path / "shared").iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "shared" / "config.json").read_text())
    assert config["format"] == "titans-export" and config["spec"]["name"] == definition
    with safe_open(tmp_path / "shared" / "model.safetensors", "pt") as weights:
        assert any(name.startswith("backbone.") for name in weights.keys())  # noqa: SIM118 (safe_open has no __iter__)

    sets = [item for override in overrides for item in ("--set", override)]
    from_checkpoint = ["predict", definition, *sets, "-c", str(checkpoint), "-i", str(input_file)]
    predicted = CliRunner().invoke(app, [*from_checkpoint, "-o", str(tmp_path / "checkpoint.csv")])
    assert predicted.exit_code == 0, predicted.output
    load_exported(tmp_path / "shared").predict_file(input_file, tmp_path / "export.csv")
    assert (tmp_path / "export.csv").read_text() == (tmp_path / "checkpoint.csv").read_text()

    from_export = ["predict", definition, *sets, "-c", str(tmp_path / "shared"), "-i", str(input_file)]
    predicted = CliRunner().invoke(app, [*from_export, "-o", str(tmp_path / "cli-export.csv")])
    assert predicted.exit_code == 0, predicted.output
    assert (tmp_path / "cli-export.csv").read_text() == (tmp_path / "checkpoint.csv").read_text()


def test_evaluate_takes_an_export_folder_and_scores_as_the_checkpoint(trained, tmp_path):
    overrides, checkpoint, _ = trained["genomics-fasta"]
    assert CliRunner().invoke(app, ["export", str(checkpoint), "-o", str(tmp_path / "shared")]).exit_code == 0
    sets = [item for override in overrides for item in ("--set", override)]
    scores = {}
    for name, source in (("checkpoint", checkpoint), ("export", tmp_path / "shared")):
        command = ["evaluate", "genomics-fasta", *sets, "-c", str(source), "-o", str(tmp_path / name)]
        assert CliRunner().invoke(app, command).exit_code == 0
        scores[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert scores["export"]["val/loss"] == scores["checkpoint"]["val/loss"]


def test_a_corrupt_export_is_one_line_naming_the_file(trained, tmp_path):
    _, checkpoint, _ = trained["forecast-csv"]
    assert CliRunner().invoke(app, ["export", str(checkpoint), "-o", str(tmp_path)]).exit_code == 0
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(InputError) as error:
        load_exported(tmp_path)
    message = str(error.value)
    assert (
        message.startswith(f"{weights}: not a readable safetensors file (truncated or corrupted")
        and "\n" not in message
    )
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match=r"config\.json: not a titans export"):
        load_exported(tmp_path)
