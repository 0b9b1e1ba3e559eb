"""Tracks, their embeddings in one or more embedding spaces, ingest, and the vector index (pgvector)."""
