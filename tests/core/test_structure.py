"""The package's shape: no import cycles, layers that import only downwards, and a README
whose Layout section names every module there is."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "edgegrade"
README = PACKAGE.parent / "README.md"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path, modules) -> set[str]:
    """Every edgegrade module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("edgegrade"):
                found.add(name)
    return found


def _graph():
    modules = _modules()
    return {m: _imports(p, modules) - {m} for m, p in modules.items()}


def test_no_import_cycles():
    graph = _graph()
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = "open"
        for n in sorted(graph.get(m, ())):
            if n == "edgegrade":  # `from edgegrade import __version__`: the package's own __init__
                continue
            if state.get(n) == "open":
                cycles.append(stack[stack.index(n):] + [n] if n in stack else [m, n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_layers_import_downwards_only():
    """core <- train <- export; core <- runtime <- export; cli on top. The runtime never
    reaches torch, and the core imports no stage."""
    stages = ("edgegrade.train", "edgegrade.export", "edgegrade.runtime", "edgegrade.cli")
    allowed = {"edgegrade.train": (), "edgegrade.runtime": (), "edgegrade.export": ("edgegrade.train", "edgegrade.runtime")}
    for m, deps in _graph().items():
        layer = next((s for s in stages if m == s or m.startswith(s + ".")), "core")
        if layer == "edgegrade.cli" or m == "edgegrade.__main__":
            continue
        for d in deps:
            target = next((s for s in stages if d == s or d.startswith(s + ".")), "core")
            if target == "core" or target == layer:
                continue
            assert target in allowed.get(layer, ()), f"{m} ({layer}) imports {d}"


def test_readme_layout_names_every_module():
    text = README.read_text()
    layout = text[text.index("## Layout"):]
    layout = layout[:layout.index("\n## ", 4)]
    listed = {}
    for block in re.split(r"\n    (?=edgegrade/|benchmarks/|tests/)", layout):
        head, _, rest = block.partition(" ")
        listed[head.strip()] = set(re.findall(r"[a-z_0-9]+", rest))
    for m, path in _modules().items():
        folder = path.parent.relative_to(PACKAGE.parent).as_posix() + "/"
        if path.stem in ("__init__", "__main__"):
            continue
        assert folder in listed and path.stem in listed[folder], f"README Layout does not name {folder}{path.stem}"
