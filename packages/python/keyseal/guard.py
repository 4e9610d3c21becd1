"""Request verification for web frameworks: :class:`Guard`, which the FastAPI, Starlette,
Flask and Django helpers (``keyseal.fastapi``, ``keyseal.starlette``, ``keyseal.flask``,
``keyseal.django``) share.

A guard verifies the credential of a request (``x-api-key``, ``Authorization: Bearer``,
or ``accessKey`` + ``secretKey``) in one of two ways:

- **against ``keyseal serve``**, through a :class:`keyseal.Client` or
  :class:`keyseal.AsyncClient`: ``POST /v1/verify`` for keys (scopes, roles, the read-only
  rule by method, the client IP, ``cost``/``limits``/``dry_run``), and
  ``POST /v1/tokens/verify`` for exchange tokens (checked against ``account``);
- **in-process**, with your ``lookup(key_id)`` (sync or async) returning a
  :class:`LocalKey` (the stored digest and policy) or ``None``: the key's structure and
  checksum, its digest under your ``peppers`` and its policy are checked by the keyseal
  core, and tokens by your ``keyset`` when you give one.

Server answers that allowed a request are cached in memory, bounded (``cache_size``,
default 10,000 entries, least recently used dropped first) and short-lived (``cache_ttl``,
default 1 s, the server's own promise for a disabled key to stop working): a key
disabled or deleted on the server is refused by every guard within ``cache_ttl``.
Refusals are never cached, and neither are answers the server metered (a key or owner
with limits or credits: each request must spend), nor dry runs.

A refusal raises the binding's ``KeysealError`` subclass for its code, with ``status``
(the ``credential_status`` of ``server/errors.json``, the one code -> HTTP status table,
shipped as ``keyseal/errors.json``) and ``headers`` (``WWW-Authenticate`` on a 401, and the
``RateLimit-Policy``/``RateLimit``/``Retry-After`` headers when limits applied).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import ipaddress
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Awaitable, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from ._keyseal import (
    KeyFormat,
    KeyPolicy,
    KeysealError,
    Keyset,
    PepperSet,
    extract_credential,
)
from .async_client import AsyncClient
from .client import Client, Verification, _error

_TABLE: Dict[str, Any] = json.loads(resources.files("keyseal").joinpath("errors.json").read_text(encoding="utf-8"))
STATUS: Mapping[str, int] = {c["code"]: c["credential_status"] for c in _TABLE["codes"]}
"""HTTP status of each code for a presented credential (server/errors.json)."""
WWW_AUTHENTICATE: str = _TABLE["www_authenticate"]


@dataclass(frozen=True)
class LocalKey:
    """What your ``lookup(key_id)`` returns for an in-process guard: the key's stored
    digest (``PepperSet.digest``), its policy, and anything you want back on the
    principal as ``data``."""

    id: str
    digest: str
    policy: KeyPolicy = field(default_factory=KeyPolicy)
    owner: Optional[str] = None
    role: Optional[str] = None
    scopes: Tuple[str, ...] = ()
    data: Any = None


@dataclass(frozen=True)
class Principal:
    """Who made an allowed request. ``key`` is the server's description of the key (server
    guards) or your :class:`LocalKey` (in-process); ``via`` says how the caller
    authenticated (``api_key`` or ``token``); ``headers`` are the metering headers to add
    to the response."""

    key_id: str
    account: Optional[str]
    owner: Optional[str]
    role: Optional[str]
    scopes: Tuple[str, ...]
    via: str
    key: Any = field(default=None, repr=False)
    claims: Optional[Dict[str, Any]] = field(default=None, repr=False)
    meter: Optional[Dict[str, Any]] = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    cached: bool = False


@dataclass(frozen=True)
class Requirement:
    """What a route needs. ``cost`` (default 1), ``limits`` and ``dry_run`` pass through
    to the server's verification (server guards only)."""

    required_scopes: Tuple[str, ...] = ()
    allowed_roles: Optional[Tuple[str, ...]] = None
    cost: Optional[int] = None
    limits: Optional[Tuple[str, ...]] = None
    dry_run: Optional[bool] = None

    @staticmethod
    def of(
        scopes: Iterable[str] = (),
        roles: Optional[Iterable[str]] = None,
        cost: Optional[int] = None,
        limits: Optional[Iterable[str]] = None,
        dry_run: Optional[bool] = None,
    ) -> "Requirement":
        return Requirement(
            tuple(scopes), tuple(roles) if roles is not None else None, cost, tuple(limits) if limits is not None else None, dry_run
        )


def refusal(code: str, message: str, extra: Optional[Mapping[str, str]] = None) -> KeysealError:
    """A ``KeysealError`` for ``code`` with the status and headers a framework answers."""
    exc = _error(STATUS.get(code, 500), {"error": {"code": code, "message": message}}, {})
    status = STATUS.get(code, 500)
    setattr(exc, "status", status)
    headers = dict(extra or {})
    if status == 401:
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    setattr(exc, "headers", headers)
    return exc


def as_refusal(e: KeysealError) -> KeysealError:
    """Gives an error from the core (or the client) a credential ``status`` and headers."""
    if not hasattr(e, "headers"):
        status = STATUS.get(e.code, 500)
        setattr(e, "status", status)
        setattr(e, "headers", {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else {})
    return e


def error_body(e: KeysealError) -> Dict[str, Any]:
    """The JSON body of a refusal, the server's shape: ``{"error": {"code", "message"}}``.
    keyseal messages never hold a key, token or secret; server-side failures say no more."""
    if getattr(e, "status", 500) >= 500:
        return {"error": {"code": e.code, "message": "internal error"}}
    return {"error": {"code": e.code, "message": str(e)}}


def _ip(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:  # e.g. a test client's "testclient"
        return None


Lookup = Callable[[str], Union[Optional[LocalKey], Awaitable[Optional[LocalKey]]]]


class _Cache:
    """A bounded LRU of positive answers, each good for ``ttl`` seconds."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._items: "OrderedDict[Tuple[Any, ...], Tuple[float, Principal]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Tuple[Any, ...]) -> Optional[Principal]:
        if self.ttl <= 0:
            return None
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if hit[0] <= time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Tuple[Any, ...], principal: Principal) -> None:
        if self.ttl <= 0 or self.size <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, principal)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class Guard:
    """Verifies requests, against ``keyseal serve`` (``client=``) or in-process
    (``lookup=`` with ``key_format=`` and ``peppers=``, optionally ``keyset=`` for tokens).

    ``account``: the tenant this service serves; tokens of other accounts are refused
    (server guards; defaults to the client's account when the client has a key, else
    every account's tokens pass the signature and key checks). In-process, a token's
    ``key_id`` is looked up too, so a token never outlives its key, and
    ``on_outdated(key, digest)`` (optional) is called with a fresh digest when a key
    verified under an older pepper or an imported digest: store it. ``cache_ttl`` (seconds,
    default 1.0, 0 turns the cache off) and ``cache_size`` (default 10,000) bound the cache
    of positive server answers; refusals are never cached.
    """

    def __init__(
        self,
        client: Union[Client, AsyncClient, None] = None,
        *,
        lookup: Optional[Lookup] = None,
        key_format: Optional[KeyFormat] = None,
        peppers: Optional[PepperSet] = None,
        keyset: Optional[Keyset] = None,
        issuer: Optional[str] = None,
        on_outdated: Optional[Callable[[LocalKey, str], Any]] = None,
        account: Optional[str] = None,
        cache_ttl: float = 1.0,
        cache_size: int = 10_000,
    ) -> None:
        if (client is None) == (lookup is None):
            raise TypeError("a Guard needs either client= (keyseal serve) or lookup= (in-process), not both")
        if lookup is not None and (key_format is None or peppers is None):
            raise TypeError("an in-process Guard needs key_format= and peppers= next to lookup=")
        self.client = client
        self._lookup = lookup
        self._format = key_format
        self._peppers = peppers
        self._keyset = keyset
        self._issuer = issuer
        self._on_outdated = on_outdated
        self._account = account
        self.cache = _Cache(cache_ttl, cache_size)

    def __repr__(self) -> str:
        mode = "server" if self.client is not None else "in-process"
        return f"Guard({mode}, cache_ttl={self.cache.ttl})"

    # -- the two halves: find the credential, then check it --------------------------------

    def _cache_key(self, kind: str, value: str, req: Requirement, method: Optional[str], ip: Optional[str]) -> Tuple[Any, ...]:
        # A digest, so the cache never holds a key or token.
        return (kind, hashlib.sha256(value.encode()).hexdigest(), req, (method or "").upper(), ip)

    def _from_verification(self, v: Verification, req: Requirement) -> Principal:
        if not v.valid:
            raise refusal(v.code, v.message or v.code, v.headers)
        key: Dict[str, Any] = dict(v.key or {})
        return Principal(
            key_id=str(key.get("id")),
            account=key.get("account"),
            owner=key.get("owner"),
            role=key.get("role"),
            scopes=tuple(key.get("scopes") or ()),
            via="api_key",
            key=key,
            meter=dict(v.meter) if v.meter else None,
            headers=dict(v.headers),
        )

    @staticmethod
    def _metered(p: Principal) -> bool:
        m = p.meter
        return bool(m and (m.get("limits") or m.get("credits") or m.get("owner_credits")))

    def _token_principal(self, body: Mapping[str, Any], req: Requirement, method: Optional[str]) -> Principal:
        if not body.get("valid"):
            raise refusal(str(body.get("code")), str(body.get("message") or body.get("code")))
        claims = dict(body.get("claims") or {})
        p = Principal(
            key_id=str(body.get("key_id")),
            account=body.get("account"),
            owner=claims.get("sub"),
            role=claims.get("role"),
            scopes=tuple(str(claims.get("scope") or "").split()),
            via="token",
            claims=claims,
        )
        self._check_token_policy(p, req, method)
        return p

    @staticmethod
    def _check_token_policy(p: Principal, req: Requirement, method: Optional[str]) -> None:
        # A token carries the key's scopes and role, not its IP rules or read-only flag
        # (read-only keys cannot be exchanged), so only these two are checked here.
        try:
            KeyPolicy(scopes=list(p.scopes), role=p.role).check(
                method=method,
                required_scopes=list(req.required_scopes),
                allowed_roles=list(req.allowed_roles) if req.allowed_roles is not None else None,
            )
        except KeysealError as e:
            raise as_refusal(e) from None

    def _account_for_tokens(self) -> Optional[str]:
        if self._account is None and isinstance(self.client, Client) and self.client._key:
            self._account = self.client.account
        return self._account

    # -- blocking --------------------------------------------------------------------------

    def check(
        self,
        headers: Union[Mapping[str, str], Iterable[Tuple[Union[str, bytes], Union[str, bytes]]]],
        *,
        method: Optional[str] = None,
        client_ip: Optional[str] = None,
        requirement: Requirement = Requirement(),
    ) -> Principal:
        """Verifies a request's credential; raises a refusal (see the module doc)."""
        try:
            cred = extract_credential(headers)
        except KeysealError as e:
            raise as_refusal(e) from None
        ip = _ip(client_ip)
        if self.client is None:
            return self._check_local(cred.kind, cred.value, requirement, method, ip)
        if isinstance(self.client, AsyncClient):
            raise TypeError("this Guard holds an AsyncClient: use `await guard.acheck(...)`")
        ck = self._cache_key(cred.kind, cred.value, requirement, method, ip)
        hit = self.cache.get(ck)
        if hit is not None:
            return hit
        if cred.kind == "token":
            body = self.client.verify_token(cred.value, account=self._account_for_tokens())
            p = self._token_principal(body, requirement, method)
        else:
            v = self._server_verify(cred.value, requirement, method, ip)
            p = self._from_verification(v, requirement)
        self._remember(ck, p, requirement)
        return p

    def _server_verify(self, value: str, req: Requirement, method: Optional[str], ip: Optional[str]) -> Verification:
        assert isinstance(self.client, Client)
        try:
            return self.client.verify(
                value,
                required_scopes=req.required_scopes or None,
                allowed_roles=req.allowed_roles,
                method=method,
                client_ip=ip,
                cost=req.cost,
                limits=req.limits,
                dry_run=req.dry_run,
            )
        except KeysealError as e:
            raise as_refusal(e) from None

    def _remember(self, ck: Tuple[Any, ...], p: Principal, req: Requirement) -> None:
        if not req.dry_run and not self._metered(p):
            self.cache.put(ck, dataclasses.replace(p, cached=True))

    def _local_begin(self, kind: str, value: str) -> Tuple[str, Optional[Dict[str, Any]]]:
        """The id to look up, and a token's verified claims."""
        assert self._format is not None
        if kind == "token":
            if self._keyset is None:
                raise refusal("unsupported_auth_scheme", "tokens are not accepted here: send the API key")
            verified = self._keyset.verify(value, issuer=self._issuer) if self._issuer else self._keyset.verify(value)
            claims = dict(verified.claims)
            key_id = claims.get("key_id")
            if not isinstance(key_id, str):
                raise refusal("missing_claim", "the token has no key_id claim")
            return key_id, claims
        return self._format.parse(value).id, None  # structure + checksum before any lookup

    def _local_finish(
        self,
        kind: str,
        value: str,
        claims: Optional[Dict[str, Any]],
        record: Optional[LocalKey],
        req: Requirement,
        method: Optional[str],
        ip: Optional[str],
    ) -> Principal:
        assert self._peppers is not None
        if record is None:
            raise refusal("not_found", "no such key")
        if claims is None and self._peppers.verify(value, record.digest) == "outdated" and self._on_outdated is not None:
            self._on_outdated(record, self._peppers.digest(value))
        # A token is checked against its key's current policy too: disabled, revoked or
        # expired keys stop their tokens at once.
        record.policy.check(
            method=method,
            client_ip=ip,
            required_scopes=list(req.required_scopes),
            allowed_roles=list(req.allowed_roles) if req.allowed_roles is not None else None,
        )
        return Principal(
            key_id=record.id,
            account=claims.get("account") if claims else None,
            owner=record.owner,
            role=record.role,
            scopes=record.scopes,
            via="token" if claims is not None else "api_key",
            key=record,
            claims=claims,
        )

    def _check_local(self, kind: str, value: str, req: Requirement, method: Optional[str], ip: Optional[str]) -> Principal:
        try:
            key_id, claims = self._local_begin(kind, value)
            assert self._lookup is not None
            found = self._lookup(key_id)
            if inspect.isawaitable(found):
                raise TypeError("an async lookup needs `await guard.acheck(...)`")
            return self._local_finish(kind, value, claims, found, req, method, ip)
        except KeysealError as e:
            raise as_refusal(e) from None

    # -- async -----------------------------------------------------------------------------

    async def acheck(
        self,
        headers: Union[Mapping[str, str], Iterable[Tuple[Union[str, bytes], Union[str, bytes]]]],
        *,
        method: Optional[str] = None,
        client_ip: Optional[str] = None,
        requirement: Requirement = Requirement(),
    ) -> Principal:
        """:meth:`check` for async frameworks: awaits an AsyncClient or an async lookup; a
        blocking Client runs in a worker thread so the event loop never waits on it."""
        try:
            cred = extract_credential(headers)
        except KeysealError as e:
            raise as_refusal(e) from None
        ip = _ip(client_ip)
        if self.client is None:
            try:
                key_id, claims = self._local_begin(cred.kind, cred.value)
                assert self._lookup is not None
                found = self._lookup(key_id)
                record = await found if inspect.isawaitable(found) else found
                return self._local_finish(cred.kind, cred.value, claims, record, requirement, method, ip)
            except KeysealError as e:
                raise as_refusal(e) from None
        if isinstance(self.client, Client):
            import anyio.to_thread

            return await anyio.to_thread.run_sync(
                lambda: self.check(headers, method=method, client_ip=client_ip, requirement=requirement)
            )
        ck = self._cache_key(cred.kind, cred.value, requirement, method, ip)
        hit = self.cache.get(ck)
        if hit is not None:
            return hit
        client = self.client
        try:
            if cred.kind == "token":
                if self._account is None and client._key:
                    self._account = await client.account()
                body = await client.verify_token(cred.value, account=self._account)
                p = self._token_principal(body, requirement, method)
            else:
                v = await client.verify(
                    cred.value,
                    required_scopes=requirement.required_scopes or None,
                    allowed_roles=requirement.allowed_roles,
                    method=method,
                    client_ip=ip,
                    cost=requirement.cost,
                    limits=requirement.limits,
                    dry_run=requirement.dry_run,
                )
                p = self._from_verification(v, requirement)
        except KeysealError as e:
            raise as_refusal(e) from None
        self._remember(ck, p, requirement)
        return p


def requirement(
    scopes: Sequence[str] = (),
    *,
    roles: Optional[Sequence[str]] = None,
    cost: Optional[int] = None,
    limits: Optional[Sequence[str]] = None,
    dry_run: Optional[bool] = None,
) -> Requirement:
    return Requirement.of(scopes, roles, cost, limits, dry_run)


__all__ = [
    "STATUS",
    "WWW_AUTHENTICATE",
    "Guard",
    "LocalKey",
    "Principal",
    "Requirement",
    "error_body",
    "refusal",
    "requirement",
]
