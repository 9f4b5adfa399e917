"""``LeanRoute``: an APIRoute for the hot paths that keeps FastAPI's declarations (OpenAPI,
422 errors in FastAPI's format) but handles requests with a precomputed plan.

FastAPI's general dependency solver costs about 200 µs a request here, a third of a working-memory
GET. Routes declared with ``route_class=LeanRoute`` may only use: path parameters, query
parameters of simple types (with ``Query`` constraints), one pydantic body model, and
dependencies that are ``async def dep(request)``. Anything else is refused when the route is
declared, so a route can never silently lose a parameter.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, get_type_hints

from fastapi import params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True)
class _Step:
    name: str
    kind: str  # path | query | body | dep
    adapter: TypeAdapter[Any] | None = None
    default: Any = None
    model: type[BaseModel] | None = None
    dependency: Callable[[Request], Awaitable[Any]] | None = None


def _errors(exc: ValidationError, *loc: str) -> list[dict[str, Any]]:
    return [
        {"type": e["type"], "loc": (*loc, *e["loc"]), "msg": e["msg"], "input": e.get("input")}
        for e in exc.errors(include_url=False)
    ]


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        plan = self._plan()
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            kwargs: dict[str, Any] = {}
            errors: list[dict[str, Any]] = []
            query = request.query_params
            for step in plan:
                if step.kind == "dep":
                    assert step.dependency is not None
                    kwargs[step.name] = await step.dependency(request)
                    continue
                if step.kind == "body":
                    assert step.model is not None
                    try:
                        kwargs[step.name] = step.model.model_validate_json(await request.body())
                    except ValidationError as exc:
                        errors += _errors(exc, "body")
                    continue
                raw = request.path_params.get(step.name) if step.kind == "path" else None
                if step.kind == "query":
                    raw = query.get(step.name)
                if raw is None:
                    kwargs[step.name] = step.default
                    continue
                assert step.adapter is not None
                try:
                    kwargs[step.name] = step.adapter.validate_python(raw)
                except ValidationError as exc:
                    errors += _errors(exc, step.kind, step.name)
            if errors:
                raise RequestValidationError(errors)
            result = await endpoint(**kwargs)
            if isinstance(result, Response):
                return result
            return Response(result.model_dump_json(), media_type="application/json")

        return handler

    def _plan(self) -> list[_Step]:
        hints = get_type_hints(self.endpoint, include_extras=True)
        path_names = set(self.param_convertors)
        plan: list[_Step] = []
        for name, parameter in inspect.signature(self.endpoint).parameters.items():
            default = parameter.default
            annotation = hints.get(name, Any)
            if isinstance(default, params.Depends):
                if default.dependency is None or not inspect.iscoroutinefunction(
                    default.dependency
                ):
                    raise TypeError(f"LeanRoute {self.path}: {name} needs an async dependency")
                plan.append(_Step(name, "dep", dependency=default.dependency))
            elif inspect.isclass(annotation) and issubclass(annotation, BaseModel):
                plan.append(_Step(name, "body", model=annotation))
            elif name in path_names:
                plan.append(_Step(name, "path", adapter=TypeAdapter(annotation)))
            elif (
                isinstance(default, params.Query)
                or default is inspect.Parameter.empty
                or (not isinstance(default, params.Param | params.Body | params.Depends))
            ):
                field = default if isinstance(default, params.Query) else None
                adapter: TypeAdapter[Any] = TypeAdapter(
                    Annotated[annotation, field] if field else annotation
                )
                value = field.default if field is not None else default
                if value is inspect.Parameter.empty:
                    raise TypeError(f"LeanRoute {self.path}: query {name} needs a default")
                plan.append(_Step(name, "query", adapter=adapter, default=value))
            else:
                raise TypeError(f"LeanRoute {self.path}: unsupported parameter {name}")
        return plan
