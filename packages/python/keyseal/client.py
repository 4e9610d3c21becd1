"""Clients for the ``keyseal serve`` HTTP API: :class:`Client` (blocking) here, and
:class:`~keyseal.async_client.AsyncClient` (asyncio) in ``async_client.py``, both on httpx.

Every operation of the API (``server/openapi.json``) is one method. Results are plain
``dict`` s typed as ``TypedDict`` s (a key, a list page's items, an audit entry, an
owner's meter), except the answers that carry a secret (:class:`CreatedKey`,
:class:`Token`) and a verification (:class:`Verification`, which also carries the
metering headers): those are dataclasses whose ``repr`` hides the secret.

Errors are the binding's ``KeysealError`` subclasses, picked by the family of the
server's ``code`` (the same classes the in-process functions raise), with ``.code``,
``.family``, ``.status`` (the HTTP status) and ``.retry_after`` (seconds, or ``None``).
A server that cannot be reached raises ``httpx.TransportError`` after the retries.
Messages and reprs never hold a key, a token or a secret.
"""

from __future__ import annotations

import os
import random
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import (
    Any,
    AsyncIterator,
    Dict,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypedDict,
    Union,
)

import httpx

from ._keyseal import (
    ERROR_CODES,
    ClaimsError,
    ConfigError,
    CredentialError,
    InternalError,
    KeysealError,
    MalformedError,
    PolicyError,
    RegistryError,
    SignatureError,
    TimeError,
)

DEFAULT_URL = "http://127.0.0.1:8080"
"""Where :class:`Client` looks when neither ``url`` nor ``KEYSEAL_URL`` says."""

_FAMILIES: Dict[str, type] = {
    "malformed": MalformedError,
    "signature": SignatureError,
    "time": TimeError,
    "claims": ClaimsError,
    "policy": PolicyError,
    "credential": CredentialError,
    "config": ConfigError,
    "registry": RegistryError,
    "internal": InternalError,
}


# ---------------------------------------------------------------------------------------
# Result types (the shapes of server/openapi.json's components).


class Actor(TypedDict, total=False):
    kind: str
    id: str


class Limit(TypedDict):
    """A named limit: at most ``limit`` units of cost per ``window_ms`` (sliding window)."""

    name: str
    limit: int
    window_ms: int


class _RefillRequired(TypedDict):
    amount: int
    interval: Literal["daily", "monthly"]


class Refill(_RefillRequired, total=False):
    day: Optional[int]
    cap: Optional[int]


class _CreditsRequired(TypedDict):
    remaining: int


class Credits(_CreditsRequired, total=False):
    refill: Optional[Refill]


class Key(TypedDict, total=False):
    """A key as the server describes it (never its secret)."""

    id: str
    prefix: str
    account: str
    name: str
    description: str
    owner: Optional[str]
    role: Optional[str]
    scopes: List[str]
    read_only: bool
    allowed_ips: List[str]
    enabled: bool
    expires_at: Optional[int]
    metadata: Dict[str, Any]
    created_at: int
    created_by: Actor
    modified_at: int
    modified_by: Actor
    version: int
    deleted_at: Optional[int]
    last_used_at: Optional[int]
    previous_secret_expires_at: Optional[int]
    rolled_at: Optional[int]
    status: str
    limits: List[Limit]
    credits: Optional[Credits]


class AuditEntry(TypedDict):
    id: str
    account: str
    key_id: str
    action: str
    actor: Actor
    at: int
    version: int
    changes: Dict[str, Any]


class LimitReport(TypedDict):
    name: str
    scope: Literal["key", "owner"]
    allowed: bool
    limit: int
    window_ms: int
    remaining: int
    reset_ms: int


class CreditReport(TypedDict):
    allowed: bool
    remaining: int
    refill_at_ms: Optional[int]


class MeterReport(TypedDict):
    cost: int
    dry_run: bool
    limits: List[LimitReport]
    credits: Optional[CreditReport]
    owner_credits: Optional[CreditReport]
    retry_after_ms: Optional[int]


class OwnerMeter(TypedDict):
    account: str
    owner: str
    limits: List[Limit]
    credits: Optional[Credits]
    version: int
    modified_at: Optional[int]
    modified_by: Optional[Actor]


class _WhoamiRequired(TypedDict):
    kind: Literal["token", "api_key"]
    key_id: str
    account: str


class Whoami(_WhoamiRequired, total=False):
    claims: Dict[str, Any]
    key: Key


class TokenVerification(TypedDict):
    valid: bool
    code: str
    message: Optional[str]
    account: Optional[str]
    key_id: Optional[str]
    claims: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class CreatedKey:
    """A key just created or rolled: its description and its secret, shown once.

    ``secret`` is the whole key (``x-api-key``, ``Authorization: Bearer``); ``access_key``
    and ``secret_key`` are its two halves (the ``accessKey``/``secretKey`` headers)."""

    key: Key
    secret: str = field(repr=False)
    access_key: str
    secret_key: str = field(repr=False)

    @property
    def id(self) -> str:
        return self.key["id"]


@dataclass(frozen=True)
class Token:
    """An exchange token (an HS256 JWT); ``repr`` hides it."""

    token: str = field(repr=False)
    token_type: str
    expires_in: int


@dataclass(frozen=True)
class Verification:
    """The server's verdict on a key. ``valid`` is ``False`` with ``code`` (e.g.
    ``key_disabled``, ``rate_limited``) when refused; ``status`` is the HTTP status the
    server answered (200, or 429 when a limit or the credits refused) and ``headers`` the
    metering headers it sent (``RateLimit-Policy``, ``RateLimit``, ``Retry-After``), for
    an integration to pass on."""

    valid: bool
    code: str
    message: Optional[str]
    key: Optional[Key]
    meter: Optional[MeterReport]
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Requests: each operation is built once, then sent by the blocking or the async client.

_METER_HEADERS = ("ratelimit-policy", "ratelimit", "retry-after")


@dataclass
class _Req:
    method: str
    path: str
    params: Optional[Dict[str, str]] = None
    body: Optional[Dict[str, Any]] = None
    headers: Optional[Dict[str, str]] = None
    # Safe to send twice: GET, PUT, DELETE, and the enable/disable/verify-token calls whose
    # repetition changes nothing. Creates, rolls, credits and metered calls are not.
    idempotent: bool = False
    # Statuses that answer the call instead of raising (verify's 429 is a verdict).
    ok: Tuple[int, ...] = ()
    auth: bool = True


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _drop_none(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _error(status: int, body: Any, headers: Mapping[str, str]) -> KeysealError:
    """The ONE conversion from an error answer to an exception: the code's family picks the
    class, as the binding's own conversion does."""
    code, message = "internal", f"the server answered {status} without a keyseal error"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code") or code)
        message = str(err.get("message") or code)
    family = ERROR_CODES.get(code, "internal")
    exc: KeysealError = _FAMILIES.get(family, InternalError)(message)
    exc.code = code
    exc.family = family  # type: ignore[assignment]
    setattr(exc, "status", status)
    setattr(exc, "retry_after", _retry_after(headers))
    return exc


def _retry_after(headers: Mapping[str, str]) -> Optional[float]:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _meter_headers(headers: Mapping[str, str]) -> Dict[str, str]:
    out = {}
    for name in _METER_HEADERS:
        value = headers.get(name)
        if value is not None:
            out[{"ratelimit-policy": "RateLimit-Policy", "ratelimit": "RateLimit", "retry-after": "Retry-After"}[name]] = value
    return out


def _cursor(next_url: Optional[str]) -> Optional[str]:
    if not next_url:
        return None
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(next_url).query)
    values = query.get("starting_after")
    return values[0] if values else None


class _Base:
    """What both clients share: configuration, request building and answer parsing."""

    def __init__(
        self,
        url: Optional[str],
        key: Optional[str],
        account: Optional[str],
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        self._url = (url or os.environ.get("KEYSEAL_URL") or DEFAULT_URL).rstrip("/")
        # The management key: KEYSEAL_KEY by default, as the CLI reads it.
        self._key = key if key is not None else os.environ.get("KEYSEAL_KEY")
        self._account = account
        self._timeout = timeout
        self._retries = max(0, retries)
        self._backoff = backoff

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        # Never the key.
        return f"{type(self).__name__}(url={self._url!r}, account={self._account!r})"

    def _headers(self, req: _Req) -> Dict[str, str]:
        headers = {"accept": "application/json"}
        if req.auth:
            if not self._key:
                raise _no_key("this call needs a management key: pass key= or set KEYSEAL_KEY")
            headers["x-api-key"] = self._key
        if req.headers:
            headers.update(req.headers)
        return headers

    def _delay(self, attempt: int, answer: Optional[httpx.Response]) -> float:
        if answer is not None:
            after = _retry_after(answer.headers)
            if after is not None:
                return min(after, 30.0)
        # Exponential backoff with jitter: 1x, 2x, 4x ... of `backoff`, times 0.5-1.5.
        return float(self._backoff * (2**attempt) * (0.5 + random.random()))

    def _should_retry(self, req: _Req, attempt: int, answer: Optional[httpx.Response], exc: Optional[Exception]) -> bool:
        if attempt >= self._retries:
            return False
        if exc is not None:
            # A refused connection never reached the server: safe for every call. Other
            # failures (timeouts, a connection dropped mid-answer) only for idempotent ones.
            return isinstance(exc, httpx.ConnectError) or (req.idempotent and isinstance(exc, httpx.TransportError))
        return answer is not None and answer.status_code == 503 and req.idempotent

    @staticmethod
    def _parse(req: _Req, answer: httpx.Response) -> Tuple[int, Any, httpx.Headers]:
        body: Any = None
        if answer.content:
            try:
                body = answer.json()
            except ValueError:
                body = None
        if answer.status_code >= 400 and answer.status_code not in req.ok:
            raise _error(answer.status_code, body, answer.headers)
        return answer.status_code, body, answer.headers


def _no_key(message: str) -> KeysealError:
    exc: KeysealError = CredentialError(message)
    exc.code = "missing_credential"
    exc.family = "credential"
    setattr(exc, "status", None)
    setattr(exc, "retry_after", None)
    return exc


# Operation builders: (request, how to read the answer).


def _key_body(**fields: Any) -> Dict[str, Any]:
    body = _drop_none(fields)
    for name in ("scopes", "allowed_ips", "limits"):
        if name in body:
            body[name] = list(body[name])
    return body


def _created(body: Dict[str, Any]) -> CreatedKey:
    secret = body.pop("secret")
    access_key = body.pop("access_key")
    secret_key = body.pop("secret_key")
    return CreatedKey(key=body, secret=secret, access_key=access_key, secret_key=secret_key)  # type: ignore[arg-type]


def _verification(status: int, body: Dict[str, Any], headers: Mapping[str, str]) -> Verification:
    return Verification(
        valid=bool(body.get("valid")),
        code=str(body.get("code")),
        message=body.get("message"),
        key=body.get("key"),
        meter=body.get("meter"),
        status=status,
        headers=_meter_headers(headers),
    )


def _verify_req(
    key: str,
    required_scopes: Optional[Sequence[str]],
    allowed_roles: Optional[Sequence[str]],
    method: Optional[str],
    client_ip: Optional[str],
    cost: Optional[int],
    limits: Optional[Sequence[str]],
    dry_run: Optional[bool],
) -> _Req:
    body = _drop_none(
        {
            "key": key,
            "required_scopes": list(required_scopes) if required_scopes is not None else None,
            "allowed_roles": list(allowed_roles) if allowed_roles is not None else None,
            "method": method,
            "client_ip": client_ip,
            "cost": cost,
            "limits": list(limits) if limits is not None else None,
            "dry_run": dry_run,
        }
    )
    # A dry run spends nothing, so sending it twice is harmless.
    return _Req("POST", "/v1/verify", body=body, auth=False, ok=(429,), idempotent=bool(dry_run))


def _exchange_req(key: str, cost: Optional[int], limits: Optional[Sequence[str]]) -> _Req:
    params = _drop_none({"cost": str(cost) if cost is not None else None, "limits": ",".join(limits) if limits else None})
    return _Req("POST", "/v1/token", params=params or None, body={"value": key}, auth=False)


def _list_params(limit: int, cursor: Optional[str], **filters: Optional[str]) -> Dict[str, str]:
    params = {k: v for k, v in filters.items() if v is not None}
    params["limit"] = str(limit)
    if cursor:
        params["starting_after"] = cursor
    return params


class Client(_Base):
    """A blocking client for ``keyseal serve``.

    ``url`` defaults to ``KEYSEAL_URL``, then ``http://127.0.0.1:8080``; ``key`` (an
    ``account-owner`` key, for the management calls) to ``KEYSEAL_KEY``; ``account`` to
    the key's own account (one ``whoami`` on the first management call). ``timeout`` is
    per request, in seconds (default 10). ``retries`` (default 2) retries idempotent calls
    after a 503 or a transport failure, and any call whose connection was refused, with
    exponential backoff from ``backoff`` seconds (default 0.2) or the server's
    ``Retry-After``. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        key: Optional[str] = None,
        *,
        account: Optional[str] = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: Optional[httpx.BaseTransport] = None,
    ) -> None:
        super().__init__(url, key, account, timeout, retries, backoff)
        self._http = httpx.Client(base_url=self._url, timeout=timeout, transport=transport)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, req: _Req) -> Tuple[int, Any, httpx.Headers]:
        headers = self._headers(req)
        attempt = 0
        while True:
            answer: Optional[httpx.Response] = None
            try:
                answer = self._http.request(req.method, req.path, params=req.params, json=req.body, headers=headers)
            except httpx.TransportError as exc:
                if not self._should_retry(req, attempt, None, exc):
                    raise
            else:
                if not self._should_retry(req, attempt, answer, None):
                    return self._parse(req, answer)
            time.sleep(self._delay(attempt, answer))
            attempt += 1

    def _call(self, req: _Req) -> Any:
        return self._send(req)[1]

    def _acct(self) -> str:
        if self._account is None:
            self._account = self.whoami()["account"]
        return _quote(self._account)

    @property
    def account(self) -> str:
        """The account the management calls act on."""
        self._acct()
        assert self._account is not None
        return self._account

    # -- keys -------------------------------------------------------------------------

    def create_key(
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
        """Creates a key; its secret is in the answer once."""
        body = _key_body(
            name=name, description=description, owner=owner, role=role, scopes=scopes, read_only=read_only,
            allowed_ips=allowed_ips, expires_at=expires_at, enabled=enabled,
            metadata=dict(metadata) if metadata is not None else None, limits=limits, credits=credits,
        )
        return _created(self._call(_Req("POST", f"/v1/accounts/{self._acct()}/keys", body=body)))

    def get_key(self, id: str) -> Key:
        """One key, by id or name."""
        key: Key = self._call(_Req("GET", f"/v1/accounts/{self._acct()}/keys/{_quote(id)}", idempotent=True))
        return key

    def list_keys(
        self,
        *,
        status: Optional[Literal["active", "inactive", "deleted", "all"]] = None,
        owner: Optional[str] = None,
        role: Optional[str] = None,
        page_size: int = 100,
    ) -> Iterator[Key]:
        """Every matching key, newest first, fetching pages of ``page_size`` (1-100) lazily."""
        cursor: Optional[str] = None
        while True:
            params = _list_params(page_size, cursor, status=status, owner=owner, role=role)
            page = self._call(_Req("GET", f"/v1/accounts/{self._acct()}/keys", params=params, idempotent=True))
            yield from page["data"]
            cursor = _cursor(page.get("next_url"))
            if not page.get("has_more") or cursor is None:
                return

    def update_key(
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
        """Changes the fields given (``None`` leaves a field as it is). ``version`` is the
        key's version as read (``If-Match``); a stale one raises ``RegistryError``
        ``version_conflict``."""
        body = _key_body(
            name=name, description=description, owner=owner, role=role, scopes=scopes, read_only=read_only,
            allowed_ips=allowed_ips, expires_at=expires_at, enabled=enabled,
            metadata=dict(metadata) if metadata is not None else None, limits=limits, credits=credits,
        )
        req = _Req("PATCH", f"/v1/accounts/{self._acct()}/keys/{_quote(id)}", body=body, headers={"if-match": str(version)})
        key: Key = self._call(req)
        return key

    def enable_key(self, id: str) -> Key:
        key: Key = self._call(_Req("POST", f"/v1/accounts/{self._acct()}/keys/{_quote(id)}/enable", idempotent=True))
        return key

    def disable_key(self, id: str) -> Key:
        """Disables a key: verifications answer ``key_disabled`` at once."""
        key: Key = self._call(_Req("POST", f"/v1/accounts/{self._acct()}/keys/{_quote(id)}/disable", idempotent=True))
        return key

    def roll_key(self, id: str, *, grace_seconds: Optional[int] = None) -> CreatedKey:
        """A new secret; the old one keeps working ``grace_seconds`` more (default 0)."""
        body = _drop_none({"grace_seconds": grace_seconds})
        return _created(self._call(_Req("POST", f"/v1/accounts/{self._acct()}/keys/{_quote(id)}/roll", body=body)))

    def delete_key(self, id: str) -> None:
        """Deletes a key (soft): it fails with ``key_revoked`` at once."""
        self._call(_Req("DELETE", f"/v1/accounts/{self._acct()}/keys/{_quote(id)}", idempotent=True))

    def add_credits(self, id: str, add: int) -> int:
        """Adds credits to a key's balance; returns the new balance."""
        body = self._call(_Req("POST", f"/v1/accounts/{self._acct()}/keys/{_quote(id)}/credits", body={"add": add}))
        return int(body["remaining"])

    # -- owners' meters ----------------------------------------------------------------

    def get_owner_meter(self, owner: str) -> OwnerMeter:
        meter: OwnerMeter = self._call(_Req("GET", f"/v1/accounts/{self._acct()}/owners/{_quote(owner)}/meter", idempotent=True))
        return meter

    def update_owner_meter(
        self,
        owner: str,
        *,
        version: int,
        limits: Optional[Sequence[Limit]] = None,
        credits: Union[Credits, None, Literal["remove"]] = None,
    ) -> OwnerMeter:
        """Sets an owner's shared limits and credits (``credits="remove"`` removes them).
        ``version`` is the meter's version as read (0 for an owner never set)."""
        body: Dict[str, Any] = {}
        if limits is not None:
            body["limits"] = list(limits)
        if credits == "remove":
            body["credits"] = None
        elif credits is not None:
            body["credits"] = credits
        req = _Req("PATCH", f"/v1/accounts/{self._acct()}/owners/{_quote(owner)}/meter", body=body, headers={"if-match": str(version)})
        meter: OwnerMeter = self._call(req)
        return meter

    def add_owner_credits(self, owner: str, add: int) -> int:
        body = self._call(_Req("POST", f"/v1/accounts/{self._acct()}/owners/{_quote(owner)}/credits", body={"add": add}))
        return int(body["remaining"])

    # -- audit ------------------------------------------------------------------------

    def audit(self, *, key_id: Optional[str] = None, page_size: int = 100) -> Iterator[AuditEntry]:
        """The account's audit log (or one key's, or ``owner:<owner>``), newest first."""
        cursor: Optional[str] = None
        while True:
            params = _list_params(page_size, cursor, key_id=key_id)
            page = self._call(_Req("GET", f"/v1/accounts/{self._acct()}/audit", params=params, idempotent=True))
            yield from page["data"]
            cursor = _cursor(page.get("next_url"))
            if not page.get("has_more") or cursor is None:
                return

    # -- verification and tokens --------------------------------------------------------

    def verify(
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
        """Asks the server whether ``key`` is valid (and spends ``cost``, default 1, from
        its limits and credits unless ``dry_run``). A refusal is an answer, not an
        exception: ``valid`` is ``False`` and ``code`` says why."""
        req = _verify_req(key, required_scopes, allowed_roles, method, client_ip, cost, limits, dry_run)
        status, body, headers = self._send(req)
        return _verification(status, body, headers)

    def exchange_token(self, key: Optional[str] = None, *, cost: Optional[int] = None, limits: Optional[Sequence[str]] = None) -> Token:
        """Exchanges a key (default: the client's own) for a short-lived token."""
        secret = key if key is not None else self._key
        if not secret:
            raise _no_key("no key to exchange: pass one or set KEYSEAL_KEY")
        body = self._call(_exchange_req(secret, cost, limits))
        return Token(token=body["token"], token_type=body["token_type"], expires_in=int(body["expires_in"]))

    def verify_token(self, token: str, *, account: Optional[str] = None) -> TokenVerification:
        """Checks a token and its key's state; ``account`` (recommended) refuses tokens of
        other accounts with ``invalid_claim``."""
        body = _drop_none({"token": token, "account": account})
        result: TokenVerification = self._call(_Req("POST", "/v1/tokens/verify", body=body, auth=False, idempotent=True))
        return result

    def whoami(self, *, token: Optional[str] = None) -> Whoami:
        """The caller: the client's key, or ``token`` when given."""
        if token is not None:
            req = _Req("GET", "/v1/whoami", auth=False, headers={"authorization": f"Bearer {token}"}, idempotent=True)
        else:
            req = _Req("GET", "/v1/whoami", idempotent=True)
        who: Whoami = self._call(req)
        return who
