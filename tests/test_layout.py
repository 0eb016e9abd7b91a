"""The layout: the design's top level; the library a package per stage of the workflow, imports that only run from a
later stage to an earlier one, no circle, every rule's job in the package named like its rule file, and functions
short enough to read; the workflow layer by stage (a stage's functions beside its rules, common.smk what the stages
share); the report's templates in the top-level report/, one pair per registered section."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

from sentiflow.report.sections import PLACES, SECTIONS, template_parts

SRC = REPO / "src" / "sentiflow"
# The stages in workflow order; the shared leaves (config, atomic, logs, data, sentiment_words: the sentiment lexicons
# the errors stage, the behavioural tests and the config's checks read; words: the one word segmentation; nesting: rows
# that are parts of other rows, which data preparation and the shortcut statistic see alike) come first, the tools last.
ORDER = ["", "train", "analysis", "errors", "llm", "behaviour", "findings", "report", "track", "tools"]
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
    assert leaves == ["atomic", "config", "data", "logs", "nesting", "sentiment_words", "words"], leaves


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


# The design's top level: what a reader of the design finds where it says.
TOP_LEVEL = {"Snakefile": "file", "workflow": "dir", "config": "dir", "scripts": "dir", "report": "dir",
             "tests": "dir", "environment.yml": "file", "README.md": "file"}  # fmt: skip
RULES = REPO / "workflow" / "rules"


def test_the_top_level_is_the_designs():
    for name, kind in TOP_LEVEL.items():
        path = REPO / name
        assert path.is_file() if kind == "file" else path.is_dir(), f"the design's top level lacks the {kind} {name}"


def test_the_report_templates_are_in_the_top_level_report_folder_and_every_one_is_read():
    """The report rule reads report/report.{html,tex}.j2 and what the registry names (each section's pair, the macros,
    the style sheet): all there, nothing else there, no template left in the library."""
    read = {"report.html.j2", "report.tex.j2", *template_parts()}
    assert read == {path.name for path in (REPO / "report").iterdir()}
    assert not list(SRC.rglob("*.j2")), "templates in the library: the report's look lives in the top-level report/"
    report_rule = (RULES / "report.smk").read_text()
    assert 'workflow.source_path("../../report/report.html.j2")' in report_rule and "template_parts()" in report_rule
    # Both documents include the registered sections at every place a section may name.
    for document, loop in (("report.html.j2", '{%% for sec in sections if sec.place == "%s"'),
                           ("report.tex.j2", '\\BLOCK{for sec in sections if sec.place == "%s"')):  # fmt: skip
        text = (REPO / "report" / document).read_text()
        assert all(loop % place in text for place in PLACES), document
    assert {section.place for section in SECTIONS} <= set(PLACES)


def definitions(path: Path) -> set[str]:
    return set(re.findall(r"^def (\w+)\(", path.read_text(), re.M))


def test_a_stages_functions_are_beside_its_rules_and_common_holds_what_stages_share():
    """Snakemake's linter keeps functions and rules in separate files: a stage's in STAGE_helpers.smk, which its rule
    file includes; common.smk's are each used by two stages at least (or by such a function of common.smk)."""
    rule_files = sorted(p for p in RULES.glob("*.smk") if not p.stem.endswith("_helpers") and p.stem != "common")
    for helpers in RULES.glob("*_helpers.smk"):
        stage = RULES / f"{helpers.stem.removesuffix('_helpers')}.smk"
        assert stage in rule_files and f'include: "{helpers.name}"' in stage.read_text(), helpers.name
        assert not re.search(r"^rule ", helpers.read_text(), re.M), f"{helpers.name} holds rules"
    for rule_file in rule_files:
        assert not definitions(rule_file), f"{rule_file.name} defines functions: move them into its helpers"
    common = (RULES / "common.smk").read_text()
    others = {p.name: p.read_text() for p in [REPO / "Snakefile", *RULES.glob("*.smk")] if p.name != "common.smk"}
    stages = {name: {re.sub(r"(_helpers)?\.smk$", "", f) for f, text in others.items() if re.search(rf"\b{name}\b", text)}
              for name in definitions(RULES / "common.smk")}  # fmt: skip
    shared = {name for name, users in stages.items() if len(users) >= 2}
    while True:  # also shared: what a shared function of common.smk calls
        bodies = re.split(r"^def ", common, flags=re.M)
        more = {name for name in stages if name not in shared
                for body in bodies if body.split("(")[0] in shared and re.search(rf"\b{name}\b", body)}  # fmt: skip
        if not more:
            break
        shared |= more
    assert shared == set(stages), f"used by one stage only, move them beside its rules: {sorted(set(stages) - shared)}"
