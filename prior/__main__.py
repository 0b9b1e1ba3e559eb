"""``python -m prior``: train, evaluate and make data for the prior on files alone (docs/prior-model.md).

Each sub-command lives in its own module under :mod:`prior.cli` and exposes ``register(subparsers)``,
which adds its parser and sets ``func``. Bad input ends with a one-line message and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from prior.cli import CliError

COMMAND_MODULES = (
    "prior.cli.data",
    "prior.cli.train",
    "prior.cli.evaluate",
    "prior.cli.encoders",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prior", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that command is not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
