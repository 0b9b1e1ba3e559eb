"""Writes to the catalog: embedding spaces and track ingest."""
