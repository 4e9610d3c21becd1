"""The Python shape of the API: names, defaults, time handling, immutability, threads,
redaction. Decisions themselves are covered by the vectors."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
from datetime import datetime, timedelta, timezone

import pytest

import keyseal

SECRET = bytes(range(32))
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
NOW_DT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def keyset() -> keyseal.Keyset:
    return keyseal.Keyset(keyseal.TokenKey("k1", SECRET))


# --- keys -------------------------------------------------------------------------------


def test_generate_and_parse() -> None:
    fmt = keyseal.KeyFormat("acme_live")
    assert (fmt.prefix, fmt.id_len, fmt.secret_len, fmt.key_len) == ("acme_live", 16, 32, 9 + 1 + 16 + 1 + 32 + 6)
    a, b = fmt.generate(), fmt.generate()
    assert a.expose() != b.expose()
    assert len(a.expose()) == fmt.key_len
    parsed = fmt.parse(a.expose())
    assert (parsed.prefix, parsed.id, parsed.checksum) == (a.prefix, a.id, a.checksum)
    assert parsed.prefixed_id + "_" + parsed.expose_secret_with_checksum() == a.expose()
    assert parsed.expose_secret() + parsed.checksum == parsed.expose_secret_with_checksum()
    assert keyseal.parse_key(a.expose()).id == a.id


def test_check_returns_the_parts() -> None:
    # The same answer as the core's KeyFormat::check and Node's check: prefix, id, secret.
    fmt = keyseal.KeyFormat("acme_live")
    key = fmt.generate()
    parts = fmt.check(key.expose())
    assert isinstance(parts, keyseal.KeyParts)
    assert (parts.prefix, parts.id, parts.expose_secret()) == ("acme_live", key.id, key.expose_secret())
    assert repr(parts) == f"KeyParts(prefix='acme_live', id='{key.id}', secret=<redacted>)"
    assert key.expose_secret() not in f"{parts} {parts!r}"
    with pytest.raises(keyseal.MalformedError) as info:
        fmt.check(key.expose()[:-1] + ("A" if key.expose()[-1] != "A" else "B"))
    assert info.value.code == "bad_checksum"


def test_custom_lengths() -> None:
    fmt = keyseal.KeyFormat("k", id_len=20, secret_len=40)
    key = fmt.generate()
    assert len(key.id) == 20 and len(key.expose_secret()) == 40
    with pytest.raises(keyseal.ConfigError) as info:
        keyseal.KeyFormat("k", id_len=-1)
    assert info.value.code == "invalid_config"


def test_key_repr_and_str_hide_the_secret() -> None:
    key = keyseal.KeyFormat("acme").generate()
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert key.expose_secret() not in text
        assert key.id in text
    assert repr(key) == f"ApiKey(prefix='acme', id='{key.id}', secret=<redacted>)"
    assert str(key) == f"acme_{key.id}_…"


# --- digests ----------------------------------------------------------------------------


def test_pepper_rotation_and_imports() -> None:
    key = keyseal.KeyFormat("acme").generate().expose()
    old = keyseal.PepperSet(keyseal.Pepper("p0", b"o" * 16))
    new = keyseal.PepperSet(keyseal.Pepper("p1", "n" * 16), [keyseal.Pepper("p0", b"o" * 16)])
    assert new.current.id == "p1"
    assert new.verify(key, new.digest(key)) == "current"
    assert new.verify(key, old.digest(key)) == "outdated"
    assert new.verify(key, keyseal.sha256_hex(key)) == "outdated"
    assert new.verify(key, "sha256:" + hashlib.sha256(key.encode()).hexdigest()) == "outdated"
    assert keyseal.sha256_hex(key) == hashlib.sha256(key.encode()).hexdigest()
    with pytest.raises(keyseal.SignatureError) as info:
        old.verify(key, new.digest(key))
    assert info.value.code == "unknown_pepper"


def test_str_and_bytes_secrets_are_the_same() -> None:
    key = keyseal.KeyFormat("acme").generate().expose()
    a = keyseal.PepperSet(keyseal.Pepper("p", "pepper-pepper-16"))
    b = keyseal.PepperSet(keyseal.Pepper("p", b"pepper-pepper-16"))
    c = keyseal.PepperSet(keyseal.Pepper("p", bytearray(b"pepper-pepper-16")))
    assert a.digest(key) == b.digest(key) == c.digest(key)
    assert "pepper-pepper-16" not in repr(keyseal.Pepper("p", "pepper-pepper-16"))


def test_hmac_sha256_matches_stdlib() -> None:
    data = b"x" * 350
    assert keyseal.hmac_sha256(SECRET, data) == hmac.digest(SECRET, data, "sha256")


# --- tokens -----------------------------------------------------------------------------


def test_issue_verify_round_trip_with_python_values() -> None:
    ks = keyset()
    claims = {
        "iss": "https://auth.example",
        "aud": ["a", "b"],
        "exp": NOW_DT + timedelta(minutes=5),
        "iat": NOW_DT,
        "nested": {"list": [1, 2.5, None, True, "x"], "big": 2**53 - 1},
        "tuple": ("t",),
    }
    token = ks.issue(claims)
    got = ks.verify(token, now=NOW, audience="b", issuer=["x", "https://auth.example"]).claims
    assert got == {
        "iss": "https://auth.example",
        "aud": ["a", "b"],
        "exp": NOW + 300,
        "iat": NOW,
        "nested": {"list": [1, 2.5, None, True, "x"], "big": 2**53 - 1},
        "tuple": ["t"],
    }
    # kid and alg come with the claims, as in Rust and Node.
    full = ks.verify(token, now=NOW_DT, audience=("b",), issuer="https://auth.example")
    assert isinstance(full, keyseal.VerifiedToken)
    assert (full.kid, full.alg, full.claims) == ("k1", "HS256", got)
    assert "VerifiedToken(kid='k1', alg='HS256'" in repr(full)


def test_verify_defaults_and_options() -> None:
    ks = keyset()
    token = ks.issue({"exp": NOW + 10, "nbf": NOW + 5})
    with pytest.raises(keyseal.TimeError) as info:
        ks.verify(token, now=NOW)
    assert info.value.code == "token_not_yet_valid"
    assert ks.verify(token, now=NOW, leeway=5).claims["nbf"] == NOW + 5
    with pytest.raises(keyseal.ClaimsError) as info2:
        ks.verify(token, now=NOW + 5, required=("exp", "jti"))
    assert info2.value.code == "missing_claim"
    no_exp = ks.issue({"sub": "u"})
    with pytest.raises(keyseal.ClaimsError):
        ks.verify(no_exp, now=NOW)
    assert ks.verify(no_exp, now=NOW, dangerously_allow_missing_exp=True).claims == {"sub": "u"}
    with pytest.raises(keyseal.MalformedError) as info3:
        ks.verify(token, now=NOW + 5, max_token_len=64)
    assert info3.value.code == "token_too_large"
    with pytest.raises(keyseal.ConfigError):
        ks.verify(token, now=NOW + 5, leeway=-1)
    with pytest.raises(keyseal.ConfigError):
        ks.verify(token, now=NOW + 5, required=["nope"])


def test_required_adds_to_exp() -> None:
    # `required` used to replace the default ("exp",): required=["nbf"] silently accepted
    # tokens that never expire.
    ks = keyset()
    no_exp = ks.issue({"sub": "u", "nbf": NOW})
    for required in ((), ["nbf"], ("sub", "nbf")):
        with pytest.raises(keyseal.ClaimsError) as info:
            ks.verify(no_exp, now=NOW, required=required)
        assert info.value.code == "missing_claim"
        assert '"exp"' in str(info.value)
        with pytest.raises(keyseal.ClaimsError):
            ks.verify(no_exp, keyseal.Validation(required=required), now=NOW)
    assert keyseal.Validation(required=["nbf"]).required == ("exp", "nbf")
    assert keyseal.Validation(required=()).required == ("exp",)
    assert keyseal.Validation().dangerously_allow_missing_exp is False


def test_dangerously_allow_missing_exp() -> None:
    ks = keyset()
    no_exp = ks.issue({"sub": "u"})
    v = keyseal.Validation(dangerously_allow_missing_exp=True, required=["sub"])
    assert (v.required, v.dangerously_allow_missing_exp) == (("sub",), True)
    assert repr(v) == (
        "Validation(leeway=0, audience=(), issuer=(), required=('sub',), "
        "dangerously_allow_missing_exp=True, max_token_len=8192)"
    )
    assert ks.verify(no_exp, v, now=NOW).claims == {"sub": "u"}
    assert ks.verify(no_exp, now=NOW, dangerously_allow_missing_exp=True, required=["sub"]).claims == {"sub": "u"}
    # exp named in `required` stays required; a present exp is still checked.
    with pytest.raises(keyseal.ClaimsError):
        ks.verify(no_exp, now=NOW, dangerously_allow_missing_exp=True, required=["exp"])
    assert keyseal.Validation(dangerously_allow_missing_exp=True, required=["exp"]).dangerously_allow_missing_exp is False
    with pytest.raises(keyseal.TimeError):
        ks.verify(ks.issue({"exp": NOW}), now=NOW, dangerously_allow_missing_exp=True)
    with pytest.raises(TypeError):
        ks.verify(no_exp, v, now=NOW, dangerously_allow_missing_exp=True)
    with pytest.raises(TypeError):
        keyseal.Validation(dangerously_allow_missing_exp=1)  # type: ignore[arg-type]


MAX_SAFE = 2**53 - 1


def test_numbers_within_2_53_round_trip_exactly() -> None:
    ks = keyset()
    claims = {"exp": MAX_SAFE, "nbf": -MAX_SAFE, "n": MAX_SAFE, "m": -MAX_SAFE, "l": [MAX_SAFE, 0.25]}
    got = ks.verify(ks.issue(claims), now=NOW).claims
    assert got == claims
    assert type(got["n"]) is int and type(got["l"][0]) is int


@pytest.mark.parametrize(
    "claims",
    [
        {"n": 2**53},
        {"n": -(2**53)},
        {"n": 2**63},
        {"n": 2**64 - 1},
        {"n": 2**64},
        {"n": -(2**64)},
        {"n": 10**400},
        {"n": -(10**400)},
        {"n": {"deep": [1, 2**64]}},
        {"n": 1e16},
        {"n": -1e300},
        {"exp": 2**53},
        {"exp": 2**64},
        {"nbf": -(2**200)},
        {"iat": 10**400},
    ],
    ids=lambda c: repr(c) if len(repr(c)) <= 40 else repr(c)[:37] + "...",
)
def test_issue_refuses_numbers_beyond_2_53_with_a_keyseal_error(claims: dict[str, object]) -> None:
    # Ints beyond 64 bits used to raise a bare ValueError; 2**53..2**64 were issued.
    with pytest.raises(keyseal.ClaimsError) as info:
        keyset().issue(claims)
    assert info.value.code == "invalid_claim"
    assert info.value.family == "claims"


def test_validation_object() -> None:
    ks = keyset()
    v = keyseal.Validation(audience="api", issuer=["a", "b"], leeway=30, required=["exp", "iss"])
    assert (v.leeway, v.audiences, v.issuers, v.required, v.max_token_len) == (30, ("api",), ("a", "b"), ("iss", "exp"), 8192)
    assert repr(v) == "Validation(leeway=30, audience=('api',), issuer=('a', 'b'), required=('iss', 'exp'), max_token_len=8192)"
    token = ks.issue({"iss": "b", "aud": "api", "exp": NOW})
    assert ks.verify(token, v, now=NOW + 29).claims["iss"] == "b"
    assert ks.verify(token, validation=v, now=NOW + 29).claims == ks.verify(token, now=NOW + 29, audience="api", issuer="b", leeway=30).claims
    with pytest.raises(keyseal.TimeError):
        ks.verify(token, v, now=NOW + 30)
    with pytest.raises(TypeError, match="not both"):
        ks.verify(token, v, audience="api")
    with pytest.raises(TypeError, match="validation: expected a keyseal.Validation"):
        ks.verify(token, {"audience": "api"})  # type: ignore[arg-type]
    with pytest.raises(keyseal.ConfigError):
        keyseal.Validation(leeway=301)
    with pytest.raises(keyseal.ConfigError):
        keyseal.Validation(max_token_len=10)


def test_verify_uses_the_clock_when_now_is_none() -> None:
    ks = keyset()
    fresh = ks.issue({"exp": datetime.now(timezone.utc) + timedelta(minutes=1)})
    assert "exp" in ks.verify(fresh).claims
    stale = ks.issue({"exp": datetime.now(timezone.utc) - timedelta(seconds=1)})
    with pytest.raises(keyseal.TimeError):
        ks.verify(stale)


def test_rotation_is_a_new_immutable_keyset() -> None:
    ks = keyset()
    old_token = ks.issue({"exp": NOW + 3600})
    rotated = ks.rotate(keyseal.TokenKey("k2", b"2" * 48, alg="HS384"), grace_until=NOW_DT + timedelta(minutes=30))
    assert ks.signing_key.kid == "k1" and rotated.signing_key.kid == "k2"
    assert [k.kid for k in rotated.keys] == ["k1", "k2"]
    assert rotated.keys[0].verify_until == NOW + 1800
    assert rotated.verify(rotated.issue({"exp": NOW + 60}), now=NOW).alg == "HS384"
    assert rotated.verify(old_token, now=NOW).claims["exp"] == NOW + 3600
    with pytest.raises(keyseal.SignatureError) as info:
        rotated.verify(old_token, now=NOW + 1800)
    assert info.value.code == "key_retired"
    with pytest.raises(keyseal.ConfigError) as dup:
        rotated.rotate(keyseal.TokenKey("k1", SECRET), grace_until=NOW)
    assert dup.value.code == "duplicate_kid"
    assert "secret" in repr(rotated.keys[1]) and "<redacted>" in repr(rotated.keys[1])


def test_exchange() -> None:
    ks = keyset()
    token = ks.exchange(key_id="AbCdEfGh12345678", scopes=["keys:read", "billing:*"], role="admin", now=NOW)
    claims = ks.verify(token, now=NOW + 599).claims
    assert claims == {
        "sub": "AbCdEfGh12345678",
        "exp": NOW + 600,
        "iat": NOW,
        "scope": "keys:read billing:*",
        "role": "admin",
        "key_id": "AbCdEfGh12345678",
    }
    with pytest.raises(keyseal.TimeError):
        ks.verify(token, now=NOW + 600)
    assert keyseal.exchange_claims(key_id="AbCdEfGh12345678", owner="u", now=NOW, ttl=60)["exp"] == NOW + 60
    with pytest.raises(keyseal.ConfigError):
        ks.exchange(key_id="x", ttl=-5)
    now_claims = keyseal.exchange_claims(key_id="x")
    assert abs(now_claims["iat"] - int(datetime.now(timezone.utc).timestamp())) <= 2


def test_issue_rejects_wrong_registered_claim_types() -> None:
    bad: list[dict[str, object]] = [
        {"exp": "soon"},
        {"aud": 5},
        {"sub": None},
        {"aud": ["a", 1]},
        {"exp": True},
        {"exp": 2**63},
        {"nbf": 1e300},
    ]
    for claims in bad:
        with pytest.raises(keyseal.ClaimsError) as info:
            keyset().issue(claims)
        assert info.value.code == "invalid_claim"
    # A NumericDate may be fractional, as in a received token: it is rounded down.
    ks = keyset()
    assert ks.verify(ks.issue({"exp": NOW + 0.9, "iat": -0.5}), now=0).claims == {"exp": NOW, "iat": -1}


def test_datetime_conversion_rounds_down_and_honours_offsets() -> None:
    ks = keyset()
    plus_two = timezone(timedelta(hours=2))
    token = ks.issue({"exp": datetime(2026, 1, 1, 2, 0, 0, 999_999, tzinfo=plus_two)})
    assert ks.verify(token, now=0).claims["exp"] == NOW
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=timezone.utc)
    assert ks.verify(ks.issue({"iat": before_epoch}), now=0, dangerously_allow_missing_exp=True).claims == {"iat": -1}


# --- policy -----------------------------------------------------------------------------


def test_policy_record_shape() -> None:
    record: keyseal.KeyPolicyRecord = {
        "scopes": ["keys:*"],
        "read_only": True,
        "allowed_ips": ["10.0.0.0/8", "2001:db8::/32"],
        "expires_at": NOW + 60,
        "role": "admin",
    }
    p = keyseal.KeyPolicy(**record)
    assert (p.enabled, p.revoked, p.expires_at, p.role, p.read_only) == (True, False, NOW + 60, "admin", True)
    assert p.scopes == ("keys:*",) and p.allowed_ips == ("10.0.0.0/8", "2001:db8::/32")
    p.check(now=NOW, client_ip="10.1.2.3", method="GET", required_scopes=["keys:read"], allowed_roles=["admin"])
    p.check(now=NOW_DT, client_ip=ipaddress.ip_address("2001:db8::1"), method="HEAD")
    for kwargs, code in (
        (dict(now=NOW, client_ip="11.0.0.1", method="GET"), "ip_not_allowed"),
        (dict(now=NOW, client_ip="10.0.0.1", method="POST"), "read_only_key"),
        (dict(now=NOW + 60, client_ip="10.0.0.1", method="GET"), "key_expired"),
        (dict(now=NOW, client_ip="10.0.0.1", method="GET", required_scopes=["billing:read"]), "insufficient_scope"),
        (dict(now=NOW, client_ip="10.0.0.1", method="GET", allowed_roles=["owner"]), "role_not_allowed"),
    ):
        with pytest.raises(keyseal.PolicyError) as info:
            p.check(**kwargs)  # type: ignore[arg-type]
        assert info.value.code == code
    assert repr(keyseal.KeyPolicy(scopes=["a"])) == (
        "KeyPolicy(enabled=True, revoked=False, expires_at=None, role=None, scopes=('a',), read_only=False, allowed_ips=())"
    )
    with pytest.raises(keyseal.MalformedError):
        keyseal.KeyPolicy(allowed_ips=["10.0.0.1/8"])


# --- headers ----------------------------------------------------------------------------


def test_headers_from_mappings_pairs_and_raw_asgi() -> None:
    from starlette.datastructures import Headers

    key = keyseal.KeyFormat("acme").generate()
    cred = keyseal.extract_credential({"X-Api-Key": key.expose()})
    assert (cred.kind, cred.source, cred.value) == ("api_key", "x-api-key", key.expose())
    assert key.expose() not in repr(cred)
    pair = keyseal.extract_credential(
        Headers(raw=[(b"accesskey", key.prefixed_id.encode()), (b"secretkey", key.expose_secret_with_checksum().encode())])
    )
    assert (pair.kind, pair.source, pair.value) == ("key_pair", "key-pair", key.expose())
    token = keyset().issue({"exp": NOW})
    bearer = keyseal.extract_credential([(b"authorization", b"Bearer " + token.encode())])
    assert (bearer.kind, bearer.source, bearer.value) == ("token", "bearer", token)
    # Starlette keeps repeated headers; the core refuses to guess between them.
    twice = Headers(raw=[(b"x-api-key", key.expose().encode()), (b"x-api-key", key.expose().encode())])
    with pytest.raises(keyseal.CredentialError) as info:
        keyseal.extract_credential(twice)
    assert info.value.code == "duplicate_credential"


# --- objects ----------------------------------------------------------------------------


def test_objects_are_immutable() -> None:
    objects = [
        keyseal.KeyFormat("acme"),
        keyseal.KeyFormat("acme").generate(),
        keyseal.Pepper("p", SECRET),
        keyseal.TokenKey("k", SECRET),
        keyset(),
        keyseal.KeyPolicy(),
    ]
    for obj in objects:
        with pytest.raises(AttributeError):
            obj.anything = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        keyseal.KeyPolicy().revoked = True  # type: ignore[misc]


def test_shared_keyset_across_threads() -> None:
    ks = keyset()
    tokens = [ks.issue({"exp": NOW + 60, "n": i}) for i in range(50)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(40):
                for i, t in enumerate(tokens):
                    assert ks.verify(t, now=NOW).claims["n"] == i
        except BaseException as e:  # noqa: BLE001 - collected and re-raised below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_gil_probe_returns_in_both_modes() -> None:
    # The benchmark's probe of what releasing the GIL would cost; it must stay harmless.
    assert keyseal._keyseal._gil_probe(True) is None  # type: ignore[func-returns-value]
    assert keyseal._keyseal._gil_probe(False) is None  # type: ignore[func-returns-value]


def test_version_is_the_workspace_version() -> None:
    import re

    from conftest import REPO

    cargo = (REPO / "Cargo.toml").read_text(encoding="utf-8")
    section = cargo.split("[workspace.package]", 1)[1]
    match = re.search(r'^version\s*=\s*"([^"]+)"', section, re.M)
    assert match is not None
    assert keyseal.__version__ == match.group(1)
    from importlib.metadata import version

    assert version("keyseal") == keyseal.__version__
