"""Shared fixtures: where the repository's vectors are, and a guard that the keyseal under
test is the installed wheel, not the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
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


# ---------------------------------------------------------------------------------------
# A real `keyseal serve` on 127.0.0.1 (SQLite in a temporary folder), for the HTTP client
# and the framework integrations. The binary is KEYSEAL_BIN (scripts/test-python builds it).


class Server:
    """A running `keyseal serve`: its URL, and an account with its owner key."""

    def __init__(self, url: str, account: str, owner_key: str, env: dict[str, str], bin: str) -> None:
        self.url = url
        self.account = account
        self.owner_key = owner_key
        self._env = env
        self._bin = bin

    def init(self, account: str) -> tuple[str, str]:
        """Another account and its owner key (`keyseal init`)."""
        out = subprocess.run(
            [self._bin, "init", "--json", "--account", account], env=self._env, check=True, capture_output=True, text=True
        )
        v = json.loads(out.stdout)
        return str(v["account"]), str(v["secret"])


def _server_bin() -> str:
    found = os.environ.get("KEYSEAL_BIN")
    if found:
        return found
    for candidate in (REPO / "target" / "debug" / "keyseal", REPO / "target" / "release" / "keyseal"):
        if candidate.exists():
            return str(candidate)
    pytest.skip("no keyseal server binary: set KEYSEAL_BIN (scripts/test-python builds one)")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    bin = _server_bin()
    folder = tmp_path_factory.mktemp("keyseal-serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYSEAL_")}
    env.update(KEYSEAL_DB=str(folder / "keyseal.db"), KEYSEAL_CONFIG=str(folder / "keyseal.toml"), KEYSEAL_LOG="warn")
    out = subprocess.run([bin, "init", "--json", "--account", "acct_py"], env=env, check=True, capture_output=True, text=True)
    owner = json.loads(out.stdout)
    proc = subprocess.Popen([bin, "serve", "--addr", "127.0.0.1:0"], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    assert first.startswith("keyseal listening on "), f"unexpected first line: {first!r}"
    # Keep draining stdout so the server never blocks on a full pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    try:
        yield Server(first.removeprefix("keyseal listening on "), owner["account"], owner["secret"], env, bin)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
