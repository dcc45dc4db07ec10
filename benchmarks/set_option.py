"""The `--set KEY=VALUE` option that every benchmark script passes on to the pipeline definitions.

Like `titans run --set`, it can be repeated, and each flag may carry several settings:
`--set train.lr=3e-3 --set model.backbone.dropout=0.1` and `--set train.lr=3e-3 model.backbone.dropout=0.1` both give
`["train.lr=3e-3", "model.backbone.dropout=0.1"]` in `args.overrides`.
"""

from __future__ import annotations

import argparse


def add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add `--set KEY=VALUE [KEY=VALUE ...]`, repeatable, collected in order into `args.overrides` (empty if absent)."""
    parser.add_argument(
        "--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE", help=help
    )
