"""Which provider each stage uses (TROVE_ANALYSIS_PROVIDERS__<STAGE>=local|...), and the builders that make them.

Adding a provider is adding one builder to its protocol's table: a function from `BuildContext` to an object that
implements the protocol in trove_analysis.providers. Stages that share a protocol (image, document and video are
all a VisionAnalyzer) share one instance when they choose the same provider, so its models load once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trove_analysis.providers import Embedder, Facts, ObjectStore, Prober, TextAnalyzer, Transcriber, VisionAnalyzer

if TYPE_CHECKING:
    from trove_analysis.deps import Providers
    from trove_analysis.settings import Settings
    from trove_common.offload import ModelExecutor

DEFAULT = "local"


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a builder may use: the worker's settings and its model executor (threads for local inference)."""

    settings: Settings
    executor: ModelExecutor


def _local_prober(build: BuildContext) -> Prober:
    from trove_analysis.local import probe_file

    async def prober(path: Path) -> Facts:
        return await probe_file(build.executor, path, max_pixels=build.settings.max_image_pixels)

    return prober


def _local_vision(build: BuildContext) -> VisionAnalyzer:
    from trove_analysis.local import LocalVisionAnalyzer
    from trove_ml.image_text import ImageTextModel

    settings = build.settings
    return LocalVisionAnalyzer(
        executor=build.executor,
        wordnet_dir=settings.wordnet_dir,
        max_pdf_pages=settings.max_pdf_pages,
        max_video_pixels=settings.max_video_pixels,
        image_text=ImageTextModel.load(model_dir) if (model_dir := settings.image_text.model_dir) else None,
    )


def _local_transcriber(build: BuildContext) -> Transcriber:
    from trove_analysis.local import LocalTranscriber

    settings = build.settings
    return LocalTranscriber(
        executor=build.executor, model_dir=settings.model_dir / "whisper-base", threads=settings.torch_threads
    )


def _local_text(build: BuildContext) -> TextAnalyzer:
    from trove_analysis.local import LocalTextAnalyzer

    return LocalTextAnalyzer(executor=build.executor)


def _embedder(build: BuildContext) -> Embedder:
    # Search embeds queries with the same settings, through the same builder: TROVE_<SVC>_EMBEDDER__PROVIDER
    # chooses (Settings keeps TROVE_ANALYSIS_PROVIDERS__EMBEDDING equal to it). An OpenAI-compatible server is
    # first called by the stage: a server down at start-up is a stage to retry, not a worker that cannot start.
    from trove_ml.embedders import make_embedder

    return make_embedder(build.settings.embedder, executor=build.executor, setting="TROVE_ANALYSIS_EMBEDDER__")


def _aws_vision(build: BuildContext) -> VisionAnalyzer:
    from trove_analysis.aws._client import AwsClients
    from trove_analysis.aws.rekognition import RekognitionVisionAnalyzer

    return RekognitionVisionAnalyzer(
        clients=AwsClients(build.settings.aws),
        executor=build.executor,
        documents=_local_vision(build),  # PDFs stay local: see trove_analysis.aws.rekognition
        max_video_pixels=build.settings.max_video_pixels,
    )


def _aws_transcriber(build: BuildContext) -> Transcriber:
    from trove_analysis.aws._client import AwsClients
    from trove_analysis.aws.transcribe import TranscribeTranscriber

    return TranscribeTranscriber(clients=AwsClients(build.settings.aws))


def _aws_text(build: BuildContext) -> TextAnalyzer:
    from trove_analysis.aws._client import AwsClients
    from trove_analysis.aws.comprehend import ComprehendTextAnalyzer

    return ComprehendTextAnalyzer(clients=AwsClients(build.settings.aws))


# One table per protocol: provider name -> builder.
PROBERS: dict[str, Callable[[BuildContext], Prober]] = {"local": _local_prober}
VISION: dict[str, Callable[[BuildContext], VisionAnalyzer]] = {"local": _local_vision, "aws": _aws_vision}
TRANSCRIBERS: dict[str, Callable[[BuildContext], Transcriber]] = {"local": _local_transcriber, "aws": _aws_transcriber}
TEXT_ANALYZERS: dict[str, Callable[[BuildContext], TextAnalyzer]] = {"local": _local_text, "aws": _aws_text}
EMBEDDERS: dict[str, Callable[[BuildContext], Embedder]] = {"local": _embedder, "openai": _embedder}

# The providers each stage can choose from (a test keeps these keys equal to the stage registry's).
STAGE_CHOICES: Mapping[str, Mapping[str, Callable[[BuildContext], Any]]] = {
    "probe": PROBERS,
    "image": VISION,
    "document": VISION,
    "video": VISION,
    "transcription": TRANSCRIBERS,
    "text": TEXT_ANALYZERS,
    "embedding": EMBEDDERS,
}


def check_choices(choices: Mapping[str, str]) -> None:
    """ValueError naming the setting when a stage or provider is unknown (Settings runs this at start-up)."""
    for stage, name in choices.items():
        if stage not in STAGE_CHOICES:
            raise ValueError(
                f"TROVE_ANALYSIS_PROVIDERS__{stage.upper()}: there is no stage {stage!r} "
                f"(stages: {', '.join(STAGE_CHOICES)})"
            )
        if name not in STAGE_CHOICES[stage]:
            raise ValueError(
                f"TROVE_ANALYSIS_PROVIDERS__{stage.upper()}: the {stage} stage has no provider {name!r} "
                f"(providers: {', '.join(STAGE_CHOICES[stage])})"
            )


def build_providers(build: BuildContext, *, store: ObjectStore) -> Providers:
    """Every stage's provider as configured (`local` where not set)."""
    from trove_analysis.deps import Providers

    made: dict[tuple[int, str], Any] = {}

    def chosen(stage: str) -> Any:
        name = build.settings.providers.get(stage, DEFAULT)
        table = STAGE_CHOICES[stage]
        key = (id(table), name)
        if key not in made:
            made[key] = table[name](build)
        return made[key]

    return Providers(
        store=store,
        prober=chosen("probe"),
        image=chosen("image"),
        document=chosen("document"),
        video=chosen("video"),
        transcription=chosen("transcription"),
        text=chosen("text"),
        embedding=chosen("embedding"),
    )
