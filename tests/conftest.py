from __future__ import annotations

from pathlib import Path

import pytest

from askidcpc.config import DEFAULT_CORPUS, Settings
from askidcpc.pipeline import Pipeline

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    return Pipeline.load(Settings(corpus=DEFAULT_CORPUS))
