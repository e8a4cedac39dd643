"""Imports point down the pipeline (docs/design.md): parsers read text, the analysis decides as data,
only the renderers make sentences. Checked on the source, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1] / "kit"

# package -> what it must never import
FORBIDDEN = {
    "parsers": ("kit.analyse", "kit.render", "kit.transport", "kit.report", "kit.capture"),
    "analyse": ("kit.render", "kit.transport", "kit.cli"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_up_the_pipeline(package):
    files = sorted((KIT / package).glob("*.py"))
    assert files
    wrong = {
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package])
    }
    assert not wrong, sorted(wrong)
