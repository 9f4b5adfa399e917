"""remem's MCP server (the official MCP SDK, 2.x ``MCPServer``): the ten tools of the upstream
Agent Memory Server 0.15.2 with their names and parameters, so agent prompts written for it keep
working, calling the same services as the REST API.

* Transports: stdio (``remem mcp``) and streamable HTTP, mounted by ``remem serve`` at ``/mcp``
  and ``/{namespace}/mcp``. The namespace in the URL (or ``REMEM_MCP_DEFAULT_NAMESPACE``) scopes
  the tools that take one, as upstream; it is held in a context variable per request, where
  upstream kept it on the server object, shared by concurrent requests.
* Every tool holds its request to the caller's scope through ``remem.auth.guard``, as the REST
  routes do. The URL's namespace is a request like any other (outside the scope: 403); the
  configured defaults apply only where the caller's scope allows them, else the scope's own
  namespace and user are filled in, so neither can widen what a token reaches.
* Errors come back as MCP tool errors with the reason (a remem error's detail, or the invalid
  field): upstream's search swallowed errors into empty results.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from remem.errors import RememError
from remem.mcp.tools import TOOLS, Tools
from remem.memory.unreadable import reason
from remem.runtime import Resources

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("remem.mcp")


def _reported(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """remem's errors and invalid values as tool errors with their reason (the SDK hides the
    text of any other exception from the client)."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except RememError as exc:
            if exc.status >= 500:  # the log keeps what the client must not see
                log.warning("%s in tool %s: %s", exc.code, fn.__name__, exc.detail)
            raise ToolError(exc.public_detail) from exc
        except ValidationError as exc:
            raise ToolError(f"invalid input: {reason(exc)}") from exc

    call.__doc__ = inspect.cleandoc(fn.__doc__ or "")  # the tool's description, unindented
    return call


def build_server(
    resources: Callable[[], Resources],
    *,
    default_namespace: str | None = None,
    default_user_id: str | None = None,
) -> MCPServer:
    """The MCP server over the services ``resources()`` returns (asked per call, so the HTTP
    app can build it before its lifespan has made them)."""
    # The SDK's server calls logging.basicConfig with a rich handler, which takes the root
    # logger of a process that has not set up logging yet (lines wrapped over several): a
    # handler held meanwhile makes that call do nothing, and remem's own setup (remem.logs) or
    # the embedding application's stays in charge.
    root, placeholder = logging.getLogger(), logging.NullHandler()
    root.addHandler(placeholder)
    try:
        server = MCPServer(
            "remem",
            instructions="Long-term and working memory for this agent: search what you know "
            "about the user before answering, and store durable facts, preferences and events "
            "as you learn them.",
        )
    finally:
        root.removeHandler(placeholder)

    tools = Tools(resources, default_namespace, default_user_id)
    for name in TOOLS:
        server.tool()(_reported(getattr(tools, name)))
    return server
