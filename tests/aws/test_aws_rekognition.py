"""The Rekognition vision provider against the simulator (moto's S3 + trove_awssim), over real HTTP."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from aws.cloud_support import Sim, media, settings_for
from media_samples import text_pages_pdf
from PIL import Image

from trove_analysis.aws._client import AwsClients
from trove_analysis.aws.rekognition import RekognitionVisionAnalyzer, jpeg_within
from trove_analysis.errors import ProviderSetupError
from trove_analysis.local import LocalVisionAnalyzer
from trove_analysis.metering import metered
from trove_awssim.launch import Cloud
from trove_common.offload import ModelExecutor

WORDNET = "/usr/share/wordnet"


def analyzer(clients: AwsClients, executor: ModelExecutor) -> RekognitionVisionAnalyzer:
    local = LocalVisionAnalyzer(executor=executor, wordnet_dir=Path(WORDNET), max_pdf_pages=5)
    return RekognitionVisionAnalyzer(clients=clients, executor=executor, documents=local)


async def test_a_picture_gets_labels_with_parents_text_and_faces(
    clients: AwsClients, executor: ModelExecutor, sim: Sim
) -> None:
    vision = analyzer(clients, executor)
    assert vision.provider == "aws/rekognition/2016-06-27"

    with metered() as calls:
        cat, thumbnail = await vision.analyze_image(media("chelsea.png"))
    names = " ".join(label["name"] for label in cat["labels"])
    assert "cat" in names
    assert "cat" in cat["labels"][0]["broader"]  # Rekognition's parents are our broader terms
    assert thumbnail[:2] == b"\xff\xd8"
    assert [(call.service, call.units) for call in calls] == [("aws-rekognition-image", 1)] * 3
    assert {call.call for call in calls} == {"DetectLabels image", "DetectText image", "DetectFaces image"}

    person, _ = await vision.analyze_image(media("grace_hopper.jpg"))
    assert len(person["faces"]) == 1
    x0, y0, x1, y1 = person["faces"][0]["box"]
    assert 0 <= x0 < x1 <= person["width"] and 0 <= y0 < y1 <= person["height"]

    menu, _ = await vision.analyze_image(media("menu_cafe.png"))
    assert len(menu["ocr"]["text"].split()) >= 3
    assert all(len(line["box"]) == 4 for line in menu["ocr"]["lines"])
    targets = [call["target"] for call in await sim.calls()]
    assert targets.count("RekognitionService.DetectLabels") == 3


async def test_video_keyframes_go_to_rekognition_one_call_set_per_scene(
    clients: AwsClients, executor: ModelExecutor
) -> None:
    with metered() as calls:
        facts, poster = await analyzer(clients, executor).analyze_video(media("holiday.mp4"))
    assert facts["scenes"] and all(scene["labels"] for scene in facts["scenes"])
    assert len(calls) == 3 * len(facts["scenes"])
    assert poster[:2] == b"\xff\xd8"


async def test_documents_stay_local(clients: AwsClients, executor: ModelExecutor, sim: Sim, tmp_path: Path) -> None:
    pdf = tmp_path / "page.pdf"
    pdf.write_bytes(text_pages_pdf(["Quarterly report of the lighthouse keepers"]))
    with metered() as calls:
        facts, _ = await analyzer(clients, executor).analyze_document(pdf)
    assert "lighthouse" in facts["pages"][0]["text"]
    assert calls == []  # local work: the pipeline records its machine time
    assert await sim.calls() == []


def test_pictures_over_5_mb_are_downscaled_to_fit() -> None:
    rng = random.Random(7)
    noise = Image.frombytes("RGB", (2600, 2600), bytes(rng.getrandbits(8) for _ in range(2600 * 2600 * 3)))
    data = jpeg_within(noise, 5 * 1024 * 1024)
    assert len(data) <= 5 * 1024 * 1024
    with Image.open(io.BytesIO(data)) as img:
        assert img.width < 2600


async def test_throttled_calls_are_retried_with_backoff(clients: AwsClients, executor: ModelExecutor, sim: Sim) -> None:
    await sim.throttle(2, "RekognitionService.DetectText")
    facts, _ = await analyzer(clients, executor).analyze_image(media("chelsea.png"))
    assert facts["labels"]
    errors = [call["error"] for call in await sim.calls() if call["target"] == "RekognitionService.DetectText"]
    assert errors == ["ThrottlingException", "ThrottlingException", ""]


async def test_a_wrong_access_key_fails_for_good_naming_the_setting(
    cloud: Cloud, bucket: str, executor: ModelExecutor
) -> None:
    clients = AwsClients(settings_for(cloud, bucket=bucket, access_key_id="AKIDWRONGWRONGWRONG1"))
    with pytest.raises(ProviderSetupError, match="TROVE_ANALYSIS_AWS__ACCESS_KEY_ID"):
        await analyzer(clients, executor).analyze_image(media("chelsea.png"))
