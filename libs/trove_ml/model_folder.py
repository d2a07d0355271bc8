"""Model folders users supply: their JSON settings and a name that identifies their contents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trove_ml.errors import ModelFolderError


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a model folder; anything else is a ModelFolderError naming the file."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFolderError(f"{path} cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ModelFolderError(f"{path} is not a JSON object")
    return data


def folder_model_name(folder: Path, files: Sequence[str]) -> str:
    """A name that changes whenever the model's files do: two folders name one space only if they hold one model."""
    digest = hashlib.sha256()
    for name in files:
        with (folder / name).open("rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return f"{folder.name}-{digest.hexdigest()[:12]}"
