"""docs/cli.md is generated from the CLI; this fails when a command, option or help text changed without
the page being regenerated (`.venv/bin/python docs/generate_cli_reference.py`)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_cli_md_matches_the_cli():
    spec = importlib.util.spec_from_file_location("generate_cli_reference", ROOT / "docs" / "generate_cli_reference.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == generator.reference(), (
        "docs/cli.md is out of date: run .venv/bin/python docs/generate_cli_reference.py"
    )
    assert all(f"## `titans {name}`" in page for name in ("run", "predict", "export"))
