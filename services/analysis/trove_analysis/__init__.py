"""Trove analysis service: the AI pipeline run by ARQ workers, and what it saw, over gRPC."""
