"""The text stage: language, named entities and key phrases of the words people said or wrote in the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trove_analysis import describe
from trove_analysis.stages._codec import encode
from trove_analysis.stages.base import Stage, StageRun

if TYPE_CHECKING:
    from trove_analysis.deps import Providers


@dataclass(frozen=True, slots=True)
class Entity:
    text: str
    label: str  # PERSON, ORG, GPE, ...
    start_char: int = 0
    end_char: int = 0


@dataclass(frozen=True, slots=True)
class TextResult:
    language: str = ""  # ISO 639-1; "" when unsure
    entities: tuple[Entity, ...] = ()
    key_phrases: tuple[str, ...] = ()


class TextStage(Stage[TextResult]):
    name = "text"
    family = "text"
    result_type = TextResult

    def provider(self, providers: Providers) -> str:
        return providers.text.provider

    async def run(self, run: StageRun) -> TextResult | None:
        if not (words := describe.spoken_and_written(run.texts)):
            return None  # nothing said or written: no result
        return self.decode(await run.providers.text.analyze(words))

    def facts(self, result: TextResult) -> dict[str, Any]:
        return {"language": result.language}

    def view(self, result: TextResult) -> dict[str, Any]:
        return {
            "language": result.language,
            "entities": encode(result.entities),
            "key_phrases": list(result.key_phrases),
        }


TEXT = TextStage()
