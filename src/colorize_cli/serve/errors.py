"""How the service refuses a request: an HTTP status and a one-line reason, sent as
``{"error": reason}``; and reading a number from a form or query field."""

from __future__ import annotations


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
