"""Recordings and exports go to a temporary directory."""

from pathlib import Path

import pytest

from opendialer.config import Settings


@pytest.fixture(autouse=True)
def storage(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(settings, "recordings_dir", tmp_path / "recordings")
    monkeypatch.setattr(settings, "exports_dir", tmp_path / "exports")
    return tmp_path
