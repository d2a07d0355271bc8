"""What a space records about its embedder, and the settings search rebuilds that embedder from."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import SecretStr
from tiny_bert import write_tiny_bert

from trove_common.settings import EmbedderSettings
from trove_search.main import embedder_origin, space_settings
from trove_search.models import Space

KEY = "sk-secret-" + "s" * 32


def test_a_local_space_records_its_folder_and_comes_back_local(tmp_path: Path) -> None:
    folder = write_tiny_bert(tmp_path / "tiny")
    assert embedder_origin(EmbedderSettings()).model_dir is None
    origin = embedder_origin(EmbedderSettings(model_dir=folder))
    assert origin.model_dir == str(folder.resolve()) and origin.source is None
    configured = EmbedderSettings(provider="openai", api_key=SecretStr(KEY))  # a switch away from the local space
    space = Space(space="tiny/32", model="tiny", dim=32, model_dir=origin.model_dir, state="active")
    rebuilt = space_settings(configured, space)
    assert rebuilt.provider == "local" and rebuilt.model_dir == folder.resolve()


def test_a_server_space_records_where_it_is_but_never_the_key() -> None:
    configured = EmbedderSettings(
        provider="openai", base_url="http://127.0.0.1:8091/v1/", model="m", dimensions=1536, api_key=SecretStr(KEY)
    )
    origin = embedder_origin(configured)
    assert origin.model_dir is None and origin.source is not None and KEY not in origin.source
    assert json.loads(origin.source) == {
        "provider": "openai",
        "base_url": "http://127.0.0.1:8091/v1",
        "model": "m",
        "dimensions": 1536,
    }
    # Switched back to the local model: the old space is still rebuilt from its server, with the configured key.
    space = Space(space="m/1536", model="m", dim=1536, model_dir=None, state="active", source=origin.source)
    rebuilt = space_settings(EmbedderSettings(api_key=SecretStr(KEY), batch_size=7), space)
    assert (rebuilt.provider, rebuilt.base_url, rebuilt.model, rebuilt.dimensions) == (
        "openai",
        "http://127.0.0.1:8091/v1",
        "m",
        1536,
    )
    assert rebuilt.api_key.get_secret_value() == KEY and rebuilt.batch_size == 7
