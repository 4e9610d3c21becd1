"""Shared fixtures: where the repository's vectors are, and a guard that the keyseal under
test is the installed wheel, not the source tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import keyseal

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors"


def load_vectors() -> list[tuple[str, dict[str, Any]]]:
    """Every vector file but errors.json, as (file name, parsed JSON)."""
    files = sorted(p for p in VECTORS.glob("*.json") if p.name != "errors.json")
    return [(p.name, json.loads(p.read_text(encoding="utf-8"))) for p in files]


@pytest.fixture(scope="session", autouse=True)
def installed_wheel() -> None:
    # The suite tests what users install: the compiled module must come from site-packages.
    location = Path(keyseal.__file__).resolve()
    assert "site-packages" in location.parts, f"keyseal imported from {location}, not a wheel"
