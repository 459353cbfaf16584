"""Writing results so that a failure never damages the last good one: a file through a temp
file and a rename (`atomic_write_bytes`), a folder staged beside its destination and renamed
in one step (`staged`). Both end with the permissions the umask gives any new file (0644 and
0755 under the usual 022; Python's temp files start 0600/0700), so a `watch` service running
as another user can read a bundle, a checkpoint or an imported dataset. A failed write is one
line naming the path and what the OS said."""

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from edgegrade.errors import DataError, EdgegradeError, os_error


@lru_cache(maxsize=1)
def umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_created(path, directory: bool = False) -> None:
    """The mode an ordinary open() or mkdir() would have given `path`."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


def make_dir(path) -> Path:
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(path, exc, "create the folder") from None
    return path


@contextmanager
def atomic_file(path, mode: str = "wb"):
    """Yield a temp file beside `path` to write; on success it is synced and renamed over
    `path`, on any failure removed (the old `path` stays as it was)."""
    path = Path(path)
    make_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise os_error(path, exc) from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        as_created(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise os_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def read_json(path, what: str, kind: type | None = None):
    """A JSON file's value; one DataError naming the file when it cannot be read, is not JSON,
    or (with `kind`) is not that type."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise DataError(f"{path}: not a readable {what} ({str(exc).splitlines()[0]})") from None
    if kind is not None and not isinstance(value, kind):
        raise DataError(f"{path}: a JSON {type(value).__name__}, not {what}")
    return value


def cut_partial_line(path) -> None:
    """A file of one record per line (a JSONL log, metrics.csv) cut back to its last whole
    line: a crash or a full disk can leave half a record, and the next one appended must not
    run into it."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - (1 << 16)))
        tail = f.read()
        if not tail.endswith(b"\n"):
            f.truncate(size - len(tail) + tail.rfind(b"\n") + 1)


class Stage:
    """A temp folder being filled, and where it will go (`destination`, changeable until the
    end of the `staged` block)."""

    def __init__(self, folder: Path, destination: Path):
        self.folder, self.destination = folder, destination


@contextmanager
def staged(out):
    """Yield a Stage: a temp folder beside `out`; on success it replaces its destination (`out`
    unless changed) in one rename, on any failure it is removed, so no half folder is ever
    left and what was at the destination stays."""
    out = Path(out)
    make_dir(out.parent)
    try:
        stage = Stage(Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-")), out)
        as_created(stage.folder, directory=True)
    except OSError as exc:
        raise os_error(out, exc) from None
    try:
        yield stage
        _replace(stage.folder, stage.destination)
    except BaseException as exc:
        shutil.rmtree(stage.folder, ignore_errors=True)
        if isinstance(exc, OSError):
            raise EdgegradeError(f"{stage.destination}: cannot write ({exc.strerror or exc}); "
                                 "what was there is unchanged") from None
        if isinstance(exc, EdgegradeError):  # name the destination, not the temp folder just removed
            exc.message = exc.message.replace(str(stage.folder), str(stage.destination))
        raise


def _replace(folder: Path, dest: Path) -> None:
    """`folder` becomes `dest`; an old `dest` is put back if the rename fails."""
    if not dest.exists():
        os.replace(folder, dest)
        return
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    os.replace(dest, old)
    try:
        os.replace(folder, dest)
    except OSError:
        os.replace(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
