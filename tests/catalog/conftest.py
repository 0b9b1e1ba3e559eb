"""Fixtures for catalog tests: small track files in every format, and one MiniLM encoder per test session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import unit_vectors


def track_rows(n: int, dim: int, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    """``n`` track dicts (without embeddings) and their raw (unnormalised) vectors."""
    rng = np.random.default_rng(seed)
    vectors = unit_vectors(rng, n, dim) * 3.0
    rows = [
        {
            "external_id": f"t{i}", "title": f"Track {i}", "artist": f"Artist {i % 3}", "album": "Album",
            "tags": ["rock", f"tag{i % 2}"], "duration_s": 180.0 + i, "url": f"https://example.com/t/{i}",
            "metadata": {"n": i},
        }
        for i in range(n)
    ]
    return rows, vectors


def write_csv(path: Path, rows: list[dict], vectors: np.ndarray | None) -> Path:
    import csv

    fields = ["external_id", "title", "artist", "album", "tags", "duration_s", "url", "metadata"]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields + (["embedding"] if vectors is not None else []))
        for i, row in enumerate(rows):
            values = [row[f] if f not in ("tags", "metadata") else json.dumps(row[f]) for f in fields]
            if vectors is not None:
                values.append(json.dumps([float(x) for x in vectors[i]]))
            writer.writerow(values)
    return path


def write_jsonl(path: Path, rows: list[dict], vectors: np.ndarray | None) -> Path:
    with open(path, "w") as fh:
        for i, row in enumerate(rows):
            record = dict(row)
            if vectors is not None:
                record["embedding"] = [float(x) for x in vectors[i]]
            fh.write(json.dumps(record) + "\n")
    return path


def write_parquet(path: Path, rows: list[dict], vectors: np.ndarray | None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {key: [row[key] for row in rows] for key in rows[0] if key != "metadata"}
    columns["metadata"] = [json.dumps(row["metadata"]) for row in rows]
    table = pa.table(columns)
    if vectors is not None:
        table = table.append_column("embedding", pa.array(list(vectors.astype(np.float32)), pa.list_(pa.float32())))
    pq.write_table(table, path, row_group_size=7)
    return path


@pytest.fixture(scope="session")
def minilm():
    """The offline text encoder, loaded once for the whole session (about 5 s)."""
    from prior.encoders import get_text_encoder

    return get_text_encoder("minilm")
