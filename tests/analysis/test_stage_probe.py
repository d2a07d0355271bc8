"""The probe stage on real files: what they are, the tier's duration rules, the plan it settles."""

from __future__ import annotations

import pytest
from analysis.stage_kit import Tier, stage_run
from support import DEV_MEDIA

from trove_analysis.deps import Providers
from trove_analysis.stages.probe import PROBE, ProbeResult
from trove_ml.errors import MediaError


async def test_a_photo_is_probed_and_its_view_and_facts_follow(providers: Providers) -> None:
    run = stage_run(kind="image", path=DEV_MEDIA / "coffee.png", providers=providers)
    result = await PROBE.run(run)
    assert result.kind == "image" and result.width and result.height
    assert PROBE.decode(PROBE.encode(result)) == result
    await PROBE.check(run, result)
    assert PROBE.file_kind(result) == ("image", result.has_audio)
    view = PROBE.view(result)
    assert view["probe"]["kind"] == "image" and set(view["exif"]) == {"taken_at", "gps", "camera"}
    assert PROBE.facts(result)["kind"] == "image"


async def test_media_longer_than_the_tier_allows_is_refused(providers: Providers) -> None:
    run = stage_run(kind="audio", path=DEV_MEDIA / "weather_report.wav", providers=providers, tier=Tier(10, 3600))
    result = ProbeResult(kind="audio", duration_s=60.0, has_audio=True)
    with pytest.raises(MediaError, match="your tier allows"):
        await PROBE.check(run, result)
    run = stage_run(kind="audio", path=DEV_MEDIA / "weather_report.wav", providers=providers, tier=Tier(3600, 30))
    with pytest.raises(MediaError, match="processing minutes are left"):
        await PROBE.check(run, result)


async def test_a_video_without_a_video_stream_is_refused(providers: Providers) -> None:
    run = stage_run(kind="video", path=DEV_MEDIA / "weather_report.wav", providers=providers)
    with pytest.raises(MediaError, match="no video stream"):
        await PROBE.check(run, ProbeResult(kind="audio", duration_s=5.0))
