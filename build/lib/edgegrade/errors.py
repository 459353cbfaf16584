"""One error type that the CLI prints as a single line naming the file or flag at fault."""

import importlib

import click


class EdgegradeError(click.ClickException):
    """A user-facing failure: bad input, missing file, failed gate. Printed as one line."""

    exit_code = 2


class DataError(EdgegradeError):
    """A data file that cannot be used; the message names the file."""


class GateFailed(EdgegradeError):
    """An exported artifact drifted past its accuracy tolerance."""

    exit_code = 3


def require(module: str, extra: str):
    """Import an optional heavy package, or fail with the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EdgegradeError(
            f"{module} is not installed ({exc}); install it with: pip install 'edgegrade[{extra}]'"
        ) from None
