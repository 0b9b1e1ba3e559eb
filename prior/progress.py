"""The one progress bar of the project's long jobs: training, dataset building, ingest, the demo, purges.

A bar is a tqdm bar on stderr (stdout stays for results and reports), called with the number of items done, so a
service can take it as a plain ``progress(n)`` callback without knowing about tqdm. Whether it shows is the
caller's choice, or, left open (``None``), whether stderr is a terminal: no bars in logs, CI or tests.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


def show_progress(enabled: bool | None) -> bool:
    """An explicit choice, else a bar only when stderr is a terminal."""
    return sys.stderr.isatty() if enabled is None else bool(enabled)


class Progress:
    """A bar called with the number of items done; :meth:`close` may be called more than once."""

    def __init__(
        self, total: int | None, unit: str, enabled: bool | None = None, *, desc: str | None = None,
        initial: int = 0, unit_scale: bool = False,
    ) -> None:
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, unit_scale=unit_scale,
                        dynamic_ncols=True, file=sys.stderr, disable=not show_progress(enabled))

    def __call__(self, n: int = 1) -> None:
        self.bar.update(n)

    def note(self, **values: str) -> None:
        """Show ``values`` after the bar (e.g. the running loss)."""
        self.bar.set_postfix(**values)

    def close(self) -> None:
        self.bar.close()


@contextmanager
def progress_bar(
    total: int | None, unit: str, enabled: bool | None = None, *, desc: str | None = None, initial: int = 0,
    unit_scale: bool = False,
) -> Iterator[Progress]:
    """``with progress_bar(n, "rows") as progress: ... progress(k)``; closed however the block ends."""
    progress = Progress(total, unit, enabled, desc=desc, initial=initial, unit_scale=unit_scale)
    try:
        yield progress
    finally:
        progress.close()
