"""keyseal: API keys, peppered key digests, HMAC-signed JWT-compatible tokens and key policies.

Everything here is the Rust core's logic, reached through a thin pyo3 binding
(``keyseal._keyseal``). Objects are immutable and safe to share between threads.
"""

from typing import List, Optional, TypedDict

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


class KeyPolicyRecord(TypedDict, total=False):
    """A key's policy as stored in a database row; ``KeyPolicy(**record)`` checks it."""

    enabled: bool
    revoked: bool
    expires_at: Optional[int]
    role: Optional[str]
    scopes: List[str]
    read_only: bool
    allowed_ips: List[str]


__all__ = [
    "ERROR_CODES",
    "ApiKey",
    "ClaimsError",
    "ConfigError",
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
    "Pepper",
    "PepperSet",
    "PolicyError",
    "RegistryError",
    "SignatureError",
    "TimeError",
    "TokenKey",
    "Validation",
    "VerifiedToken",
    "__version__",
    "exchange_claims",
    "extract_credential",
    "hmac_sha256",
    "parse_key",
    "sha256_hex",
]
