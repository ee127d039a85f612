"""The package's layers: every import, function-level ones included, points down or sideways,
and no modules import one another in a circle (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lightning_wgen"

# Bottom first; a module may import its own layer and those below. Longest prefix wins
# ("zoo.cli" is a command, the rest of "zoo" is not); "" is the package's root, which re-exports.
LAYERS = [
    ("foundation", ["errors", "random_state", "checkpoint_io"]),
    ("maths, networks and data", ["losses", "nets", "ot", "data", "refine"]),
    ("metrics", ["metrics"]),
    ("models", ["models"]),
    ("weights from files", ["zoo", "loading"]),
    ("callbacks", ["callbacks"]),
    ("commands", ["resume", "cli_messages", "sampling", "fit_ot", "zoo.cli", "cli", ""]),
]


def module_names() -> dict[str, Path]:
    """Dotted names below the package (``models.base``; ``""`` for the root) and their files."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``path`` imports anywhere in it (top level, functions, classes)."""

    def known(dotted: str) -> str:
        name = dotted.removeprefix("lightning_wgen").removeprefix(".")
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from lightning_wgen.x import y": y may be a module or a name defined in x
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {known(n) for n in names if n.split(".")[0] == "lightning_wgen"}
    return found


def layer_of(module: str) -> int:
    best = max(
        ((len(prefix), i) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
         if module == prefix or module.startswith(prefix + ".") or prefix == ""),
    )  # fmt: skip
    return best[1]


def graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_every_import_points_down_or_sideways():
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in graph().items()
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, found, counter = {}, {}, [], [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_modules_import_one_another_in_a_circle():
    assert circles(graph()) == []


def test_the_checks_see_what_they_look_for(tmp_path):
    # the walk finds a function-level import and the circle it closes; an upward one is named
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from lightning_wgen.loading import init_weights\n")
    assert imports_of(probe, module_names()) == {"loading"}
    assert layer_of("models.base") < layer_of("loading") < layer_of("zoo.cli") == layer_of("")
    assert layer_of("zoo.registry") == layer_of("loading")


@pytest.mark.parametrize("family", ["models.base", "models.adversarial", "models.autoencoder"])
def test_models_never_import_loading_the_zoo_or_the_commands(family):
    assert not {t for t in graph()[family] if layer_of(t) > layer_of("models")}


# The layer under the families stays small enough to read: the base at most 260 lines, the two
# family bases at most 300 each, and every other file of models/ one screen (100 lines).
# sampling.py: the prior, sampling with its critic-guided refinements, DDP-sharded noise
LINE_BUDGETS = {"base.py": 260, "adversarial.py": 300, "autoencoder.py": 300, "sampling.py": 110}


def test_the_model_layer_stays_lean():
    lines = {p.name: len(p.read_text().splitlines()) for p in (PACKAGE / "models").glob("*.py")}
    over = {n: c for n, c in lines.items() if c > LINE_BUDGETS.get(n, 100)}
    assert over == {}, f"over their line budget: {over}"
