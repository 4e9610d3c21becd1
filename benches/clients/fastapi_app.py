"""The FastAPI side of benches/clients/run.sh: one endpoint per way of verifying.

/none   no authentication
/local  in-process Guard (a dict lookup, the digest and the policy checked by the core)
/hit    Guard against keyseal serve (AsyncClient), cache on: repeated keys are cache hits
/miss   Guard against keyseal serve with cache_ttl=0: every request asks the server

Env: KEYSEAL_URL (the server), BENCH_LOCAL_KEY (a key of format "bench" for /local).
"""

from __future__ import annotations

import os
from typing import Optional

from fastapi import FastAPI, Security

import keyseal
from keyseal.fastapi import KeysealAuth
from keyseal.guard import Guard, LocalKey, Principal

FORMAT = keyseal.KeyFormat("bench")
PEPPERS = keyseal.PepperSet(keyseal.Pepper("p1", b"bench-pepper-0123456789abcdef0123"))
LOCAL_KEY = os.environ["BENCH_LOCAL_KEY"]
ROWS = {FORMAT.parse(LOCAL_KEY).id: LocalKey(FORMAT.parse(LOCAL_KEY).id, PEPPERS.digest(LOCAL_KEY), keyseal.KeyPolicy(scopes=["bench:read"]))}


def lookup(key_id: str) -> Optional[LocalKey]:
    return ROWS.get(key_id)


url = os.environ["KEYSEAL_URL"]
local = KeysealAuth(Guard(lookup=lookup, key_format=FORMAT, peppers=PEPPERS))
hit = KeysealAuth(Guard(keyseal.AsyncClient(url)))
miss = KeysealAuth(Guard(keyseal.AsyncClient(url), cache_ttl=0))
app = FastAPI()


@app.get("/none")
async def none() -> dict[str, str]:
    return {"key": "-"}


@app.get("/local")
async def by_local(who: Principal = Security(local, scopes=["bench:read"])) -> dict[str, str]:
    return {"key": who.key_id}


@app.get("/hit")
async def by_hit(who: Principal = Security(hit, scopes=["bench:read"])) -> dict[str, str]:
    return {"key": who.key_id}


@app.get("/miss")
async def by_miss(who: Principal = Security(miss, scopes=["bench:read"])) -> dict[str, str]:
    return {"key": who.key_id}
