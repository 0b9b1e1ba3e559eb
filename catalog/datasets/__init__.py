"""Readers for the real data sets in ``../shared/data/`` (MusicCaps, MTG-Jamendo), read where they lie.

Each reader streams its file and yields :class:`catalog.ingest.records.TrackRecord` rows whose ``text`` is the
description the offline text-proxy encoder embeds (docs/encoders.md), or :class:`RowError` for rows it cannot use.
The data directory is ``settings.BASE_DIR.parent / "shared" / "data"``, or ``$SHARED_DATA_DIR`` if set.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


class DatasetMissing(FileNotFoundError):
    """A data file is not where it should be; the message names the path and the variable that moves it."""


def data_dir() -> Path:
    override = os.environ.get("SHARED_DATA_DIR")
    return Path(override) if override else Path(settings.BASE_DIR).parent / "shared" / "data"


def data_file(*parts: str) -> Path:
    path = data_dir().joinpath(*parts)
    if not path.is_file():
        raise DatasetMissing(f"{path}: no such file (set SHARED_DATA_DIR to the folder holding the shared data)")
    return path
