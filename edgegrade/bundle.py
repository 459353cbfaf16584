"""The bundle: a folder with manifest.json beside the model files. Export writes it through a
temp folder and a rename (edgegrade.files.staged); the runtime reads preprocessing and files
from it, never from its own defaults, and checks the manifest's structure and every file's
hash before it trusts either."""

import hashlib
import json
import re
from pathlib import Path, PurePosixPath

from edgegrade.errors import EdgegradeError
from edgegrade.files import atomic_write_bytes

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_entry(bundle: Path, path: Path) -> dict:
    return {"file": path.relative_to(bundle).as_posix(), "sha256": sha256(path),
            "bytes": path.stat().st_size}


def write_manifest(bundle: Path, manifest: dict) -> None:
    atomic_write_bytes(bundle / MANIFEST, json.dumps(manifest, indent=2).encode())


def read_manifest(bundle, check_hashes: bool = True) -> dict:
    bundle = Path(bundle)
    path = bundle / MANIFEST
    if not path.is_file():
        raise EdgegradeError(f"{bundle}: not a bundle (no {MANIFEST}); make one with `edgegrade export`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise EdgegradeError(f"{path}: corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise EdgegradeError(f"{path}: malformed manifest: a JSON {type(manifest).__name__}, not an object")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise EdgegradeError(f"{path}: schema version {manifest.get('schema_version')}, this edgegrade reads {SCHEMA_VERSION}")
    for key in ("preprocess", "modules", "grade_table"):
        if key not in manifest:
            raise EdgegradeError(f"{path}: manifest lacks '{key}'")
    check_structure(path, manifest)
    if check_hashes:
        for entry in artifact_entries(manifest):
            f = bundle / entry["file"]
            if not f.is_file():
                raise EdgegradeError(f"{f}: listed in the manifest but missing")
            if sha256(f) != entry["sha256"]:
                raise EdgegradeError(f"{f}: does not match the manifest's sha256 (corrupt or replaced)")
    return manifest


def check_structure(path, m: dict) -> None:
    """What the runtime reads, each of the type it needs: a manifest that parses but was
    edited or written by something else fails here in one line, not deep in the runtime."""
    def need(ok, what):
        if not ok:
            raise EdgegradeError(f"{path}: malformed manifest: {what}")

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    pre = m["preprocess"]
    need(isinstance(pre, dict), "'preprocess' is not an object")
    need(type(pre.get("size")) is int and pre["size"] > 0,
         f"preprocess.size {pre.get('size')!r} is not a positive integer")
    for key in ("mean", "std"):
        v = pre.get(key)
        need(isinstance(v, list) and len(v) == 3 and all(map(number, v)), f"preprocess.{key} is not three numbers")
    need(all(x > 0 for x in pre["std"]), "preprocess.std has a value that is not positive")
    need(pre.get("crop", "full") in ("full", "embryo"), f"preprocess.crop {pre.get('crop')!r} is not full or embryo")
    need(number(pre.get("margin", 1.5)) and pre.get("margin", 1.5) >= 1, "preprocess.margin is not a number >= 1")
    need(isinstance(m["grade_table"], list), "'grade_table' is not a list")
    modules = m["modules"]
    need(isinstance(modules, dict) and modules, "'modules' is not an object naming at least one module")
    need(isinstance(m.get("precision"), str), "'precision' is missing or not a string")
    for role, mod in modules.items():
        need(isinstance(mod, dict) and isinstance(mod.get("artifacts"), dict),
             f"modules.{role} has no 'artifacts' object")
        need(m["precision"] in mod["artifacts"], f"modules.{role} has no {m['precision']} artifact")
        need(isinstance(mod.get("engines", {}), dict), f"modules.{role}.engines is not an object")
        for kind in ("artifacts", "engines"):
            for prec, entry in mod.get(kind, {}).items():
                where = f"modules.{role}.{kind}.{prec}"
                need(isinstance(entry, dict), f"{where} is not an object")
                f = entry.get("file")
                inside = isinstance(f, str) and f and not PurePosixPath(f).is_absolute() \
                    and ".." not in PurePosixPath(f).parts
                need(inside, f"{where}.file is not a file name inside the bundle")
                need(isinstance(entry.get("sha256"), str) and _SHA256.match(entry["sha256"]),
                     f"{where} has no sha256 (64 hex digits)")
                need(type(entry.get("bytes", 0)) is int, f"{where}.bytes is not an integer")


def artifact_entries(manifest: dict):
    for module in manifest["modules"].values():
        yield from module.get("artifacts", {}).values()
        yield from module.get("engines", {}).values()
