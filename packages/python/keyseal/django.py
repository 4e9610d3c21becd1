"""Django: a middleware and a view decorator that verify the request with a
:class:`keyseal.guard.Guard`.

.. code-block:: python

    # views.py
    import keyseal
    from keyseal.django import require_key
    from keyseal.guard import Guard

    GUARD = Guard(keyseal.Client("http://127.0.0.1:8080"))

    @require_key(GUARD, scopes=["invoices:read"])
    def invoices(request):
        return JsonResponse({"key": request.keyseal.key_id})

    # settings.py: every request under /api/ needs a key
    MIDDLEWARE = [..., "keyseal.django.KeysealMiddleware"]
    KEYSEAL_GUARD = "myapp.views.GUARD"      # dotted path to a Guard
    KEYSEAL_PATHS = ["/api/"]                # path prefixes to protect (default: all)
    KEYSEAL_SCOPES = ["api:read"]            # optional

The caller's :class:`Principal` is ``request.keyseal``. A refusal is answered as JSON
``{"error": {"code", "message"}}`` with the status of ``server/errors.json``,
``WWW-Authenticate`` on a 401 and the metering headers.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence, TypeVar

from django.http import HttpRequest, HttpResponse, JsonResponse

from ._keyseal import KeysealError
from .guard import Guard, Principal, Requirement, error_body

F = TypeVar("F", bound=Callable[..., Any])


def _client_ip(request: HttpRequest) -> Optional[str]:
    value = request.META.get("REMOTE_ADDR")
    return str(value) if value else None


def _refused(e: KeysealError) -> HttpResponse:
    answer = JsonResponse(error_body(e), status=int(getattr(e, "status", 500)))
    for name, value in dict(getattr(e, "headers", {})).items():
        answer[name] = value
    return answer


def _check(guard: Guard, request: HttpRequest, req: Requirement) -> Principal:
    return guard.check(request.headers.items(), method=request.method, client_ip=_client_ip(request), requirement=req)


def require_key(
    guard: Guard,
    *,
    scopes: Sequence[str] = (),
    roles: Optional[Sequence[str]] = None,
    cost: Optional[int] = None,
    limits: Optional[Sequence[str]] = None,
    dry_run: Optional[bool] = None,
) -> Callable[[F], F]:
    """Protects a view; the principal is ``request.keyseal``."""
    req = Requirement.of(scopes, roles, cost, limits, dry_run)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                principal = _check(guard, request, req)
            except KeysealError as e:
                return _refused(e)
            setattr(request, "keyseal", principal)
            answer = view(request, *args, **kwargs)
            for name, value in principal.headers.items():
                answer[name] = value
            return answer

        return wrapper  # type: ignore[return-value]

    return decorate


class KeysealMiddleware:
    """Verifies requests under ``settings.KEYSEAL_PATHS`` (default every path) with the
    guard at ``settings.KEYSEAL_GUARD`` (a Guard or its dotted path), requiring
    ``settings.KEYSEAL_SCOPES``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        # Imported here: `django.conf.settings` is lazy and must not be touched at import.
        from django.conf import settings
        from django.utils.module_loading import import_string

        self.get_response = get_response
        guard = getattr(settings, "KEYSEAL_GUARD")
        self.guard: Guard = import_string(guard) if isinstance(guard, str) else guard
        self.paths = tuple(getattr(settings, "KEYSEAL_PATHS", ("/",)))
        self.requirement = Requirement.of(getattr(settings, "KEYSEAL_SCOPES", ()))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(self.paths):
            return self.get_response(request)
        try:
            principal = _check(self.guard, request, self.requirement)
        except KeysealError as e:
            return _refused(e)
        setattr(request, "keyseal", principal)
        answer = self.get_response(request)
        for name, value in principal.headers.items():
            answer[name] = value
        return answer


__all__ = ["KeysealMiddleware", "require_key"]
