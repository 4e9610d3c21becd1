"""The asyncio client for the ``keyseal serve`` HTTP API: :class:`AsyncClient`, the
:class:`~keyseal.client.Client` twin with the same methods, awaited (see ``client.py``
for the shapes, the errors and the retries both share)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, Literal, Mapping, Optional, Sequence, Tuple, Union

import httpx

from .client import (
    Actor,
    AuditEntry,
    Client,
    CreatedKey,
    CreditReport,
    Credits,
    DEFAULT_URL,
    Key,
    Limit,
    LimitReport,
    MeterReport,
    OwnerMeter,
    Refill,
    Token,
    TokenVerification,
    Verification,
    Whoami,
    _Base,
    _Req,
    _created,
    _cursor,
    _drop_none,
    _exchange_req,
    _key_body,
    _list_params,
    _no_key,
    _quote,
    _verification,
    _verify_req,
)


class AsyncClient(_Base):
    """The asyncio twin of :class:`Client`: the same methods, awaited; lists are async
    iterators. Use ``async with``, or ``await client.aclose()``."""

    def __init__(
        self,
        url: Optional[str] = None,
        key: Optional[str] = None,
        *,
        account: Optional[str] = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: Optional[httpx.AsyncBaseTransport] = None,
    ) -> None:
        super().__init__(url, key, account, timeout, retries, backoff)
        self._http = httpx.AsyncClient(base_url=self._url, timeout=timeout, transport=transport)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, req: _Req) -> Tuple[int, Any, httpx.Headers]:
        headers = self._headers(req)
        attempt = 0
        while True:
            answer: Optional[httpx.Response] = None
            try:
                answer = await self._http.request(req.method, req.path, params=req.params, json=req.body, headers=headers)
            except httpx.TransportError as exc:
                if not self._should_retry(req, attempt, None, exc):
                    raise
            else:
                if not self._should_retry(req, attempt, answer, None):
                    return self._parse(req, answer)
            await asyncio.sleep(self._delay(attempt, answer))
            attempt += 1

    async def _call(self, req: _Req) -> Any:
        return (await self._send(req))[1]

    async def _acct(self) -> str:
        if self._account is None:
            self._account = (await self.whoami())["account"]
        return _quote(self._account)

    async def account(self) -> str:
        """The account the management calls act on."""
        await self._acct()
        assert self._account is not None
        return self._account

    async def create_key(
        self,
        name: str,
        *,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        role: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        read_only: Optional[bool] = None,
        allowed_ips: Optional[Sequence[str]] = None,
        expires_at: Optional[int] = None,
        enabled: Optional[bool] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        limits: Optional[Sequence[Limit]] = None,
        credits: Optional[Credits] = None,
    ) -> CreatedKey:
        body = _key_body(
            name=name, description=description, owner=owner, role=role, scopes=scopes, read_only=read_only,
            allowed_ips=allowed_ips, expires_at=expires_at, enabled=enabled,
            metadata=dict(metadata) if metadata is not None else None, limits=limits, credits=credits,
        )
        return _created(await self._call(_Req("POST", f"/v1/accounts/{await self._acct()}/keys", body=body)))

    async def get_key(self, id: str) -> Key:
        key: Key = await self._call(_Req("GET", f"/v1/accounts/{await self._acct()}/keys/{_quote(id)}", idempotent=True))
        return key

    async def list_keys(
        self,
        *,
        status: Optional[Literal["active", "inactive", "deleted", "all"]] = None,
        owner: Optional[str] = None,
        role: Optional[str] = None,
        page_size: int = 100,
    ) -> AsyncIterator[Key]:
        cursor: Optional[str] = None
        while True:
            params = _list_params(page_size, cursor, status=status, owner=owner, role=role)
            page = await self._call(_Req("GET", f"/v1/accounts/{await self._acct()}/keys", params=params, idempotent=True))
            for item in page["data"]:
                yield item
            cursor = _cursor(page.get("next_url"))
            if not page.get("has_more") or cursor is None:
                return

    async def update_key(
        self,
        id: str,
        *,
        version: int,
        name: Optional[str] = None,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        role: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        read_only: Optional[bool] = None,
        allowed_ips: Optional[Sequence[str]] = None,
        expires_at: Optional[int] = None,
        enabled: Optional[bool] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        limits: Optional[Sequence[Limit]] = None,
        credits: Optional[Credits] = None,
    ) -> Key:
        body = _key_body(
            name=name, description=description, owner=owner, role=role, scopes=scopes, read_only=read_only,
            allowed_ips=allowed_ips, expires_at=expires_at, enabled=enabled,
            metadata=dict(metadata) if metadata is not None else None, limits=limits, credits=credits,
        )
        req = _Req("PATCH", f"/v1/accounts/{await self._acct()}/keys/{_quote(id)}", body=body, headers={"if-match": str(version)})
        key: Key = await self._call(req)
        return key

    async def enable_key(self, id: str) -> Key:
        key: Key = await self._call(_Req("POST", f"/v1/accounts/{await self._acct()}/keys/{_quote(id)}/enable", idempotent=True))
        return key

    async def disable_key(self, id: str) -> Key:
        key: Key = await self._call(_Req("POST", f"/v1/accounts/{await self._acct()}/keys/{_quote(id)}/disable", idempotent=True))
        return key

    async def roll_key(self, id: str, *, grace_seconds: Optional[int] = None) -> CreatedKey:
        body = _drop_none({"grace_seconds": grace_seconds})
        return _created(await self._call(_Req("POST", f"/v1/accounts/{await self._acct()}/keys/{_quote(id)}/roll", body=body)))

    async def delete_key(self, id: str) -> None:
        await self._call(_Req("DELETE", f"/v1/accounts/{await self._acct()}/keys/{_quote(id)}", idempotent=True))

    async def add_credits(self, id: str, add: int) -> int:
        body = await self._call(_Req("POST", f"/v1/accounts/{await self._acct()}/keys/{_quote(id)}/credits", body={"add": add}))
        return int(body["remaining"])

    async def get_owner_meter(self, owner: str) -> OwnerMeter:
        meter: OwnerMeter = await self._call(
            _Req("GET", f"/v1/accounts/{await self._acct()}/owners/{_quote(owner)}/meter", idempotent=True)
        )
        return meter

    async def update_owner_meter(
        self,
        owner: str,
        *,
        version: int,
        limits: Optional[Sequence[Limit]] = None,
        credits: Union[Credits, None, Literal["remove"]] = None,
    ) -> OwnerMeter:
        body: Dict[str, Any] = {}
        if limits is not None:
            body["limits"] = list(limits)
        if credits == "remove":
            body["credits"] = None
        elif credits is not None:
            body["credits"] = credits
        req = _Req(
            "PATCH", f"/v1/accounts/{await self._acct()}/owners/{_quote(owner)}/meter", body=body, headers={"if-match": str(version)}
        )
        meter: OwnerMeter = await self._call(req)
        return meter

    async def add_owner_credits(self, owner: str, add: int) -> int:
        body = await self._call(_Req("POST", f"/v1/accounts/{await self._acct()}/owners/{_quote(owner)}/credits", body={"add": add}))
        return int(body["remaining"])

    async def audit(self, *, key_id: Optional[str] = None, page_size: int = 100) -> AsyncIterator[AuditEntry]:
        cursor: Optional[str] = None
        while True:
            params = _list_params(page_size, cursor, key_id=key_id)
            page = await self._call(_Req("GET", f"/v1/accounts/{await self._acct()}/audit", params=params, idempotent=True))
            for item in page["data"]:
                yield item
            cursor = _cursor(page.get("next_url"))
            if not page.get("has_more") or cursor is None:
                return

    async def verify(
        self,
        key: str,
        *,
        required_scopes: Optional[Sequence[str]] = None,
        allowed_roles: Optional[Sequence[str]] = None,
        method: Optional[str] = None,
        client_ip: Optional[str] = None,
        cost: Optional[int] = None,
        limits: Optional[Sequence[str]] = None,
        dry_run: Optional[bool] = None,
    ) -> Verification:
        req = _verify_req(key, required_scopes, allowed_roles, method, client_ip, cost, limits, dry_run)
        status, body, headers = await self._send(req)
        return _verification(status, body, headers)

    async def exchange_token(
        self, key: Optional[str] = None, *, cost: Optional[int] = None, limits: Optional[Sequence[str]] = None
    ) -> Token:
        secret = key if key is not None else self._key
        if not secret:
            raise _no_key("no key to exchange: pass one or set KEYSEAL_KEY")
        body = await self._call(_exchange_req(secret, cost, limits))
        return Token(token=body["token"], token_type=body["token_type"], expires_in=int(body["expires_in"]))

    async def verify_token(self, token: str, *, account: Optional[str] = None) -> TokenVerification:
        body = _drop_none({"token": token, "account": account})
        result: TokenVerification = await self._call(_Req("POST", "/v1/tokens/verify", body=body, auth=False, idempotent=True))
        return result

    async def whoami(self, *, token: Optional[str] = None) -> Whoami:
        if token is not None:
            req = _Req("GET", "/v1/whoami", auth=False, headers={"authorization": f"Bearer {token}"}, idempotent=True)
        else:
            req = _Req("GET", "/v1/whoami", idempotent=True)
        who: Whoami = await self._call(req)
        return who


__all__ = [
    "DEFAULT_URL",
    "Actor",
    "AsyncClient",
    "AuditEntry",
    "Client",
    "CreatedKey",
    "CreditReport",
    "Credits",
    "Key",
    "Limit",
    "LimitReport",
    "MeterReport",
    "OwnerMeter",
    "Refill",
    "Token",
    "TokenVerification",
    "Verification",
    "Whoami",
]
