"""packages/python/README.md (also the PyPI page): its quick start must run as pasted."""

from __future__ import annotations

import contextlib
import io
import re

from conftest import REPO


def test_quick_start_runs() -> None:
    text = (REPO / "packages" / "python" / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "the README has one Python quick start"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {"__name__": "__readme__"})
    printed = out.getvalue().splitlines()
    assert printed[0].startswith("ApiKey(prefix='acme_live', id='") and printed[0].endswith("secret=<redacted>)")
    assert printed[1] == "read_only_key"
    assert printed[2].endswith(" keys:read 600")
    assert printed[3] == "TimeError token_expired"
