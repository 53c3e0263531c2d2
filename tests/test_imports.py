"""The package's layout: every module imports alone, and no two modules import each other.

The import graph is read from the source (every ``import`` statement, at module level, in
functions and under ``TYPE_CHECKING`` alike: an import inside a function that dodges a cycle
is still a cycle); each module is also imported alone in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gaussmix

ROOT = Path(gaussmix.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
#: compiled extensions, known by their type stubs: leaves of the graph
EXTENSIONS = {module_name(p) for p in ROOT.rglob("*.pyi")} - set(MODULES)


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name a ``from ... import`` statement starts from."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path) -> set[str]:
    """The gaussmix modules ``module`` imports (a ``from package import submodule`` names
    the submodule, ``from package import name`` the package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(module, path, node)
            known = MODULES.keys() | EXTENSIONS
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES and name not in EXTENSIONS:
                name = name.rpartition(".")[0]  # ``import gaussmix.engine.frame as f``
            if name.startswith("gaussmix") and name != module:
                found.add(name)
    return found


GRAPH = {m: imports_of(m, p) for m, p in MODULES.items()} | {m: set() for m in EXTENSIONS}


def test_the_graph_sees_the_package():
    assert {"gaussmix.engine.passes", "gaussmix.cli.commands", "gaussmix.io"} <= set(MODULES)
    assert "gaussmix.engine.frame" in GRAPH["gaussmix.engine.passes"]
    assert "gaussmix.engine.threads" in GRAPH["gaussmix.engine.passes"]  # from . import threads
    assert GRAPH["gaussmix.engine.fused"] >= {"gaussmix._kernels"}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_two_modules_import_each_other():
    assert cycles(GRAPH) == []


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_saved_models_do_not_depend_on_the_estimators():
    assert not {"gaussmix.mixture", "gaussmix.base"} & reachable("gaussmix.io")
    # the engine knows no estimator, strategy or covariance family
    for module in (m for m in MODULES if m.startswith("gaussmix.engine")):
        assert not {"gaussmix.mixture", "gaussmix.strategy", "gaussmix.em"} & reachable(module)


#: run in a fresh interpreter: third-party libraries are imported once, then each gaussmix
#: module is imported in a forked child of that interpreter, alone
_FORK_EACH = """
import importlib, json, os, sys, traceback
import numpy, scipy.linalg, scipy.special, scipy.stats, sklearn.base, sklearn.utils.validation
assert not any(m.split(".")[0] == "gaussmix" for m in sys.modules)
failed = {}
for module in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(module)
            os._exit(0)
        except BaseException:
            os.write(write, traceback.format_exc()[-2000:].encode())
            os._exit(1)
    os.close(write)
    message = os.read(read, 4000).decode()
    os.close(read)
    if os.waitpid(pid, 0)[1] != 0:
        failed[module] = message or "the child failed"
print(json.dumps(failed))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="imports each module in a forked child")
def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = [m for m in MODULES if not m.endswith("__main__")]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _FORK_EACH, json.dumps(names)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}


@pytest.mark.parametrize("module", ["gaussmix.__main__", "gaussmix.cli.__main__"])
def test_main_modules_run(module):
    done = subprocess.run(
        [sys.executable, "-m", module.removesuffix(".__main__"), "--version"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and "gaussmix" in done.stdout
