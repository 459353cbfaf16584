"""The names the TensorRT Python bindings define, from the bindings wheel alone (no GPU, no
TensorRT libraries): every NUL-terminated identifier in its tensorrt.so (pybind11 keeps each
class, method, property and enum member name as a C string) and the names its __init__.py
defines. The linker merges a string into the tail of a longer one ("Logger" inside
"ILogger"), so each string's trailing identifier is kept whole and a name counts as present
when some kept string ends with it (tests/export/test_tensorrt_api.py).

    python scripts/tensorrt_names.py WHEEL... --out tests/export/tensorrt_names
    (wheels: pip download --no-deps "tensorrt-cu12-bindings==10.3.*" "tensorrt-cu12-bindings==11.*")
"""

import argparse
import ast
import re
import zipfile
from pathlib import Path

IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*$")


def names(wheel: Path) -> tuple[str, list[str]]:
    with zipfile.ZipFile(wheel) as z:
        so = next(n for n in z.namelist() if n.endswith("/tensorrt.so"))
        init = z.read(so.rsplit("/", 1)[0] + "/__init__.py").decode()
        found = set()
        for chunk in z.read(so).split(b"\0"):
            tail = IDENT.search(chunk)
            name = tail.group().decode() if tail else ""
            if 1 < len(name) <= 64 and not name.startswith("_Z"):  # not C++ symbols
                found.add(name)
    tree = ast.parse(init)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Assign):
            found.update(t.id for t in node.targets if isinstance(t, ast.Name))
    version = re.search(r'__version__ = "([^"]+)"', init).group(1)
    return version, sorted(found)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("wheels", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for wheel in a.wheels:
        version, found = names(wheel)
        path = a.out / f"tensorrt-{version}.txt"
        path.write_text(f"# {wheel.name}: {len(found)} names (scripts/tensorrt_names.py)\n" + "\n".join(found) + "\n")
        print(f"{path}: {len(found)} names")
