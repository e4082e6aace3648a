"""The sandbox's layers, and imports that point down only.

From the top (a module may import its own layer and those below it, never one above):

1. entry points: the package itself, ``__main__``, ``cli``, ``pytest_plugin``, ``testing``,
   ``client``, ``health``, ``trigger_command`` (they start or drive a sandbox, and may import
   anything)
2. the app and its server: ``http.app``, ``http.server``
3. the controls and the dashboard: ``controls/``, ``ui/``
4. the request plumbing they share with the app: the rest of ``http/`` (``auth``, ``jsonio``,
   ``validation``, ``spec``, ``guard``, ``faults``, ``logs``, ``store_errors``) and ``config``
5. the API versions: ``api/`` (``api/<version>/``, ``api/fields.py``)
6. the features: ``faults/``, ``webhooks/`` (each keeps its own holders, also the Redis ones,
   built on ``state/shared/records.py``)
7. the store: ``state/`` (no feature package, and not the API's errors either, though they are
   in ``domain``: ``state/errors.py`` has the store's own exceptions, ``state/protocol.py`` the
   interface the app uses)
8. helpers that import nothing of the sandbox: ``text``, ``draws``
9. the domain: ``domain/`` (imports nothing but ``domain``)

Imports made only for type checking (``if TYPE_CHECKING:``) do not run and are not counted: the
controls name the app's ``Sandbox`` in annotations that way. Imports inside functions count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mockserver

ROOT = Path(mockserver.__file__).parent

# (layer, module prefixes), top first; the longest prefix that matches a module decides its layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "entry points",
        (
            "mockserver",
            "mockserver.__main__",
            "mockserver.cli",
            "mockserver.pytest_plugin",
            "mockserver.testing",
            "mockserver.client",
            "mockserver.health",
            "mockserver.trigger_command",
        ),
    ),
    ("app", ("mockserver.http.app", "mockserver.http.server")),
    ("controls and dashboard", ("mockserver.controls", "mockserver.ui")),
    ("request plumbing", ("mockserver.http", "mockserver.config")),
    ("api versions", ("mockserver.api",)),
    ("features", ("mockserver.faults", "mockserver.webhooks")),
    ("state", ("mockserver.state",)),
    ("leaf helpers", ("mockserver.text", "mockserver.draws")),
    ("domain", ("mockserver.domain",)),
]
LEAVES = ("mockserver.text", "mockserver.draws")
# Below the line, yet not for these: the API's error (a status, a body) is the app's to give.
FORBIDDEN = {"mockserver.state": ("mockserver.domain.errors",)}


def module_name(path: Path) -> str:
    parts = ["mockserver", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, depth = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            # "mockserver" names the package itself, not everything in it
            matches = module == prefix or (prefix != "mockserver" and module.startswith(prefix + "."))
            if matches and prefix.count(".") > depth:
                best, depth = index, prefix.count(".")
    assert best is not None, f"{module} is in no layer: place it in LAYERS"
    return best


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, module) of every sandbox module ``module`` imports when it runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append((node.lineno, submodule if submodule in MODULES else source))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(line, name) for line, name in found if name == "mockserver" or name.startswith("mockserver.")]


def test_every_module_is_placed_in_a_layer():
    assert len(MODULES) > 50
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_only(module):
    path = MODULES[module]
    mine = layer_of(module)
    upward = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {target} "
        f"({LAYERS[layer_of(target)][0]}, above {LAYERS[mine][0]})"
        for line, target in imports_of(module, path)
        if layer_of(target) < mine
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("module", [m for m in sorted(MODULES) if m.startswith(tuple(FORBIDDEN))])
def test_the_store_raises_no_api_errors(module):
    """``state/`` says what went wrong in its own exceptions (``state/errors.py``); the app turns
    them into the API's answers (``http/store_errors.py``)."""
    banned = next(names for prefix, names in FORBIDDEN.items() if module.startswith(prefix))
    assert [(line, name) for line, name in imports_of(module, MODULES[module]) if name in banned] == []


@pytest.mark.parametrize("module", [m for m in sorted(MODULES) if m.startswith(LEAVES)])
def test_leaf_helpers_import_nothing_of_the_sandbox(module):
    assert imports_of(module, MODULES[module]) == []


def test_the_rules_catch_what_they_are_for(tmp_path):
    """The walk sees relative, absolute and in-function imports, and skips type-checking ones."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ...faults.rules import Rule\n"
        "import mockserver.http.app\n"
        "def later():\n"
        "    from ..store import Store\n"
        "if TYPE_CHECKING:\n"
        "    from ...controls import admin\n"
    )
    fake = tmp_path / "example.py"
    fake.write_text(source)
    found = imports_of("mockserver.state.shared.example", fake)
    assert found == [
        (2, "mockserver.faults.rules"),
        (3, "mockserver.http.app"),
        (5, "mockserver.state.store"),
    ]
    assert [layer_of(name) < layer_of("mockserver.state") for _, name in found] == [True, True, False]
