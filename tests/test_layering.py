"""The intended layering, read from the code's imports (``ast``; every import counts, also one inside a function):
a new dependency that points the wrong way, or a new import circle, fails here. docs/architecture.md says why.

    prior  <-  catalog  <-  serving  <-  recommend  <-  web
                               ^
                               +---- worker        config: wiring (settings, URLs, errors, health, servers) + base

``serving`` owns the models of a serving process and where sampling runs; ``worker`` (the Celery app and its thin
tasks) sits above it and nothing but the wiring imports it: serving sends the task by name. ``demo``
(``manage.py demo``) uses them all; nothing imports it.

``core`` (application errors and the API's error shape) is the floor every app may stand on: it imports no app and
no config. ``config`` is two things: its wiring modules are the composition root (they may import any app, and no
app imports them), and its base modules (``config.env``, ``config.embedded_db``, ``config.db_router``) import no
app. Apps import nothing from ``config`` but the two pieces of base in :data:`APPS_MAY_IMPORT_FROM_CONFIG`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("prior", "core", "catalog", "serving", "recommend", "worker", "web", "demo", "config")
CONFIG_BASE = {"config", "config.env", "config.embedded_db", "config.db_router"}
# What an app may still import from config, and why it stays there: reading the environment the way the settings
# do (``recommend.conf``, ``manage.py demo``), and which database a read goes to, a decision made in the settings'
# DATABASE_ROUTERS (``catalog.selectors``, ``recommend.selectors``). Nothing else: errors live in ``core``.
APPS_MAY_IMPORT_FROM_CONFIG = {"config.env", "config.db_router"}

# Circles inside a package that are known and not yet untangled, as frozensets of two modules that import each
# other; anything else, and any new one, fails. Empty: keep it so.
KNOWN_MODULE_CYCLES: set[frozenset[str]] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports: ``from a import b`` counts as ``a.b`` when that is a module, else ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _top(module: str) -> str:
    return module.split(".")[0]


def _node(module: str) -> str:
    """The layer a module belongs to: its top-level package, with config split into base and wiring."""
    if _top(module) == "config":
        return "config" if module in CONFIG_BASE else "config-wiring"
    return _top(module)


def _offenders(source: str, forbidden: set[str]) -> list[str]:
    return sorted(f"{name} imports {target}" for name, targets in IMPORTS.items() if _top(name) == source
                  for target in targets if _top(target) in forbidden)


def test_the_scan_sees_the_code():
    assert {"prior.sampling", "recommend.services.playlist", "serving.runtime", "config.urls"} <= set(MODULES)
    assert "serving.engine" in IMPORTS["recommend.services.playlist"]  # `from serving import engine`


def test_prior_is_a_library_without_django_or_the_apps():
    assert _offenders("prior", {"django", "rest_framework", "celery", *PACKAGES} - {"prior"}) == []


def test_core_is_the_floor():
    """Every app may import core, so core imports none of them (nor config), and its errors need no Django."""
    assert _offenders("core", set(PACKAGES) - {"core"}) == []
    assert {_top(t) for t in IMPORTS["core.errors"]} <= {"__future__", "collections", "typing"}


def test_catalog_does_not_depend_on_what_builds_on_it():
    assert _offenders("catalog", {"serving", "recommend", "worker", "web"}) == []


def test_serving_stands_below_recommend_and_the_worker():
    assert _offenders("serving", {"recommend", "worker", "web"}) == []


def test_only_the_wiring_imports_the_worker_and_it_imports_only_serving():
    assert [o for package in ("prior", "catalog", "serving", "recommend", "web")
            for o in _offenders(package, {"worker"})] == []
    assert _offenders("worker", set(PACKAGES) - {"worker", "serving"}) == []


def test_nothing_builds_on_the_demo():
    """``manage.py demo`` drives the apps; an app that imported it would depend on the offline demo."""
    assert [o for package in PACKAGES if package != "demo" for o in _offenders(package, {"demo"})] == []


def test_no_app_imports_the_wiring():
    wiring = sorted(f"{name} imports {target}" for name, targets in IMPORTS.items() if _node(name) != "config-wiring"
                    for target in targets if _node(target) == "config-wiring")
    assert wiring == []


def test_apps_import_from_config_only_the_base_they_need():
    found = sorted(f"{name} imports {target}" for name, targets in IMPORTS.items() if _top(name) != "config"
                   for target in targets if _top(target) == "config" and target not in APPS_MAY_IMPORT_FROM_CONFIG)
    assert found == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return exc.args[1]
    return None


def test_no_circles_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for name, targets in IMPORTS.items():
        for target in targets:
            if _top(target) in PACKAGES and _node(target) != _node(name):
                graph[_node(name)].add(_node(target))
    assert _cycle(graph) is None
    assert graph["config"] <= {"config"}  # the base of config imports no app


@pytest.mark.parametrize("package", ["recommend.services", "recommend", "catalog", "serving", "worker", "prior",
                                     "core"])
def test_no_circles_between_modules(package):
    """Within the package (a circle hidden behind a function-level import counts: it is still a circle)."""
    inside = {name for name in MODULES if name.startswith(f"{package}.")}
    graph = {name: {t for t in IMPORTS[name] if t in inside and t != name and t != package} for name in inside}
    for known in KNOWN_MODULE_CYCLES:
        a, b = sorted(known)
        graph.get(a, set()).discard(b)
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle)
