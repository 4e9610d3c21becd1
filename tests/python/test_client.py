"""keyseal.Client and keyseal.AsyncClient against a real `keyseal serve` (conftest.server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

import keyseal
from keyseal.client import Key

from conftest import Server


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(server: Server) -> Iterator[keyseal.Client]:
    with keyseal.Client(server.url, server.owner_key) as c:
        yield c


def test_whoami_and_account(client: keyseal.Client, server: Server) -> None:
    me = client.whoami()
    assert me["kind"] == "api_key" and me["account"] == server.account
    assert client.account == server.account
    assert server.owner_key not in repr(client)


def test_key_lifecycle(client: keyseal.Client) -> None:
    name = unique("svc")
    created = client.create_key(name, scopes=["invoices:read"], role="worker", metadata={"team": "billing"})
    assert created.key["name"] == name and created.key["scopes"] == ["invoices:read"]
    assert created.secret.endswith(created.secret_key) and created.access_key.endswith(created.id)
    # The secret is in the answer, never in its repr.
    assert created.secret not in repr(created) and created.secret_key not in repr(created)

    ok = client.verify(created.secret, required_scopes=["invoices:read"])
    assert ok.valid and ok.code == "ok" and ok.key is not None and ok.key["id"] == created.id and ok.status == 200
    denied = client.verify(created.secret, required_scopes=["invoices:write"])
    assert not denied.valid and denied.code == "insufficient_scope"

    got = client.get_key(created.id)
    assert got["name"] == name and client.get_key(name)["id"] == created.id
    updated = client.update_key(created.id, version=got["version"], description="the billing worker")
    assert updated["description"] == "the billing worker" and updated["version"] == got["version"] + 1
    with pytest.raises(keyseal.RegistryError) as stale:
        client.update_key(created.id, version=got["version"], description="stale")
    assert stale.value.code == "version_conflict" and getattr(stale.value, "status") == 412

    assert client.disable_key(created.id)["enabled"] is False
    assert client.verify(created.secret).code == "key_disabled"
    assert client.enable_key(created.id)["enabled"] is True
    assert client.verify(created.secret).valid

    rolled = client.roll_key(created.id)
    assert rolled.id == created.id and rolled.secret != created.secret
    assert client.verify(created.secret).code == "digest_mismatch"  # the old secret, after a roll without grace
    assert client.verify(rolled.secret).valid

    actions = [e["action"] for e in client.audit(key_id=created.id, page_size=2)]
    assert actions == ["roll", "update", "update", "update", "create"]  # enable/disable are updates

    client.delete_key(created.id)
    assert client.verify(rolled.secret).code == "key_revoked"
    with pytest.raises(keyseal.RegistryError) as missing:
        client.get_key(unique("nobody"))
    assert missing.value.code == "not_found" and missing.value.family == "registry" and getattr(missing.value, "status") == 404


def test_list_pages_through_cursors(client: keyseal.Client) -> None:
    owner = unique("owner")
    ids = {client.create_key(unique("k"), owner=owner).id for _ in range(5)}
    seen: list[Key] = list(client.list_keys(owner=owner, page_size=2))
    assert [k["id"] for k in seen if k["id"] in ids] == [k["id"] for k in seen]
    assert {k["id"] for k in seen} == ids and len(seen) == 5
    client.disable_key(next(iter(ids)))
    assert len(list(client.list_keys(owner=owner, status="active"))) == 4
    assert len(list(client.list_keys(owner=owner, status="inactive"))) == 1


def test_metering_cost_dry_run_and_headers(client: keyseal.Client) -> None:
    created = client.create_key(
        unique("metered"), limits=[{"name": "per_minute", "limit": 3, "window_ms": 60_000}], credits={"remaining": 10}
    )
    probe = client.verify(created.secret, cost=2, dry_run=True)
    assert probe.valid and probe.meter is not None and probe.meter["dry_run"] and probe.meter["limits"][0]["remaining"] == 1
    first = client.verify(created.secret, cost=2)
    assert first.valid and first.meter is not None and first.meter["limits"][0]["remaining"] == 1
    assert first.headers["RateLimit-Policy"] == '"per_minute";q=3;w=60'
    assert first.headers["RateLimit"].startswith('"per_minute";r=1;t=')
    refused = client.verify(created.secret, cost=2)
    assert not refused.valid and refused.code == "rate_limited" and refused.status == 429
    assert "Retry-After" in refused.headers
    assert client.get_key(created.id)["credits"] == {"remaining": 8, "refill": None}
    assert client.add_credits(created.id, 5) == 13
    with pytest.raises(keyseal.RegistryError) as unknown:
        client.verify(created.secret, limits=["per_hour"])
    assert getattr(unknown.value, "status") == 422


def test_owner_meter(client: keyseal.Client) -> None:
    owner = unique("tenant")
    meter = client.get_owner_meter(owner)
    assert meter["version"] == 0 and meter["limits"] == [] and meter["credits"] is None
    meter = client.update_owner_meter(owner, version=0, credits={"remaining": 2})
    assert meter["credits"] is not None and meter["credits"]["remaining"] == 2
    assert client.add_owner_credits(owner, 3) == 5
    key = client.create_key(unique("k"), owner=owner)
    answer = client.verify(key.secret, cost=5)
    assert answer.valid and answer.meter is not None and answer.meter["owner_credits"] is not None
    refused = client.verify(key.secret)
    assert refused.code == "usage_exceeded" and refused.status == 429
    meter = client.update_owner_meter(owner, version=client.get_owner_meter(owner)["version"], credits="remove")
    assert meter["credits"] is None and client.verify(key.secret).valid


def test_tokens(client: keyseal.Client, server: Server) -> None:
    created = client.create_key(unique("tok"), scopes=["a:read"], owner="svc")
    token = client.exchange_token(created.secret)
    assert token.token_type.lower() == "bearer" and 0 < token.expires_in <= 600
    assert token.token not in repr(token)
    checked = client.verify_token(token.token, account=server.account)
    assert checked["valid"] and checked["key_id"] == created.id and checked["claims"] is not None
    assert checked["claims"]["scope"] == "a:read"
    assert client.verify_token(token.token, account="acct_other")["code"] == "invalid_claim"
    who = client.whoami(token=token.token)
    assert who["kind"] == "token" and who["key_id"] == created.id
    client.disable_key(created.id)
    assert client.verify_token(token.token)["code"] == "key_disabled"
    with pytest.raises(keyseal.PolicyError) as refused:
        client.exchange_token(created.secret)
    assert refused.value.code == "key_disabled" and getattr(refused.value, "status") == 401
    assert created.secret not in str(refused.value)


def test_errors_carry_codes_never_secrets(server: Server) -> None:
    bad = server.owner_key[:-1] + ("A" if server.owner_key[-1] != "A" else "B")
    with keyseal.Client(server.url, bad) as c:
        with pytest.raises(keyseal.MalformedError) as e:
            c.whoami()
        assert e.value.code == "bad_checksum" and getattr(e.value, "status") == 401
        assert bad not in str(e.value) and bad not in repr(e.value) and bad not in repr(c)
    with keyseal.Client(server.url, None) as anonymous:
        # Without KEYSEAL_KEY a management call fails before any request.
        with pytest.raises(keyseal.CredentialError) as e2:
            anonymous.get_key("x")
        assert e2.value.code == "missing_credential"
    account, other_owner = server.init(unique("acct"))
    with keyseal.Client(server.url, other_owner, account=server.account) as other:
        # Another account's owner sees ours as missing.
        with pytest.raises(keyseal.RegistryError) as e3:
            list(other.list_keys())
        assert e3.value.code == "not_found"
    with keyseal.Client(server.url, other_owner) as mine:
        assert mine.account == account


def test_key_from_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSEAL_KEY", server.owner_key)
    monkeypatch.setenv("KEYSEAL_URL", server.url)
    with keyseal.Client() as c:
        assert c.whoami()["account"] == server.account and c.url == server.url


def scripted(statuses: list[int], seen: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        status = statuses.pop(0)
        if status == 503:
            return httpx.Response(503, json={"error": {"code": "storage_unavailable", "message": "busy"}}, headers={"retry-after": "0"})
        if request.method == "GET":
            return httpx.Response(200, json={"id": "k1", "name": "n"})
        return httpx.Response(201, json={"id": "k1", "name": "n", "secret": "ks_s", "access_key": "ks_k1", "secret_key": "s"})

    return httpx.MockTransport(handle)


def test_retries_only_idempotent_calls() -> None:
    seen: list[str] = []
    with keyseal.Client("http://keyseal.test", "k", account="a", transport=scripted([503, 503, 200], seen), backoff=0) as c:
        assert c.get_key("k1")["id"] == "k1"
    assert seen == ["GET", "GET", "GET"]
    seen.clear()
    with keyseal.Client("http://keyseal.test", "k", account="a", transport=scripted([503, 201], seen), backoff=0) as c:
        with pytest.raises(keyseal.RegistryError) as e:
            c.create_key("n")
        assert e.value.code == "storage_unavailable" and getattr(e.value, "retry_after") == 0
    assert seen == ["POST"]
    seen.clear()
    with keyseal.Client("http://keyseal.test", "k", account="a", transport=scripted([503, 503, 503], seen), retries=1, backoff=0) as c:
        with pytest.raises(keyseal.RegistryError):
            c.get_key("k1")
    assert seen == ["GET", "GET"]


def test_connection_refused_is_retried_then_raised() -> None:
    attempts: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    with keyseal.Client("http://keyseal.test", "k", account="a", transport=httpx.MockTransport(refuse), retries=2, backoff=0) as c:
        with pytest.raises(httpx.ConnectError):
            c.create_key("n")
    assert len(attempts) == 3


def test_async_client(server: Server) -> None:
    async def main() -> None:
        async with keyseal.AsyncClient(server.url, server.owner_key) as c:
            assert await c.account() == server.account
            owner = unique("async")
            created = await c.create_key(unique("k"), owner=owner, scopes=["x:read"], credits={"remaining": 100})
            assert (await c.verify(created.secret, required_scopes=["x:read"])).valid
            assert [k["id"] async for k in c.list_keys(owner=owner, page_size=1)] == [created.id]
            key = await c.get_key(created.id)
            await c.update_key(created.id, version=key["version"], role="reader")
            await c.disable_key(created.id)
            assert (await c.verify(created.secret)).code == "key_disabled"
            await c.enable_key(created.id)
            token = await c.exchange_token(created.secret)
            assert (await c.verify_token(token.token, account=server.account))["valid"]
            assert (await c.whoami(token=token.token))["key_id"] == created.id
            rolled = await c.roll_key(created.id, grace_seconds=60)
            assert (await c.verify(created.secret)).valid and (await c.verify(rolled.secret)).valid
            assert 90 < await c.add_credits(created.id, 1) <= 101
            meter = await c.update_owner_meter(
                owner, version=0, limits=[{"name": "per_s", "limit": 5, "window_ms": 1000}], credits={"remaining": 0}
            )
            assert (await c.get_owner_meter(owner))["limits"] == meter["limits"]
            assert await c.add_owner_credits(owner, 2) == 2
            assert len([e async for e in c.audit(key_id=created.id)]) >= 5
            await c.delete_key(created.id)
            with pytest.raises(keyseal.RegistryError):
                await c.get_key(unique("nobody"))

    asyncio.run(main())
