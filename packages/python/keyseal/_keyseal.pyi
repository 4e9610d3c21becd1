"""Type stubs of the native module. Checked against the compiled module by mypy.stubtest."""

import datetime
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, Union, final

from keyseal import MeterAnswer, MeterCredits, MeterLimit

__all__ = [
    "__version__",
    "KeysealError",
    "MalformedError",
    "SignatureError",
    "TimeError",
    "ClaimsError",
    "PolicyError",
    "CredentialError",
    "ConfigError",
    "RegistryError",
    "InternalError",
    "ERROR_CODES",
    "KeyFormat",
    "ApiKey",
    "KeyParts",
    "Pepper",
    "PepperSet",
    "TokenKey",
    "Keyset",
    "VerifiedToken",
    "Validation",
    "KeyPolicy",
    "Credential",
    "Meter",
    "parse_key",
    "sha256_hex",
    "hmac_sha256",
    "exchange_claims",
    "extract_credential",
    "_panic_for_tests",
    "_gil_probe",
]

__version__: Final[str]
ERROR_CODES: Final[Mapping[str, str]]
"""Every core error code mapped to its family (``malformed``, ``signature``, ...)."""

_Timestamp = Union[int, datetime.datetime]
"""Unix seconds, or a timezone-aware datetime (naive datetimes raise ValueError)."""

_Secret = Union[bytes, bytearray, str]
"""_Secret material; a ``str`` is used as its UTF-8 bytes."""

_Algorithm = Literal["HS256", "HS384", "HS512"]
_Family = Literal[
    "malformed", "signature", "time", "claims", "policy", "credential", "config", "registry", "internal"
]

class KeysealError(Exception):
    """Base class of every keyseal error."""

    code: str
    """The core's stable snake_case code, e.g. ``"bad_checksum"``."""
    family: _Family
    """The family of the code; it also picks the subclass."""

class MalformedError(KeysealError): ...
class SignatureError(KeysealError): ...
class TimeError(KeysealError): ...
class ClaimsError(KeysealError): ...
class PolicyError(KeysealError): ...
class CredentialError(KeysealError): ...
class ConfigError(KeysealError): ...
class RegistryError(KeysealError): ...
class InternalError(KeysealError): ...

@final
class ApiKey:
    """A parsed or generated API key. ``repr``/``str`` never show the secret."""

    @property
    def prefix(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def checksum(self) -> str: ...
    @property
    def prefixed_id(self) -> str:
        """``prefix_id``: the public part, the ``accessKey`` of the key-pair form; not secret."""
    def expose(self) -> str:
        """The whole key, to hand to its owner once."""
    def expose_secret(self) -> str:
        """The secret part, without the checksum."""
    def expose_secret_with_checksum(self) -> str:
        """The secret and its checksum: the ``secretKey`` of the key-pair form."""

@final
class KeyFormat:
    """How keys of one kind look: ``<prefix>_<id>_<secret><checksum>``."""

    def __new__(cls, prefix: str, *, id_len: int = 16, secret_len: int = 32) -> KeyFormat: ...
    @property
    def prefix(self) -> str: ...
    @property
    def id_len(self) -> int: ...
    @property
    def secret_len(self) -> int: ...
    @property
    def key_len(self) -> int: ...
    def generate(self) -> ApiKey:
        """A new key from the operating system's CSPRNG."""
    def generate_from_entropy(self, entropy: _Secret) -> ApiKey:
        """A key from fixed bytes (tests and vectors only)."""
    def parse(self, key: str) -> ApiKey: ...
    def check(self, key: str) -> KeyParts:
        """Checks ``key`` (structure, checksum, prefix, lengths) and returns its parts."""

@final
class KeyParts:
    """The parts of a checked key, as the core's ``KeyParts``. ``repr`` never shows the secret."""

    @property
    def prefix(self) -> str: ...
    @property
    def id(self) -> str: ...
    def expose_secret(self) -> str:
        """The secret part, without the checksum."""

def parse_key(key: str) -> ApiKey:
    """Parses a key of any valid prefix and lengths."""

@final
class Pepper:
    """A server-side secret (at least 16 bytes) that keys digests, with an id."""

    def __new__(cls, id: str, secret: _Secret) -> Pepper: ...
    @property
    def id(self) -> str: ...

@final
class PepperSet:
    """The current pepper (new digests) plus previous ones (still verify)."""

    def __new__(cls, current: Pepper, previous: Iterable[Pepper] | None = None) -> PepperSet: ...
    @property
    def current(self) -> Pepper: ...
    def digest(self, key: str) -> str:
        """``v1.<pepper_id>.<base64url>`` of ``key`` under the current pepper."""
    def verify(self, key: str, stored: str) -> Literal["current", "outdated"]:
        """``"outdated"`` means: store ``digest(key)`` in place of ``stored``."""

def sha256_hex(key: str) -> str: ...
def hmac_sha256(key: _Secret, data: _Secret) -> bytes: ...

@final
class TokenKey:
    """A token key pinned to one algorithm. The secret must be at least 32/48/64 bytes."""

    def __new__(
        cls,
        kid: str,
        secret: _Secret,
        *,
        alg: str | None = None,
        verify_until: _Timestamp | None = None,
    ) -> TokenKey: ...
    @property
    def kid(self) -> str: ...
    @property
    def alg(self) -> _Algorithm: ...
    @property
    def verify_until(self) -> int | None: ...

@final
class VerifiedToken:
    """What ``Keyset.verify`` returns: the key (``kid``) and algorithm that verified the
    token, and its claims."""

    @property
    def kid(self) -> str: ...
    @property
    def alg(self) -> _Algorithm: ...
    @property
    def claims(self) -> dict[str, Any]: ...

@final
class Validation:
    """What ``Keyset.verify`` checks beyond the signature; build once, reuse for every call.

    Defaults: leeway 0 s (at most 300); no audience accepted (a token with ``aud`` is then
    rejected); issuer not checked; ``exp`` required; tokens over 8192 bytes rejected.
    ``required`` (default none) names claims required *in addition to* ``exp``; only
    ``dangerously_allow_missing_exp=True`` (default ``False``) stops requiring ``exp``
    (tokens that never expire; an ``exp`` that is present is still checked), and ``exp``
    named in ``required`` is required even then.
    """

    def __new__(
        cls,
        *,
        leeway: int = 0,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        required: Iterable[str] | None = None,
        dangerously_allow_missing_exp: bool = False,
        max_token_len: int = 8192,
    ) -> Validation: ...
    @property
    def leeway(self) -> int: ...
    @property
    def audiences(self) -> tuple[str, ...]: ...
    @property
    def issuers(self) -> tuple[str, ...]: ...
    @property
    def required(self) -> tuple[str, ...]:
        """Every required claim, ``exp`` included unless it was dangerously dropped."""
    @property
    def dangerously_allow_missing_exp(self) -> bool: ...
    @property
    def max_token_len(self) -> int: ...

@final
class Keyset:
    """Token keys addressed by ``kid``: one signs, the others only verify."""

    def __new__(cls, signing: TokenKey, verify_only: Iterable[TokenKey] | None = None) -> Keyset: ...
    @property
    def signing_key(self) -> TokenKey: ...
    @property
    def keys(self) -> tuple[TokenKey, ...]: ...
    def rotate(self, next: TokenKey, *, grace_until: _Timestamp) -> Keyset: ...
    def issue(self, claims: Mapping[str, Any]) -> str:
        """Signs ``claims``. Every number in them (``exp``/``nbf``/``iat`` and any number
        nested in extra claims, int or float) must lie within +-(2**53 - 1) (RFC 7493
        section 2.2), else ``ClaimsError`` with code ``invalid_claim``."""
    def verify(
        self,
        token: str,
        validation: Validation | None = None,
        *,
        now: _Timestamp | None = None,
        leeway: int = 0,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        required: Iterable[str] | None = None,
        dangerously_allow_missing_exp: bool = False,
        max_token_len: int = 8192,
    ) -> VerifiedToken: ...
    def exchange(
        self,
        *,
        key_id: str,
        owner: str | None = None,
        scopes: Iterable[str] | None = None,
        role: str | None = None,
        now: _Timestamp | None = None,
        ttl: int = 600,
        issuer: str | None = None,
        audience: str | None = None,
        jti: str | None = None,
    ) -> str: ...

def exchange_claims(
    *,
    key_id: str,
    owner: str | None = None,
    scopes: Iterable[str] | None = None,
    role: str | None = None,
    now: _Timestamp | None = None,
    ttl: int = 600,
    issuer: str | None = None,
    audience: str | None = None,
    jti: str | None = None,
) -> dict[str, Any]: ...

@final
class KeyPolicy:
    """What a key record says about where and how the key may be used."""

    def __new__(
        cls,
        *,
        enabled: bool = True,
        revoked: bool = False,
        expires_at: _Timestamp | None = None,
        role: str | None = None,
        scopes: Iterable[str] | None = None,
        read_only: bool = False,
        allowed_ips: Iterable[str] | None = None,
    ) -> KeyPolicy: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def revoked(self) -> bool: ...
    @property
    def expires_at(self) -> int | None: ...
    @property
    def role(self) -> str | None: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def allowed_ips(self) -> tuple[str, ...]: ...
    def check(
        self,
        *,
        now: _Timestamp | None = None,
        client_ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None = None,
        method: str | None = None,
        required_scopes: Iterable[str] | None = None,
        allowed_roles: Iterable[str] | None = None,
    ) -> None: ...

@final
class Credential:
    """The credential found in request headers. ``repr`` never shows the value."""

    @property
    def kind(self) -> Literal["api_key", "token", "key_pair"]: ...
    @property
    def source(self) -> Literal["bearer", "x-api-key", "key-pair"]: ...
    @property
    def value(self) -> str:
        """The key (a pair's halves joined with ``_``) or the token."""

def extract_credential(
    headers: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]],
) -> Credential: ...
@final
class Meter:
    """Named rate limits and credits per subject, in memory. A check passes every limit and
    the credits, or is refused and spends nothing anywhere."""

    def __new__(
        cls,
        limits: Iterable[MeterLimit] | None = None,
        credits: MeterCredits | None = None,
        max_subjects: int | None = None,
    ) -> Meter: ...
    def check(
        self, subject: str, cost: int = 1, *, dry_run: bool = False, now_ms: int | None = None
    ) -> MeterAnswer:
        """Checks ``cost`` for ``subject`` at ``now_ms`` (default: the wall clock), and spends
        it everywhere when every limit and the credits allow it, unless ``dry_run``."""
    def add_credits(self, subject: str, amount: int, *, now_ms: int | None = None) -> int:
        """Adds credits by hand (not limited by the refill cap); returns the balance."""
    def __len__(self) -> int: ...

def _panic_for_tests() -> None: ...
def _gil_probe(release: bool) -> None: ...
