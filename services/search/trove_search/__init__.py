"""Trove search service: the segment index (vectors + text) and search over it."""
