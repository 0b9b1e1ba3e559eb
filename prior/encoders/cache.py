"""The one text-vector cache: a text encoder that embeds each distinct text once.

Users repeat the same few steering tags; the demo's pairs and catalog embed the same 5,521 captions; rebuilding the
MusicCaps text proxy re-embeds the texts of the last build. Each wraps its text encoder in
:class:`CachingTextEncoder`, which differs only in where the vectors are kept: in memory (``max_texts`` bounds it,
least recently used first out, for a serving process whose users may send any text), and optionally in an ``.npz``
file so that a later run starts warm. Embedding runs in chunks with a progress bar (:mod:`prior.progress`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from prior.encoders.base import TextEncoder
from prior.progress import progress_bar


class CachingTextEncoder(TextEncoder):
    """``base`` with a text -> vector cache; same space, same vectors (read-only arrays are shared)."""

    def __init__(
        self, base: TextEncoder, *, path: str | Path | None = None, max_texts: int | None = None,
        progress: bool | None = False, chunk: int = 256,
    ) -> None:
        self.base = base
        self.space = base.space
        self.family = getattr(base, "family", "")
        self.device = getattr(base, "device", "cpu")
        self.batch_size = chunk
        self.path = Path(path) if path is not None else None
        self.max_texts = max_texts
        self.progress = progress
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # serving threads share one cache
        if self.path is not None and self.path.is_file():
            with np.load(self.path, allow_pickle=False) as data:
                self.remember(data["texts"].tolist(), data["vectors"])

    def __len__(self) -> int:
        return len(self._vectors)

    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Take vectors embedded elsewhere (e.g. a file this run wrote before) as the vectors of ``texts``."""
        with self._lock:
            for text, vector in zip(texts, np.asarray(vectors, dtype=np.float32), strict=True):
                vector.setflags(write=False)
                self._vectors[str(text)] = vector
                self._vectors.move_to_end(str(text))
            self._trim()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        with self._lock:
            for text in texts:  # the texts asked for now are the most recently used, before any new one comes in
                if text in self._vectors:
                    self._vectors.move_to_end(text)
            todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            with progress_bar(len(todo), "texts", bool(self.progress) and len(todo) > self.batch_size) as advance:
                for start in range(0, len(todo), self.batch_size):
                    part = todo[start : start + self.batch_size]
                    self.remember(part, self.base.encode_texts(part))
                    advance(len(part))
            self._save()
        if not texts:
            return self._empty()
        with self._lock:
            found = [self._vectors.get(t) for t in texts]
        if any(v is None for v in found):  # evicted meanwhile: more distinct texts in one call than max_texts
            missing = [t for t, v in zip(texts, found, strict=True) if v is None]
            fresh = dict(zip(missing, np.asarray(self.base.encode_texts(missing), dtype=np.float32), strict=True))
            found = [fresh[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        return np.stack(found).astype(np.float32)

    def _trim(self) -> None:
        while self.max_texts is not None and len(self._vectors) > self.max_texts:
            self._vectors.popitem(last=False)

    def _save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            keys = sorted(self._vectors)
            vectors = np.stack([self._vectors[k] for k in keys]).astype(np.float32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, texts=np.array(keys), vectors=vectors)
        tmp.replace(self.path)
