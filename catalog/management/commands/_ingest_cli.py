"""What the ingest commands share: the progress bar, printing the report, and one-line errors (no tracebacks)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.services.ingest import IngestError, IngestRejected, IngestReport


@contextmanager
def progress_bar(total: int | None, unit: str, enabled: bool = True):
    """A tqdm bar on stderr (hidden when ``enabled`` is False or stderr is not a terminal and --no-progress)."""
    bar = tqdm(total=total, unit=unit, unit_scale=True, dynamic_ncols=True, file=sys.stderr, disable=not enabled)
    try:
        yield bar.update
    finally:
        bar.close()


def print_errors(command: BaseCommand, report: IngestReport) -> None:
    for line in report.error_lines():
        command.stderr.write(line)


def run_ingest(command: BaseCommand, ingest: Callable[[], IngestReport]) -> IngestReport:
    """Run ``ingest``; print the summary (and every bad row); turn failures into a one-line CommandError."""
    try:
        report = ingest()
    except IngestRejected as exc:
        print_errors(command, exc.report)
        raise CommandError(f"{exc.report.space}: {exc}") from None
    except IngestError as exc:
        raise CommandError(str(exc)) from None
    print_errors(command, report)
    command.stdout.write(command.style.SUCCESS(report.summary()))
    return report


def encoder_or_error(loader: Callable[[], Any]) -> Any:
    from prior.encoders.base import EncoderError

    try:
        return loader()
    except EncoderError as exc:
        raise CommandError(f"encoder: {exc}") from None
