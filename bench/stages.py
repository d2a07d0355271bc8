"""Model-stage figures measured in-process: image stage vs bare classifier, transcription RTF, OCR s/page."""

from __future__ import annotations

import time

from PIL import Image
from support import DEV_MEDIA

from trove_analysis.local import LocalTranscriber, LocalVisionAnalyzer
from trove_analysis.settings import Settings
from trove_common.offload import ModelExecutor
from trove_ml import ImageClassifier, limit_torch_threads
from trove_ml.ocr import TextReader
from trove_ml.probe import probe

PHOTOS = ("chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "china.jpg", "grass.png", "grace_hopper.jpg")
SPEECH = ("weather_report.wav", "pasta_recipe.mp3", "standup_meeting.wav")
PAGES = ("invoice_printing.png", "menu_cafe.png", "page.png")
ROUNDS = 3


def _per_s(count: int, started: float) -> float:
    return count / (time.perf_counter() - started)


async def measure() -> dict[str, object]:
    limit_torch_threads(1)
    executor = ModelExecutor(threads=1)
    defaults = Settings.model_fields
    vision = LocalVisionAnalyzer(executor=executor, wordnet_dir=defaults["wordnet_dir"].default, max_pdf_pages=10)
    photos = [DEV_MEDIA / name for name in PHOTOS]
    await vision.analyze_image(photos[0])  # load every model once before timing
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for path in photos:
            await vision.analyze_image(path)
    stage_rate = _per_s(ROUNDS * len(photos), started)

    classifier = ImageClassifier()
    images = [Image.open(p).convert("RGB") for p in photos]
    classifier.classify(images[0])
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for image in images:
            classifier.classify(image)
    bare_rate = _per_s(ROUNDS * len(images), started)

    transcriber = LocalTranscriber(
        executor=executor, model_dir=defaults["model_dir"].default / "whisper-base", threads=2
    )
    await transcriber.transcribe(DEV_MEDIA / SPEECH[0])
    audio_s = sum(probe(DEV_MEDIA / name, max_pixels=10**8).duration_s or 0 for name in SPEECH)
    started = time.perf_counter()
    for name in SPEECH:
        await transcriber.transcribe(DEV_MEDIA / name)
    rtf = (time.perf_counter() - started) / audio_s

    reader = TextReader()
    pages = [Image.open(DEV_MEDIA / name).convert("RGB") for name in PAGES]
    reader.read(pages[0])
    started = time.perf_counter()
    for page in pages:
        reader.read(page)
    ocr_s_per_page = (time.perf_counter() - started) / len(pages)
    executor.shutdown()
    return {
        "image_stage_images_per_s": round(stage_rate, 2),
        "bare_classifier_images_per_s": round(bare_rate, 2),
        "ratio_stage_to_classifier": round(stage_rate / bare_rate, 3),
        "transcription_real_time_factor": round(rtf, 3),
        "ocr_s_per_page": round(ocr_s_per_page, 3),
    }
