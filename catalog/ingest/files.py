"""Streaming readers for track files: CSV, JSONL and Parquet, with embeddings inline or in a sidecar ``.npy``.

Nothing here loads a whole file: CSV and JSONL are read line by line, Parquet batch by batch (pyarrow), and a
sidecar ``.npy`` is memory-mapped (row ``i`` belongs to the ``i``-th record of the file, counting from 0; blank
JSONL lines are not records). Each reader yields :class:`TrackRecord` for good rows and :class:`RowError` for bad
ones (with the line number for CSV/JSONL, the 1-based row number for Parquet), so the ingest service can report
every bad row of a file at once. Problems with the file as a whole raise :class:`FileInvalid`.

Columns: ``external_id`` (or ``id``), optional ``source``, ``title``, ``artist``, ``album``, ``tags``,
``duration_s``, ``url``, ``metadata``, ``embedding``, ``audio``; other columns are kept in ``metadata``.
In CSV, ``tags`` is a JSON list or ``a|b|c``, ``metadata`` a JSON object and ``embedding`` a JSON list.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from catalog.ingest.records import RowError, RowInvalid, TrackRecord, parse_record

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
PARQUET_BATCH_ROWS = 4096
_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by errors="surrogateescape"

Item = TrackRecord | RowError


class FileInvalid(ValueError):
    """The file as a whole cannot be read (format, header, sidecar); the message says why."""


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise FileInvalid(f"unknown format {fmt!r}; use csv, jsonl or parquet")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise FileInvalid(f"{Path(path).name}: cannot tell the format from {suffix or 'no extension'!r}; "
                          "use .csv, .jsonl or .parquet (or --format)")
    return FORMATS[suffix]


def _open_sidecar(path: str | Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise FileInvalid(f"{Path(path).name}: not a readable .npy file ({exc})") from None
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise FileInvalid(f"{Path(path).name}: the sidecar must be a 2-d numeric array [records, dim], "
                          f"got {array.dtype} {array.shape}")
    return array


@dataclass
class TrackFile:
    """An iterable over the rows of one file; iterate it once per ingest (it reopens the file each time)."""

    path: Path
    fmt: str
    default_source: str = ""
    sidecar: Path | None = None

    @classmethod
    def open(cls, path: str | Path, *, fmt: str | None = None, default_source: str = "",
             sidecar: str | Path | None = None) -> TrackFile:
        path = Path(path)
        if not path.is_file():
            raise FileInvalid(f"{path}: no such file")
        track_file = cls(path, detect_format(path, fmt), default_source, Path(sidecar) if sidecar else None)
        if track_file.sidecar is not None:
            _open_sidecar(track_file.sidecar)  # fail early on a bad sidecar
        return track_file

    @property
    def row_label(self) -> str:
        return "row" if self.fmt == "parquet" else "line"

    @property
    def total(self) -> int | None:
        """Number of records when it is cheap to know (Parquet footer, sidecar length), for the progress bar."""
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            try:
                return pq.ParquetFile(self.path).metadata.num_rows
            except Exception:  # noqa: BLE001 - the real error is reported when the rows are read
                return None
        if self.sidecar is not None:
            return len(_open_sidecar(self.sidecar))
        return None

    def __iter__(self) -> Iterator[Item]:
        rows = {"csv": self._csv_rows, "jsonl": self._jsonl_rows, "parquet": self._parquet_rows}[self.fmt]()
        if self.sidecar is None:
            yield from (self._parse(row, raw) for row, raw in rows)
            return
        vectors = _open_sidecar(self.sidecar)
        count = 0
        for count, (row, raw) in enumerate(rows, start=1):
            item = self._parse(row, raw)
            if isinstance(item, TrackRecord):
                if count > len(vectors):
                    item = RowError(row, f"no row {count - 1} in the sidecar (it has {len(vectors)} rows)",
                                    item.external_id)
                else:
                    item.embedding = np.array(vectors[count - 1], dtype=np.float64)
            yield item
        if count < len(vectors):
            yield RowError(None, f"the sidecar has {len(vectors)} rows but the file has {count} records")

    def _parse(self, row: int, raw: dict[str, Any] | RowError) -> Item:
        if isinstance(raw, RowError):
            return raw
        try:
            return parse_record(raw, row, default_source=self.default_source)
        except RowInvalid as exc:
            external_id = raw.get("external_id") or raw.get("id") if isinstance(raw, dict) else None
            return RowError(row, str(exc), str(external_id) if external_id not in (None, "") else None)

    # --- formats: each yields (row number, dict or RowError) -------------------------------------------------

    def _csv_rows(self) -> Iterator[tuple[int, dict | RowError]]:
        with open(self.path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileInvalid(f"{self.path.name}: unreadable CSV header ({exc})") from None
            if not {"external_id", "id"} & set(header):
                raise FileInvalid(f"{self.path.name}: no external_id (or id) column in the header")
            start = reader.line_num + 1
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield start, RowError(start, f"unparsable CSV line ({exc})")
                    start = reader.line_num + 1
                    continue
                row, start = start, reader.line_num + 1
                if not fields or fields == [""]:
                    continue
                if len(fields) != len(header):
                    yield row, RowError(row, f"unparsable line: {len(fields)} fields, the header has {len(header)}")
                elif any(_SURROGATE.search(f) for f in fields):
                    yield row, RowError(row, "unparsable line: not valid UTF-8")
                else:
                    yield row, dict(zip(header, fields, strict=True))

    def _jsonl_rows(self) -> Iterator[tuple[int, dict | RowError]]:
        with open(self.path, "rb") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    yield line_no, RowError(line_no, f"unparsable line: not valid JSON ({_short(exc)})")
                    continue
                if not isinstance(raw, dict):
                    yield line_no, RowError(line_no, "unparsable line: not a JSON object")
                    continue
                yield line_no, raw

    def _parquet_rows(self) -> Iterator[tuple[int, dict | RowError]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
            names = parquet.schema_arrow.names
        except (pa.ArrowException, OSError) as exc:
            raise FileInvalid(f"{self.path.name}: not a readable Parquet file ({_short(exc)})") from None
        if not {"external_id", "id"} & set(names):
            raise FileInvalid(f"{self.path.name}: no external_id (or id) column")
        row = 0
        try:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                columns = {
                    name: _embedding_column(column) if name == "embedding" else column.to_pylist()
                    for name, column in zip(batch.schema.names, batch.columns, strict=True)
                }
                for i in range(batch.num_rows):
                    row += 1
                    yield row, {name: values[i] for name, values in columns.items()}
        except pa.ArrowException as exc:
            raise FileInvalid(f"{self.path.name}: unreadable Parquet data after row {row} ({_short(exc)})") from None


def _embedding_column(column) -> list:
    """A Parquet list column as one numpy row per record (vectorised: no Python float per value)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_fixed_size_list(kind) or pa.types.is_large_list(kind):
        column = column.cast(pa.list_(kind.value_type))
        kind = column.type
    if not pa.types.is_list(kind):
        return column.to_pylist()  # e.g. JSON text: parsed per row by check_vector
    if not (pa.types.is_floating(kind.value_type) or pa.types.is_integer(kind.value_type)):
        return column.to_pylist()
    offsets = column.offsets.to_numpy()
    values = column.values.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls inside become NaN
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return [values[offsets[i] : offsets[i + 1]] if valid[i] else None for i in range(len(column))]


def _short(exc: BaseException, limit: int = 120) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
