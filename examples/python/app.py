"""A FastAPI app protected by keyseal.

Clients authenticate with any of the three forms keyseal extracts from headers:

- ``x-api-key: <key>``
- ``Authorization: Bearer <key or token>``
- ``accessKey: <prefix_id>`` + ``secretKey: <secret+checksum>``

Each route states the scopes it needs; read-only keys may only GET. ``POST /auth/token``
exchanges an API key for a 10-minute token, which then works as a Bearer credential for as
long as its key stays valid (revoking a key stops its tokens too).

Run it: ``KEYSEAL_PEPPER=... KEYSEAL_TOKEN_SECRET=... uvicorn app:app`` (from this folder).
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from fastapi import Depends, FastAPI, HTTPException, Request

import keyseal

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


@dataclass(frozen=True)
class Principal:
    key_id: str
    owner: str
    via: str  # "api_key" or "token"


# The one code -> HTTP status table of keyseal (server/errors.json, generated from the
# server's src/error.rs): the keyseal server and the npm helpers answer the same statuses
# and the same WWW-Authenticate value. Outside this repository, point KEYSEAL_ERRORS_JSON
# at a copy of the file.
ERRORS_JSON = Path(
    os.environ.get("KEYSEAL_ERRORS_JSON", Path(__file__).resolve().parents[2] / "server" / "errors.json")
)
_TABLE: dict[str, Any] = json.loads(ERRORS_JSON.read_text(encoding="utf-8"))
# 401 for "who are you?" (a bad, unknown or unusable credential), 403 for "you may not".
STATUS: dict[str, int] = {c["code"]: c["credential_status"] for c in _TABLE["codes"]}
WWW_AUTHENTICATE: str = _TABLE["www_authenticate"]


def http_error(e: keyseal.KeysealError) -> HTTPException:
    status = STATUS.get(e.code, 500)
    # keyseal messages never contain keys, tokens or secrets, so they are safe to return.
    return HTTPException(
        status_code=status,
        detail={"code": e.code, "message": str(e)},
        headers={"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None,
    )


def client_ip(request: Request) -> Optional[str]:
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:  # e.g. a test client's "testclient"
        return None


def create_app(peppers: keyseal.PepperSet, keyset: keyseal.Keyset, store: Store) -> FastAPI:
    app = FastAPI(title="keyseal example")

    def resolve(request: Request) -> tuple[Principal, KeyRecord]:
        cred = keyseal.extract_credential(request.headers)
        if cred.kind == "token":
            claims = keyset.verify(cred.value, issuer=ISSUER).claims
            key_id = claims.get("key_id")
            record = store.get(key_id) if isinstance(key_id, str) else None
            if record is None:
                raise HTTPException(401, detail={"code": "not_found", "message": "unknown key"})
            return Principal(record.id, record.owner, "token"), record
        key = FORMAT.parse(cred.value)  # structure + checksum before any lookup
        record = store.get(key.id)
        if record is None:
            raise HTTPException(401, detail={"code": "not_found", "message": "unknown key"})
        if peppers.verify(cred.value, record.digest) == "outdated":
            record.digest = peppers.digest(cred.value)  # upgrade old peppers and imports
        return Principal(record.id, record.owner, "api_key"), record

    def require(*scopes: str, api_key_only: bool = False) -> Callable[[Request], Principal]:
        def dependency(request: Request) -> Principal:
            try:
                principal, record = resolve(request)
                if api_key_only and principal.via != "api_key":
                    raise HTTPException(401, detail={"code": "api_key_required", "message": "use an API key"})
                record.policy.check(
                    client_ip=client_ip(request),
                    method=request.method,
                    required_scopes=scopes,
                )
                return principal
            except keyseal.KeysealError as e:
                raise http_error(e) from None

        return dependency

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "keyseal": keyseal.__version__}

    @app.get("/keys/me")
    def me(principal: Principal = Depends(require("keys:read"))) -> dict[str, str]:
        return {"key_id": principal.key_id, "owner": principal.owner, "via": principal.via}

    @app.post("/keys")
    def create_key(principal: Principal = Depends(require("keys:write"))) -> dict[str, Any]:
        key = FORMAT.generate()
        store.put(KeyRecord(key.id, principal.owner, peppers.digest(key.expose()), keyseal.KeyPolicy(scopes=["keys:read"])))
        # The only time the full key is shown.
        return {"id": key.id, "key": key.expose()}

    @app.post("/auth/token")
    def token(principal: Principal = Depends(require(api_key_only=True))) -> dict[str, Any]:
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
