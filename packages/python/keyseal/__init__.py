"""keyseal: API keys, peppered key digests, HMAC-signed JWT-compatible tokens and key policies.

Everything here is the Rust core's logic, reached through a thin pyo3 binding
(``keyseal._keyseal``). Objects are immutable and safe to share between threads.
"""

from typing import List, Literal, Optional, TypedDict

from ._keyseal import (
    ERROR_CODES,
    ApiKey,
    ClaimsError,
    ConfigError,
    Credential,
    CredentialError,
    InternalError,
    KeyFormat,
    KeyParts,
    KeyPolicy,
    KeysealError,
    Keyset,
    MalformedError,
    Meter,
    Pepper,
    PepperSet,
    PolicyError,
    RegistryError,
    SignatureError,
    TimeError,
    TokenKey,
    Validation,
    VerifiedToken,
    __version__,
    exchange_claims,
    extract_credential,
    hmac_sha256,
    parse_key,
    sha256_hex,
)
from .async_client import AsyncClient
from .client import Client, CreatedKey, Token, Verification


class KeyPolicyRecord(TypedDict, total=False):
    """A key's policy as stored in a database row; ``KeyPolicy(**record)`` checks it."""

    enabled: bool
    revoked: bool
    expires_at: Optional[int]
    role: Optional[str]
    scopes: List[str]
    read_only: bool
    allowed_ips: List[str]



# The shapes of ``Meter``'s options and answers (the vectors' tests/vectors/meter.json).


class MeterLimit(TypedDict):
    """A named limit: at most ``limit`` units of cost per ``window_ms`` (sliding window)."""

    name: str
    limit: int
    window_ms: int


class _MeterRefillRequired(TypedDict):
    amount: int
    interval: Literal["daily", "monthly"]


class MeterRefill(_MeterRefillRequired, total=False):
    """``amount`` credits every midnight UTC, or on ``day`` (1-31, clamped to the month's
    length) of every month; never above ``cap`` (default ``amount``)."""

    day: Optional[int]
    cap: Optional[int]


class _MeterCreditsRequired(TypedDict):
    remaining: int


class MeterCredits(_MeterCreditsRequired, total=False):
    """The balance each subject starts with, and its refill (default: none)."""

    refill: Optional[MeterRefill]


class MeterLimitDecision(TypedDict):
    name: str
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int
    retry_after_ms: Optional[int]


class MeterCreditDecision(TypedDict):
    allowed: bool
    remaining: int
    refill_at_ms: Optional[int]


class MeterAnswer(TypedDict):
    """What ``Meter.check`` answers; ``code`` is ``rate_limited`` or ``usage_exceeded``
    when refused, and ``retry_after_ms`` is ``None`` when waiting cannot help."""

    allowed: bool
    code: Optional[Literal["rate_limited", "usage_exceeded"]]
    retry_after_ms: Optional[int]
    limits: List[MeterLimitDecision]
    credits: Optional[MeterCreditDecision]


__all__ = [
    "ERROR_CODES",
    "ApiKey",
    "AsyncClient",
    "ClaimsError",
    "Client",
    "ConfigError",
    "CreatedKey",
    "Credential",
    "CredentialError",
    "InternalError",
    "KeyFormat",
    "KeyParts",
    "KeyPolicy",
    "KeyPolicyRecord",
    "KeysealError",
    "Keyset",
    "MalformedError",
    "Meter",
    "MeterAnswer",
    "MeterCreditDecision",
    "MeterCredits",
    "MeterLimit",
    "MeterLimitDecision",
    "MeterRefill",
    "Pepper",
    "PepperSet",
    "PolicyError",
    "RegistryError",
    "SignatureError",
    "TimeError",
    "Token",
    "TokenKey",
    "Validation",
    "Verification",
    "VerifiedToken",
    "__version__",
    "exchange_claims",
    "extract_credential",
    "hmac_sha256",
    "parse_key",
    "sha256_hex",
]
