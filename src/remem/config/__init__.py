"""Settings: one object, built at the edge (CLI, app factory, tests) and passed in.

Environment variables use the prefix ``REMEM_``; where the upstream Agent Memory Server has a
variable with the same meaning (``REDIS_URL``), that name is read too. The fields live in three
groups (``core``, ``auth``, ``observe``); ``Settings`` holds them all, in that order.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import SettingsConfigDict

from remem.config.auth import AuthSettings
from remem.config.core import CoreSettings
from remem.config.observe import ObserveSettings


class Settings(ObserveSettings, AuthSettings, CoreSettings):
    """remem configuration. The configuration table of the docs is generated from these fields."""

    model_config = SettingsConfigDict(env_prefix="REMEM_", extra="ignore", populate_by_name=True)


def default(name: str) -> Any:
    """The default of the setting ``name``: where a constructor needs a default for a value the
    settings pass in, it takes this one, so each default is written once, above."""
    return Settings.model_fields[name].default


def settings_table() -> str:
    """The README's configuration table, generated from the fields above."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        env = f"REMEM_{name.upper()}"
        if name == "redis_url":
            env = "REDIS_URL / REMEM_REDIS_URL"
        if field.default_factory is not None:
            default = "user data dir (`~/.local/share/remem`)" if name == "data_dir" else "computed"
        else:
            default = "unset" if field.default is None else f"`{field.default}`"
        rows.append(f"| `{env}` | {default} | {field.description or ''} |")
    return "\n".join(rows)
