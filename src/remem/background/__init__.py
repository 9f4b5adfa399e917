"""Background work over the domain of ``memory``: what a task does once a write made it due.
Extraction (messages into long-term memories, with or without an LLM: ``extraction``,
``llm_extraction``), promotion of a session's structured memories (``promotion``), summarisation
of a session's oldest messages (``summarization``), summary views (``summary_views``, with the
summarisers in ``view_summarizers``) and the periodic upkeep of long-term memory (``periodic``:
compaction and forgetting). ``tasks`` runs them; ``memory`` keeps the request path.
"""
