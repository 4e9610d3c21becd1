#!/usr/bin/env python3
"""keyseal (Python binding) against the usual Python tools, in one run on the same inputs.

- token verify (signature + exp/nbf/iat + aud + iss) and issue: keyseal, PyJWT, joserfc,
  itsdangerous (its own token format; aud/iss/nbf checked by hand after `loads`, since
  itsdangerous has no claims validation);
- API key verify: keyseal (parse + checksum + peppered digest compare) against the
  hand-written stdlib form `hmac.new(pepper, key, sha256)` + `hmac.compare_digest`;
- the floor: stdlib `hmac.digest` over the token's signing input (~350 bytes), i.e. one
  HMAC-SHA256 with no parsing and no checks at all;
- in-process metering: `keyseal.Meter.check` with one limit and credits on a hot subject
  (`--only meter` times just that, and prints the median of the rounds too).

Prints ns/op and ratios as a Markdown table. A benchmark, not a test: numbers depend on the
machine. Run: .build/py/venv/bin/python benches/python/bench.py (after scripts/test-python).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import platform
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

import itsdangerous
import jwt as pyjwt
import joserfc
from joserfc import jwt as jose_jwt
from joserfc.jwk import OctKey

import keyseal

SECRET = hashlib.sha256(b"keyseal bench token key").digest()  # 32 bytes: HS256's minimum
PEPPER = hashlib.sha256(b"keyseal bench pepper").digest()
AUD = "https://api.acme.example"
ISS = "https://auth.acme.example"
NOW = int(time.time())
CLAIMS: dict[str, Any] = {
    "iss": ISS,
    "sub": "user_7Hq2kLm9PzX4",
    "aud": AUD,
    "exp": NOW + 86_400,
    "nbf": NOW - 60,
    "iat": NOW - 60,
    "jti": "tok_3f9a1c2e8b7d4e6f",
    "scope": "keys:read keys:write",
    "role": "merchant-terminal",
}


# CPU time of this thread, not wall time: on a shared machine the process is descheduled at
# random, and that waiting is not the code's cost. (The GIL probe below uses wall time: there
# the waiting is the point.)
clock = time.thread_time_ns


def calibrate(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of fn take about `seconds`."""
    n = 1
    while True:
        t = clock()
        for _ in range(n):
            fn()
        dt = clock() - t
        if dt > 10_000_000:
            return max(1, int(n * seconds / (dt / 1e9)))
        n *= 2


def measure_rounds(fns: dict[str, Callable[[], object]], budget_s: float, rounds: int = 7) -> dict[str, list[float]]:
    """ns per call of each fn in each of `rounds` runs, interleaved round-robin so that load
    from other processes hits every candidate alike."""
    counts = {name: calibrate(fn, budget_s / rounds) for name, fn in fns.items()}
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            n = counts[name]
            t = clock()
            for _ in range(n):
                fn()
            out[name].append((clock() - t) / n)
    return out


def measure_all(fns: dict[str, Callable[[], object]], budget_s: float, rounds: int = 7) -> dict[str, float]:
    """ns per call of each fn: the best of `rounds` interleaved runs (noise only ever adds
    time)."""
    return {name: min(ns) for name, ns in measure_rounds(fns, budget_s, rounds).items()}


HOT = "key_7Hq2kLm9PzX4"


def meter_candidates() -> dict[str, Callable[[], object]]:
    """Meter.check with one limit and credits (daily refill), both large enough that every
    check is admitted and spends: a hot subject, `now_ms` given or read from the clock."""
    big = 2**53 - 1
    meter = keyseal.Meter(
        [{"name": "per_minute", "limit": big, "window_ms": 60_000}],
        credits={"remaining": big, "refill": {"amount": big, "interval": "daily"}},
    )
    now_ms = int(time.time() * 1000)
    answer = meter.check(HOT, now_ms=now_ms)
    assert answer["allowed"] and answer["credits"] is not None
    return {
        "keyseal Meter.check (now_ms given)": lambda: meter.check(HOT, now_ms=now_ms),
        "keyseal Meter.check (clock)": lambda: meter.check(HOT),
    }


def meter_only(budget: float) -> None:
    rounds = 11
    timed = measure_rounds(meter_candidates(), budget, rounds)
    print(f"keyseal {keyseal.__version__}; CPython {platform.python_version()} on {platform.machine()}, "
          f"{datetime.now(timezone.utc):%Y-%m-%d}; {rounds} interleaved rounds\n")
    print("| operation | implementation | median ns/op | best ns/op |")
    print("| --- | --- | ---: | ---: |")
    for name, ns in timed.items():
        print(f"| meter check (one limit + credits, hot subject) | {name} | {statistics.median(ns):,.0f} | {min(ns):,.0f} |")


def measure(fn: Callable[[], object], budget_s: float) -> float:
    return measure_all({"fn": fn}, budget_s)["fn"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per candidate, split over 7 interleaved rounds (default 1.0)")
    ap.add_argument("--only", choices=["all", "meter"], default="all", help="meter: time Meter.check alone (median and best)")
    args = ap.parse_args()
    budget = args.budget
    if args.only == "meter":
        meter_only(budget)
        return

    keyset = keyseal.Keyset(keyseal.TokenKey("k1", SECRET))
    token = keyset.issue(CLAIMS)
    signing_input = token.rsplit(".", 1)[0].encode()
    jose_key = OctKey.import_key(SECRET)
    jose_registry = jose_jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUD}, iss={"essential": True, "value": ISS})
    serializer = itsdangerous.URLSafeTimedSerializer(SECRET, salt="bench", signer_kwargs={"digest_method": hashlib.sha256})
    dangerous_token = serializer.dumps(CLAIMS)

    # Every verifier must accept the same claims before anything is timed.
    assert keyset.verify(token, audience=AUD, issuer=ISS).claims == CLAIMS
    assert keyset.verify(token, keyseal.Validation(audience=AUD, issuer=ISS)).claims == CLAIMS
    assert pyjwt.decode(token, SECRET, algorithms=["HS256"], audience=AUD, issuer=ISS) == CLAIMS

    def jose_verify() -> dict[str, Any]:
        t = jose_jwt.decode(token, jose_key, algorithms=["HS256"])
        jose_registry.validate(t.claims)  # exp, nbf, iat, aud, iss
        return t.claims

    def dangerous_verify() -> dict[str, Any]:
        claims: dict[str, Any] = serializer.loads(dangerous_token, max_age=86_400)
        now = time.time()
        if claims["exp"] <= now or claims["nbf"] > now or claims["aud"] != AUD or claims["iss"] != ISS:
            raise ValueError("rejected")
        return claims

    assert jose_verify() == CLAIMS and dangerous_verify() == CLAIMS

    fmt = keyseal.KeyFormat("acme_live")
    api_key = fmt.generate_from_entropy(bytes(range(48))).expose()
    peppers = keyseal.PepperSet(keyseal.Pepper("p1", PEPPER))
    stored = peppers.digest(api_key)
    stored_raw = hmac.new(PEPPER, api_key.encode(), hashlib.sha256).digest()

    def keyseal_key_verify() -> str:
        fmt.check(api_key)  # structure, prefix, lengths, CRC32 checksum
        return peppers.verify(api_key, stored)  # HMAC-SHA256 + constant-time compare

    def stdlib_key_verify() -> bool:
        return hmac.compare_digest(hmac.new(PEPPER, api_key.encode(), hashlib.sha256).digest(), stored_raw)

    assert keyseal_key_verify() == "current" and stdlib_key_verify()

    validation = keyseal.Validation(audience=AUD, issuer=ISS)
    candidates: dict[tuple[str, str], Callable[[], object]] = {
        ("floor", "stdlib hmac.digest(signing input)"): lambda: hmac.digest(SECRET, signing_input, "sha256"),
        ("token verify", "keyseal (Validation object)"): lambda: keyset.verify(token, validation),
        ("token verify", "keyseal (keyword options)"): lambda: keyset.verify(token, audience=AUD, issuer=ISS),
        ("token verify", "PyJWT"): lambda: pyjwt.decode(token, SECRET, algorithms=["HS256"], audience=AUD, issuer=ISS),
        ("token verify", "joserfc"): jose_verify,
        ("token verify", "itsdangerous (+ checks by hand)"): dangerous_verify,
        ("token issue", "keyseal"): lambda: keyset.issue(CLAIMS),
        ("token issue", "PyJWT"): lambda: pyjwt.encode(CLAIMS, SECRET, algorithm="HS256", headers={"kid": "k1"}),
        ("token issue", "joserfc"): lambda: jose_jwt.encode({"alg": "HS256", "kid": "k1"}, CLAIMS, jose_key),
        ("token issue", "itsdangerous"): lambda: serializer.dumps(CLAIMS),
        ("API key verify", "keyseal (check + PepperSet.verify)"): keyseal_key_verify,
        ("API key verify", "stdlib hmac.new + compare_digest"): stdlib_key_verify,
        **{("meter check", name): fn for name, fn in meter_candidates().items()},
    }
    timed = measure_all({f"{op}|{name}": fn for (op, name), fn in candidates.items()}, budget)
    rows = [(op, name, timed[f"{op}|{name}"]) for op, name in candidates if op != "gil"]
    floor = rows[0][2]
    gil_quiet, gil_busy = gil_cost(budget)

    def get(op: str, name: str) -> float:
        return next(ns for o, n, ns in rows if o == op and n == name)

    ks_verify = get("token verify", "keyseal (Validation object)")
    ks_issue = get("token issue", "keyseal")
    print(
        f"keyseal {keyseal.__version__}, PyJWT {pyjwt.__version__}, joserfc {joserfc.__version__}, "
        f"itsdangerous {version('itsdangerous')}; CPython {platform.python_version()} on {platform.machine()}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d}; token {len(token)} bytes, signing input {len(signing_input)} bytes\n"
    )
    print("| operation | implementation | ns/op | x floor | keyseal is N x faster |")
    print("| --- | --- | ---: | ---: | ---: |")
    for op, name, ns in rows:
        base = {"token verify": ks_verify, "token issue": ks_issue}.get(op)
        if op == "API key verify":
            base = get(op, "keyseal (check + PepperSet.verify)")
        speed = f"{ns / base:.1f}" if base and not name.startswith("keyseal") else ""
        print(f"| {op} | {name} | {ns:,.0f} | {ns / floor:.2f} | {speed} |")
    key_ratio = get("API key verify", "keyseal (check + PepperSet.verify)") / get("API key verify", "stdlib hmac.new + compare_digest")
    print()
    print(
        f"- releasing the GIL around a call: +{gil_quiet:,.0f} ns per call with no other thread; with one busy "
        f"Python thread, mean {gil_busy[True][0]:,.0f} ns / worst {gil_busy[True][1] / 1000:,.0f} us per call "
        f"(holding it: mean {gil_busy[False][0]:,.0f} ns / worst {gil_busy[False][1] / 1000:,.0f} us); a released "
        f"GIL can be lost for a whole switch interval ({sys.getswitchinterval() * 1000:.0f} ms)"
    )
    print(f"- token verify: keyseal = {ks_verify / floor:.2f}x the hmac.digest floor (target <= 1.0x), "
          f"{get('token verify', 'PyJWT') / ks_verify:.1f}x faster than PyJWT (target >= 15x)")
    print(f"- API key verify: keyseal = {key_ratio:.2f}x the stdlib form (target <= 0.8x)")


def gil_cost(budget_s: float) -> tuple[float, dict[bool, tuple[float, float]]]:
    """What releasing the GIL around a call that does nothing else costs
    (keyseal._keyseal._gil_probe): extra ns per call alone, and mean/worst ns per call while
    one other Python thread is busy (bounded to 0.5 s per variant)."""
    probe = keyseal._keyseal._gil_probe
    quiet = measure_all({"keep": lambda: probe(False), "release": lambda: probe(True)}, budget_s, rounds=15)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    other = threading.Thread(target=spin, daemon=True)
    other.start()
    busy: dict[bool, tuple[float, float]] = {}
    try:
        for release in (False, True):
            calls, worst = 0, 0
            start = time.perf_counter_ns()
            deadline = start + 500_000_000
            while calls < 5000 and time.perf_counter_ns() < deadline:
                t = time.perf_counter_ns()
                probe(release)
                worst = max(worst, time.perf_counter_ns() - t)
                calls += 1
            busy[release] = ((time.perf_counter_ns() - start) / calls, float(worst))
    finally:
        stop.set()
        other.join()
    return max(quiet["release"] - quiet["keep"], 0.0), busy


def version(dist: str) -> str:
    from importlib.metadata import version as v

    return v(dist)


if __name__ == "__main__":
    main()
