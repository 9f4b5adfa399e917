"""The managed Agent Memory API on the wire (camelCase, as the ``redis-agent-memory`` 0.4.1 SDK
sends and reads it): health, sessions and their events, long-term memories and their search.

Requests refuse what the SDK's own bounds refuse (a 400 naming the field); answers leave out
what is unset. How these map onto remem's working and long-term memory is
``remem.api.routers.managed`` (and docs/managed-api.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    model_validator,
)
from pydantic.alias_generators import to_camel

from remem.models.bounds import FiniteFloat, JsonObject, JsonValue, StoredDatetime

Role = Literal["USER", "ASSISTANT", "SYSTEM"]
Text = Annotated[str, Field(min_length=1, max_length=50_000)]
Label = Annotated[str, Field(min_length=1, max_length=64)]
OwnerId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
Topic = Annotated[str, Field(min_length=1, max_length=100)]


class Camel(BaseModel):
    """camelCase on the wire, the Python names in code."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# -- health --------------------------------------------------------------------------------
class Health(Camel):
    status: Literal["healthy"] = "healthy"


class FeatureHealth(Camel):
    status: str


class StoreHealth(Camel):
    status: str
    features: dict[str, FeatureHealth]


# -- sessions ------------------------------------------------------------------------------
class TextPart(Camel):
    text: str = Field(min_length=1, max_length=50_000)


class NamespaceRefInput(Camel):
    namespace_id: str = Field(min_length=1)


class NamespaceRef(Camel):
    namespace_id: str
    name: str
    path: str


class AddEvent(Camel):
    actor_id: str = Field(min_length=1, max_length=255)
    role: Role
    content: list[TextPart] = Field(min_length=1, max_length=100)
    created_at: StoredDatetime
    session_id: Label | None = None
    namespace: Label | None = None
    namespace_ref: NamespaceRefInput | None = None
    metadata: JsonValue = None


class SessionEvent(Camel):
    event_id: str
    actor_id: str
    session_id: str
    role: str
    content: list[TextPart]
    created_at: datetime
    system_timestamp: datetime
    metadata: Any = None


class EventAnswer(Camel):
    event: SessionEvent


class SessionSummary(Camel):
    text: str
    summarized_up_to_event_id: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    summarized_events: int = 0


class SessionMemory(Camel):
    session_id: str
    owner_id: str
    events: list[SessionEvent]
    namespace: str | None = None
    namespace_ref: NamespaceRef | None = None
    summary: SessionSummary | None = None


class SessionList(Camel):
    items: list[str]
    total: int
    next_page_token: str | None = None


# -- long-term memory ----------------------------------------------------------------------
class NewMemory(Camel):
    id: str = Field(min_length=1, max_length=256)
    text: Text
    owner_id: OwnerId
    memory_type: str | None = Field(default=None, min_length=1, max_length=64)
    session_id: Label | None = None
    namespace: Label | None = None
    namespace_ref: NamespaceRefInput | None = None
    topics: list[Topic] | None = Field(default=None, max_length=50)
    attributes: JsonObject | None = None


class BulkCreate(Camel):
    memories: list[NewMemory] = Field(min_length=1, max_length=100)


class ItemError(Camel):
    id: str
    error: str


class BulkCreated(Camel):
    created: list[str]
    errors: list[ItemError] = Field(default_factory=list)


class BulkDelete(Camel):
    memory_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        min_length=1, max_length=100
    )


class BulkDeleted(Camel):
    deleted: list[str]
    errors: list[ItemError] = Field(default_factory=list)


class Memory(Camel):
    id: str
    text: str
    created_at: datetime
    updated_at: datetime
    memory_type: str | None = None
    session_id: str | None = None
    owner_id: str | None = None
    namespace: str | None = None
    namespace_ref: NamespaceRef | None = None
    topics: list[str] | None = None
    attributes: dict[str, Any] | None = None


class MemoryEdit(Camel):
    """PATCH: only the fields sent change; an empty ``sessionId`` clears it."""

    text: Text | None = None
    memory_type: str | None = Field(default=None, min_length=1, max_length=64)
    topics: list[Topic] | None = Field(default=None, max_length=50)
    namespace: str | None = Field(default=None, max_length=64)
    namespace_ref: NamespaceRefInput | None = None
    owner_id: OwnerId | None = None
    session_id: str | None = Field(default=None, max_length=64)


class MemoryFieldsEdit(Camel):
    """``PATCH .../fields``: asserts the stored ``memoryType`` (and placement), then sets the
    fields sent."""

    memory_type: str = Field(min_length=1, max_length=64)
    namespace: str | None = Field(default=None, max_length=64)
    namespace_ref: NamespaceRefInput | None = None
    text: Text | None = None
    attributes: JsonObject | None = None


class TagOps(Camel):
    """A tag condition: ``eq`` one value, ``ne`` not it, ``in`` any of, ``all`` every one of."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    eq: str | None = None
    ne: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    all: list[str] | None = None


class DateOps(Camel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    gt: StoredDatetime | None = None
    gte: StoredDatetime | None = None
    lt: StoredDatetime | None = None
    lte: StoredDatetime | None = None
    eq: StoredDatetime | None = None


class RefOps(Camel):
    """A placement condition: ``eq`` one namespace resource, ``in`` any of them."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    eq: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")


Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # an int or a float, no text
AttributeItem = Annotated[StrictStr, Field(max_length=4096)] | Number


class AttributeOps(Camel):
    """One attribute's condition: exactly one of ``string``, ``number``, ``boolean`` (equal
    to it) or ``list`` (a list attribute holding every one of these values)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    string: StrictStr | None = None
    number: Number | None = None
    boolean: StrictBool | None = None
    list_: list[AttributeItem] | None = Field(
        default=None, alias="list", min_length=1, max_length=100
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> AttributeOps:
        if sum(v is not None for v in (self.string, self.number, self.boolean, self.list_)) != 1:
            raise ValueError("give exactly one of string, number, boolean or list")
        return self


class MemoryFilter(Camel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    session_id: TagOps | None = None
    owner_id: TagOps | None = None
    topics: TagOps | None = None
    memory_type: TagOps | None = None
    created_at: DateOps | None = None
    namespace: TagOps | None = None
    namespace_ref: RefOps | None = None
    unnamespaced: bool | None = None
    attributes: dict[str, AttributeOps] | None = Field(default=None, max_length=50)


class Search(Camel):
    text: str | None = Field(default=None, max_length=50_000)
    similarity_threshold: FiniteFloat | None = Field(default=None, ge=0.0, le=1.0)
    filter: MemoryFilter | None = None
    filter_op: Literal["all", "any"] = "all"
    limit: int = Field(default=10, ge=1, le=100)
    page_token: str | None = Field(default=None, max_length=200)


class Move(Camel):
    memory_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        min_length=1, max_length=100
    )
    namespace_ref: NamespaceRefInput


class Moved(Camel):
    moved: list[str]
    errors: list[ItemError] = Field(default_factory=list)


class SearchPage(Camel):
    items: list[Memory]
    next_page_token: str | None = None
