"""keyseal.Meter beyond the vectors: defaults, the clock, types and ranges, threads."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

import keyseal

T = 1_700_000_000_000
PER_SECOND: keyseal.MeterLimit = {"name": "per_second", "limit": 2, "window_ms": 1000}


def test_defaults_dry_run_and_credits() -> None:
    m = keyseal.Meter([PER_SECOND], credits={"remaining": 3})
    assert len(m) == 0
    a = m.check("k")  # cost 1, now = the wall clock
    assert (a["allowed"], a["code"], a["retry_after_ms"]) == (True, None, 0)
    assert abs(a["limits"][0]["reset_ms"] - time.time() * 1000) < 2000
    assert a["credits"] == {"allowed": True, "remaining": 2, "refill_at_ms": None}
    assert m.check("d", 2, dry_run=True, now_ms=T)["limits"][0]["remaining"] == 0
    assert m.check("d", 2, dry_run=True, now_ms=T)["allowed"], "a dry run spends nothing"
    refused: keyseal.MeterAnswer = m.check("d", 3, now_ms=T)
    assert refused == {
        "allowed": False,
        "code": "rate_limited",
        "retry_after_ms": None,
        "limits": [
            {"name": "per_second", "allowed": False, "limit": 2, "remaining": 2, "reset_ms": T + 1000, "retry_after_ms": None}
        ],
        "credits": {"allowed": True, "remaining": 3, "refill_at_ms": None},
    }
    assert m.add_credits("d", 10, now_ms=T) == 13
    assert len(m) == 2
    assert repr(m) == "Meter(limits=('per_second',), credits=True, subjects=2)"


def test_refill_options_and_a_meter_without_credits() -> None:
    m = keyseal.Meter(credits={"remaining": 0, "refill": {"amount": 5, "interval": "monthly", "day": 31, "cap": 8}})
    a = m.check("k", 0, now_ms=0)
    assert a["limits"] == [] and a["credits"] == {"allowed": True, "remaining": 0, "refill_at_ms": 30 * 86_400_000}
    with pytest.raises(keyseal.ConfigError) as info:
        keyseal.Meter().add_credits("k", 1)
    assert info.value.code == "invalid_config"


@pytest.mark.parametrize("bad", [-1, 2**53, 2**70])
def test_numbers_out_of_range_are_invalid_config(bad: int) -> None:
    m = keyseal.Meter([PER_SECOND], credits={"remaining": 1})
    for call in (
        lambda: m.check("k", bad, now_ms=T),
        lambda: m.check("k", now_ms=bad),
        lambda: m.add_credits("k", bad, now_ms=T),
        lambda: keyseal.Meter([{"name": "w", "limit": bad, "window_ms": 1000}]),
        lambda: keyseal.Meter([{"name": "w", "limit": 1, "window_ms": bad}]),
        lambda: keyseal.Meter(credits={"remaining": bad}),
        lambda: keyseal.Meter(max_subjects=min(bad, 0)),
    ):
        with pytest.raises(keyseal.ConfigError) as info:
            call()
        assert info.value.code == "invalid_config"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"limits": "per_second"}, "limits: expected a list of dicts"),
        ({"limits": [("per_second", 2, 1000)]}, "limits[0]: expected a dict"),
        ({"limits": [{"name": "a", "limit": 1, "windowMs": 1}]}, "unexpected key 'windowMs'"),
        ({"limits": [{"name": "a", "limit": 1}]}, "missing key 'window_ms'"),
        ({"limits": [{"name": "a", "limit": 1.0, "window_ms": 1}]}, "limits[0]['limit']: expected int, found float"),
        ({"limits": [{"name": "a", "limit": True, "window_ms": 1}]}, "expected int, found bool"),
        ({"limits": [{"name": 1, "limit": 1, "window_ms": 1}]}, "limits[0]['name']: expected str"),
        ({"credits": {"remaining": 1, "refill": {"amount": 1}}}, "missing key 'interval'"),
        ({"credits": 5}, "credits: expected a dict"),
        ({"max_subjects": "10"}, "max_subjects: expected int"),
    ],
)
def test_wrong_types_are_type_errors(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(TypeError) as info:
        keyseal.Meter(**kwargs)
    assert needle in str(info.value)


def test_wrong_call_types_are_type_errors() -> None:
    m: Any = keyseal.Meter([PER_SECOND])
    calls: tuple[tuple[Callable[[], object], str], ...] = (
        (lambda: m.check(1), "subject: expected str"),
        (lambda: m.check("k", 1.0), "cost: expected int, found float"),
        (lambda: m.check("k", True), "cost: expected int, found bool"),
        (lambda: m.check("k", now_ms=1.5), "now_ms: expected int"),
        (lambda: m.add_credits("k", "1"), "amount: expected int"),
    )
    for call, needle in calls:
        with pytest.raises(TypeError) as info:
            call()
        assert needle in str(info.value)


def test_value_rules_are_the_cores() -> None:
    cases: list[dict[str, Any]] = [
        {"limits": [{**PER_SECOND, "window_ms": 0}]},
        {"limits": [PER_SECOND, PER_SECOND]},
        {"credits": {"remaining": 0, "refill": {"amount": 1, "interval": "weekly"}}},
        {"credits": {"remaining": 0, "refill": {"amount": 1, "interval": "daily", "day": 3}}},
    ]
    for kwargs in cases:
        with pytest.raises(keyseal.ConfigError):
            keyseal.Meter(**kwargs)


def test_one_meter_shared_by_threads_admits_exactly_the_limit() -> None:
    m = keyseal.Meter([{"name": "per_minute", "limit": 1000, "window_ms": 60_000}])
    admitted = []

    def work() -> None:
        admitted.append(sum(m.check("k", now_ms=T)["allowed"] for _ in range(500)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 1000
