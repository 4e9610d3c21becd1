#!/usr/bin/env python3
"""Writes tests/vectors/interop_pyjwt.json: tokens made by PyJWT, for keyseal to verify.

Every runtime's vector runner checks them (op `token_verify`), so tokens from the most used
Python JWT library verify identically in Rust, Python and JS. The output is deterministic
(fixed secrets and times; HMAC has no randomness), so re-running it rewrites the same file
for the same PyJWT version.

    pip install PyJWT && python tools/interop/pyjwt_vectors.py [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import jwt

OUT = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "interop_pyjwt.json"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
SOURCE = f"PyJWT {jwt.__version__} (tools/interop/pyjwt_vectors.py)"


def secret(label: str, n: int) -> bytes:
    """A fixed secret of n bytes, derived from a label so the file is reproducible."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"keyseal interop {label} {counter}".encode()).digest()
        counter += 1
    return out[:n]


KEYS = {
    "pyjwt-256": ("HS256", secret("hs256", 32)),
    "pyjwt-384": ("HS384", secret("hs384", 48)),
    "pyjwt-512": ("HS512", secret("hs512", 64)),
}


def key_list(first: str) -> list[dict[str, Any]]:
    """The keyset of a case: `first` signs (the vectors' convention), the others verify."""
    order = [first] + [k for k in KEYS if k != first]
    return [
        {"alg": KEYS[k][0], "kid": k, "secret_hex": KEYS[k][1].hex(), "verify_until": None} for k in order
    ]


CLAIMS: dict[str, Any] = {
    "iss": "https://auth.acme.example",
    "sub": "user_7Hq2kLm9PzX4",
    "aud": "https://api.acme.example",
    "iat": NOW,
    "nbf": NOW,
    "exp": NOW + 600,
    "jti": "pyjwt-0001",
    "scope": "keys:read",
    "tenant": {"id": 42, "plan": "pro"},
}
VALIDATION = {"audiences": ["https://api.acme.example"], "issuers": ["https://auth.acme.example"]}


def encode(kid: str | None, claims: dict[str, Any], signing_kid: str) -> str:
    alg, key = KEYS[signing_kid]
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def case(
    id: str, token: str, keys: str, expect: dict[str, Any], validation: dict[str, Any] | None = None, now: int = NOW
) -> dict[str, Any]:
    return {
        "id": id,
        "source": SOURCE,
        "input": {"keys": key_list(keys), "token": token, "now": now, "validation": validation or VALIDATION},
        "expect": expect,
    }


def ok(kid: str, claims: dict[str, Any]) -> dict[str, Any]:
    return {"ok": {"kid": kid, "alg": KEYS[kid][0], "claims": claims}}


def build() -> dict[str, Any]:
    cases = []
    for kid in KEYS:
        cases.append(case(f"{KEYS[kid][0].lower()}_valid", encode(kid, CLAIMS, kid), "pyjwt-256", ok(kid, CLAIMS)))
    # No kid header: keyseal verifies with the signing key.
    cases.append(case("hs256_no_kid", encode(None, CLAIMS, "pyjwt-256"), "pyjwt-256", ok("pyjwt-256", CLAIMS)))
    aud_list = {**CLAIMS, "aud": ["https://other.example", "https://api.acme.example"]}
    cases.append(case("hs256_aud_list", encode("pyjwt-256", aud_list, "pyjwt-256"), "pyjwt-256", ok("pyjwt-256", aud_list)))
    cases.append(
        case("hs384_expired", encode("pyjwt-384", CLAIMS, "pyjwt-384"), "pyjwt-256", {"error": "token_expired"}, now=NOW + 600)
    )
    cases.append(
        case(
            "hs512_wrong_audience",
            encode("pyjwt-512", CLAIMS, "pyjwt-512"),
            "pyjwt-256",
            {"error": "invalid_audience"},
            validation={"audiences": ["https://other.example"]},
        )
    )
    cases.append(
        case(
            "hs256_wrong_issuer",
            encode("pyjwt-256", CLAIMS, "pyjwt-256"),
            "pyjwt-256",
            {"error": "invalid_issuer"},
            validation={"audiences": ["https://api.acme.example"], "issuers": ["https://evil.example"]},
        )
    )
    # Signed with the HS512 key's secret but labelled as the HS256 key: the MAC fails.
    forged = jwt.encode(CLAIMS, KEYS["pyjwt-512"][1], algorithm="HS256", headers={"kid": "pyjwt-256"})
    cases.append(case("hs256_other_secret", forged, "pyjwt-256", {"error": "bad_signature"}))
    # Algorithm confusion: an HS256 token naming the HS384 key is refused before any MAC.
    confused = jwt.encode(CLAIMS, KEYS["pyjwt-384"][1], algorithm="HS256", headers={"kid": "pyjwt-384"})
    cases.append(case("hs256_on_hs384_key", confused, "pyjwt-256", {"error": "algorithm_mismatch"}))
    unsigned = jwt.encode(CLAIMS, "", algorithm="none", headers={"kid": "pyjwt-256"})
    cases.append(case("alg_none", unsigned, "pyjwt-256", {"error": "malformed_token"}))
    return {
        "op": "token_verify",
        "description": "Tokens made by PyJWT (HS256/HS384/HS512; valid, expired, wrong aud/iss, forged, "
        "algorithm confusion, alg none) verified by keyseal. Written by tools/interop/pyjwt_vectors.py.",
        "cases": cases,
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file differs instead of writing it")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(build()['cases'])} cases to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
