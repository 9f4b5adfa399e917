"""One message of a session, removed by id (the managed API's "delete a session event")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from remem.store.connection import translates_errors
from remem.store.keys import Keys
from remem.store.working import Session

if TYPE_CHECKING:
    from redis.asyncio import Redis

# KEYS[1] the session, ARGV[1] the message id: the first message with that id is removed, in
# one script, so a concurrent append or PUT is never lost. 1 removed, 0 not there.
_REMOVE = """
local raw = redis.call('JSON.GET', KEYS[1], '$.messages[*].id')
if not raw then return 0 end
for i, id in ipairs(cjson.decode(raw)) do
  if id == ARGV[1] then
    redis.call('JSON.DEL', KEYS[1], '$.messages[' .. (i - 1) .. ']')
    return 1
  end
end
return 0
"""


@translates_errors
@dataclass
class SessionMessages:
    redis: Redis
    keys: Keys

    def __post_init__(self) -> None:
        self._remove = self.redis.register_script(_REMOVE)

    async def remove(self, session: Session, message_id: str) -> bool:
        """Remove the message ``message_id`` of ``session``; False when it is not there."""
        key = self.keys.working_memory(*session)
        return bool(await self._remove(keys=[key], args=[message_id]))
