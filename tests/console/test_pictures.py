"""The screenshot helper keeps a committed picture through a retake that differs only in a few
pixels of text (a clock, a longer time that shifts the columns after it), and replaces it when
the page looks different."""

import io
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from tests.console.pictures import CHANGED_SHARE, RETAKE, keep_screenshot, looks_different

WIDTH, HEIGHT = 1366, 900


def _page(clock: str, rows: int = 3, height: int = HEIGHT, button: str = "blue") -> bytes:
    """A light page with a header clock and a table of ``rows`` rows: the time a row was added,
    then a source column and a button placed after the time's text, as a PNG."""
    image = Image.new("RGB", (WIDTH, height), (243, 244, 246))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 40), fill=(30, 41, 59))
    draw.text((1000, 14), clock, fill=(255, 255, 255))
    for row in range(rows):
        top = 80 + 60 * row
        draw.text((20, top), f"12/6/2026, {clock}", fill=(20, 20, 20))
        after = 20 + int(draw.textlength(f"12/6/2026, {clock}")) + 40
        draw.text((after, top), "api", fill=(20, 20, 20))
        draw.rectangle((after + 300, top, after + 400, top + 30), fill=button)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_changed_clock_is_below_the_threshold_and_a_new_row_is_above() -> None:
    before, after = _page("4:30 PM"), _page("10:00 PM")  # the columns after it move right
    assert before != after  # the retake is not byte-equal: only the threshold keeps it
    assert not looks_different(before, after)
    assert looks_different(before, _page("4:30 PM", rows=4))
    assert looks_different(before, _page("4:30 PM", button="red"))
    assert looks_different(before, _page("4:30 PM", height=HEIGHT + 20))


def test_a_difference_just_over_the_share_counts() -> None:
    base = np.full((HEIGHT, WIDTH, 3), 200, dtype=np.uint8)
    changed = base.copy()
    over = int(WIDTH * HEIGHT * CHANGED_SHARE) + 1
    changed.reshape(-1, 3)[:over] = 0

    def png(pixels: NDArray[np.uint8]) -> bytes:
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="PNG")
        return out.getvalue()

    assert looks_different(png(base), png(changed))
    changed.reshape(-1, 3)[over - 2 : over] = 200
    assert not looks_different(png(base), png(changed))


def test_the_file_is_written_only_when_the_page_looks_different(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RETAKE, raising=False)
    path = keep_screenshot("page.png", _page("08:39 PM"), tmp_path)
    first = path.read_bytes()
    keep_screenshot("page.png", _page("08:40 PM"), tmp_path)
    assert path.read_bytes() == first
    keep_screenshot("page.png", _page("08:40 PM", rows=5), tmp_path)
    assert path.read_bytes() == _page("08:40 PM", rows=5)


def test_a_retake_on_purpose_always_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep_screenshot("page.png", _page("08:39 PM"), tmp_path)
    monkeypatch.setenv(RETAKE, "1")
    path = keep_screenshot("page.png", _page("08:40 PM"), tmp_path)
    assert path.read_bytes() == _page("08:40 PM")
