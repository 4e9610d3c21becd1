"""The FastAPI example (examples/python/app.py), driven through FastAPI's TestClient."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import keyseal

from conftest import REPO


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("keyseal_example_app", REPO / "examples" / "python" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()
PEPPERS = keyseal.PepperSet(keyseal.Pepper("p1", b"p" * 32))
KEYSET = keyseal.Keyset(keyseal.TokenKey("t1", b"t" * 32))


class Keys:
    def __init__(self, store: Any) -> None:
        self.store = store

    def add(self, owner: str, imported: bool = False, **policy: Any) -> keyseal.ApiKey:
        key: keyseal.ApiKey = example.FORMAT.generate()
        digest = keyseal.sha256_hex(key.expose()) if imported else PEPPERS.digest(key.expose())
        self.store.put(example.KeyRecord(key.id, owner, digest, keyseal.KeyPolicy(**policy)))
        return key


@pytest.fixture
def env() -> Iterator[tuple[TestClient, Keys]]:
    store = example.Store()
    with TestClient(example.create_app(PEPPERS, KEYSET, store)) as client:
        yield client, Keys(store)


def test_health_needs_no_key(env: tuple[TestClient, Keys]) -> None:
    client, _ = env
    assert client.get("/health").json() == {"status": "ok", "keyseal": keyseal.__version__}


def test_missing_and_bad_credentials(env: tuple[TestClient, Keys]) -> None:
    client, keys = env
    r = client.get("/keys/me")
    assert r.status_code == 401 and r.json()["detail"]["code"] == "missing_credential"
    key = keys.add("alice", scopes=["keys:read"])
    typo = key.expose()[:-1] + ("A" if key.expose()[-1] != "A" else "B")
    r = client.get("/keys/me", headers={"x-api-key": typo})
    assert r.status_code == 401 and r.json()["detail"]["code"] == "bad_checksum"
    assert typo not in r.text
    unknown = example.FORMAT.generate().expose()
    assert client.get("/keys/me", headers={"x-api-key": unknown}).status_code == 401
    r = client.get("/keys/me", headers={"x-api-key": key.expose(), "authorization": f"Bearer {key.expose()}"})
    assert r.status_code == 401 and r.json()["detail"]["code"] == "ambiguous_credential"


@pytest.mark.parametrize("form", ["x-api-key", "bearer", "key-pair"])
def test_three_header_forms(env: tuple[TestClient, Keys], form: str) -> None:
    client, keys = env
    key = keys.add("alice", scopes=["keys:read"])
    headers = {
        "x-api-key": {"x-api-key": key.expose()},
        "bearer": {"Authorization": f"Bearer {key.expose()}"},
        "key-pair": {"accessKey": key.prefixed_id, "secretKey": key.expose_secret_with_checksum()},
    }[form]
    r = client.get("/keys/me", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"key_id": key.id, "owner": "alice", "via": "api_key"}


def test_scopes_and_read_only(env: tuple[TestClient, Keys]) -> None:
    client, keys = env
    writer = keys.add("alice", scopes=["keys:*"])
    reader = keys.add("bob", scopes=["keys:*"], read_only=True)
    narrow = keys.add("carol", scopes=["billing:read"])
    r = client.post("/keys", headers={"x-api-key": writer.expose()})
    assert r.status_code == 200
    created = r.json()["key"]
    assert client.get("/keys/me", headers={"x-api-key": created}).json()["owner"] == "alice"
    r = client.post("/keys", headers={"x-api-key": reader.expose()})
    assert r.status_code == 403 and r.json()["detail"]["code"] == "read_only_key"
    assert client.get("/keys/me", headers={"x-api-key": reader.expose()}).status_code == 200
    r = client.get("/keys/me", headers={"x-api-key": narrow.expose()})
    assert r.status_code == 403 and r.json()["detail"]["code"] == "insufficient_scope"
    revoked = keys.add("dave", scopes=["keys:read"], revoked=True)
    r = client.get("/keys/me", headers={"x-api-key": revoked.expose()})
    assert r.status_code == 401 and r.json()["detail"]["code"] == "key_revoked"


def test_exchange_key_for_ten_minute_token(env: tuple[TestClient, Keys]) -> None:
    client, keys = env
    key = keys.add("alice", scopes=["keys:read"], role="admin")
    r = client.post("/auth/token", headers={"x-api-key": key.expose()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    token = body["access_token"]
    claims = KEYSET.verify(token, issuer=example.ISSUER).claims
    assert claims["exp"] - claims["iat"] == 600
    assert (claims["sub"], claims["key_id"], claims["scope"], claims["role"]) == ("alice", key.id, "keys:read", "admin")
    with pytest.raises(keyseal.TimeError):
        KEYSET.verify(token, issuer=example.ISSUER, now=claims["iat"] + 600)
    r = client.get("/keys/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["via"] == "token"
    # A token cannot mint more tokens, and a tampered one is refused.
    assert client.post("/auth/token", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    r = client.get("/keys/me", headers={"Authorization": f"Bearer {token[:-3]}AAA"})
    assert r.status_code == 401 and r.json()["detail"]["code"] == "bad_signature"
    # Revoking the key kills its tokens.
    keys.store.put(example.KeyRecord(key.id, "alice", PEPPERS.digest(key.expose()), keyseal.KeyPolicy(revoked=True)))
    assert client.get("/keys/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_imported_digest_is_upgraded(env: tuple[TestClient, Keys]) -> None:
    client, keys = env
    key = keys.add("erin", imported=True, scopes=["keys:read"])
    assert keys.store.get(key.id).digest == hashlib.sha256(key.expose().encode()).hexdigest()
    assert client.get("/keys/me", headers={"x-api-key": key.expose()}).status_code == 200
    assert keys.store.get(key.id).digest == PEPPERS.digest(key.expose())
