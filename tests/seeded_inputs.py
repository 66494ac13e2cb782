"""Seeded test inputs.

Uniform noise is a poor input for the OCR models: PP-OCR's detector answers ~1e-5 everywhere on it, so an
agreement test would compare two near-zero maps. ``text_image`` draws rows of dark random "glyphs" on a
light, slightly noisy background; the detector then fires on them (a few % of the map near 1.0), and the
recognizer and classifier see text-like strokes.
"""

from __future__ import annotations

import numpy as np


def text_image(h: int, w: int, seed: int, lines: int | None = None) -> np.ndarray:
    """H x W x 3 float32 image in [0, 1] with `lines` rows of glyph-like strokes (one row when h < 100)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 0.92, np.float32) + rng.normal(0, 0.02, (h, w, 3)).astype(np.float32)
    if lines is None:
        lines = 1 if h < 100 else max(1, h // 50)
    for _ in range(lines):
        if lines == 1:  # one text line filling the middle of a strip, as OCR crops are
            gh = max(8, int(h * 0.6))
            y = (h - gh) // 2
            x = int(rng.integers(0, max(1, w // 10)))
        else:
            gh = int(rng.integers(14, 30))
            y = int(rng.integers(0, h - gh))
            x = int(rng.integers(0, w // 2))
        gw = max(4, int(gh * 0.7))
        for k in range(int(rng.integers(5, 20))):
            gx = x + k * int(gh * 0.9)
            if gx + gw > w:
                break
            glyph = rng.random((gh, gw)) < 0.35
            img[y:y + gh, gx:gx + gw][glyph] = 0.1
    return np.clip(img, 0.0, 1.0)


def ppocr_input(h: int, w: int, seed: int) -> np.ndarray:
    """1 x 3 x H x W, normalized the way RapidOCR feeds PP-OCR ((x - 0.5) / 0.5)."""
    img = text_image(h, w, seed)
    return ((img - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32)


def ddddocr_input(w: int, seed: int) -> np.ndarray:
    """1 x 1 x 64 x W grayscale in [0, 1], as ddddocr feeds its default model (height fixed at 64)."""
    return text_image(64, w, seed).mean(axis=-1)[None, None].astype(np.float32)


def vad_chunks(n: int, seed: int, samples: int = 512) -> list[np.ndarray]:
    """n consecutive 16 kHz chunks (1 x samples): a tone burst with noise, so the VAD state moves."""
    rng = np.random.default_rng(seed)
    t = np.arange(n * samples) / 16000.0
    envelope = (np.sin(2 * np.pi * 3.0 * t) > 0).astype(np.float32)
    audio = 0.3 * envelope * np.sin(2 * np.pi * 220.0 * t) + 0.02 * rng.standard_normal(t.size)
    return [audio[i * samples:(i + 1) * samples][None].astype(np.float32) for i in range(n)]
