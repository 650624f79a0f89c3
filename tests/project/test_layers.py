"""Imports run downhill: no module imports one of a higher layer, and no module-level imports
form a cycle. Read from the source (ast), so an import inside a function counts as well.

The layer table below is the project's intended shape (docs/architecture.md draws it, and a test
here checks that it draws this one); a new module goes into the layer its name falls under, and
a new top-level module must be added here and there.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"zoo": ROOT / "zoo", "zoo.plugins": ROOT / "plugins", "zoo.export": ROOT / "export"}

# Lowest first: a module may import from its own layer and from the layers listed before it. Each
# package of zoo (a room) has a layer of its own, so that only the direction in use is allowed;
# small top-level modules share one. Each entry is a module or a package (all of it); the
# package root "zoo" (the public API that re-exports the core) is matched only by itself.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("zoo.version", "zoo.errors", "zoo.fileio", "zoo.runlock", "zoo.install", "zoo.limits", "zoo.table",
                    "zoo.reading", "zoo.cache", "zoo.terminal", "zoo.waiting", "zoo.torchrun", "zoo.machine",
                    "zoo.timing")),
    ("primitives", ("zoo.ops", "zoo.precision", "zoo.contract", "zoo.metrics", "zoo.complexity", "zoo.metadata",
                    "zoo.skeleton")),
    ("camera files", ("zoo.raw",)),
    ("image files", ("zoo.imageio",)),
    ("data", ("zoo.data",)),
    ("models", ("zoo.registry", "zoo.checkpoint", "zoo.configcheck", "zoo.modelfile", "zoo.factory")),
    ("inference", ("zoo.infer", "zoo.baselines")),
    ("export", ("zoo.export",)),
    ("evaluation", ("zoo.evaluation",)),
    ("benchmarks", ("zoo.bench",)),
    ("training", ("zoo.train",)),
    ("search", ("zoo.search",)),
    ("public API", ("zoo",)),
    ("plugins", ("zoo.plugins",)),
    ("command line", ("zoo.cli", "zoo.__main__")),
]


def project_modules() -> dict[str, Path]:
    """Every module of the three folders by its import name (``zoo.export.runner``, ...)."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = project_modules()


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of the longest entry that names ``module`` or a package above it."""
    best: tuple[int, int] | None = None  # (length of the entry, layer)
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            covers = module == entry or (entry != "zoo" and module.startswith(entry + "."))
            if covers and (best is None or len(entry) > best[0]):
                best = (len(entry), index)
    return None if best is None else best[1]


def imports(module: str, path: Path, top_level_only: bool = False) -> Iterator[tuple[int, str]]:
    """``(line, imported project module)`` for every import of a zoo module in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # "from zoo.data import sidd" imports the module zoo.data.sidd; "from zoo import save" the package.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "zoo" or name.startswith("zoo."):
                while name not in MODULES and "." in name:  # "import zoo.data.sets.x" is zoo.data.sets
                    name = name.rpartition(".")[0]
                if name != module:
                    yield node.lineno, name


def test_every_module_has_a_layer():
    unplaced = sorted(module for module in MODULES if layer_of(module) is None)
    assert unplaced == [], f"add these modules to LAYERS in {Path(__file__).name}"


def test_no_module_imports_a_higher_layer():
    uphill = []
    for module, path in MODULES.items():
        own = layer_of(module)
        for line, target in imports(module, path):
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                uphill.append(f"{path.relative_to(ROOT)}:{line}: {module} ({LAYERS[own][0]}) imports "
                              f"{target} ({LAYERS[theirs][0]})")
    assert uphill == [], "imports that run uphill:\n" + "\n".join(uphill)


def test_module_level_imports_form_no_cycle():
    graph = {module: sorted({target for _, target in imports(module, path, top_level_only=True)})
             for module, path in MODULES.items()}
    cycles, state = [], {}  # state: 1 on the current path, 2 done

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in graph.get(module, []):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_walker_sees_imports_of_every_form(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import zoo.data.sets\nfrom zoo.data import sidd\nfrom zoo import save\n"
                      "def f():\n    from zoo.cli import main\n")
    found = [target for _, target in imports("zoo.x", source)]
    assert found == ["zoo.data.sets", "zoo.data.sidd", "zoo", "zoo.cli"]
    assert [target for _, target in imports("zoo.x", source, top_level_only=True)] == found[:3]
    assert layer_of("zoo") == layer_of("zoo.plugins") - 1 and layer_of("zoo.data.sidd") == layer_of("zoo.data")


def drawn_layers(markdown: str) -> list[tuple[str, set[str]]]:
    """The table under "## Import layers" in docs/architecture.md: each row's layer and the
    modules its second column names (in backquotes)."""
    section = markdown.split("## Import layers", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [(cells[0].strip(), set(re.findall(r"`([^`]+)`", cells[1]))) for cells in rows
            if cells[0].strip() not in ("layer", "---")]


def test_the_architecture_page_draws_this_table():
    drawn = drawn_layers((ROOT / "docs" / "architecture.md").read_text())
    assert drawn == [(name, set(entries)) for name, entries in LAYERS]


def test_the_drawn_table_is_read_row_by_row():
    page = ("## Import layers\n\n| layer | modules | what |\n| --- | --- | --- |\n"
            "| foundation | `zoo.errors`, `zoo.fileio` | errors and `atomic` writes |\n"
            "| public API | `zoo` (the package root) | what `import zoo` offers |\n\n## Next\n| x | `y` | z |\n")
    assert drawn_layers(page) == [("foundation", {"zoo.errors", "zoo.fileio"}), ("public API", {"zoo"})]
