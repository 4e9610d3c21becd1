"""Runs every case in tests/vectors/ against the installed wheel, dispatching on each file's
"op". Results must equal the vector exactly (strings byte for byte, claims as JSON values)."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

import keyseal

from conftest import load_vectors


def token_keys(keys: list[dict[str, Any]]) -> keyseal.Keyset:
    built = [
        keyseal.TokenKey(
            k["kid"], bytes.fromhex(k["secret_hex"]), alg=k["alg"], verify_until=k.get("verify_until")
        )
        for k in keys
    ]
    return keyseal.Keyset(built[0], built[1:])


def peppers(items: list[dict[str, Any]]) -> keyseal.PepperSet:
    built = [keyseal.Pepper(p["id"], bytes.fromhex(p["secret_hex"])) for p in items]
    return keyseal.PepperSet(built[0], built[1:])


def key_fields(key: keyseal.ApiKey) -> dict[str, str]:
    return {"prefix": key.prefix, "id": key.id, "secret": key.expose_secret(), "checksum": key.checksum}


def op_key_generate(i: dict[str, Any]) -> Any:
    fmt = keyseal.KeyFormat(i["prefix"], id_len=i["id_len"], secret_len=i["secret_len"])
    key = fmt.generate_from_entropy(bytes.fromhex(i["entropy_hex"]))
    return {"key": key.expose(), **key_fields(key)}


def op_key_parse(i: dict[str, Any]) -> Any:
    f = i.get("format")
    if f is None:
        key = keyseal.parse_key(i["key"])
    else:
        key = keyseal.KeyFormat(f["prefix"], id_len=f["id_len"], secret_len=f["secret_len"]).parse(i["key"])
    return key_fields(key)


def op_digest_compute(i: dict[str, Any]) -> Any:
    return {"digest": peppers(i["peppers"]).digest(i["key"]), "sha256_hex": keyseal.sha256_hex(i["key"])}


def op_digest_verify(i: dict[str, Any]) -> Any:
    return {"status": peppers(i["peppers"]).verify(i["key"], i["stored"])}


def op_hmac_sha256(i: dict[str, Any]) -> Any:
    return {"mac_hex": keyseal.hmac_sha256(bytes.fromhex(i["key_hex"]), bytes.fromhex(i["data_hex"])).hex()}


def op_token_issue(i: dict[str, Any]) -> Any:
    # claims_json: numbers beyond 64 bits, read the way json.loads reads them (exact ints).
    claims = json.loads(i["claims_json"]) if "claims_json" in i else i["claims"]
    return {"token": token_keys(i["keys"]).issue(claims)}


def op_token_verify(i: dict[str, Any]) -> Any:
    v = i.get("validation") or {}
    kwargs: dict[str, Any] = {}
    if "leeway" in v:
        kwargs["leeway"] = v["leeway"]
    if v.get("audiences") is not None:
        kwargs["audience"] = v["audiences"]
    if v.get("issuers") is not None:
        kwargs["issuer"] = v["issuers"]
    if v.get("required") is not None:
        kwargs["required"] = v["required"]
    if v.get("dangerously_allow_missing_exp") is not None:
        kwargs["dangerously_allow_missing_exp"] = v["dangerously_allow_missing_exp"]
    if v.get("max_token_len") is not None:
        kwargs["max_token_len"] = v["max_token_len"]
    keys = token_keys(i["keys"])
    t = keys.verify(i["token"], now=i["now"], **kwargs)
    # The same options as a reusable Validation object must give the same answer.
    same = keys.verify(i["token"], keyseal.Validation(**kwargs), now=i["now"])
    assert (same.kid, same.alg, same.claims) == (t.kid, t.alg, t.claims)
    return {"kid": t.kid, "alg": t.alg, "claims": t.claims}


def op_token_exchange(i: dict[str, Any]) -> Any:
    ident = i["identity"]
    opts = {k: v for k, v in (i.get("options") or {}).items() if v is not None}
    args = dict(
        key_id=ident["key_id"],
        owner=ident.get("owner"),
        scopes=ident.get("scopes") or (),
        role=ident.get("role"),
        now=i["now"],
        **opts,
    )
    token = token_keys(i["keys"]).exchange(**args)
    return {"token": token, "claims": keyseal.exchange_claims(**args)}


def op_policy_check(i: dict[str, Any]) -> Any:
    policy = keyseal.KeyPolicy(**i["policy"])
    ctx = i["context"]
    policy.check(
        now=ctx["now"],
        client_ip=ctx.get("client_ip"),
        method=ctx.get("method"),
        required_scopes=ctx.get("required_scopes") or (),
        allowed_roles=ctx.get("allowed_roles") or (),
    )
    return True


def op_headers_extract(i: dict[str, Any]) -> Any:
    # Pairs, not a dict: repeats and order matter.
    cred = keyseal.extract_credential([tuple(h) for h in i["headers"]])
    return {"kind": cred.kind, "source": cred.source, "value": cred.value}


def op_meter(i: dict[str, Any]) -> Any:
    # The vectors' meter spec is Meter's keyword arguments, names and all.
    meter = keyseal.Meter(**i["meter"])
    out: list[Any] = []
    for step in i["steps"]:
        if "add_credits" in step:
            out.append({"remaining": meter.add_credits(step["subject"], step["add_credits"], now_ms=step["now_ms"])})
        else:
            out.append(
                meter.check(step["subject"], step.get("cost", 1), dry_run=step.get("dry_run", False), now_ms=step["now_ms"])
            )
    return out


OPS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "key_generate": op_key_generate,
    "key_parse": op_key_parse,
    "digest_compute": op_digest_compute,
    "digest_verify": op_digest_verify,
    "hmac_sha256": op_hmac_sha256,
    "token_issue": op_token_issue,
    "token_verify": op_token_verify,
    "token_exchange": op_token_exchange,
    "policy_check": op_policy_check,
    "headers_extract": op_headers_extract,
    "meter": op_meter,
}

CASES = [
    pytest.param(doc["op"], case, id=f"{name}:{case['id']}")
    for name, doc in load_vectors()
    for case in doc["cases"]
]


def test_vectors_exist() -> None:
    ops = {doc["op"] for _, doc in load_vectors()}
    assert ops - set(OPS) == set(), f"vector ops without a runner: {ops - set(OPS)}"
    assert set(OPS) - ops == set(), f"runners without vectors: {set(OPS) - ops}"
    assert len(CASES) > 100


@pytest.mark.parametrize(("op", "case"), CASES)
def test_vector(op: str, case: dict[str, Any]) -> None:
    run = OPS[op]
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(keyseal.KeysealError) as info:
            run(case["input"])
        assert info.value.code == expect["error"], str(info.value)
        assert keyseal.ERROR_CODES[info.value.code] == info.value.family
    else:
        got = run(case["input"])
        # JSON values: equal after a canonical round trip (ints stay ints, order ignored).
        assert json.dumps(got, sort_keys=True) == json.dumps(expect["ok"], sort_keys=True)
