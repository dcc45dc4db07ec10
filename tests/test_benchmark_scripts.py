"""The benchmark scripts' command lines: their shared `--set` option (benchmarks/set_option.py), and that each
script starts (imports resolve and `--help` prints) when run as `python benchmarks/NAME.py`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from titans.pipelines import Pipeline

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS_WITH_SET = ["forecast_ett", "genomics_gue", "language", "memory_gradient", "niah", "step_cost"]


@pytest.fixture
def parser(monkeypatch) -> argparse.ArgumentParser:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from set_option import add_set_option

    parser = argparse.ArgumentParser()
    add_set_option(parser, "overrides for every run")
    return parser


@pytest.mark.parametrize(
    "argv",
    [
        ["--set", "train.lr=3e-3", "--set", "model.backbone.dropout=0.1"],
        ["--set", "train.lr=3e-3", "model.backbone.dropout=0.1"],
    ],
)
def test_repeated_or_joined_set_flags_keep_every_setting_in_order(parser, argv):
    assert parser.parse_args(argv).overrides == ["train.lr=3e-3", "model.backbone.dropout=0.1"]


def test_no_set_flag_gives_no_overrides(parser):
    assert parser.parse_args([]).overrides == []


def test_a_set_flag_without_a_setting_is_an_error(parser, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--set"])
    assert exit_info.value.code == 2
    assert "--set: expected at least one argument" in capsys.readouterr().err


@pytest.mark.parametrize("script", SCRIPTS_WITH_SET)
def test_the_script_starts_and_documents_set(script):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{script}.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--set KEY=VALUE [KEY=VALUE ...]" in result.stdout


def test_the_language_benchmark_clock_budget_trains_for_the_whole_budget(monkeypatch):
    """Under `--budget clock` no step count can stop a run before its minutes are spent, and the learning rate
    anneals with the clock (a timed step estimate once stopped a 30-minute run after 26)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from language import budget_overrides

    overrides = ["model.backbone.name=transformer", "train.max_minutes=5"]
    train = Pipeline.from_yaml(
        "language-shakespeare", [*overrides, *budget_overrides("clock", "transformer", overrides, 5)]
    ).spec.train
    assert train.max_steps == -1  # no step limit
    assert train.schedule_over_minutes
    assert train.max_minutes == 5


def test_the_gue_benchmark_keeps_the_variant_best_on_dev_and_the_shipped_one_on_ties(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from genomics_gue import SHIPPED, Run, chosen_on_dev

    shipped, bidirectional = Run(SHIPPED, 70.0, 66.0), Run("bidirectional", 74.0, 73.0)
    assert chosen_on_dev([shipped, bidirectional]) == bidirectional
    assert chosen_on_dev([shipped, Run("worse", 69.0, 80.0)]) == shipped  # the dev MCC decides, not the test MCC
    assert chosen_on_dev([shipped, Run("level", 70.0, 80.0)]) == shipped


@pytest.mark.parametrize("argv", [["--variant", "bidirectional"], ["--variant", "shipped", "train.lr=1e-3"]])
def test_a_gue_benchmark_variant_needs_a_new_name_and_a_setting(argv):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "genomics_gue.py"), *argv], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert f"--variant {argv[1]}: give a new name, then at least one KEY=VALUE" in result.stderr
