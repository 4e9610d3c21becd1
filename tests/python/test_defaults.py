"""The defaults the shipped stubs state are the ones the compiled module applies, and those
are the core's (the binding's signatures are tied to the core's constants at build time:
DEFAULT_MAX_TOKEN_LEN, DEFAULT_EXCHANGE_TTL, KeyFormat::DEFAULT_ID_LEN/DEFAULT_SECRET_LEN).
Checked here by behaviour: what an exchange lasts, which token sizes verify."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any, Callable

import pytest

import keyseal

NOW = 1_767_225_600
STUB = Path(keyseal.__file__).resolve().parent / "_keyseal.pyi"
DEFAULTED = ("leeway", "max_token_len", "ttl", "id_len", "secret_len")


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"))


def stub_defaults() -> dict[str, dict[str, Any]]:
    """`{"Keyset.verify": {"max_token_len": 8192, ...}, ...}` for the names in DEFAULTED."""
    out: dict[str, dict[str, Any]] = {}

    def visit(fn: ast.FunctionDef, owner: str | None) -> None:
        args = fn.args
        pairs = list(zip(args.args[len(args.args) - len(args.defaults) :], args.defaults))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        found = {a.arg: ast.literal_eval(d) for a, d in pairs if a.arg in DEFAULTED}
        if found:
            name = fn.name if owner is None else f"{owner}.{fn.name}"
            out[name] = found

    for node in stub_tree().body:
        if isinstance(node, ast.FunctionDef):
            visit(node, None)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    visit(item, node.name)
    return out


def runtime_callable(name: str) -> Callable[..., Any]:
    owner, _, attr = name.rpartition(".")
    if not owner:
        return getattr(keyseal, attr)  # type: ignore[no-any-return]
    cls = getattr(keyseal, owner)
    return cls if attr == "__new__" else getattr(cls, attr)  # type: ignore[no-any-return]


def the_default(name: str) -> Any:
    """The one value every stub signature gives `name`."""
    values = {d[name] for d in stub_defaults().values() if name in d}
    assert len(values) == 1, f"the stubs give {name} several defaults: {values}"
    return values.pop()


def test_every_defaulted_option_is_found_in_the_stubs() -> None:
    found = {arg for d in stub_defaults().values() for arg in d}
    assert found == set(DEFAULTED)


@pytest.mark.parametrize("name", sorted(stub_defaults()))
def test_stub_defaults_are_the_runtime_defaults(name: str) -> None:
    params = inspect.signature(runtime_callable(name)).parameters
    for arg, value in stub_defaults()[name].items():
        assert params[arg].default == value, f"{name}({arg}=...)"


def test_validation_docstring_states_the_defaults() -> None:
    cls = next(n for n in stub_tree().body if isinstance(n, ast.ClassDef) and n.name == "Validation")
    doc = ast.get_docstring(cls) or ""
    over = re.search(r"tokens over (\d+) bytes rejected", doc)
    assert over is not None and int(over.group(1)) == the_default("max_token_len")
    leeway = re.search(r"leeway (\d+) s \(at most (\d+)\)", doc)
    assert leeway is not None and int(leeway.group(1)) == the_default("leeway")
    most = int(leeway.group(2))
    keyseal.Validation(leeway=most)
    with pytest.raises(keyseal.ConfigError):
        keyseal.Validation(leeway=most + 1)


def test_the_default_validation_is_the_cores() -> None:
    assert keyseal.Validation().max_token_len == the_default("max_token_len")
    assert keyseal.Validation().leeway == the_default("leeway")


def test_an_exchange_lasts_the_default_ttl() -> None:
    claims = keyseal.exchange_claims(key_id="AbCdEfGh12345678", now=NOW)
    assert claims["exp"] - claims["iat"] == the_default("ttl")


def test_tokens_verify_up_to_the_default_size_limit() -> None:
    limit = the_default("max_token_len")
    ks = keyseal.Keyset(keyseal.TokenKey("k1", b"s" * 32))

    def token(pad: int) -> str:
        return ks.issue({"exp": NOW + 60, "pad": "x" * pad})

    # base64url makes 4 characters of 3 bytes: start below the limit, grow one at a time.
    pad = max(0, (limit - len(token(0))) * 3 // 4 - 8)
    while len(token(pad + 1)) <= limit:
        pad += 1
    fits, over = token(pad), token(pad + 1)
    assert len(fits) <= limit < len(over)
    assert ks.verify(fits, now=NOW).claims["exp"] == NOW + 60
    with pytest.raises(keyseal.MalformedError) as e:
        ks.verify(over, now=NOW)
    assert e.value.code == "token_too_large"


def test_key_formats_default_to_the_stated_lengths() -> None:
    key = keyseal.KeyFormat("acme").generate()
    assert len(key.id) == the_default("id_len")
