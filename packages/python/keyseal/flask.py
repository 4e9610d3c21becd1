"""Flask: a view decorator that verifies the request with a :class:`keyseal.guard.Guard`.

.. code-block:: python

    from flask import Flask, g
    import keyseal
    from keyseal.flask import require_key
    from keyseal.guard import Guard

    guard = Guard(keyseal.Client("http://127.0.0.1:8080"))
    app = Flask(__name__)

    @app.get("/invoices")
    @require_key(guard, scopes=["invoices:read"])
    def invoices():
        return {"key": g.keyseal.key_id}

The caller's :class:`Principal` is ``flask.g.keyseal``. A refusal is answered as JSON
``{"error": {"code", "message"}}`` with the status of ``server/errors.json``,
``WWW-Authenticate`` on a 401 and the metering headers; an allowed response gets the
metering headers added.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence, TypeVar

from flask import g, jsonify, make_response, request

from ._keyseal import KeysealError
from .guard import Guard, Requirement, error_body

F = TypeVar("F", bound=Callable[..., Any])


def require_key(
    guard: Guard,
    *,
    scopes: Sequence[str] = (),
    roles: Optional[Sequence[str]] = None,
    cost: Optional[int] = None,
    limits: Optional[Sequence[str]] = None,
    dry_run: Optional[bool] = None,
) -> Callable[[F], F]:
    """Protects a view: ``scopes`` the key must hold, ``roles`` one of which it must have;
    ``cost``/``limits``/``dry_run`` go to the server's metering."""
    req = Requirement.of(scopes, roles, cost, limits, dry_run)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                principal = guard.check(
                    request.headers.items(), method=request.method, client_ip=request.remote_addr, requirement=req
                )
            except KeysealError as e:
                answer = make_response(jsonify(error_body(e)), int(getattr(e, "status", 500)))
                answer.headers.update(dict(getattr(e, "headers", {})))
                return answer
            g.keyseal = principal
            answer = make_response(view(*args, **kwargs))
            answer.headers.update(dict(principal.headers))
            return answer

        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = ["require_key"]
