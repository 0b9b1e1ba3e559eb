"""What the ingest commands share: the progress bar, printing the report, and one-line errors (no tracebacks)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.services.ingest import IngestError, IngestRejected, IngestReport


class Progress:
    """A tqdm bar on stderr, called with the number of rows done; closed before the report is printed."""

    def __init__(self, total: int | None, unit: str, enabled: bool = True):
        self.bar = tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, file=sys.stderr,
                        disable=not enabled)

    def __call__(self, n: int = 1) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def progress_bar(total: int | None, unit: str, enabled: bool = True):
    progress = Progress(total, unit, enabled)
    try:
        yield progress
    finally:
        progress.close()


def print_errors(command: BaseCommand, report: IngestReport) -> None:
    for line in report.error_lines():
        command.stderr.write(line)


def run_ingest(
    command: BaseCommand, ingest: Callable[[], IngestReport], progress: Progress | None = None
) -> IngestReport:
    """Run ``ingest``; print the summary (and every bad row); turn failures into a one-line CommandError."""
    try:
        report = ingest()
    except IngestRejected as exc:
        if progress is not None:
            progress.close()
        print_errors(command, exc.report)
        raise CommandError(f"{exc.report.space}: {exc}") from None
    except IngestError as exc:
        raise CommandError(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()
    print_errors(command, report)
    command.stdout.write(command.style.SUCCESS(report.summary()))
    return report


def encoder_or_error(loader: Callable[[], Any]) -> Any:
    from prior.encoders.base import EncoderError

    try:
        return loader()
    except EncoderError as exc:
        raise CommandError(f"encoder: {exc}") from None
