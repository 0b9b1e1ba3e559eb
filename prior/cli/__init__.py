"""Sub-commands of ``python -m prior``; see :mod:`prior.__main__`."""


class CliError(Exception):
    """A user error: printed as one line by the CLI, with exit status 2."""
