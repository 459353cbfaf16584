"""One error type that the CLI prints as a single line naming the file or flag at fault.

Exit codes: 0 done; 1 done, but some input could not be used (`Incomplete`, `data check`'s
problems); 2 an error (`EdgegradeError`: bad input, a flag out of range, a file that cannot be
read or written; nothing good on disk was changed); 3 an accuracy gate failed (`GateFailed`);
4 an audit log of decisions failed verification (`AuditBroken`); 130 interrupted (Ctrl-C) in
a command other than `watch`, whose SIGINT/SIGTERM stop is clean (exit 0)."""

import importlib
import re

import click

# The last line of a traceback: "package.module.SomeError: message"
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Failed|Incomplete): ")


def one_line(message) -> str:
    """The message itself, on one line. A torch DataLoader worker's error is re-raised in the
    main process with the worker's whole traceback in its message ("Caught DataError in
    DataLoader worker process 0. Original Traceback ..."): keep what the worker said."""
    text = str(message).strip()
    if "Original Traceback" in text:
        text = _RAISED.sub("", text.splitlines()[-1].strip(), count=1)
    return " ".join(text.split("\n"))


class EdgegradeError(click.ClickException):
    """A user-facing failure: bad input, missing file, failed gate. Printed as one line."""

    exit_code = 2

    def __init__(self, message):
        super().__init__(one_line(message))


class DataError(EdgegradeError):
    """A data file that cannot be used; the message names the file."""


class GateFailed(EdgegradeError):
    """An exported artifact drifted past its accuracy tolerance."""

    exit_code = 3


class Incomplete(EdgegradeError):
    """The command did its work, but some of the input could not be used (frames or images
    that could not be read); the message says how much and where the rest is recorded."""

    exit_code = 1

    def show(self, file=None):
        click.echo(f"incomplete: {self.format_message()}", err=True)


class AuditBroken(EdgegradeError):
    """The audit log of decisions does not verify (an edit, a deletion, a cut-off tail):
    `report` writes the report saying so, `confirm` records nothing."""

    exit_code = 4


class Interrupted(EdgegradeError):
    """Ctrl-C in a command that does not stop by itself on a signal (what was written stays:
    every result file is written whole or not at all)."""

    exit_code = 130


def os_error(path, exc: OSError, doing: str = "write") -> EdgegradeError:
    """One line for a failed read or write: the path and what the OS said (no space left,
    read-only file system, permission denied)."""
    return EdgegradeError(f"{path}: cannot {doing} ({exc.strerror or exc})")


def require(module: str, extra: str):
    """Import an optional heavy package, or fail with the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EdgegradeError(
            f"{module} is not installed ({exc}); install it with: pip install 'edgegrade[{extra}]'"
        ) from None
