"""How the service refuses a request: an HTTP status and a one-line reason, sent as
``{"error": reason}``; and reading a number from a form or query field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """A request the service refuses, with its HTTP status and one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def number(value: str | None, name: str, low: float, high: float) -> float | None:
    """A form or query field as a number in [low, high]; None when absent."""
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if not low <= x <= high:
        raise BadRequest(400, f"{name} must be a number from {low:g} to {high:g}")
    return x


def refusing(handler: Handler) -> Handler:
    """``handler`` with its :class:`BadRequest` answered as the JSON refusal."""

    async def route(request: Request) -> Response:
        try:
            return await handler(request)
        except BadRequest as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)

    return route
