"""Helpers of the bad-input matrix (tests/*/test_bad_*.py): run a command in-process as a
user would (click's runner), check what they see (the exit code, one line naming the file or
flag, no traceback) and that nothing on disk was lost or left half-written; disks that are
full or read-only.

Tests run as root, where chmod stops no write. A full or read-only disk is a tmpfs mounted
for the test where mounting is permitted (root with CAP_SYS_ADMIN: this machine, CI): writes
fail with ENOSPC / EROFS as on a real disk. Where it is not, every file write of this process
is capped with RLIMIT_FSIZE for the duration of the command (EFBIG past the cap; a cap of 0
for read-only), which fails the same write calls with an OSError of another number.
"""

import hashlib
import os
import resource
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner

from edgegrade.cli import main

_MOUNT_OK = None


def run_cli(args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


def assert_one_line(result, code: int, *needles: str) -> str:
    """The command exited with `code`, raised nothing past click (no traceback), and said
    why in one line naming the file or flag (every needle in it). -> that line."""
    assert result.exit_code == code, f"exit {result.exit_code}, wanted {code}:\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    prefix = "incomplete: " if code == 1 else "Error: "
    lines = [line for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def tree(root) -> dict[str, str]:
    """Every file under root (hidden ones too) -> its sha256: what "nothing lost, nothing
    half-written" compares."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(root) -> list[str]:
    """Temp files and folders of an interrupted write (edgegrade names them .NAME.*)."""
    return [p.name for p in Path(root).rglob(".*")]


def mount_permitted() -> bool:
    """Whether a tmpfs can be mounted here (EDGEGRADE_TEST_MOUNT=0 says no, to try the other way)."""
    global _MOUNT_OK
    if _MOUNT_OK is None and os.environ.get("EDGEGRADE_TEST_MOUNT") == "0":
        _MOUNT_OK = False
    if _MOUNT_OK is None:
        probe = Path(f"/tmp/.edgegrade-mount-probe-{os.getpid()}")
        probe.mkdir(exist_ok=True)
        _MOUNT_OK = _mount(probe, 64)
        if _MOUNT_OK:
            _umount(probe)
        probe.rmdir()
    return _MOUNT_OK


def _mount(path: Path, kb: int) -> bool:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={max(kb, 4)}k,mode=0755", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextmanager
def disk(path, free_kb: int, read_only: bool = False, fill=None):
    """`path` (created) on a disk with about `free_kb` KiB of room left after `fill(path)` has
    put files there, or none when `read_only`. Yields how it was simulated: "tmpfs" (sized to
    what `fill` used plus `free_kb`) or "rlimit" (every file capped at `free_kb`)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if mount_permitted():
        assert _mount(path, 1 << 20)
        try:
            if fill:
                fill(path)
            st = os.statvfs(path)
            used_kb = (st.f_blocks - st.f_bfree) * st.f_frsize // 1024
            subprocess.run(["mount", "-o", f"remount,size={used_kb + max(free_kb, 4)}k" + (",ro" if read_only else ""),
                            str(path)], check=True, capture_output=True)
            yield "tmpfs"
        finally:
            _umount(path)
        return
    if fill:
        fill(path)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (0 if read_only else free_kb * 1024, old[1]))
    try:
        yield "rlimit"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, old_handler)
