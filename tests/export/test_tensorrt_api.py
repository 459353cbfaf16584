"""Every TensorRT name the project uses exists in the Python bindings of TensorRT 10.3 (JetPack
6) and 11.x, checked without a GPU against the names `scripts/tensorrt_names.py` extracted
from the `tensorrt-cu12-bindings` wheels (tests/export/tensorrt_names/; x86 wheels: the
aarch64 JetPack build binds the same names from the same sources).

The uses are found by walking the AST of every module that imports tensorrt: the module's
`trt` and every name or `self.` attribute assigned from an expression rooted in it (builder,
network, config, engine, context, ...); each attribute read or written on such a value is a
use, and `getattr(x, "NAME", default)` a probe (allowed to exist in one version only). A
TensorRT value passed to a function of the same module taints that parameter.

What this catches: a name removed or renamed between versions (BuilderFlag.FP16 and INT8 are
gone in 11, `execute_async_v2` and `build_engine` in 10), a typo. What it cannot: which class
owns a name (the lists are bare names: `config.num_DLA_cores` would pass because the
builder has one), argument types and counts, behaviour, values reached through a call whose
result the walk does not follow (a list of tensors, a loop variable), and a name that only
exists as the tail of a longer string in the library (the linker merges them, "Logger" in
"ILogger", so a tail counts as present)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = Path(__file__).parent / "tensorrt_names"
VERSIONS = sorted(NAMES.glob("tensorrt-*.txt"))


def known(path: Path) -> set[str]:
    return {line for line in path.read_text().splitlines() if line and not line.startswith("#")}


def present(name: str, names: set[str]) -> bool:
    return name in names or any(n.endswith(name) for n in names)


def _imports_tensorrt(node) -> bool:
    return (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require" and node.args
            and getattr(node.args[0], "value", None) == "tensorrt")


def trt_uses(source: str) -> tuple[set[str], set[str]]:
    """(attribute names used on TensorRT values, names probed with getattr/hasattr). Local
    names are followed per function, `self.` attributes across the module."""
    tree = ast.parse(source)
    module = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
              for a in n.names if a.name == "tensorrt"}
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    shared = set(module)  # the module's trt and self.X attributes
    local = {id(f): set() for f in functions}

    def key(node):
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            return f"self.{node.attr}"
        return None

    def rooted(node, names) -> bool:
        while True:
            if key(node) in names:
                return True
            if isinstance(node, (ast.Attribute, ast.Subscript)):
                node = node.value
            elif isinstance(node, ast.Call):
                node = node.func
            else:
                return False

    by_name = {f.name: f for f in functions}
    grew = True
    while grew:
        grew = False
        for f in functions:
            names = shared | local[id(f)]
            for node in ast.walk(f):
                callee = by_name.get(getattr(getattr(node, "func", None), "id", None))
                if isinstance(node, ast.Call) and callee is not None:  # TensorRT values passed on
                    for param, arg in zip(callee.args.args, node.args):
                        if rooted(arg, names) and param.arg not in local[id(callee)]:
                            local[id(callee)].add(param.arg)
                            grew = True
                if isinstance(node, ast.Assign) and (_imports_tensorrt(node.value) or rooted(node.value, names)):
                    for target in node.targets:
                        k = key(target)
                        where = shared if k and k.startswith("self.") else local[id(f)]
                        if k and k not in where:
                            where.add(k)
                            names.add(k)
                            grew = True
    used, probed = set(), set()
    for f in functions:
        names = shared | local[id(f)]
        for node in ast.walk(f):
            if isinstance(node, ast.Attribute) and rooted(node.value, names):
                used.add(node.attr)
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("getattr", "hasattr")
                    and len(node.args) >= 2 and rooted(node.args[0], names) and isinstance(node.args[1], ast.Constant)):
                probed.add(node.args[1].value)
    return used, probed


def project_uses() -> tuple[set[str], set[str]]:
    used, probed = set(), set()
    for path in (ROOT / "edgegrade").rglob("*.py"):
        text = path.read_text()
        if "tensorrt" in text:
            u, p = trt_uses(text)
            used |= u
            probed |= p
    return used, probed


def test_the_walk_finds_the_uses():
    used, probed = project_uses()
    assert {"Builder", "OnnxParser", "create_builder_config", "set_memory_pool_limit", "build_serialized_network",
            "set_tensor_address", "execute_async_v3", "deserialize_cuda_engine", "nptype", "DLA_core",
            "default_device_type", "set_flag", "num_DLA_cores"} <= used | probed
    assert "STRONGLY_TYPED" in probed
    sample = ("def build(x):\n    trt = require('tensorrt', 'trt')\n    b = trt.Builder(x)\n"
              "    c = b.create_builder_config()\n    c.set_flag(trt.BuilderFlag.FP16)\n")
    u, _ = trt_uses(sample)
    assert {"Builder", "create_builder_config", "set_flag", "BuilderFlag", "FP16"} <= u


@pytest.mark.parametrize("names_file", VERSIONS, ids=lambda p: p.stem)
def test_every_tensorrt_name_used_exists(names_file):
    names = known(names_file)
    used, _ = project_uses()
    missing = sorted(n for n in used if not present(n, names))
    assert not missing, f"{names_file.stem} lacks {missing}"


def test_probed_names_exist_somewhere_and_the_lists_tell_versions_apart():
    lists = [known(p) for p in VERSIONS]
    assert len(lists) >= 2, "need the 10.3 and 11.x name lists (scripts/tensorrt_names.py)"
    _, probed = project_uses()
    assert all(any(present(n, names) for names in lists) for n in probed)
    old, new = known(NAMES / "tensorrt-10.3.0.txt"), next(known(p) for p in VERSIONS if "-11." in p.name)
    assert present("FP16", old) and not present("FP16", new)  # the precision flag TensorRT 11 removed
    assert not any(present("build_engine", names) or present("execute_async_v2", names) for names in (old, new))
