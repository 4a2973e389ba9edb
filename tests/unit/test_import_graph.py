"""The shape of the tree: no import cycle (lazy imports inside functions included), no import
from a higher layer (the layers of doc/modules.md), no module loaded by name, one place that
builds an authenticated Cloud, and only cloud/ speaks to keystoneauth1 and novaclient."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "nova_snapshot_hook"
MODULE_MAP = PACKAGE.parent / "doc" / "modules.md"
ROOT = PACKAGE.name


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


# -- the layers ---------------------------------------------------------------------------------
# A layer is a tuple of entries: a module's name (`nova_snapshot_hook.cli`), or a folder's name
# ending in `.*` (`nova_snapshot_hook.commands.*`: the folder's __init__ and all its modules).

def doc_layers(text=None):
    """The layers, from the top, as the numbered list of doc/modules.md's Layers section names
    them: `main.py` is nova_snapshot_hook.main, `commands/` nova_snapshot_hook.commands.*,
    `__init__.py` the package itself. Only the names before an item's first ': ' count."""
    text = MODULE_MAP.read_text() if text is None else text
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    items = []
    for line in section.splitlines():
        if re.match(r"\d+\. ", line):
            items.append(line)
        elif items and line[:1] == " " and line.strip():       # the item's next line
            items[-1] += " " + line.strip()
    heads = [item.split(": ", 1)[0] for item in items]
    return [tuple(_entry(name) for name in re.findall(r"`([^`]+)`", head)) for head in heads]


def _entry(name):
    if name == "__init__.py":
        return ROOT
    if name.endswith("/"):
        return ".".join([ROOT, *name.strip("/").split("/")]) + ".*"
    assert name.endswith(".py"), f"not a module or a folder: {name!r}"
    return ".".join([ROOT, *name[:-3].split("/")])


def layer_of(module, layers):
    """The index of the layer that holds `module` (0 is the top), or None."""
    for index, entries in enumerate(layers):
        for entry in entries:
            if module == entry or (entry.endswith(".*") and (
                    module == entry[:-2] or module.startswith(entry[:-1]))):
                return index
    return None


def upward_imports(graph, layers):
    """[(importer, imported)] where the imported module is in a higher layer than its importer.
    Imports within one layer are allowed (test_no_import_cycle_in_the_package keeps them
    acyclic); a module in no layer is left to test_every_module_is_in_exactly_one_layer."""
    def higher(imported, module):
        above, own = layer_of(imported, layers), layer_of(module, layers)
        return above is not None and own is not None and above < own
    return sorted((module, imported) for module, targets in graph.items() for imported in targets
                  if higher(imported, module))


FAKE_LAYERS = [("app.main",), ("app.commands.*",), ("app.rules.*", "app.text")]


def test_the_layer_checker_finds_an_import_that_goes_up():
    graph = {"app.main": {"app.commands.run", "app.text"},
             "app.commands": set(),
             "app.commands.run": {"app.commands", "app.rules.names", "app.text"},
             "app.rules.names": {"app.text", "app.rules"},
             "app.rules": set(),
             "app.text": {"app.commands.run"}}       # the base reaching up into a command
    assert upward_imports(graph, FAKE_LAYERS) == [("app.text", "app.commands.run")]
    graph["app.text"] = {"app.rules.names"}         # within its layer: allowed
    assert upward_imports(graph, FAKE_LAYERS) == []


def test_a_module_is_in_the_layer_of_its_folder_or_its_own_name():
    assert layer_of("app.commands", FAKE_LAYERS) == layer_of("app.commands.run", FAKE_LAYERS) == 1
    assert layer_of("app.text", FAKE_LAYERS) == 2
    assert layer_of("app.commandsx", FAKE_LAYERS) is None and layer_of("app", FAKE_LAYERS) is None


def test_the_layers_are_read_from_the_numbered_list_of_the_doc():
    text = ("# Map\n\n## Layers\n\nFrom the top.\n\n"
            "1. `main.py`, `cli.py`: the entry (`x.py` not).\n"
            "2. `commands/`: verbs.\n3. `__init__.py`, `errors.py`,\n   `text.py`: the base.\n\n"
            "## Top level\n\n- `other.py`: no.\n")
    assert doc_layers(text) == [(f"{ROOT}.main", f"{ROOT}.cli"), (f"{ROOT}.commands.*",),
                                (ROOT, f"{ROOT}.errors", f"{ROOT}.text")]


def test_the_docs_layers_run_from_the_entry_points_to_the_base():
    layers = doc_layers()
    assert layers[0] == (f"{ROOT}.__main__", f"{ROOT}.main", f"{ROOT}.cli")
    order = [layer_of(f"{ROOT}.{name}", layers) for name in (
        "commands.fleet", "apt.hook", "backup.take", "context", "cloud.client", "config", "views",
        "rules.naming", "errors")]
    assert order == sorted(order) and len(set(order)) == len(order), order
    assert ROOT in layers[-1] and f"{ROOT}.paths" in layers[-1]


def test_every_module_is_in_exactly_one_layer():
    layers = doc_layers()
    for module in modules():
        held = [entry for entries in layers for entry in entries
                if layer_of(module, [(entry,)]) is not None]
        assert len(held) == 1, f"{module} is in the layers of doc/modules.md {len(held)} times"


def test_every_name_in_the_layers_is_a_module_or_a_folder():
    layers = doc_layers()
    for entries in layers:
        for entry in entries:
            assert any(layer_of(module, [(entry,)]) is not None for module in modules()), \
                f"doc/modules.md's layers name {entry}, which does not exist"


def test_no_module_imports_from_a_higher_layer():
    layers = doc_layers()
    found = [f"{module} (layer {layer_of(module, layers) + 1}) imports {imported} (layer "
             f"{layer_of(imported, layers) + 1})" for module, imported in
             upward_imports(import_graph(), layers)]
    assert found == [], "imports against the layers of doc/modules.md:\n" + "\n".join(found)


# -- the cloud libraries stay behind cloud/ -----------------------------------------------------
CLOUD_LIBRARIES = ("keystoneauth1", "novaclient")
CLOUD_INSIDES = ("nova", "glance", "cinder", "session")   # a Cloud's clients and its session


def cloud_reaches(source, filename="<sample>"):
    """What a module outside cloud/ must not do: import a cloud library (anywhere, lazily too),
    or read a Cloud's novaclient, adapters or session (`cloud.nova.client.get`)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        else:
            names = []
        found += [f"line {node.lineno}: imports {name}" for name in names
                  if name.split(".")[0] in CLOUD_LIBRARIES]
        if isinstance(node, ast.Attribute) and node.attr in CLOUD_INSIDES:
            found.append(f"line {node.lineno}: reads .{node.attr}")
    return found


@pytest.mark.parametrize("source", [
    "def f(cloud):\n    return cloud.nova.client.get('/servers/detail')\n",
    "def f(cloud):\n    return cloud.session.get_project_id()\n",
    "def f():\n    from keystoneauth1 import session\n",
    "import novaclient.client\n",
])
def test_the_cloud_check_finds_a_reach_into_the_cloud(source):
    assert cloud_reaches(source) != []


def test_only_cloud_speaks_to_keystoneauth_and_novaclient():
    found = {name: cloud_reaches(path.read_text(), str(path)) for name, path in modules().items()
             if not name.startswith(f"{ROOT}.cloud.") and name != f"{ROOT}.cloud"}
    assert {name: lines for name, lines in found.items() if lines} == {}
