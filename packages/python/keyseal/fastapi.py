"""FastAPI: a security dependency that verifies the request's API key or token with a
:class:`keyseal.guard.Guard` (against ``keyseal serve`` or in-process).

.. code-block:: python

    from fastapi import FastAPI, Security
    import keyseal
    from keyseal.fastapi import KeysealAuth
    from keyseal.guard import Guard, Principal

    auth = KeysealAuth(Guard(keyseal.AsyncClient("http://127.0.0.1:8080")))
    app = FastAPI()

    @app.get("/invoices")
    async def invoices(who: Principal = Security(auth, scopes=["invoices:read"])) -> dict:
        return {"key": who.key_id}

``Security(auth, scopes=[...])`` names the scopes the route needs (they show in the
OpenAPI document, with the ``x-api-key`` scheme); ``auth.require(cost=3, roles=[...])``
gives a dependency with more requirements. Refusals are ``HTTPException`` s with the
status of ``server/errors.json``, the body's ``detail`` ``{"code", "message"}``, and the
``WWW-Authenticate`` and metering headers; allowed answers carry the metering headers too
when the route declares a ``Response`` parameter or uses :func:`metering_headers`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from fastapi import HTTPException, Request, Response
from fastapi.openapi.models import APIKey, APIKeyIn
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from ._keyseal import KeysealError
from .guard import Guard, Principal, Requirement


def http_exception(e: KeysealError) -> HTTPException:
    """A refusal as FastAPI's ``HTTPException``."""
    status = int(getattr(e, "status", 500))
    detail = {"code": e.code, "message": str(e) if status < 500 else "internal error"}
    return HTTPException(status_code=status, detail=detail, headers=dict(getattr(e, "headers", {})) or None)


class KeysealAuth(SecurityBase):
    """A FastAPI security dependency (``Depends(auth)`` or ``Security(auth, scopes=...)``)
    that answers the caller's :class:`Principal` and stores it in ``request.state.keyseal``.
    """

    def __init__(
        self,
        guard: Guard,
        *,
        roles: Optional[Sequence[str]] = None,
        cost: Optional[int] = None,
        limits: Optional[Sequence[str]] = None,
        dry_run: Optional[bool] = None,
        scheme_name: str = "keyseal",
        description: str = "A keyseal API key (x-api-key, Authorization: Bearer, or accessKey + secretKey) or exchange token",
    ) -> None:
        self.guard = guard
        self.requirement = Requirement.of((), roles, cost, limits, dry_run)
        # As FastAPI's own APIKeyHeader builds it (`in` is a keyword in Python).
        self.model = APIKey(**{"in": APIKeyIn.header}, name="x-api-key", description=description)  # type: ignore[arg-type]
        self.scheme_name = scheme_name

    def require(
        self,
        *,
        roles: Optional[Sequence[str]] = None,
        cost: Optional[int] = None,
        limits: Optional[Sequence[str]] = None,
        dry_run: Optional[bool] = None,
    ) -> "KeysealAuth":
        """The same guard (and cache) with other requirements, for another route."""
        other = KeysealAuth(self.guard, roles=roles, cost=cost, limits=limits, dry_run=dry_run, scheme_name=self.scheme_name)
        other.model = self.model
        return other

    async def __call__(self, request: Request, response: Response, security_scopes: SecurityScopes) -> Principal:
        req = Requirement(
            tuple(security_scopes.scopes),
            self.requirement.allowed_roles,
            self.requirement.cost,
            self.requirement.limits,
            self.requirement.dry_run,
        )
        try:
            principal = await self.guard.acheck(
                request.headers.items(),
                method=request.method,
                client_ip=request.client.host if request.client else None,
                requirement=req,
            )
        except KeysealError as e:
            raise http_exception(e) from None
        for name, value in principal.headers.items():
            response.headers[name] = value
        request.state.keyseal = principal
        return principal


def principal_of(request: Request) -> Any:
    """The :class:`Principal` a :class:`KeysealAuth` stored on this request, or ``None``."""
    return getattr(request.state, "keyseal", None)


__all__ = ["KeysealAuth", "http_exception", "principal_of"]
