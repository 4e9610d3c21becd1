"""Tokens cross between keyseal and the common Python JWT libraries, both ways."""

from __future__ import annotations

import time
from typing import Any

import jwt as pyjwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError
from joserfc.jwk import OctKey

import keyseal

ALGS = {"HS256": 32, "HS384": 48, "HS512": 64}
AUD = "https://api.acme.example"
ISS = "https://auth.acme.example"


def secret(alg: str) -> bytes:
    return bytes((i * 7 + ALGS[alg]) % 256 for i in range(ALGS[alg]))


def claims(now: int) -> dict[str, Any]:
    return {
        "iss": ISS,
        "sub": "user_1",
        "aud": AUD,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j-1",
        "scope": "keys:read",
        "extra": {"n": [1, 2, 3], "ok": True},
    }


def keyset(alg: str) -> keyseal.Keyset:
    return keyseal.Keyset(keyseal.TokenKey("kid-" + alg, secret(alg), alg=alg))


@pytest.mark.parametrize("alg", ALGS)
def test_pyjwt_to_keyseal(alg: str) -> None:
    now = int(time.time())
    token = pyjwt.encode(claims(now), secret(alg), algorithm=alg, headers={"kid": "kid-" + alg})
    got = keyset(alg).verify(token, now=now, audience=AUD, issuer=ISS)
    assert (got.kid, got.alg, got.claims) == ("kid-" + alg, alg, claims(now))
    with pytest.raises(keyseal.TimeError):
        keyset(alg).verify(token, now=now + 600, audience=AUD)
    with pytest.raises(keyseal.ClaimsError):
        keyset(alg).verify(token, now=now, audience="https://other.example")


@pytest.mark.parametrize("alg", ALGS)
def test_keyseal_to_pyjwt(alg: str) -> None:
    now = int(time.time())
    token = keyset(alg).issue(claims(now))
    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "JWT", "kid": "kid-" + alg}
    decoded = pyjwt.decode(
        token, secret(alg), algorithms=[alg], audience=AUD, issuer=ISS, options={"require": ["exp", "iat", "nbf"]}
    )
    assert decoded == claims(now)
    expired = keyset(alg).issue({**claims(now), "exp": now - 1})
    with pytest.raises(pyjwt.ExpiredSignatureError):
        pyjwt.decode(expired, secret(alg), algorithms=[alg], audience=AUD)


@pytest.mark.parametrize("alg", ALGS)
def test_joserfc_to_keyseal(alg: str) -> None:
    now = int(time.time())
    token = jose_jwt.encode({"alg": alg, "kid": "kid-" + alg}, claims(now), OctKey.import_key(secret(alg)), algorithms=[alg])
    got = keyset(alg).verify(token, now=now, audience=[AUD], issuer=ISS)
    assert (got.kid, got.alg, got.claims) == ("kid-" + alg, alg, claims(now))


@pytest.mark.parametrize("alg", ALGS)
def test_keyseal_to_joserfc(alg: str) -> None:
    now = int(time.time())
    key = OctKey.import_key(secret(alg))
    token = keyset(alg).issue(claims(now))
    decoded = jose_jwt.decode(token, key, algorithms=[alg])
    assert decoded.header == {"alg": alg, "typ": "JWT", "kid": "kid-" + alg}
    assert decoded.claims == claims(now)
    registry = jose_jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUD}, iss={"essential": True, "value": ISS})
    registry.validate(decoded.claims)
    with pytest.raises(InvalidClaimError):
        jose_jwt.JWTClaimsRegistry(aud={"essential": True, "value": "https://other.example"}).validate(decoded.claims)
    expired = jose_jwt.decode(keyset(alg).issue({**claims(now), "exp": now - 1}), key, algorithms=[alg])
    with pytest.raises(ExpiredTokenError):
        registry.validate(expired.claims)


@pytest.mark.parametrize("big", [2**53, -(2**53), 2**64, -(2**64), 10**30])
def test_big_ints_from_pyjwt_and_joserfc_are_refused(big: int) -> None:
    # Such a claim used to verify as a rounded float (2**64 -> 1.8446744073709552e19).
    # keyseal refuses numbers beyond +-(2**53 - 1) in every runtime (RFC 7493 section 2.2).
    now = int(time.time())
    payload = {**claims(now), "big": big}
    tokens = [
        pyjwt.encode(payload, secret("HS256"), algorithm="HS256", headers={"kid": "kid-HS256"}),
        jose_jwt.encode({"alg": "HS256", "kid": "kid-HS256"}, payload, OctKey.import_key(secret("HS256")), algorithms=["HS256"]),
    ]
    for token in tokens:
        with pytest.raises(keyseal.ClaimsError) as info:
            keyset("HS256").verify(token, now=now, audience=AUD)
        assert info.value.code == "invalid_claim"
    # Within the range the value is kept exact, as an int.
    edge = {**claims(now), "big": 2**53 - 1}
    token = pyjwt.encode(edge, secret("HS256"), algorithm="HS256", headers={"kid": "kid-HS256"})
    got = keyset("HS256").verify(token, now=now, audience=AUD).claims["big"]
    assert type(got) is int and got == 2**53 - 1


def test_tampered_keyseal_token_fails_in_pyjwt() -> None:
    token = keyset("HS256").issue(claims(int(time.time())))
    head, payload, sig = token.split(".")
    forged = ".".join([head, payload, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")])
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(forged, secret("HS256"), algorithms=["HS256"], audience=AUD)


def test_interop_pyjwt_vectors_are_current() -> None:
    """tests/vectors/interop_pyjwt.json is what tools/interop/pyjwt_vectors.py writes with the
    pinned PyJWT (the vector runner then checks keyseal against every case in it)."""
    import subprocess
    import sys

    from conftest import REPO

    script = REPO / "tools" / "interop" / "pyjwt_vectors.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
