"""The one exception hierarchy of remem.

::

    RememError                     code                   HTTP
    ├── InvalidInput               invalid_input          400
    ├── Unauthenticated            unauthenticated        401  missing, unknown, expired, revoked
    ├── Forbidden                  forbidden              403  outside the caller's scope or role
    ├── NotFound                   not_found              404
    │   └── MergedAway             merged                 404  ``merged_into``: where it went
    ├── Conflict                   conflict               409
    │   └── Unreadable             unreadable             409  a stored document cannot be read
    ├── PayloadTooLarge            too_large              413  body over REMEM_MAX_BODY_BYTES
    ├── RateLimited                rate_limited           429  Retry-After: seconds to wait
    ├── EmbeddingMismatch          embedding_mismatch     500  vectors of the wrong shape
    ├── BackendUnavailable         backend_unavailable    503  Retry-After: 1
    │   ├── EmbeddingUnavailable   embedding_unavailable  503  Retry-After: 1
    │   └── LLMUnavailable         llm_unavailable        503  the LLM failed, refused, timed out
    ├── LLMOutputInvalid           llm_output_invalid     502  no valid answer, even repaired
    └── IncompatibleBackend        backend_incompatible   503  Redis lacks Search/JSON

Every answer is ``{"detail": <the reason>, "code": <code>}``. Core code raises these; the API
translates them once, in ``remem.api.errors`` (``Unreadable`` lives beside the record readers,
in ``remem.memory.unreadable``). Two answers have no class: a request FastAPI cannot validate is
its 422 (``detail`` lists the errors), and any other exception is a 500 with code
``internal_error`` and an error id that finds the traceback in the log
(``remem.api.failures``).
"""

from __future__ import annotations

import re

# What a server fault's detail may carry that a client must not see: addresses, URLs and paths
# of the server's own parts (Redis, the embedding provider, the LLM, the data directory).
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()]+", re.IGNORECASE)
_ADDRESS = re.compile(
    r"(?:\b\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\]|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*):\d{1,5}\b",
    re.IGNORECASE,
)
_TUPLE = re.compile(r"\(\s*'[^']*'\s*,\s*\d+\s*(?:,\s*\d+\s*)*\)")  # ('10.0.0.1', 6379)
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_PATH = re.compile(r"(?<![\w.:/])(?:~|[a-z]:)?(?:[/\\][^\s/\\'\"():,]+){2,}[/\\]?", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` without URLs, host:port addresses, IP addresses and file paths."""
    text = _URL.sub("<url>", text)
    text = _TUPLE.sub("<address>", text)
    text = _ADDRESS.sub("<address>", text)
    text = _IP.sub("<address>", text)
    return _PATH.sub("<path>", text)


class RememError(Exception):
    code = "error"
    status = 500
    extra: dict[str, str] = {}  # noqa: RUF012 - read only: more fields of the answer

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def public_detail(self) -> str:
        """The detail as a client sees it: the reason for a refusal (4xx) as it is; for a
        server fault (5xx) what failed, without the addresses and paths of the server's parts
        (the log keeps the full detail)."""
        return self.detail if self.status < 500 else redact(self.detail)


class InvalidInput(RememError):
    code = "invalid_input"
    status = 400


class Unauthenticated(RememError):
    """No credentials, or credentials that do not hold (unknown, expired, revoked, forged).
    The detail says which without echoing the credential; the API adds
    ``WWW-Authenticate: Bearer``."""

    code = "unauthenticated"
    status = 401


class Forbidden(RememError):
    """The caller is known but may not do this: a namespace or user outside its scope, or a
    role too low. Reads of single records outside the scope are ``NotFound`` instead, so ids
    of other tenants' records cannot be probed."""

    code = "forbidden"
    status = 403


class RateLimited(RememError):
    """Too many requests from this caller; ``retry_after_seconds`` says when to come back."""

    code = "rate_limited"
    status = 429

    def __init__(self, detail: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class NotFound(RememError):
    code = "not_found"
    status = 404


class MergedAway(NotFound):
    """A memory id that deduplication merged into another memory: a 404 naming it."""

    code = "merged"

    def __init__(self, memory_id: str, into: str) -> None:
        super().__init__(f"memory {memory_id!r} was merged into memory {into!r}")
        self.into = into
        self.extra = {"merged_into": into}


class Conflict(RememError):
    code = "conflict"
    status = 409


class PayloadTooLarge(RememError):
    code = "too_large"
    status = 413


class EmbeddingMismatch(RememError):
    """The embedder answered with vectors of the wrong number or dimension: the server's model
    or its configuration (``REMEM_EMBEDDING_DIMENSIONS``) is at fault, not the request, and
    retrying will not help."""

    code = "embedding_mismatch"
    status = 500


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


class EmbeddingUnavailable(BackendUnavailable):
    """The embedding model could not be loaded, or the provider failed, refused or timed out.

    Retrying later may succeed; the detail says what failed, with the provider's message.
    """

    code = "embedding_unavailable"


class LLMUnavailable(BackendUnavailable):
    """The LLM could not be reached, refused the request or timed out (after the client's own
    retries). Retrying later may succeed; the detail carries the provider's message."""

    code = "llm_unavailable"


class LLMOutputInvalid(RememError):
    """The LLM answered, twice, with output that is not valid for the schema asked for (once
    as asked, once after being shown its error). The work that asked must be kept to retry
    later, never dropped; ``answer`` is the last answer, ``reason`` why it was refused."""

    code = "llm_output_invalid"
    status = 502

    def __init__(self, detail: str, *, answer: str = "", reason: str = "") -> None:
        super().__init__(detail)
        self.answer = answer
        self.reason = reason
