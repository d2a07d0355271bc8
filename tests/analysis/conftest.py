"""Fixtures of the stage tests: the local providers, built once (their models load on first use)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from analysis.stage_kit import local_providers

from trove_analysis.deps import Providers
from trove_common.offload import ModelExecutor


@pytest.fixture(scope="session")
def blob_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blobs")


@pytest.fixture(scope="session")
def providers(blob_root: Path) -> Iterator[Providers]:
    executor = ModelExecutor(threads=1, name="stage-tests")
    yield local_providers(blob_root, executor)
    executor.shutdown(wait=True)
