"""packages/python/README.md (also the PyPI page): its quick start must run as pasted."""

from __future__ import annotations

import contextlib
import io
import re
import uuid

import pytest

from conftest import REPO, Server


def python_blocks() -> list[str]:
    text = (REPO / "packages" / "python" / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```python\n(.*?)```", text, re.S)
    return blocks


def test_quick_start_runs() -> None:
    blocks = python_blocks()
    assert len(blocks) == 2, "the README has a Python quick start and a metering example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {"__name__": "__readme__"})
    printed = out.getvalue().splitlines()
    assert printed[0].startswith("ApiKey(prefix='acme_live', id='") and printed[0].endswith("secret=<redacted>)")
    assert printed[1] == "read_only_key"
    assert printed[2].endswith(" keys:read 600")
    assert printed[3] == "TimeError token_expired"


def test_metering_example_prints_what_its_comments_say() -> None:
    block = python_blocks()[1]
    assert "keyseal.Meter(" in block
    # Each print line ends with `# <what it prints>`.
    want = re.findall(r"^print\(.*  # (.*)$", block, re.M)
    assert len(want) >= 3
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    assert out.getvalue().splitlines() == want


def serve_blocks() -> list[str]:
    text = (REPO / "packages" / "python" / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```python serve\n(.*?)```", text, re.S)
    return blocks


def test_serve_examples_print_what_their_comments_say(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = serve_blocks()
    assert len(blocks) == 2, "the README has a client example and a FastAPI example"
    # A fresh account: the examples create keys with fixed names.
    account, owner_key = server.init(f"acct_readme_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("KEYSEAL_URL", server.url)
    monkeypatch.setenv("KEYSEAL_KEY", owner_key)
    for block in blocks:
        want = re.findall(r"^\s*print\(.*  # (.*)$", block, re.M)
        assert want
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
        assert out.getvalue().splitlines() == want
