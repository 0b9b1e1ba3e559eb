"""What the ingest commands share: printing the report and one-line errors (no tracebacks); the progress bar is
:func:`prior.progress.progress_bar`, the one every long job uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.services.ingest import IngestError, IngestRejected, IngestReport
from prior.progress import Progress


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
