"""Trove ingest service: upload sessions, file checks, media records and their status."""
