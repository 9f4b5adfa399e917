"""``LeanRoute``: an APIRoute for the hot paths that answers every request exactly as FastAPI does
but skips FastAPI's general request handling.

FastAPI's general handler (dependency graph, exit stacks, response validation) costs 35-70 µs of
CPU a request here. Through the ASGI app (``bench/lean_route.py``: 12 interleaved rounds of 150
requests, 2 shared cores, three runs) a working-memory GET takes 157-172 µs of CPU with LeanRoute
against 225-249 µs with APIRoute (28-30% of the request), a working-memory PUT 252 against 315
(17-20%), a session list 296 against 346 (8% of its wall time, Redis included; 15% of the CPU),
a long-term GET 205-220 against 235-258 (12-17%). Routes that save less than 10% stay on
APIRoute: a long-term PATCH saved 1-13% from run to run, create 0-6%. Search is the exception:
it saves 41 µs of 995 (4%; ``bench/lean_route.py``, 300 memories, 8 rounds), but it was a
LeanRoute before issue 10 and those 41 µs were half of what its semantic search had lost against
the JSON-layout version (``bench/cpu_per_request.py``: 880 -> 973 µs of app CPU a search).

LeanRoute keeps FastAPI's own analysis of the endpoint (its ``dependant``: the same fields,
constraints, defaults and OpenAPI) and validates with those same fields, reading the body and
shaping the 422 errors as FastAPI does; ``tests/api/test_lean.py`` sends the same requests to
both and compares the answers byte for byte.

It handles only: path parameters, query parameters of single values (named as they are or by
one plain ``alias``, as the managed API's camelCase ones are), one required body model,
dependencies that are ``async def dep(request)``, and endpoints that return a ``Response``
(LeanRoute does not serialise a ``response_model``). Anything else is refused when the route is
declared, so a route can never silently lose a parameter or answer differently.
"""

from __future__ import annotations

import email.message
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from copy import deepcopy
from typing import Any, TypeVar, get_type_hints

from fastapi import params
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response

_IMMUTABLE = (type(None), bool, int, float, str, bytes)
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def lean(
    router: APIRouter, path: str, method: str, **options: Any
) -> Callable[[Endpoint], Endpoint]:
    """Declare one route of ``router`` as a LeanRoute (the router's other routes keep theirs)."""

    def declare(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=[method], route_class_override=LeanRoute, **options
        )
        return endpoint

    return declare


def json_response(model: BaseModel) -> Response:
    """Serialise once, in pydantic's Rust core; the route's ``response_model`` documents the
    shape (returning a Response skips FastAPI's second validation of a model just built)."""
    return Response(model.model_dump_json(), media_type="application/json")


_FACTORY = object()  # a default made by a factory, called for each request as FastAPI does


def _static_default(field: ModelField) -> Any:
    """A query field's default, read once: ``field.default`` goes through pydantic's
    ``get_default`` (a deep copy and an import check, 3-4 µs each time, three or four a
    working-memory GET); the request copies it when mutable, as FastAPI does."""
    info = field.field_info
    return _FACTORY if info.default_factory is not None else info.default


def _missing(loc: tuple[str, ...]) -> dict[str, Any]:
    """The error FastAPI reports for a required value that was not sent."""
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


def _validate(
    field: ModelField, raw: Any, loc: tuple[str, ...], values: dict[str, Any], errors: list[Any]
) -> None:
    """``raw`` validated by FastAPI's own field into ``values``, or its errors (located at
    ``loc``, as FastAPI locates them) added to ``errors``."""
    value, found = field.validate(raw, values, loc=loc)
    if found:
        errors += found
    else:
        values[field.name] = value


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        dependant = self.dependant
        self._refuse_unsupported(dependant)
        endpoint = self.endpoint
        deps: list[tuple[str, Callable[[Request], Awaitable[Any]], bool]] = [
            (d.name, d.call, d.use_cache)  # both set: checked by _refuse_unsupported
            for d in dependant.dependencies
            if d.name is not None and d.call is not None
        ]
        path_fields = [(f, ("path", f.alias)) for f in dependant.path_params]
        query_fields = [
            (f, ("query", f.alias), f.field_info.is_required(), f.field_info.validate_default,
             _static_default(f))
            for f in dependant.query_params
        ]  # fmt: skip
        body_field = dependant.body_params[0] if dependant.body_params else None
        strict = getattr(self, "strict_content_type", False)  # older FastAPI: not strict
        strict_content_type = getattr(strict, "value", strict) is not False

        async def handler(request: Request) -> Response:
            body: Any = PydanticUndefined
            if body_field is not None:
                body = await _read_body(request, strict_content_type)
            values: dict[str, Any] = {}
            solved: dict[Any, Any] = {}
            for name, call, use_cache in deps:
                if use_cache and call in solved:
                    values[name] = solved[call]
                else:
                    values[name] = solved[call] = await call(request)
            errors: list[dict[str, Any]] = []
            path = request.path_params
            for field, loc in path_fields:
                raw = path.get(field.alias)
                if raw is None:
                    errors.append(_missing(loc))
                else:
                    _validate(field, raw, loc, values, errors)
            query = request.query_params
            for field, loc, required, validate_default, static in query_fields:
                raw = query.get(field.alias)
                if raw is not None:
                    _validate(field, raw, loc, values, errors)
                elif required:
                    errors.append(_missing(loc))
                else:  # FastAPI's default: a fresh copy, validated only if the field says so
                    default = field.default if static is _FACTORY else static
                    raw = default if isinstance(default, _IMMUTABLE) else deepcopy(default)
                    if validate_default:
                        _validate(field, raw, loc, values, errors)
                    else:
                        values[field.name] = raw
            if body_field is not None:
                if body is PydanticUndefined:
                    errors.append(_missing(("body",)))
                else:
                    _validate(body_field, body, ("body",), values, errors)
            if errors:
                raise RequestValidationError(
                    errors, body=None if body is PydanticUndefined else body
                )
            response = await endpoint(**values)
            if not isinstance(response, Response):
                raise TypeError(f"LeanRoute {self.path}: the endpoint must return a Response")
            return response

        return handler

    def _refuse_unsupported(self, dependant: Dependant) -> None:
        def refuse(why: str) -> None:
            raise TypeError(f"LeanRoute {self.path}: {why}")

        if not inspect.iscoroutinefunction(self.endpoint):
            refuse("the endpoint must be async")
        returns = get_type_hints(self.endpoint).get("return")
        if not (inspect.isclass(returns) and issubclass(returns, Response)):
            refuse("the endpoint must be declared to return a Response")
        if dependant.header_params or dependant.cookie_params:
            refuse("header and cookie parameters are not handled")
        if _special_parameters(dependant):
            refuse("Request, Response, BackgroundTasks or security parameters are not handled")
        for field in dependant.query_params:
            if field_annotation_is_sequence(field.field_info.annotation):
                refuse(f"query {field.name} takes several values, which is not handled")
        for field in (*dependant.path_params, *dependant.query_params):
            # Read by its alias, as FastAPI reads a parameter with one plain alias; choices
            # of aliases, or an alias path, are FastAPI's to resolve.
            if field.field_info.validation_alias not in (None, field.alias):
                refuse(f"{field.name} has alias choices or an alias path, which is not handled")
        if len(dependant.body_params) > 1:
            refuse("more than one body parameter")
        for field in dependant.body_params:
            info = field.field_info
            if isinstance(info, params.Form) or getattr(info, "embed", False):
                refuse(f"body {field.name} is a form or embedded, which is not handled")
            if not info.is_required():
                refuse(f"body {field.name} has a default, which is not handled")
        for dep in dependant.dependencies:
            if not _plain_async_dependency(dep):
                refuse(f"{dep.name} must be an `async def dep(request)` dependency")


def _special_parameters(dependant: Dependant) -> bool:
    return any(
        getattr(dependant, name, None)
        for name in (
            "request_param_name",
            "websocket_param_name",
            "http_connection_param_name",
            "response_param_name",
            "background_tasks_param_name",
            "security_scopes_param_name",
        )
    )


def _plain_async_dependency(dep: Dependant) -> bool:
    call: Callable[[Request], Awaitable[Any]] | None = dep.call
    return (
        dep.name is not None
        and call is not None
        and inspect.iscoroutinefunction(call)
        and dep.request_param_name is not None
        and len(inspect.signature(call).parameters) == 1
        and not (dep.path_params or dep.query_params or dep.header_params)
        and not (dep.cookie_params or dep.body_params or dep.dependencies)
    )


async def _read_body(request: Request, strict_content_type: bool) -> Any:
    """The body as FastAPI reads it: parsed JSON when the content type says JSON, else the
    bytes (which then fail validation), nothing when empty; bad JSON is FastAPI's 422 and a
    body that cannot be decoded its 400."""
    try:
        body_bytes = await request.body()
        if not body_bytes:
            return PydanticUndefined
        content_type = request.headers.get("content-type")
        if not content_type:
            return body_bytes if strict_content_type else await request.json()
        if content_type == "application/json":  # what clients send: no header parsing (9 µs)
            return await request.json()
        message = email.message.Message()
        message["content-type"] = content_type
        if message.get_content_maintype() == "application":
            subtype = message.get_content_subtype()
            if subtype == "json" or subtype.endswith("+json"):
                return await request.json()
        return body_bytes
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
