"""The error contract: one list of codes (equal to the core's errors.json), one class per
family, readable messages without secrets, TypeError for wrong types, no panic escapes."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

import keyseal

from conftest import VECTORS

FAMILY_CLASSES = {
    "malformed": keyseal.MalformedError,
    "signature": keyseal.SignatureError,
    "time": keyseal.TimeError,
    "claims": keyseal.ClaimsError,
    "policy": keyseal.PolicyError,
    "credential": keyseal.CredentialError,
    "config": keyseal.ConfigError,
    "registry": keyseal.RegistryError,
    "internal": keyseal.InternalError,
}

KEY = "acme_live_crmxUT0PnWX6kIiG_ij89AJUj9cSTRVPCPWZxRe3XeZ7KYv6c4OblCb"
SECRET = b"s" * 32


def test_codes_equal_the_core_list() -> None:
    core = json.loads((VECTORS / "errors.json").read_text(encoding="utf-8"))["codes"]
    assert dict(keyseal.ERROR_CODES) == {c["code"]: c["family"] for c in core}
    assert set(keyseal.ERROR_CODES.values()) == set(FAMILY_CLASSES)


def test_error_codes_is_read_only() -> None:
    with pytest.raises(TypeError):
        keyseal.ERROR_CODES["new_code"] = "internal"  # type: ignore[index]


def test_family_classes() -> None:
    for cls in FAMILY_CLASSES.values():
        assert issubclass(cls, keyseal.KeysealError)
        assert issubclass(cls, Exception)
        assert cls.__module__ == "keyseal"
    assert issubclass(keyseal.KeysealError, Exception)


@pytest.mark.parametrize(
    ("call", "code", "cls"),
    [
        (lambda: keyseal.parse_key(KEY[:-1] + "X"), "bad_checksum", keyseal.MalformedError),
        (lambda: keyseal.KeyFormat("Acme"), "invalid_prefix", keyseal.ConfigError),
        (lambda: keyseal.TokenKey("k1", b"short"), "weak_key", keyseal.ConfigError),
        (lambda: keyseal.Keyset(keyseal.TokenKey("k1", SECRET)).verify("a.b"), "malformed_token", keyseal.MalformedError),
        (lambda: keyseal.KeyPolicy(revoked=True).check(now=0), "key_revoked", keyseal.PolicyError),
        (lambda: keyseal.extract_credential({}), "missing_credential", keyseal.CredentialError),
        (lambda: keyseal.KeyFormat("acme").generate_from_entropy(b"\x00" * 10), "rng_failed", keyseal.InternalError),
    ],
)
def test_exception_shape(call: Callable[[], object], code: str, cls: type[keyseal.KeysealError]) -> None:
    with pytest.raises(cls) as info:
        call()
    err = info.value
    assert err.code == code
    assert err.family == keyseal.ERROR_CODES[code]
    assert isinstance(err, keyseal.KeysealError)
    assert str(err) and str(err) == str(err).strip()


def test_messages_never_contain_secrets() -> None:
    keyset = keyseal.Keyset(keyseal.TokenKey("k1", SECRET))
    token = keyset.issue({"exp": 100, "sub": "user-secret-subject"})
    for call in (
        lambda: keyset.verify(token, now=200),
        lambda: keyset.verify(token[:-2] + "AA", now=0),
        lambda: keyseal.PepperSet(keyseal.Pepper("p1", SECRET)).verify(KEY, "v1.p1." + "A" * 43),
        lambda: keyseal.KeyFormat("other").parse(KEY),
    ):
        with pytest.raises(keyseal.KeysealError) as info:
            call()
        text = str(info.value) + repr(info.value)
        for secret in (KEY, "ij89AJUj9cSTRVPCPWZxRe3XeZ7KYv6c", token, SECRET.decode(), "user-secret-subject"):
            assert secret not in text


def test_panic_becomes_internal_error() -> None:
    with pytest.raises(keyseal.InternalError) as info:
        keyseal._keyseal._panic_for_tests()
    assert info.value.code == "internal"
    # And the module keeps working afterwards.
    assert keyseal.parse_key(KEY).id == "crmxUT0PnWX6kIiG"


def wrong(value: object) -> Any:
    """A deliberately wrong argument, typed Any so mypy (which checks the stubs) lets it by."""
    return value


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: keyseal.parse_key(wrong(b"bytes")), "key: expected str, found bytes"),
        (lambda: keyseal.parse_key(wrong(None)), "key: expected str, found NoneType"),
        (lambda: keyseal.KeyFormat(wrong(5)), "prefix: expected str, found int"),
        (lambda: keyseal.Pepper("p1", wrong(123)), "secret: expected bytes or str, found int"),
        (lambda: keyseal.PepperSet(wrong("p1")), "current: expected a keyseal.Pepper, found str"),
        (lambda: keyseal.Keyset(keyseal.TokenKey("k1", SECRET)).verify("x", now=wrong(1.5)), "now: expected int seconds"),
        (lambda: keyseal.Keyset(keyseal.TokenKey("k1", SECRET)).verify("x", now=True), "now: expected int seconds"),
        (lambda: keyseal.Keyset(keyseal.TokenKey("k1", SECRET)).issue({"x": {1, 2}}), "claims['x']: expected a JSON value"),
        (lambda: keyseal.Keyset(keyseal.TokenKey("k1", SECRET)).issue(wrong(["exp"])), "claims: expected a mapping"),
        (lambda: keyseal.KeyPolicy(scopes="keys:read"), "scopes: expected an iterable of str"),
        (lambda: keyseal.KeyPolicy().check(client_ip=wrong(10)), "client_ip: expected a str or an ipaddress"),
        (lambda: keyseal.extract_credential(wrong(5)), "headers: expected a mapping or an iterable"),
        (lambda: keyseal.extract_credential(wrong([("x-api-key", 5)])), "header value: expected str or bytes, found int"),
    ],
)
def test_wrong_types_raise_type_error(call: Callable[[], object], fragment: str) -> None:
    with pytest.raises(TypeError) as info:
        call()
    assert fragment in str(info.value)


def test_naive_datetime_is_rejected_clearly() -> None:
    from datetime import datetime

    keyset = keyseal.Keyset(keyseal.TokenKey("k1", SECRET))
    with pytest.raises(ValueError, match="timezone-aware datetime, found a naive one"):
        keyset.verify("a.b.c", now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="expires_at: expected a timezone-aware datetime"):
        keyseal.KeyPolicy(expires_at=datetime(2026, 1, 1))
