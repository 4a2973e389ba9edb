"""The shape of the tree: no import cycle (lazy imports inside functions included), no module
loaded by name, and one place that builds an authenticated Cloud."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "nova_snapshot_hook"


def modules():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph():
    """{module: {modules it imports}}, from every import statement, wherever it stands."""
    known = modules()
    graph = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{target}.{alias.name}" for alias in node.names] + [target]
            elif isinstance(node, ast.ImportFrom):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in known and t != name)
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert "nova_snapshot_hook.cli" in graph["nova_snapshot_hook.main"]
    assert cycles(graph) == []


def test_no_module_is_loaded_by_name():
    for path in modules().values():
        text = path.read_text()
        assert "import_module" not in text and "__import__" not in text, path


def test_only_the_session_factory_builds_an_authenticated_cloud():
    builders = sorted(str(path.relative_to(PACKAGE)) for path in modules().values()
                      if "Cloud(" in path.read_text() or "make_session(" in path.read_text())
    assert builders == ["cloud/session.py"]
