"""Schemathesis hooks for the fuzzing run in scripts/test-server (loaded with SCHEMATHESIS_HOOKS).

Without them most generated requests to the write operations never reached a handler's
business logic: they were refused, correctly, before it. These hooks make the cases that
schemathesis generates as valid ("positive") valid for the server too, and leave the
invalid ("negative") ones alone, so both kinds are exercised:

- Credentials. Every request carries the run's owner key in `x-api-key`, except a token
  exchange with a body: the body is the credential there, and a second one in the header
  is refused as `ambiguous_credential`. A request that carries a token in `Authorization`
  (the stateful phase's whoami link) gets no key either, for the same reason.
- Fresh key per case. Outside the stateful phase, an operation on one key (get, usage, patch,
  put, enable, disable, roll, delete) whose generated path is valid gets a key created
  for that case alone, so no case depends on what an earlier one did to a shared key
  (deleted, rolled, renamed). Every fourth case names it by name instead of id, to reach
  the name lookup. A valid `If-Match` gets that key's version (in the generated form:
  `3`, `"3"` or `W/"3"`), so it is not a random stale version (412).
- In the stateful phase ids and `If-Match` come from the document's OpenAPI links
  (create -> get/update/enable/disable/roll/delete, ETag -> If-Match); the hooks only
  keep the run's own keys (owner, fuzz-target) out of reach, so that no link or inferred
  id disables, rolls or deletes the key the run is authorised with.
- Valid bodies. The document types some fields more loosely than the server checks them
  (a name unique among live keys, CIDR ranges, an IP address, an HTTP method, owners and
  metadata keys without control characters, byte lengths). A positive body is brought
  within those rules: names get a unique suffix, unparsable ranges and addresses are
  replaced with documentation addresses (RFC 5737), and so on. Token exchange gets a real
  key (in the stateful phase unless a link put one there); verify and token verify get a
  real key or token every other case (a random one is a 200 with `valid: false`).
- Valid cursors. A positive `starting_after`/`ending_before` becomes a real key id or
  audit entry id (random text is an `invalid_cursor`), and only one of the two is sent.

`after_call` appends one line per request (phase, operation, mode, status, error code) to
$KEYSEAL_ST_CASES; scripts/st-summary turns it into the per-operation table.

Environment (set by scripts/test-server): KEYSEAL_ST_URL, KEYSEAL_ST_OWNER_KEY,
KEYSEAL_ST_ACCOUNT, KEYSEAL_ST_KEY_ID, KEYSEAL_ST_KEY_SECRET, KEYSEAL_ST_CASES.
"""

from __future__ import annotations

import collections
import ipaddress
import itertools
import os
import re
import unicodedata

import requests
import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis.core import NOT_SET
from schemathesis.core.parameters import ParameterLocation

URL = os.environ["KEYSEAL_ST_URL"].rstrip("/")
OWNER_KEY = os.environ["KEYSEAL_ST_OWNER_KEY"]
ACCOUNT = os.environ["KEYSEAL_ST_ACCOUNT"]
TARGET_ID = os.environ["KEYSEAL_ST_KEY_ID"]
TARGET_SECRET = os.environ["KEYSEAL_ST_KEY_SECRET"]
CASES_LOG = os.environ.get("KEYSEAL_ST_CASES")

# The run's own keys, by id and by name (the path's `{id}` also takes a name).
OWNER_ID = OWNER_KEY.split("_")[1]
PROTECTED = {OWNER_ID, "owner", "name:owner", TARGET_ID, "fuzz-target", "name:fuzz-target"}

KEY_OPERATIONS = {"getKey", "updateKey", "setKeyEnabled", "enableKey", "disableKey", "rollKey", "deleteKey", "keyUsage"}
USAGE_OPERATIONS = {"keyUsage", "accountUsage"}
EXCHANGE_OPERATIONS = {"exchangeToken", "exchangeTokenAlias"}

_session = requests.Session()
_session.headers["x-api-key"] = OWNER_KEY
_counter = itertools.count(1)
_turns: collections.Counter = collections.Counter()
_token: str | None = None
_audit_id: str | None = None


def _api(method: str, path: str, **kwargs) -> requests.Response:
    response = _session.request(method, URL + path, timeout=10, **kwargs)
    response.raise_for_status()
    return response


def _turn(what: str) -> int:
    """How many times `what` came up before (0, 1, 2, ...): for "every other case"."""
    _turns[what] += 1
    return _turns[what] - 1


def _fresh_key() -> dict:
    n = next(_counter)
    return _api("POST", f"/v1/accounts/{ACCOUNT}/keys", json={"name": f"st-fresh-{n}"}).json()


def _real_token() -> str:
    global _token
    if _token is None:
        _token = requests.post(URL + "/v1/token", json={"value": TARGET_SECRET}, timeout=10).json()["token"]
    return _token


def _audit_entry_id() -> str:
    global _audit_id
    if _audit_id is None:
        _audit_id = _api("GET", f"/v1/accounts/{ACCOUNT}/audit", params={"limit": 1}).json()["data"][0]["id"]
    return _audit_id


def _mode(case, location: ParameterLocation) -> str | None:
    meta = case.meta
    if meta is None or location not in meta.components:
        return None
    return meta.components[location].mode.value


def _phase(case) -> str | None:
    meta = case.meta
    return None if meta is None else meta.phase.name.value


def _no_controls(s: str, keep: str = "") -> str:
    return "".join(c for c in s if c in keep or unicodedata.category(c)[0] != "C")


def _cut_bytes(s: str, limit: int) -> str:
    # The server counts bytes (Rust's `str::len`); the document's maxLength counts characters.
    return s.encode()[:limit].decode(errors="ignore")


def _unique_name(name) -> str:
    suffix = f"-{next(_counter)}"
    base = name if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) else "k"
    return base[: 64 - len(suffix)] + suffix


def _cidr(s) -> str:
    try:
        return str(ipaddress.ip_network(s, strict=True)) if isinstance(s, str) and s.isascii() else "192.0.2.0/24"
    except ValueError:
        return "192.0.2.0/24"


def _ip(s) -> str:
    try:
        return str(ipaddress.ip_address(s)) if isinstance(s, str) and s.isascii() else "198.51.100.7"
    except ValueError:
        return "198.51.100.7"


def _if_match(value: str, version: int | None) -> str:
    """A version in one of the forms the server reads (`3`, `"3"`, `W/"3"`): the document's
    pattern also lets through an unbalanced quote (`"3`, `W/3"`), which the server refuses."""
    digits = version if version is not None else re.search(r"[0-9]+", value).group()
    if value.startswith("W/"):
        return f'W/"{digits}"'
    return f'"{digits}"' if '"' in value else str(digits)


def _integer(value):
    # JSON Schema counts 3.0 as an integer; serde's i64 does not (400). Send 3.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _key_fields(body: dict, *, create: bool) -> None:
    """The server's rules for a key's fields (registry/src/validate.rs) on a positive body."""
    if create or "name" in body:
        body["name"] = _unique_name(body.get("name"))
    if isinstance(body.get("description"), str):
        body["description"] = _no_controls(body["description"], keep="\n")
    if isinstance(body.get("owner"), str):
        body["owner"] = _cut_bytes(_no_controls(body["owner"]), 128) or "owner-x"
    if isinstance(body.get("allowed_ips"), list):
        body["allowed_ips"] = [_cidr(s) for s in body["allowed_ips"][:64]]
    if "expires_at" in body:
        body["expires_at"] = _integer(body["expires_at"])
    if isinstance(body.get("expires_at"), int):
        body["expires_at"] = min(max(body["expires_at"], 0), 253402300799)
    if isinstance(body.get("metadata"), dict):
        body["metadata"] = {k: v for k, v in list(body["metadata"].items())[:50] if 1 <= len(k) <= 40}


def _cursors(query: dict, valid_id: str) -> None:
    if "starting_after" in query and "ending_before" in query:
        del query["ending_before"]
    for name in ("starting_after", "ending_before"):
        if name in query:
            query[name] = valid_id


@schemathesis.hook
def before_call(context, case, kwargs):
    op = case.operation.definition.raw.get("operationId")
    phase = _phase(case)
    path_mode = _mode(case, ParameterLocation.PATH)
    header_mode = _mode(case, ParameterLocation.HEADER)
    body_mode = _mode(case, ParameterLocation.BODY)
    query_mode = _mode(case, ParameterLocation.QUERY)
    body = case.body if isinstance(case.body, dict) else None

    # Credentials.
    has_body = case.body is not NOT_SET and case.body is not None
    bearer = "authorization" in {k.lower() for k in case.headers or {}}
    if not (op in EXCHANGE_OPERATIONS and has_body) and not bearer:
        if case.headers is None:
            case.headers = CaseInsensitiveDict()
        case.headers["x-api-key"] = OWNER_KEY

    # Which key an operation on one key targets, and at which version.
    if op in KEY_OPERATIONS and case.path_parameters.get("id") is not None:
        version = None
        replace = (phase != "stateful" and path_mode == "positive") or case.path_parameters["id"] in PROTECTED
        if replace:
            key = _fresh_key()
            version = key["version"]
            case.path_parameters["id"] = key["name"] if _turn("by name") % 4 == 3 else key["id"]
            case.path_parameters["account"] = ACCOUNT
        match = case.headers.get("If-Match")
        if isinstance(match, str) and header_mode == "positive":
            case.headers["If-Match"] = _if_match(match, version)

    if body_mode == "positive" and body is not None:
        if op == "createKey":
            _key_fields(body, create=True)
        elif op == "updateKey":
            _key_fields(body, create=False)
        elif op == "rollKey" and "grace_seconds" in body:
            body["grace_seconds"] = _integer(body["grace_seconds"])
        elif op == "verifyKey":
            if phase != "stateful" and _turn(op) % 2 == 0:
                body["key"] = TARGET_SECRET
            if "client_ip" in body:
                body["client_ip"] = _ip(body["client_ip"])
            if "method" in body and not re.fullmatch(r"[A-Za-z]{1,16}", str(body["method"])):
                body["method"] = "GET"
        elif op in EXCHANGE_OPERATIONS:
            # In the stateful phase a link may have put a key just created or rolled there.
            if phase != "stateful" or not str(body.get("value", "")).startswith("ks_"):
                body["value"] = TARGET_SECRET
        elif op == "verifyToken" and phase != "stateful" and _turn(op) % 2 == 0:
            body["token"] = _real_token()

    if query_mode == "positive" and case.query:
        if op == "listKeys":
            if isinstance(case.query.get("owner"), str):
                case.query["owner"] = _cut_bytes(_no_controls(case.query["owner"]), 128) or "owner-x"
            if "role" in case.query and not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", str(case.query["role"])):
                del case.query["role"]
            _cursors(case.query, TARGET_ID)
        elif op == "auditLog":
            if "key_id" in case.query and phase != "stateful":
                case.query["key_id"] = TARGET_ID
            _cursors(case.query, _audit_entry_id())
        elif op in USAGE_OPERATIONS:
            if isinstance(case.query.get("owner"), str):
                case.query["owner"] = _cut_bytes(_no_controls(case.query["owner"]), 128) or "owner-x"
            # Mostly ranges the server answers (a day fits every granularity); the rest
            # keep their generated `to` and meet the range checks (422).
            start = case.query.get("from")
            if isinstance(start, int) and not isinstance(start, bool) and _turn(op) % 4 != 3:
                case.query["to"] = min(start + 86_400, 253402300799)


@schemathesis.hook
def after_call(context, case, response):
    if not CASES_LOG:
        return
    meta = case.meta
    # Requests with a method the operation does not have (TRACE, ...) are counted apart.
    label = case.operation.label if case.method.upper() == case.operation.method.upper() else "other methods (405)"
    mode = meta.generation.mode.value if meta else "-"
    code = "-"
    if response.status_code >= 400:
        try:
            code = response.json()["error"]["code"]
        except Exception:
            pass
    with open(CASES_LOG, "a", encoding="utf-8") as out:
        out.write(f"{_phase(case) or '-'}\t{label}\t{mode}\t{response.status_code}\t{code}\n")
