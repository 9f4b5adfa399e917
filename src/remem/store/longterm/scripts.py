"""The Lua scripts of long-term memory documents, registered and called by
``store.longterm.documents``. On a Redis Cluster a call may name keys of one hash slot only
(docs/architecture.md, "Which keys share a slot"): ``UPSERT``, ``INSERT``, ``LINK`` and
``TOUCH`` name one memory; ``READ`` and ``READ_RECORDS`` name a page of memories (and the
access-count hash), which on a cluster must be of one namespace's slot."""

# KEYS[1]: the memory; ARGV[1], ARGV[2]: its namespace and user_id, each '' for none or '='
# and the value; ARGV[3..]: its fields, name and value in turn. A memory owned by another
# (namespace, user_id) is left alone ({0}): checked here, atomically with the write, so that
# concurrent creators of one id cannot take it over. Else the hash is replaced (a field the new
# document lacks must go), keeping a stored created_at ({1, created_at}, or {1} for a new one).
UPSERT = """
local old = nil
if redis.call('EXISTS', KEYS[1]) == 1 then
  local owner = redis.call('HMGET', KEYS[1], 'namespace', 'user_id')
  local function tag(v) if not v then return '' end return '=' .. v end
  if tag(owner[1]) ~= ARGV[1] or tag(owner[2]) ~= ARGV[2] then return {0} end
  old = redis.call('HGET', KEYS[1], 'created_at')
  redis.call('DEL', KEYS[1])
end
if old then
  for i = 3, #ARGV, 2 do
    if ARGV[i] == 'created_at' then ARGV[i + 1] = old end
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if old then return {1, old} end
return {1}
"""

# KEYS[1]: a memory; ARGV: its fields, name and value in turn. Written only if no memory has
# the id (1), else left alone (0): what a migration writes must never replace a memory.
INSERT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS[1]: a memory; ARGV[1], ARGV[2]: the owner it must have (as UPSERT's); ARGV[3]: a list
# field ('superseded_by' or 'supersedes'); ARGV[4]: the id to add to it (once); ARGV[5]: an
# invalid_at to lower the memory's to ('' for none); ARGV[6]: updated_at. One memory a script
# (so it runs on any shard), so that two concurrent supersedes of one memory both land:
# 0 = no such memory (left alone), -1 = another owner's (left alone), 1 = linked.
LINK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local owner = redis.call('HMGET', KEYS[1], 'namespace', 'user_id')
local function tag(v) if not v then return '' end return '=' .. v end
if tag(owner[1]) ~= ARGV[1] or tag(owner[2]) ~= ARGV[2] then return -1 end
local listed = redis.call('HGET', KEYS[1], ARGV[3])
local found = false
if listed then
  for id in string.gmatch(listed, '[^\\31]+') do
    if id == ARGV[4] then found = true end
  end
end
if not found then
  if listed and listed ~= '' then listed = listed .. '\\31' .. ARGV[4] else listed = ARGV[4] end
  redis.call('HSET', KEYS[1], ARGV[3], listed)
end
if ARGV[5] ~= '' then
  local old = tonumber(redis.call('HGET', KEYS[1], 'invalid_at'))
  if not old or tonumber(ARGV[5]) < old then redis.call('HSET', KEYS[1], 'invalid_at', ARGV[5]) end
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[6])
return 1
"""

# A search hit must not rewrite its memory: any write re-indexes the whole hash, vector
# included (0.5 ms at 10,000 memories, about 1 ms at 100,000), where a field of the access hash
# costs 10 us. So hits are added to a hash beside the memories (a record's access_count is its
# own plus the access hash's) and last_accessed, which filters and ranking read from the index,
# is written only when it moves by at least ARGV[2] seconds. One key a script, so that it runs on
# any shard: 0 = no such memory, 1 = left alone, 2 = last_accessed written.
TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = tonumber(redis.call('HGET', KEYS[1], 'last_accessed'))
if last and tonumber(ARGV[1]) - last < tonumber(ARGV[2]) then return 1 end
redis.call('HSET', KEYS[1], 'last_accessed', ARGV[1])
return 2
"""

# KEYS: memories; ARGV: field names (none: every field). Each memory's values in ARGV's order
# (HMGET), or every name and value (HGETALL); false for a missing memory. One command for a
# hundred memories, where a pipeline of HMGETs costs redis-py about 15 us of CPU each.
READ = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then out[i] = false
  elseif #ARGV == 0 then out[i] = redis.call('HGETALL', key)
  else out[i] = redis.call('HMGET', key, unpack(ARGV)) end
end
return out
"""

# KEYS[1]: the access-count hash; KEYS[2..]: memories; ARGV[1]: n, the number of field names
# in ARGV[2..n+1]; then, to add each memory's hits, its id (ARGV[n+2..]). Each memory's values
# in the names' order (HMGET) followed by its hits (HGET, false for none) when ids are given;
# false for a missing memory. One command for a page of records: the HMGET of the hits that
# went beside it in a pipeline cost redis-py 37 µs of CPU more (a search pays this once).
READ_RECORDS = """
local n = tonumber(ARGV[1])
local names = {unpack(ARGV, 2, n + 1)}
local hits = #ARGV > n + 1
local out = {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then out[i - 1] = false
  else
    local row = redis.call('HMGET', KEYS[i], unpack(names))
    if hits then row[n + 1] = redis.call('HGET', KEYS[1], ARGV[n + i]) end
    out[i - 1] = row
  end
end
return out
"""
