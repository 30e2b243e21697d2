"""docs/cli.md, the command-line reference, names every command and every option."""

from __future__ import annotations

import re
from pathlib import Path

import click

from srcodec.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_reference_names_every_command_and_option():
    text = DOC.read_text()
    missing = []
    for name, command in main.commands.items():
        if f"### `srcodec {name}`" not in text:
            missing.append(name)
        for param in command.params:
            if isinstance(param, click.Option):
                opts = param.opts + param.secondary_opts
                missing += [f"{name} {o}" for o in opts if not re.search(rf"(?<![\w-]){o}\b", text)]
    assert not missing, f"docs/cli.md lacks: {', '.join(missing)}"
