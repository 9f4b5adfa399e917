"""Each setting has one default, the one in ``Settings``: no constructor or function in remem
declares a default of its own for a parameter named like a setting, and the services take the
values they use, not the whole ``Settings``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

from pydantic_settings import BaseSettings

import remem
from remem.config import Settings
from remem.memory.working import WorkingMemoryService


def _callables() -> Iterator[tuple[str, Any]]:
    for info in pkgutil.walk_packages(remem.__path__, "remem."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra (the minilm model) not installed
            continue
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(obj) and not issubclass(obj, BaseSettings):  # the settings' parts
                yield f"{module.__name__}.{name}", obj
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth):
                        yield f"{module.__name__}.{name}.{meth_name}", meth
            elif inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj


def test_no_default_shadows_a_setting() -> None:
    fields = Settings.model_fields
    shadows = []
    for where, obj in _callables():
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            continue
        for p in params:
            # None is "not given": the CLI's options leave the value to Settings.
            given = p.default not in (inspect.Parameter.empty, None)
            if p.name in fields and given and p.default != fields[p.name].default:
                shadows.append(f"{where}({p.name}={p.default!r})")
    assert not shadows, f"defaults differing from Settings: {shadows}"


def test_the_working_memory_service_takes_what_it_uses() -> None:
    params = inspect.signature(WorkingMemoryService).parameters
    assert "settings" not in params
    assert params["summarization_threshold"].default == 0.7
