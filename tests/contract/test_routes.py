"""Every path the official client calls (working and long-term memory, summary views, tasks)
exists in remem."""

from __future__ import annotations

import inspect
import re

import agent_memory_client.client as client_module

from remem.api.app import create_app
from remem.config import Settings

# Features of the upstream server remem does not offer yet.
NOT_YET = {"/v1/memory/prompt"}


def _client_paths() -> set[tuple[str, str]]:
    source = inspect.getsource(client_module)
    calls = re.findall(r"self\._client\.(get|put|post|delete|patch)\(\s*f?\"(/v1/[^\"]*)\"", source)
    return {(method.upper(), re.sub(r"\{[^}]+\}", "{}", path)) for method, path in calls}


def test_client_paths_are_served() -> None:
    app = create_app(Settings(redis_url="redis://unused"))
    served = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    wanted = {(m, p) for m, p in _client_paths() if not any(p.startswith(n) for n in NOT_YET)}
    assert len(wanted) >= 10
    assert wanted <= served, sorted(wanted - served)
