"""The layers of docs/architecture.md, kept: imports go only downward, and never in a circle."""

import ast
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Lowest first: a module may import its own layer and those before it.
LAYERS = ["storage", "rules", "live", "web", "pages"]
# Beside every layer: anything may import them, and they import no layer.
BESIDE = {"queue_app.clock", "queue_app.languages"}
# Above every layer: they wire the layers together; no layer imports them.
ABOVE = {"queue_app.cli", "queue_app.seed", "queue_app.serving", "display"}
# What a layer may take from the package itself: the extensions the factory initialises.
EXTENSIONS = {"socketio", "babel", "csrf"}


def _modules():
    found = {}
    for package in ("queue_app", "display"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name, path):
    """``{(imported module, line)}`` of our own modules, at any depth of the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, package)
            # ``from pkg import mod`` names a module; ``from pkg import thing``, pkg itself.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
            if base == "queue_app" and all(alias.name in EXTENSIONS for alias in node.names):
                targets = []  # the extensions, not the factory
        else:
            continue
        found |= {(target, node.lineno) for target in targets if target in MODULES}
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _rank(name):
    if name in BESIDE:
        return -1
    if name in ABOVE or name == "queue_app" or name.startswith("display."):
        return len(LAYERS)
    return LAYERS.index(name.split(".")[1])


def test_every_module_has_a_place():
    for name in MODULES:
        assert name in BESIDE or name in ABOVE or name == "queue_app" or _rank(name) >= 0


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_only_downward(name):
    upward = [
        f"line {line}: {target}"
        for target, line in sorted(GRAPH[name], key=lambda item: item[1])
        if _rank(target) > _rank(name) or (name in BESIDE and target not in BESIDE)
    ]
    assert upward == [], f"{name} imports a layer above it"


def test_no_import_circle():
    """Depth-first search over every import (top-level and inside functions)."""
    state, path = {}, []

    def visit(name):
        state[name] = "open"
        path.append(name)
        for target, _ in sorted(GRAPH[name]):
            if state.get(target) == "open":
                circle = path[path.index(target) :] + [target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name)


def test_the_check_sees_an_upward_import(tmp_path):
    """The walk above would catch a rule reaching for the HTTP layer."""
    module = tmp_path / "bad.py"
    module.write_text("from queue_app.web import api\nfrom . import calling\n")
    found = _imports("queue_app.rules.bad", module)
    assert {target for target, _ in found} == {"queue_app.web.api", "queue_app.rules.calling"}
    assert _rank("queue_app.web.api") > _rank("queue_app.rules.bad")
