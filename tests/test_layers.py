"""The layers never reach up, and no import hides inside a function.

From the ground up: ``koord`` (errors, progress, SQL quoting: imports nothing of ours),
``data_schemas`` (contracts, code lists, the study definition), then ``analyses`` and the
pipeline's stages (``pipeline.synth``, ``pipeline.ingest``, the warehouse build), then
``reports``; on top the command line (``pipeline/cli.py``, ``pipeline/commands/``,
``pipeline/bench.py``), the only code that calls upward into analyses and reports. Only the
command line may import inside functions (it keeps ``koord --help`` fast); elsewhere an
import inside a function is how a cycle hides, so it is refused.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("koord", "data_schemas", "analyses", "reports", "pipeline")
COMMAND_LINE = ("pipeline.cli", "pipeline.commands", "pipeline.bench")

# layer of a module -> the packages it may import
MAY_IMPORT = {
    "koord": {"koord"},
    "data_schemas": {"koord", "data_schemas"},
    "analyses": {"koord", "data_schemas", "analyses"},
    "pipeline stages": {"koord", "data_schemas", "pipeline stages"},
    "reports": {"koord", "data_schemas", "analyses", "reports"},
    "command line": {"koord", "data_schemas", "analyses", "pipeline stages", "reports", "command line"},
}


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top not in OURS:
        return None
    if top == "pipeline":
        if module == "pipeline" or any(module == c or module.startswith(c + ".") for c in COMMAND_LINE):
            return "command line" if module != "pipeline" else "pipeline stages"
        return "pipeline stages"
    return top


def modules() -> list[tuple[str, Path]]:
    out = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out.append((".".join(parts), path))
    return out


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function?) for every import of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


MODULES = modules()


def test_every_package_has_modules():
    assert {m.split(".")[0] for m, _ in MODULES} == set(OURS)


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_no_layer_imports_a_higher_one(module, path):
    layer = layer_of(module)
    bad = [f"line {line}: {name} ({layer_of(name)})" for name, line, _ in imports(path)
           if layer_of(name) is not None and layer_of(name) not in MAY_IMPORT[layer]]
    assert not bad, f"{path.relative_to(ROOT)} ({layer}) imports a higher layer: {'; '.join(bad)}"


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_no_import_of_ours_hides_in_a_function(module, path):
    if layer_of(module) == "command line":
        return
    hidden = [f"line {line}: {name}" for name, line, inside in imports(path) if inside and layer_of(name) is not None]
    assert not hidden, f"{path.relative_to(ROOT)} imports inside a function: {'; '.join(hidden)}"


def test_the_rules_catch_a_reach_up(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("import pandas\n\ndef f():\n    from reports.builder import build_report\n", encoding="utf-8")
    assert imports(bad) == [("pandas", 1, False), ("reports.builder", 4, True)]
    assert "reports" not in MAY_IMPORT[layer_of("analyses.designs.run")]
    assert layer_of("pipeline.commands.analyse") == "command line" and layer_of("pipeline.ingest.load") == "pipeline stages"
