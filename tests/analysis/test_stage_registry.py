"""The stage registry: plans, families and queues, provider choice, and the one result codec."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from trove_analysis import stages
from trove_analysis.provider_choice import STAGE_CHOICES
from trove_analysis.queues import FAMILIES, family_queue
from trove_analysis.settings import Settings
from trove_analysis.stages import _codec


@pytest.mark.parametrize(
    ("kind", "has_audio", "planned"),
    [
        ("image", True, ["probe", "image", "text", "embedding"]),
        ("document", True, ["probe", "document", "text", "embedding"]),
        ("audio", True, ["probe", "transcription", "text", "embedding"]),
        ("video", True, ["probe", "video", "transcription", "text", "embedding"]),
        ("video", False, ["probe", "video", "text", "embedding"]),
        ("other", True, ["probe", "text", "embedding"]),
    ],
)
def test_a_kind_plans_its_stages_in_order(kind: str, has_audio: bool, planned: list[str]) -> None:
    assert stages.plan(kind, has_audio=has_audio) == planned


def test_every_stage_runs_on_a_family_queue() -> None:
    assert {name: stages.family(name) for name in stages.REGISTRY} == {
        "probe": "text",
        "image": "image",
        "document": "image",
        "video": "video",
        "transcription": "video",
        "text": "text",
        "embedding": "embedding",
    }
    assert {stages.queue(name) for name in stages.REGISTRY} == {family_queue(f) for f in FAMILIES}


def test_every_stage_chooses_its_provider_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(STAGE_CHOICES) == set(stages.REGISTRY)
    storage = {"storage": {"signing_key": "k" * 32}, "service_auth": {"token": "t" * 32}}
    monkeypatch.setenv("TROVE_ANALYSIS_PROVIDERS__IMAGE", "local")
    assert Settings.model_validate(storage).providers == {"image": "local"}
    monkeypatch.setenv("TROVE_ANALYSIS_PROVIDERS__IMAGE", "abacus")
    with pytest.raises(ValidationError, match="TROVE_ANALYSIS_PROVIDERS__IMAGE: the image stage has no provider"):
        Settings.model_validate(storage)
    monkeypatch.delenv("TROVE_ANALYSIS_PROVIDERS__IMAGE")
    monkeypatch.setenv("TROVE_ANALYSIS_PROVIDERS__PAINTING", "local")
    with pytest.raises(ValidationError, match="there is no stage 'painting'"):
        Settings.model_validate(storage)


@dataclass(frozen=True, slots=True)
class _Inner:
    box: tuple[int, ...]
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class _Outer:
    name: str
    items: tuple[_Inner, ...] = ()
    where: tuple[float, float] | None = None
    note: str | None = None


def test_results_round_trip_through_their_json() -> None:
    data = {"name": "a", "items": [{"box": [1, 2, 3, 4], "score": 0.5}], "where": [1.5, 2]}
    value = _codec.decode(_Outer, data)
    assert value == _Outer(name="a", items=(_Inner(box=(1, 2, 3, 4), score=0.5),), where=(1.5, 2))
    assert _codec.encode(value) == data  # a None that defaults to None stays out of the JSON


def test_a_result_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(stages.ResultShapeError, match="name is missing"):
        _codec.decode(_Outer, {"items": []})
    with pytest.raises(stages.ResultShapeError, match=r"_Outer.items\[0\].box: expected a list"):
        _codec.decode(_Outer, {"name": "a", "items": [{"box": 3}]})
    with pytest.raises(stages.ResultShapeError, match="expected str"):
        _codec.decode(_Outer, {"name": 7})
