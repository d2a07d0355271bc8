"""Media files the tests make themselves: tones, silence, audio-only MP4, PDFs, broken copies of real files."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

RATE = 16_000


def _write_audio(path: Path, samples: np.ndarray, *, container: str, codec: str) -> bytes:
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path.read_bytes()


def silence_wav(tmp: Path, seconds: float) -> bytes:
    return _write_audio(tmp / "silence.wav", np.zeros(int(seconds * RATE)), container="wav", codec="pcm_s16le")


def tone_wav(tmp: Path, seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return _write_audio(tmp / "tone.wav", 8000 * np.sin(2 * np.pi * 440 * t), container="wav", codec="pcm_s16le")


def audio_only_mp4(tmp: Path, seconds: float = 3) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return _write_audio(tmp / "sound.mp4", 8000 * np.sin(2 * np.pi * 330 * t), container="mp4", codec="aac")


def text_pages_pdf(pages: list[str]) -> bytes:
    """A PDF of scanned-looking pages (no text layer), one line of large text each."""
    font = ImageFont.load_default(size=48)
    images = []
    for line in pages:
        page = Image.new("RGB", (1240, 1754), "white")
        ImageDraw.Draw(page).text((100, 200), line, fill="black", font=font)
        images.append(page)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return out.getvalue()


def malformed_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ngarbage garbage\n%%EOF\n"


def bomb_png(side: int = 100_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def truncated(data: bytes, fraction: float = 0.4) -> bytes:
    return data[: int(len(data) * fraction)]


def small_png(seed: int, size: tuple[int, int] = (96, 96)) -> bytes:
    """A distinct small picture per seed: coloured discs on a coloured ground."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    disc = min(width, height) // 4
    for _ in range(3):
        x, y = rng.randrange(width - disc), rng.randrange(height - disc)
        draw.ellipse((x, y, x + disc, y + disc), fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
