"""Imports point one way (domain at the bottom, entry points on top) and never form a cycle.

Every module's imports are read with `ast`, lazy imports inside functions included, so a
dependency hidden in a function body counts as much as one at the top of the file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = {"mecroute": ROOT / "src" / "mecroute"}
TOP_LEVEL = ("lambdas", "infra", "bench", "training")

# Lowest first. A module may import from its own layer or a lower one, never a higher one.
# `runtime` is the Lambda-side support's old name, `lambda_support` its new one.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"domain"}),
    frozenset({"adapters"}),
    frozenset({"agents", "mec", "complexity"}),
    frozenset({"runtime", "lambda_support"}),
    frozenset({"local", "evaluation", "ops", "gateway"}),
)
TOP_LAYER = len(LAYERS)
# Siblings that stay independent of each other: what two of them share moves down a layer.
INDEPENDENT = frozenset({"agents", "mec", "complexity"})


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for the package and the top-level entry points."""
    files: dict[str, Path] = {}
    roots = {**SOURCE_ROOTS, **{name: ROOT / name for name in TOP_LEVEL}}
    for package, directory in roots.items():
        for path in sorted(directory.rglob("*.py")):
            relative = path.relative_to(directory).with_suffix("")
            parts = [package, *relative.parts]
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def layer_of(module: str) -> int | None:
    """The layer of a first-party module; None for the root package itself."""
    parts = module.split(".")
    if parts[0] in TOP_LEVEL:
        return TOP_LAYER
    if parts[0] != "mecroute" or len(parts) < 2:
        return None
    for index, layer in enumerate(LAYERS):
        if parts[1] in layer:
            return index
    raise AssertionError(f"{module}: package mecroute.{parts[1]} has no layer; add it to LAYERS")


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every first-party module `module` imports, wherever in the file the import sits."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            # `from package import module` imports the module, not just the package.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            first_party = _closest_known(target, known)
            if first_party is not None and first_party != module:
                yield Import(module, first_party, path, node.lineno)


def _closest_known(target: str, known: set[str]) -> str | None:
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in known:
            return name
        parts.pop()
    return None


def all_imports() -> list[Import]:
    files = module_files()
    known = set(files)
    return [found for module, path in files.items() for found in imports_of(module, path, known)]


def upward_imports(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        importer, imported = layer_of(found.importer), layer_of(found.imported)
        if importer is not None and imported is not None and imported > importer:
            problems.append(
                f"{found.where()}: {found.importer} (layer {importer}) imports "
                f"{found.imported} (layer {imported}), which sits higher"
            )
    return problems


def sibling_imports(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        importer, imported = _package(found.importer), _package(found.imported)
        if importer != imported and {importer, imported} <= INDEPENDENT:
            problems.append(
                f"{found.where()}: {found.importer} imports {found.imported}; "
                f"{importer} and {imported} stay independent (move the shared part down)"
            )
    return problems


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "mecroute" and len(parts) > 1 else None


def cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for found in imports:
        graph.setdefault(found.importer, set()).add(found.imported)
        graph.setdefault(found.imported, set())
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a long import chain cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = lowlink[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[node])
                if lowlink[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = lowlink[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                lowlink[node] = min(lowlink[node], index[child])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def describe_cycle(component: list[str], imports: list[Import]) -> str:
    members = set(component)
    edges = sorted(
        f"  {found.where()}: {found.importer} imports {found.imported}"
        for found in imports
        if found.importer in members and found.imported in members
    )
    return "import cycle between " + ", ".join(component) + "\n" + "\n".join(edges)


def test_no_import_points_to_a_higher_layer() -> None:
    problems = upward_imports(all_imports())
    assert not problems, "imports that point up:\n" + "\n".join(problems)


def test_agents_mec_and_complexity_do_not_import_each_other() -> None:
    problems = sibling_imports(all_imports())
    assert not problems, "imports between independent packages:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    imports = all_imports()
    found = [describe_cycle(component, imports) for component in cycles(imports)]
    assert not found, "\n".join(found)


# The checker itself: it must see what it claims to see.


@pytest.fixture
def under_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    return tmp_path


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def test_lazy_imports_inside_functions_are_seen(under_root: Path) -> None:
    path = _write(
        under_root, "m.py", "def f():\n    from mecroute.agents.context import estimate_tokens\n"
    )
    known = {"mecroute.adapters.cloud", "mecroute.agents.context"}
    (found,) = imports_of("mecroute.adapters.cloud", path, known)
    assert (found.imported, found.line) == ("mecroute.agents.context", 2)
    assert upward_imports([found]) == [
        f"{found.where()}: mecroute.adapters.cloud (layer 1) imports "
        "mecroute.agents.context (layer 2), which sits higher"
    ]


def test_a_sibling_import_is_named(under_root: Path) -> None:
    found = Import("mecroute.mec.service", "mecroute.agents.context", under_root / "s.py", 17)
    same_package = Import("mecroute.agents.router", "mecroute.agents.learning", under_root, 1)
    assert sibling_imports([found, same_package]) == [
        "s.py:17: mecroute.mec.service imports mecroute.agents.context; "
        "mec and agents stay independent (move the shared part down)"
    ]


def test_relative_and_package_imports_resolve_to_modules(under_root: Path) -> None:
    package = under_root / "mecroute" / "local"
    package.mkdir(parents=True)
    path = _write(package, "runtime.py", "from . import seed\nfrom .seed import seed_all\n")
    known = {"mecroute.local", "mecroute.local.runtime", "mecroute.local.seed"}
    found = list(imports_of("mecroute.local.runtime", path, known))
    assert [(f.imported, f.line) for f in found] == [
        ("mecroute.local.seed", 1),
        ("mecroute.local.seed", 2),
    ]


def test_a_cycle_names_both_files_and_lines(under_root: Path) -> None:
    a = Import("mecroute.local.runtime", "mecroute.local.seed", under_root / "runtime.py", 12)
    b = Import("mecroute.local.seed", "mecroute.local.runtime", under_root / "seed.py", 40)
    other = Import("mecroute.local.seed", "mecroute.domain.messages", under_root / "seed.py", 3)
    (component,) = cycles([a, b, other])
    assert component == ["mecroute.local.runtime", "mecroute.local.seed"]
    message = describe_cycle(component, [a, b, other])
    assert "runtime.py:12: mecroute.local.runtime imports mecroute.local.seed" in message
    assert "seed.py:40: mecroute.local.seed imports mecroute.local.runtime" in message
    assert "domain" not in message


def test_both_names_of_the_lambda_support_layer_are_one_layer() -> None:
    assert layer_of("mecroute.runtime.settings") == layer_of("mecroute.lambda_support.settings")
    assert layer_of("mecroute.agents.router") < layer_of("mecroute.lambda_support.settings")  # type: ignore[operator]
    assert layer_of("lambdas.router.handler") == TOP_LAYER
