"""Every kind of media analysed end to end: photos, video scenes and speech, recordings, scans and PDFs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import media_samples
import pytest
from support import DEV_MEDIA, Api

from trove_stack.infra import Infra

NewApi = Callable[[], Awaitable[Api]]


async def _analysed(api: Api, name: str, content_type: str, data: bytes | None = None) -> dict:
    media_id = await api.upload(data if data is not None else (DEV_MEDIA / name).read_bytes(), name, content_type)
    media = await api.wait_done(media_id, timeout_s=300)
    return dict((await api.request("GET", f"/api/v1/media/{media['media_id']}")).json())


async def test_video_scenes_and_speech_are_found_at_their_second(new_api: NewApi) -> None:
    api = await new_api()
    media = await _analysed(api, "holiday.mp4", "video/mp4")
    assert media["status"] == "completed", media
    scenes = media["analysis"]["scenes"]
    assert len(scenes) == 3
    assert scenes[1]["start_s"] == pytest.approx(3.82, abs=0.5)
    assert scenes[2]["start_s"] == pytest.approx(7.64, abs=0.5)
    cat = next(s for s in media["analysis"]["transcript"]["segments"] if "cat" in s["text"].lower())
    assert scenes[2]["start_s"] - 0.25 <= cat["start_s"] < scenes[2]["end_s"]

    results = (await api.search("the cat was waiting for us on the sofa")).json()["results"]
    assert results[0]["media_id"] == media["media_id"]
    assert results[0]["segment"]["kind"] == "speech"
    assert 7.0 <= results[0]["segment"]["start_s"] <= 9.0
    thumb = await api.request("GET", f"/api/v1/media/{media['media_id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


async def test_people_are_named_in_speech(new_api: NewApi) -> None:
    api = await new_api()
    media = await _analysed(api, "standup_meeting.wav", "audio/wav")
    analysis = media["analysis"]
    people = {e["text"] for e in analysis["entities"] if e["label"] == "PERSON"}
    assert {"Maria", "Tom"} <= people
    assert analysis["transcript"]["language"] == "en"
    assert "payment bug" in " ".join(s["text"] for s in analysis["transcript"]["segments"])
    assert (await api.request("GET", f"/api/v1/media/{media['media_id']}/thumbnail")).status_code == 404


async def test_photo_facts_faces_and_text(new_api: NewApi) -> None:
    api = await new_api()
    hopper = await _analysed(api, "grace_hopper.jpg", "image/jpeg")
    assert hopper["analysis"]["picture"]["faces"]["count"] >= 1
    assert hopper["analysis"]["probe"]["width"] > 0
    invoice = await _analysed(api, "invoice_printing.png", "image/png")
    text = invoice["analysis"]["picture"]["text"]
    assert "TOTAL DUE" in text and "109.00" in text
    assert any(e["label"] == "MONEY" for e in invoice["analysis"]["entities"])
    found = (await api.search("invoice for business cards")).json()["results"]
    assert found[0]["media_id"] == invoice["media_id"]


async def test_two_page_pdf_gives_two_page_segments(new_api: NewApi) -> None:
    api = await new_api()
    pdf = media_samples.text_pages_pdf(["Quarterly garden report", "Tomato harvest doubled this summer"])
    media = await _analysed(api, "report.pdf", "application/pdf", pdf)
    assert media["status"] == "completed", media
    pages = media["analysis"]["pages"]
    assert [p["number"] for p in pages] == [1, 2]
    assert "harvest" in pages[1]["text"].lower()
    found = (await api.search("how big was the tomato harvest")).json()["results"]
    assert found[0]["media_id"] == media["media_id"]
    assert found[0]["segment"]["kind"] == "page" and found[0]["segment"]["page"] == 2


async def test_silence_completes_with_no_speech(new_api: NewApi, tmp_path: Path) -> None:
    api = await new_api()
    media = await _analysed(api, "quiet.wav", "audio/wav", media_samples.silence_wav(tmp_path, 4))
    assert media["status"] == "completed"
    assert media["analysis"]["transcript"]["segments"] == []


BROKEN = {
    "truncated PNG": (
        "broken.png",
        "image/png",
        lambda tmp: media_samples.truncated((DEV_MEDIA / "grass.png").read_bytes()),
    ),
    "truncated JPEG": (
        "broken.jpg",
        "image/jpeg",
        lambda tmp: media_samples.truncated((DEV_MEDIA / "rocket.jpg").read_bytes()),
    ),
    "truncated MP4": (
        "broken.mp4",
        "video/mp4",
        lambda tmp: media_samples.truncated((DEV_MEDIA / "holiday.mp4").read_bytes()),
    ),
    "truncated MP3": (
        "broken.mp3",
        "audio/mpeg",
        lambda tmp: media_samples.truncated((DEV_MEDIA / "pasta_recipe.mp3").read_bytes(), 0.3),
    ),
    "decompression bomb": ("bomb.png", "image/png", lambda tmp: media_samples.bomb_png()),
    "video without a video stream": ("sound.mp4", "video/mp4", media_samples.audio_only_mp4),
    "longer than the tier allows": ("long.wav", "audio/wav", lambda tmp: media_samples.tone_wav(tmp, 75)),
    "malformed PDF": ("broken.pdf", "application/pdf", lambda tmp: media_samples.malformed_pdf()),
}
REASONS = {
    "truncated PNG": "truncated",
    "truncated JPEG": "truncated",
    "truncated MP4": "",
    "truncated MP3": "",
    "decompression bomb": "pixels",
    "video without a video stream": "no video stream",
    "longer than the tier allows": "tier allows",
    "malformed PDF": "PDF",
}


@pytest.mark.parametrize("case", list(BROKEN))
async def test_bad_media_fails_with_a_reason_and_the_worker_goes_on(new_api: NewApi, tmp_path: Path, case: str) -> None:
    api = await new_api()
    name, content_type, make = BROKEN[case]
    media = await _analysed(api, name, content_type, make(tmp_path))
    assert media["status"] == "failed", media
    assert media["error"] and REASONS[case].lower() in media["error"].lower(), media["error"]
    good = await _analysed(api, "coffee.png", "image/png")
    assert good["status"] == "completed"


async def test_each_stage_is_billed_once(new_api: NewApi, infra: Infra) -> None:
    api = await new_api()
    media = await _analysed(api, "chelsea.png", "image/png")
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT stage, count(*) AS n, sum(amount) AS amount FROM billing.cost_tracking "
            "WHERE media_id = $1::uuid GROUP BY stage",
            media["media_id"],
        )
    finally:
        await conn.close()
    stages = {r["stage"]: r for r in rows}
    assert {"probe", "image"} <= set(stages)
    assert all(r["n"] == 1 and r["amount"] > 0 for r in rows)
