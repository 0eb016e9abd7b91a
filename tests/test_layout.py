"""The library's layout: a package per stage of the workflow, imports that only run from a later stage to an earlier
one, no circle, every rule's job in the package named like its rule file, and functions short enough to read."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

SRC = REPO / "src" / "sentiflow"
# The stages in workflow order; the shared leaves (config, atomic, logs, data, sentiment_words: the sentiment lexicons
# the errors stage, the behavioural tests and the config's checks read) come first, the tools last.
ORDER = ["", "train", "analysis", "errors", "llm", "behaviour", "report", "track", "tools"]
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    return {
        ".".join(("sentiflow", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__"): path
        for path in sorted(SRC.rglob("*.py"))
    }


def stage(module: str) -> str:
    """The package a module belongs to: '' for the leaves at the top of sentiflow."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else ""


def own_imports(tree: ast.AST, known: set[str]) -> list[tuple[str, ast.AST]]:
    """(sentiflow module, node) for every import of the package's own modules in `tree`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sentiflow":
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.append((name if name in known else node.module, node))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names if alias.name.split(".")[0] == "sentiflow"]
    return found


def graph() -> dict[str, set[str]]:
    known = set(modules())
    return {
        module: {target for target, _ in own_imports(ast.parse(path.read_text()), known) if target != "sentiflow"}
        for module, path in modules().items()
    }


def test_every_stage_is_a_package_with_a_docstring():
    for name in ORDER[1:]:
        init = SRC / name / "__init__.py"
        assert init.is_file(), f"sentiflow.{name} is not a package"
        assert ast.get_docstring(ast.parse(init.read_text())), f"sentiflow.{name} has no docstring saying what it owns"
    leaves = sorted(p.stem for p in SRC.glob("*.py") if p.stem != "__init__")
    assert leaves == ["atomic", "config", "data", "logs", "sentiment_words"], leaves


def test_imports_run_from_a_later_stage_to_an_earlier_one_only():
    upward = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if ORDER.index(stage(target)) > ORDER.index(stage(module))
    ]
    assert not upward, "imports from an earlier stage of the workflow to a later one:\n" + "\n".join(upward)


def test_the_import_graph_has_no_circle():
    edges = graph()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            assert state.get(target) != "open", "import circle: " + " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [])


def test_the_own_modules_are_imported_at_the_top_of_a_module():
    """An import inside a function hides a dependency; none is needed to break a circle."""
    inside = []
    known = set(modules())
    for module, path in modules().items():
        tree = ast.parse(path.read_text())
        for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            inside += [f"{module}.{function.name}: {target}" for target, _ in own_imports(function, known)]
    assert not inside, "function-level imports of sentiflow's own modules:\n" + "\n".join(sorted(set(inside)))


def test_no_function_is_longer_than_sixty_lines():
    long = [
        f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for module, path in modules().items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "\n".join(long)


def test_every_rule_runs_the_job_of_its_stage_package():
    """A rule in workflow/rules/X.smk runs a script that calls into sentiflow.X (data: the sentiflow.data leaf)."""
    checked = 0
    for rules_file in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        text = rules_file.read_text()
        for rule, script in re.findall(r"^rule (\w+):\n(?:    .*\n|\n)*?    script:\n        \"([^\"]+)\"", text, re.M):
            source = (rules_file.parent / script).resolve().read_text()
            packages = set(re.findall(r"^from sentiflow\.(\w+)", source, re.M))
            assert rules_file.stem in packages, f"rule {rule} in {rules_file.name} runs {script}, importing {packages}"
            checked += 1
    assert checked >= 14
