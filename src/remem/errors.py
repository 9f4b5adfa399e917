"""The one exception hierarchy of remem.

::

    RememError                      code            HTTP
    ├── InvalidInput                invalid_input   400
    ├── NotFound                    not_found       404
    ├── Conflict                    conflict        409
    ├── PayloadTooLarge             too_large       413
    ├── BackendUnavailable          backend_down    503  (retryable)
    └── IncompatibleBackend         backend_unfit   503  (Redis lacks Search/JSON, wrong schema)

Core code raises these; the API translates them once, in ``remem.api.errors``.
"""

from __future__ import annotations


class RememError(Exception):
    code = "error"
    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(RememError):
    code = "invalid_input"
    status = 400


class NotFound(RememError):
    code = "not_found"
    status = 404


class Conflict(RememError):
    code = "conflict"
    status = 409


class PayloadTooLarge(RememError):
    code = "too_large"
    status = 413


class BackendUnavailable(RememError):
    """Redis could not be reached or did not answer in time. Retrying later may succeed: the
    API says when in ``Retry-After`` (the embedded Redis is restarted within about a second)."""

    code = "backend_unavailable"
    status = 503
    retry_after_seconds = 1


class IncompatibleBackend(RememError):
    """The Redis reached cannot serve remem (no Query Engine or JSON module)."""

    code = "backend_incompatible"
    status = 503
