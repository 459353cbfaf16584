"""The bundle: a folder with manifest.json beside the model files. Export writes it through a
temp folder and a rename; the runtime reads preprocessing and files from it, never from its
own defaults, and checks every file's hash."""

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from edgegrade.errors import EdgegradeError
from edgegrade.imageio import atomic_write_bytes

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


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
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise EdgegradeError(f"{path}: corrupt manifest ({exc})") from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise EdgegradeError(f"{path}: schema version {manifest.get('schema_version')}, this edgegrade reads {SCHEMA_VERSION}")
    for key in ("preprocess", "modules", "grade_table"):
        if key not in manifest:
            raise EdgegradeError(f"{path}: manifest lacks '{key}'")
    if check_hashes:
        for entry in artifact_entries(manifest):
            f = bundle / entry["file"]
            if not f.is_file():
                raise EdgegradeError(f"{f}: listed in the manifest but missing")
            if sha256(f) != entry["sha256"]:
                raise EdgegradeError(f"{f}: does not match the manifest's sha256 (corrupt or replaced)")
    return manifest


def artifact_entries(manifest: dict):
    for module in manifest["modules"].values():
        yield from module.get("artifacts", {}).values()
        yield from module.get("engines", {}).values()


class Stage:
    """A temp folder being filled, and where it will go (`destination`, changeable until the
    end of the `staged` block)."""

    def __init__(self, folder: Path, destination: Path):
        self.folder, self.destination = folder, destination


@contextmanager
def staged(out: Path):
    """Yield a Stage: a temp folder beside `out`; on success it replaces its destination (`out`
    unless changed) in one rename, on any failure it is removed, so no half bundle is ever left."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Stage(Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-")), out)
    try:
        yield stage
        dest = stage.destination
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(stage.folder, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage.folder, dest)
    except BaseException:
        shutil.rmtree(stage.folder, ignore_errors=True)
        raise
