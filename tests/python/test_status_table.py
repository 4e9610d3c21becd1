"""One code -> HTTP status table: the framework integrations (keyseal.guard, used by the
FastAPI example through keyseal.fastapi) answer every keyseal error with the status and
WWW-Authenticate value of server/errors.json (generated from the server's src/error.rs,
which the server's tests keep fresh). Fails when they drift."""

from __future__ import annotations

import json
from typing import Any

import pytest

import keyseal

from keyseal.fastapi import http_exception
from keyseal.guard import as_refusal

from conftest import REPO, VECTORS

TABLE: dict[str, Any] = json.loads((REPO / "server" / "errors.json").read_text(encoding="utf-8"))


def test_the_table_covers_every_code() -> None:
    core = json.loads((VECTORS / "errors.json").read_text(encoding="utf-8"))["codes"]
    assert [(c["code"], c["family"]) for c in TABLE["codes"]] == [(c["code"], c["family"]) for c in core]


@pytest.mark.parametrize("row", TABLE["codes"], ids=lambda r: r["code"])
def test_integrations_answer_the_table(row: dict[str, Any]) -> None:
    cls: type[keyseal.KeysealError] = getattr(keyseal, row["family"].capitalize() + "Error")
    error = cls(f"{row['code']}: a test error")
    error.code = row["code"]
    error.family = row["family"]
    answer = http_exception(as_refusal(error))
    assert answer.status_code == row["credential_status"]
    if answer.status_code == 401:
        assert answer.headers == {"WWW-Authenticate": TABLE["www_authenticate"]}
    else:
        assert not answer.headers
