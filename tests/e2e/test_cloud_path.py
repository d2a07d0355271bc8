"""The cloud path end to end (`make run-aws-sim`'s set-up): the sample corpus uploaded through S3 presigned URLs,
every file analysed by the cloud providers (Rekognition, Transcribe, Comprehend: trove_awssim; embeddings: Trove's
OpenAI-compatible server), searchable, one ledger row per provider call at its list price; a throttled call
retried; a revoked key failing the file with a message naming the setting.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from typing import Any

import httpx
import pytest
from PIL import Image
from support import DEV_MEDIA, Api, CloudStack

CONTENT_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".mp4": "video/mp4",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
}
PRICES = {"aws-rekognition-image": 0.001, "aws-transcribe": 0.024, "aws-comprehend": 0.0001}
CORPUS = sorted(p for p in DEV_MEDIA.iterdir() if p.suffix in CONTENT_TYPES)
# The module's first test sets up the whole corpus on the cloud path (waited for up to 900 s): not a 300 s test.
pytestmark = pytest.mark.timeout(900)


async def _ledger(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = (await api.request("GET", "/api/v1/billing/ledger", params=params)).json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]


async def _sim(stack: CloudStack, method: str, path: str, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=stack.sim_url, timeout=10.0) as client:
        answer = await client.request(method, path, **kwargs)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
async def library(cloud_stack: CloudStack) -> tuple[Api, dict[str, str], list[dict[str, Any]]]:
    """The corpus, uploaded while the simulator throttles its first calls; (api, ids by file name, sim calls)."""
    await _sim(cloud_stack, "POST", "/_sim/reset")
    await _sim(cloud_stack, "POST", "/_sim/throttle", json={"calls": 2})
    api = await cloud_stack.api()
    ids = {p.name: await api.upload(p.read_bytes(), p.name, CONTENT_TYPES[p.suffix]) for p in CORPUS}
    done = await asyncio.gather(*(api.wait_done(media_id, timeout_s=900, poll_s=2) for media_id in ids.values()))
    for name, media in zip(ids, done, strict=True):
        assert media["status"] == "completed", (name, media)
    calls = (await _sim(cloud_stack, "GET", "/_sim/calls"))["calls"]
    return api, ids, calls


async def test_uploads_go_to_s3_and_every_file_is_analysed_by_the_cloud_providers(
    library: tuple[Api, dict[str, str], list[dict[str, Any]]], cloud_stack: CloudStack
) -> None:
    api, ids, _ = library
    url = (await api.request("GET", f"/api/v1/media/{ids['chelsea.png']}/content-url")).json()["url"]
    assert url.startswith(cloud_stack.config.aws_url)  # the original lives in the S3 bucket
    providers: dict[str, str] = {}
    for media_id in ids.values():
        stages = (await api.request("GET", f"/api/v1/media/{media_id}")).json()["analysis"]["stages"]
        providers |= {s["stage"]: s.get("provider", "") for s in stages if s["status"] == "succeeded"}
    assert providers == {
        "probe": "local/probe/1",
        "image": "aws/rekognition/2016-06-27",
        "video": "aws/rekognition/2016-06-27",
        "transcription": "aws/transcribe/2017-10-26",
        "text": "aws/comprehend/2017-11-27",
        "embedding": "openai/all-MiniLM-L6-v2",
    }
    picture = (await api.request("GET", f"/api/v1/media/{ids['chelsea.png']}")).json()["analysis"]["picture"]
    assert "cat" in picture["labels"][0]["broader"]  # Rekognition's parent labels as broader terms


async def test_the_corpus_is_searchable(library: tuple[Api, dict[str, str], list[dict[str, Any]]]) -> None:
    api, _, _ = library
    for query, expected in (
        ("a cat", "chelsea.png"),
        ("heavy rain and snow", "weather_report.wav"),
        ("which soups can I get for lunch", "menu_cafe.png"),
    ):
        answer = await api.search(query)
        assert answer.status_code == 200, answer.text
        names = [r["filename"] for r in answer.json()["results"]]
        assert expected in names[:3], (query, names)


async def test_each_provider_call_is_one_ledger_row_at_its_list_price(
    library: tuple[Api, dict[str, str], list[dict[str, Any]]],
) -> None:
    api, ids, calls = library
    ledger = await _ledger(api)
    services = Counter(e["service"] for e in ledger)
    assert set(services) >= {*PRICES, "openai-embeddings"}, services
    for entry in ledger:
        if entry["service"] in PRICES:
            assert entry["unit_price"] == pytest.approx(PRICES[entry["service"]])
        assert entry["amount"] == pytest.approx(entry["units"] * entry["unit_price"], abs=1e-9)
    # A picture: DetectLabels, DetectText and DetectFaces, one image each.
    cat = [e for e in ledger if e["media_id"] == ids["chelsea.png"] and e["service"] == "aws-rekognition-image"]
    assert [e["units"] for e in cat] == [1, 1, 1]
    # Every Rekognition call the simulator answered (throttled tries aside) is in the ledger once; fewer only if a
    # call timed out on the client's side under load and was made again (the provider answered both).
    answered = [c for c in calls if c["target"].startswith("RekognitionService.") and not c["error"]]
    assert 0 < services["aws-rekognition-image"] <= len(answered)
    # 7.5 s of speech: Transcribe's 15 s minimum, in minutes.
    speech = [e for e in ledger if e["media_id"] == ids["weather_report.wav"] and e["service"] == "aws-transcribe"]
    assert [e["units"] for e in speech] == [pytest.approx(0.25)]


async def test_throttled_calls_were_retried(library: tuple[Api, dict[str, str], list[dict[str, Any]]]) -> None:
    _, _, calls = library
    throttled = [c for c in calls if c["error"] == "ThrottlingException"]
    assert len(throttled) == 2
    # botocore backed off and tried again: each throttled call was answered later (and every file completed).
    assert all(any(c["target"] == t["target"] and not c["error"] for c in calls) for t in throttled)


async def test_a_revoked_key_fails_the_file_naming_the_setting(
    library: tuple[Api, dict[str, str], list[dict[str, Any]]], cloud_stack: CloudStack
) -> None:
    api, _, _ = library
    key = (await _sim(cloud_stack, "GET", "/_sim/access-key"))["access_key_id"]
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, "PNG")
    await _sim(cloud_stack, "POST", "/_sim/access-key", json={"access_key_id": "AKIDREVOKEDREVOKED01"})
    try:
        media_id = await api.upload(picture.getvalue(), "red.png", "image/png")
        media = await api.wait_done(media_id, timeout_s=300)
    finally:
        await _sim(cloud_stack, "POST", "/_sim/access-key", json={"access_key_id": key})
    assert media["status"] == "failed"
    assert "TROVE_ANALYSIS_AWS__ACCESS_KEY_ID" in json.dumps(media)
