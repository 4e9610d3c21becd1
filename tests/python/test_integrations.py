"""The framework integrations (FastAPI, Starlette, Flask, Django) against a real
`keyseal serve`: a key created through the client works through each integration, a
disabled one is refused once the cache TTL has passed, limits answer 429 with the
metering headers, and in-process guards (sync and async lookups) answer the same."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Optional

import pytest

import keyseal
from keyseal.guard import STATUS, Guard, LocalKey, Principal, requirement

from conftest import REPO, Server

TTL = 1.0  # the default: a second request right after the first is a cache hit even on a loaded machine


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def owner(server: Server) -> Iterator[keyseal.Client]:
    with keyseal.Client(server.url, server.owner_key) as c:
        yield c


class Answer:
    def __init__(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, {k.lower(): v for k, v in headers.items()}


Get = Callable[[dict[str, str]], Answer]


def lifecycle(owner: keyseal.Client, get: Get, code_of: Callable[[Any], str]) -> None:
    """The story every integration must tell, through `get(headers)` on a route needing
    the scope `invoices:read`."""
    assert get({}).status == 401 and code_of(get({}).body) == "missing_credential"
    created = owner.create_key(unique("svc"), scopes=["invoices:read"])
    first = get({"x-api-key": created.secret})
    assert first.status == 200, first.body
    assert first.body["key_id"] == created.id and first.body["cached"] is False
    assert get({"authorization": f"Bearer {created.secret}"}).body["cached"] is True
    pair = get({"accessKey": created.access_key, "secretKey": created.secret_key})
    assert pair.status == 200 and pair.body["key_id"] == created.id

    narrow = owner.create_key(unique("narrow"), scopes=["other:read"])
    refused = get({"x-api-key": narrow.secret})
    assert refused.status == STATUS["insufficient_scope"] == 403 and code_of(refused.body) == "insufficient_scope"

    owner.disable_key(created.id)
    time.sleep(TTL + 0.05)
    gone = get({"x-api-key": created.secret})
    assert gone.status == 401 and code_of(gone.body) == "key_disabled"
    assert gone.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert created.secret not in json.dumps(gone.body)

    # A token exchanged for a key works too (checked by the server, key state included).
    tok_key = owner.create_key(unique("tok"), scopes=["invoices:read"])
    token = owner.exchange_token(tok_key.secret)
    by_token = get({"authorization": f"Bearer {token.token}"})
    assert by_token.status == 200 and by_token.body["key_id"] == tok_key.id

    # Metered keys: every request spends, so nothing is cached; the 429 carries the headers.
    metered = owner.create_key(
        unique("metered"), scopes=["invoices:read"], limits=[{"name": "per_minute", "limit": 2, "window_ms": 60_000}]
    )
    ok = get({"x-api-key": metered.secret})
    assert ok.status == 200 and ok.body["cached"] is False
    assert ok.headers["ratelimit-policy"] == '"per_minute";q=2;w=60'
    assert get({"x-api-key": metered.secret}).status == 200
    limited = get({"x-api-key": metered.secret})
    assert limited.status == 429 and code_of(limited.body) == "rate_limited"
    assert limited.headers["ratelimit"].startswith('"per_minute";r=0;t=') and "retry-after" in limited.headers


def fastapi_code(body: Any) -> str:
    return str(body["detail"]["code"])


def server_code(body: Any) -> str:
    return str(body["error"]["code"])


def principal_json(p: Principal) -> dict[str, Any]:
    return {"key_id": p.key_id, "owner": p.owner, "via": p.via, "cached": p.cached}


# -- FastAPI --------------------------------------------------------------------------------


def fastapi_app(guard: Guard) -> Any:
    from fastapi import FastAPI, Security

    from keyseal.fastapi import KeysealAuth

    auth = KeysealAuth(guard)
    app = FastAPI()

    @app.get("/invoices")
    async def invoices(who: Principal = Security(auth, scopes=["invoices:read"])) -> dict[str, Any]:
        return principal_json(who)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.mark.parametrize("flavour", ["AsyncClient", "Client"])
def test_fastapi(server: Server, owner: keyseal.Client, flavour: str) -> None:
    from fastapi.testclient import TestClient

    client: Any = keyseal.AsyncClient(server.url, server.owner_key) if flavour == "AsyncClient" else keyseal.Client(server.url, server.owner_key)
    app = fastapi_app(Guard(client, cache_ttl=TTL))
    with TestClient(app) as http:

        def get(headers: dict[str, str]) -> Answer:
            r = http.get("/invoices", headers=headers)
            return Answer(r.status_code, r.json(), dict(r.headers))

        lifecycle(owner, get, fastapi_code)
        schema = http.get("/openapi.json").json()
        assert schema["components"]["securitySchemes"]["keyseal"] == {
            "type": "apiKey",
            "in": "header",
            "name": "x-api-key",
            "description": "A keyseal API key (x-api-key, Authorization: Bearer, or accessKey + secretKey) or exchange token",
        }
        assert schema["paths"]["/invoices"]["get"]["security"] == [{"keyseal": ["invoices:read"]}]


def test_fastapi_cost_and_dry_run_pass_through(server: Server, owner: keyseal.Client) -> None:
    from fastapi import FastAPI, Security
    from fastapi.testclient import TestClient

    from keyseal.fastapi import KeysealAuth

    auth = KeysealAuth(Guard(keyseal.AsyncClient(server.url), cache_ttl=TTL))
    app = FastAPI()

    @app.post("/reports")
    async def report(who: Principal = Security(auth.require(cost=3))) -> dict[str, Any]:
        assert who.meter is not None
        return {"remaining": who.meter["credits"]["remaining"]}

    @app.get("/reports/probe")
    async def probe(who: Principal = Security(auth.require(cost=3, dry_run=True))) -> dict[str, Any]:
        assert who.meter is not None
        return {"remaining": who.meter["credits"]["remaining"]}

    key = owner.create_key(unique("credits"), credits={"remaining": 7})
    with TestClient(app) as http:
        h = {"x-api-key": key.secret}
        assert http.get("/reports/probe", headers=h).json() == {"remaining": 4}
        assert http.post("/reports", headers=h).json() == {"remaining": 4}
        assert http.post("/reports", headers=h).json() == {"remaining": 1}
        refused = http.post("/reports", headers=h)
        assert refused.status_code == 429 and refused.json()["detail"]["code"] == "usage_exceeded"
    assert owner.get_key(key.id)["credits"] == {"remaining": 1, "refill": None}


# -- Starlette (ASGI middleware) -----------------------------------------------------------


def test_starlette_middleware(server: Server, owner: keyseal.Client) -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from keyseal.starlette import KeysealMiddleware

    async def invoices(request: Request) -> JSONResponse:
        return JSONResponse(principal_json(request.state.keyseal))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    guard = Guard(keyseal.AsyncClient(server.url), cache_ttl=TTL)
    app = Starlette(
        routes=[Route("/invoices", invoices), Route("/health", health)],
        middleware=[Middleware(KeysealMiddleware, guard=guard, requirement=requirement(["invoices:read"]), exclude=["/health"])],
    )
    with TestClient(app) as http:
        assert http.get("/health").status_code == 200

        def get(headers: dict[str, str]) -> Answer:
            r = http.get("/invoices", headers=headers)
            return Answer(r.status_code, r.json(), dict(r.headers))

        lifecycle(owner, get, server_code)


# -- Flask --------------------------------------------------------------------------------


def test_flask_decorator(server: Server, owner: keyseal.Client) -> None:
    from flask import Flask, g

    from keyseal.flask import require_key

    guard = Guard(keyseal.Client(server.url), cache_ttl=TTL)
    app = Flask(__name__)

    @app.get("/invoices")
    @require_key(guard, scopes=["invoices:read"])
    def invoices() -> dict[str, Any]:
        return principal_json(g.keyseal)

    http = app.test_client()

    def get(headers: dict[str, str]) -> Answer:
        r = http.get("/invoices", headers=headers)
        return Answer(r.status_code, r.get_json(), dict(r.headers))

    lifecycle(owner, get, server_code)


# -- Django -------------------------------------------------------------------------------

DJANGO_GUARD: Optional[Guard] = None


def django_views() -> Any:
    from django.http import HttpRequest, JsonResponse
    from django.urls import path

    from keyseal.django import require_key

    def invoices(request: HttpRequest) -> JsonResponse:
        return JsonResponse(principal_json(getattr(request, "keyseal")))

    def decorated(request: HttpRequest) -> Any:
        assert DJANGO_GUARD is not None
        return require_key(DJANGO_GUARD, scopes=["invoices:read"])(invoices)(request)

    return [path("api/invoices", invoices), path("view/invoices", decorated)]


urlpatterns: list[Any] = []


@pytest.fixture
def django_settings(server: Server) -> Iterator[None]:
    global DJANGO_GUARD
    import django
    from django.conf import settings

    DJANGO_GUARD = Guard(keyseal.Client(server.url), cache_ttl=TTL)
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=__name__,
            SECRET_KEY="only-for-tests",
            MIDDLEWARE=["keyseal.django.KeysealMiddleware"],
            KEYSEAL_GUARD=f"{__name__}.DJANGO_GUARD",
            KEYSEAL_PATHS=["/api/"],
            KEYSEAL_SCOPES=["invoices:read"],
        )
        django.setup()
        urlpatterns[:] = django_views()
    yield


@pytest.mark.parametrize("route", ["/api/invoices", "/view/invoices"])
def test_django(django_settings: None, owner: keyseal.Client, route: str) -> None:
    from django.test import Client as DjangoClient

    http = DjangoClient()

    def get(headers: dict[str, str]) -> Answer:
        r = http.get(route, headers=headers)
        return Answer(r.status_code, json.loads(r.content), dict(r.headers))

    lifecycle(owner, get, server_code)


# -- in-process guards ------------------------------------------------------------------------


def test_in_process_guard_sync_and_async_lookup() -> None:
    import asyncio

    fmt = keyseal.KeyFormat("acme")
    peppers = keyseal.PepperSet(keyseal.Pepper("p1", b"p" * 32))
    key = fmt.generate()
    ro = fmt.generate()
    rows = {
        key.id: LocalKey(key.id, peppers.digest(key.expose()), keyseal.KeyPolicy(scopes=["a:read"]), owner="alice"),
        ro.id: LocalKey(ro.id, peppers.digest(ro.expose()), keyseal.KeyPolicy(read_only=True)),
    }
    sync = Guard(lookup=rows.get, key_format=fmt, peppers=peppers)
    p = sync.check({"x-api-key": key.expose()}, method="GET", requirement=requirement(["a:read"]))
    assert p.key_id == key.id and p.owner == "alice" and p.via == "api_key"
    with pytest.raises(keyseal.PolicyError) as denied:
        sync.check({"x-api-key": key.expose()}, requirement=requirement(["a:write"]))
    assert getattr(denied.value, "status") == 403
    with pytest.raises(keyseal.PolicyError) as read_only:
        sync.check({"x-api-key": ro.expose()}, method="DELETE")
    assert read_only.value.code == "read_only_key"
    with pytest.raises(keyseal.KeysealError) as unknown:
        sync.check({"x-api-key": fmt.generate().expose()})
    assert unknown.value.code == "not_found" and getattr(unknown.value, "status") == 401

    async def lookup(key_id: str) -> Optional[LocalKey]:
        await asyncio.sleep(0)
        return rows.get(key_id)

    guard = Guard(lookup=lookup, key_format=fmt, peppers=peppers)
    got = asyncio.run(guard.acheck({"authorization": f"Bearer {key.expose()}"}, method="GET"))
    assert got.key_id == key.id
    typo = key.expose()[:-1] + ("A" if key.expose()[-1] != "A" else "B")
    with pytest.raises(keyseal.MalformedError) as malformed:
        asyncio.run(guard.acheck({"x-api-key": typo}))
    assert malformed.value.code == "bad_checksum" and typo not in str(malformed.value)


def test_cache_is_bounded_and_the_default_ttl_is_one_second() -> None:
    guard = Guard(keyseal.Client("http://127.0.0.1:9"), cache_size=2)
    assert guard.cache.ttl == 1.0
    for i in range(5):
        guard.cache.put(("k", i), Principal("id", None, None, None, (), "api_key"))
    assert len(guard.cache) == 2 and guard.cache.get(("k", 0)) is None and guard.cache.get(("k", 4)) is not None


def test_status_table_shipped_in_the_package_is_the_servers() -> None:
    shipped = json.loads((REPO / "packages" / "python" / "keyseal" / "errors.json").read_text(encoding="utf-8"))
    assert shipped == json.loads((REPO / "server" / "errors.json").read_text(encoding="utf-8"))
    assert STATUS == {c["code"]: c["credential_status"] for c in shipped["codes"]}
