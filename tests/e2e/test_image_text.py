"""A user-supplied image-text model: pictures are found by what they look like, not only by their labels.

A second set of services runs on the session's PostgreSQL and auth emulator with a tiny CLIP the test trains
itself (made-up words tied to colours) as their image-text model. Its queues and caches live in another Redis
database, so the session's worker, which has no such model, never takes its jobs.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator

import numpy as np
import pytest
from support import DEV_MEDIA, SHARED_DATABASE_OVERRIDES, Api, sign_up
from tiny_clip import PAIRS, colour_image, write_immich_clip, write_tiny_clip

from trove_ml.image_text import ImageTextModel
from trove_stack.config import free_ports, redis_dsn
from trove_stack.infra import Infra, running_services

SERVICE_BLOCKS = ("gateway", "ingest", "analysis", "search", "billing")
QUEUE_USERS = ("gateway", "ingest", "analysis", "search")  # the services that talk to Redis


@pytest.fixture(scope="module", params=["hugging-face", "immich-onnx"])
def clip_gateway(
    infra: Infra, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Services with the tiny CLIP as a Hugging Face folder, or exported as the ONNX folder Immich keeps."""
    model_dir = write_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")
    if request.param == "immich-onnx":
        model_dir = write_immich_clip(model_dir, tmp_path_factory.mktemp("immich") / "tiny-clip-onnx")
    floor, ceil = _calibration(ImageTextModel.load(model_dir))
    data_dir = tmp_path_factory.mktemp("clip-stack")
    ports = iter(free_ports(5))
    cfg = dataclasses.replace(
        infra.config,
        data_dir=data_dir,
        **{f"{block}_port": next(ports) for block in SERVICE_BLOCKS},
    ).with_new_metrics_ports()
    for folder in (cfg.log_dir, cfg.run_dir, cfg.blobs_dir):
        folder.mkdir(parents=True, exist_ok=True)
    own_redis = redis_dsn(cfg, infra.secrets).removesuffix("/0") + "/1"
    overrides = {
        **SHARED_DATABASE_OVERRIDES,
        "TROVE_IMAGE_TEXT_MODEL_DIR": str(model_dir),
        "TROVE_SEARCH_IMAGE_TEXT__FLOOR": str(floor),
        "TROVE_SEARCH_IMAGE_TEXT__CEIL": str(ceil),
        **{f"TROVE_{block.upper()}_REDIS__DSN": own_redis for block in QUEUE_USERS},
    }
    with running_services(dataclasses.replace(infra, config=cfg), overrides=overrides):
        yield cfg.gateway_url


def _calibration(model: ImageTextModel) -> tuple[float, float]:
    """The tiny model's own floor and ceiling, as a user would set them for theirs: the best similarity of a word
    to another word's colour, and the worst to its own (CLIP's published defaults are for real weights)."""
    pictures = model.embed_images([colour_image(rgb, size=96, seed=99) for rgb in PAIRS.values()])
    similarity = model.embed_texts(list(PAIRS)) @ pictures.T
    own = np.eye(len(PAIRS), dtype=bool)
    floor, ceil = float(similarity[~own].max()), float(similarity[own].min())
    assert floor < ceil, similarity
    return floor, ceil


def _png(rgb: tuple[int, int, int], seed: int) -> bytes:
    out = io.BytesIO()
    colour_image(rgb, size=96, seed=seed).save(out, "PNG")
    return out.getvalue()


async def test_pictures_are_found_by_the_image_text_model(infra: Infra, clip_gateway: str) -> None:
    token, uid = await sign_up(infra.config.auth_emulator_host)
    user = Api(base_url=clip_gateway, token=token, firebase_uid=uid)
    files = {f"{word}.png": _png(rgb, seed=i) for i, (word, rgb) in enumerate(PAIRS.items())}
    files["chelsea.png"] = (DEV_MEDIA / "chelsea.png").read_bytes()
    ids = {name: await user.upload(data, name, "image/png") for name, data in files.items()}
    for media_id in ids.values():
        assert (await user.wait_done(media_id))["status"] == "completed"

    for word in PAIRS:
        # No label, OCR or colour name contains the made-up word: only the image-text model can place it.
        response = await user.search(word)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert results and results[0]["media_id"] == ids[f"{word}.png"], (word, results)
        assert results[0]["segment"]["kind"] == "image"
        assert 0 < results[0]["score"] <= 1

    nonsense = await user.search("qwxz zzkj")
    assert nonsense.status_code == 200 and nonsense.json()["results"] == [], "no picture is the nearest junk"
    cat = (await user.search("a cat")).json()["results"]
    assert cat and cat[0]["media_id"] == ids["chelsea.png"], "labels still find pictures next to the model"
