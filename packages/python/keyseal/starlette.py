"""Starlette (and any ASGI app): middleware that verifies every HTTP request with a
:class:`keyseal.guard.Guard` before the app sees it.

.. code-block:: python

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    import keyseal
    from keyseal.guard import Guard, requirement
    from keyseal.starlette import KeysealMiddleware

    guard = Guard(keyseal.AsyncClient("http://127.0.0.1:8080"))
    app = Starlette(routes=[...], middleware=[
        Middleware(KeysealMiddleware, guard=guard, requirement=requirement(["api:read"]), exclude=["/health"]),
    ])

The caller's :class:`Principal` is in ``request.state.keyseal`` (``scope["state"]``).
A refusal is answered here: the status of ``server/errors.json``, the server's body
shape ``{"error": {"code", "message"}}``, ``WWW-Authenticate`` on a 401 and the metering
headers; an allowed response gets the metering headers added.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Dict, MutableMapping, Optional, Sequence

from ._keyseal import KeysealError
from .guard import Guard, Requirement, error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class KeysealMiddleware:
    """ASGI middleware; ``exclude`` lists path prefixes that need no key (e.g. health)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Guard,
        requirement: Requirement = Requirement(),
        exclude: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.guard = guard
        self.requirement = requirement
        self.exclude = tuple(exclude)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.exclude) and self.exclude:
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        client = scope.get("client")
        try:
            principal = await self.guard.acheck(
                headers,
                method=scope.get("method"),
                client_ip=client[0] if client else None,
                requirement=self.requirement,
            )
        except KeysealError as e:
            await _answer(send, int(getattr(e, "status", 500)), error_body(e), dict(getattr(e, "headers", {})))
            return
        scope.setdefault("state", {})["keyseal"] = principal
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in principal.headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _answer(send: Send, status: int, body: Dict[str, Any], headers: Optional[Dict[str, str]]) -> None:
    raw = json.dumps(body).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    out += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": raw})


__all__ = ["KeysealMiddleware"]
