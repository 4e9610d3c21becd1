"""A FastAPI app protected by keyseal.

Clients authenticate with any of the three forms keyseal extracts from headers:

- ``x-api-key: <key>``
- ``Authorization: Bearer <key or token>``
- ``accessKey: <prefix_id>`` + ``secretKey: <secret+checksum>``

Each route states the scopes it needs with FastAPI's ``Security(auth, scopes=[...])``
(``keyseal.fastapi.KeysealAuth``, which also puts the scheme in the OpenAPI document);
read-only keys may only GET. ``POST /auth/token``
exchanges an API key for a 10-minute token, which then works as a Bearer credential for as
long as its key stays valid (revoking a key stops its tokens too).

Run it: ``KEYSEAL_PEPPER=... KEYSEAL_TOKEN_SECRET=... uvicorn app:app`` (from this folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from fastapi import FastAPI, HTTPException, Security

import keyseal
from keyseal.fastapi import KeysealAuth
from keyseal.guard import Guard, LocalKey, Principal

ISSUER = "https://api.acme.example"
FORMAT = keyseal.KeyFormat("acme_live")


@dataclass
class KeyRecord:
    """What the database stores for a key: never the key itself."""

    id: str
    owner: str
    digest: str
    policy: keyseal.KeyPolicy


@dataclass
class Store:
    """An in-memory stand-in for the keys table."""

    records: dict[str, KeyRecord] = field(default_factory=dict)

    def get(self, key_id: str) -> Optional[KeyRecord]:
        return self.records.get(key_id)

    def put(self, record: KeyRecord) -> None:
        self.records[record.id] = record


def create_app(peppers: keyseal.PepperSet, keyset: keyseal.Keyset, store: Store) -> FastAPI:
    app = FastAPI(title="keyseal example")

    def lookup(key_id: str) -> Optional[LocalKey]:
        # A database query in real life (it may be `async def`: the guard awaits it).
        record = store.get(key_id)
        if record is None:
            return None
        return LocalKey(record.id, record.digest, record.policy, owner=record.owner, role=record.policy.role)

    def upgrade(key: LocalKey, digest: str) -> None:
        # The key verified under an older pepper, or an imported digest: store the new one.
        record = store.get(key.id)
        if record is not None:
            record.digest = digest

    # In-process verification: the key's structure and checksum, its digest, its policy
    # (scopes per route, read-only keys only GET, IP ranges, expiry, revocation); tokens
    # by the keyset, and their key's current policy. With `keyseal serve`, the same
    # dependency takes `Guard(keyseal.AsyncClient(url))` instead.
    guard = Guard(lookup=lookup, key_format=FORMAT, peppers=peppers, keyset=keyset, issuer=ISSUER, on_outdated=upgrade)
    auth = KeysealAuth(guard)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "keyseal": keyseal.__version__}

    @app.get("/keys/me")
    def me(principal: Principal = Security(auth, scopes=["keys:read"])) -> dict[str, Optional[str]]:
        return {"key_id": principal.key_id, "owner": principal.owner, "via": principal.via}

    @app.post("/keys")
    def create_key(principal: Principal = Security(auth, scopes=["keys:write"])) -> dict[str, Any]:
        key = FORMAT.generate()
        owner = principal.owner or principal.key_id
        store.put(KeyRecord(key.id, owner, peppers.digest(key.expose()), keyseal.KeyPolicy(scopes=["keys:read"])))
        # The only time the full key is shown.
        return {"id": key.id, "key": key.expose()}

    @app.post("/auth/token")
    def token(principal: Principal = Security(auth)) -> dict[str, Any]:
        if principal.via != "api_key":
            raise HTTPException(401, detail={"code": "api_key_required", "message": "use an API key"})
        record = store.get(principal.key_id)
        assert record is not None
        ttl = 600
        access_token = keyset.exchange(
            key_id=record.id,
            owner=record.owner,
            scopes=record.policy.scopes,
            role=record.policy.role,
            issuer=ISSUER,
            ttl=ttl,
        )
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl}

    return app


def _secret(name: str) -> bytes:
    value = os.environ.get(name)
    # Without configuration the demo makes throw-away secrets: keys die with the process.
    return value.encode() if value else os.urandom(32)


app = create_app(
    keyseal.PepperSet(keyseal.Pepper("p1", _secret("KEYSEAL_PEPPER"))),
    keyseal.Keyset(keyseal.TokenKey("t1", _secret("KEYSEAL_TOKEN_SECRET"))),
    Store(),
)
