"""Embedding spaces: the name tag that keeps vectors from different models apart.

A vector is only meaningful next to vectors from the same encoder (name, dimension, version). Checkpoints,
catalog spaces and encoders all carry an :class:`EmbeddingSpace`, and every boundary that combines vectors
checks that the spaces match, so a catalog re-embedded with a new model can never be queried with seeds
from a prior trained on the old one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


class SpaceMismatchError(ValueError):
    """Raised when vectors from one embedding space are used where another is expected."""


@dataclass(frozen=True)
class EmbeddingSpace:
    """Identity of an embedding space: encoder ``name``, vector ``dim`` and encoder ``version``.

    ``proxy`` is True where the space only stands in for the real thing (the offline text-proxy "music"
    space is MiniLM embeddings of track descriptions, not of audio); outputs that show numbers from a
    proxy space must say so.
    """

    name: str
    dim: int
    encoder: str
    version: str = "1"
    proxy: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EmbeddingSpace:
        return cls(
            name=str(data["name"]),
            dim=int(data["dim"]),
            encoder=str(data["encoder"]),
            version=str(data.get("version", "1")),
            proxy=bool(data.get("proxy", False)),
        )

    def check_matches(self, other: EmbeddingSpace, what: str = "embedding space") -> None:
        """Raise :class:`SpaceMismatchError` unless ``other`` is the same space (name, dim, version)."""
        if (self.name, self.dim, self.version) != (other.name, other.dim, other.version):
            raise SpaceMismatchError(
                f"{what} mismatch: expected {self.name} (dim {self.dim}, version {self.version}), "
                f"got {other.name} (dim {other.dim}, version {other.version})"
            )


# The offline defaults (docs/encoders.md). MiniLM text embeddings stand in for music embeddings.
MINILM = EmbeddingSpace(name="minilm-l6-v2", dim=384, encoder="sentence-transformers/all-MiniLM-L6-v2", proxy=True)
