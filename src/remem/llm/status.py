"""Whether the settings configure an LLM, and which features depend on one.

Rules (the README's "Using an LLM" states them):

- no ``REMEM_LLM_BASE_URL`` and no ``REMEM_LLM_API_KEY`` (nor ``OPENAI_API_BASE`` /
  ``OPENAI_API_KEY``): no LLM; everything that needs one falls back (``FEATURES``);
- a key alone: OpenAI (``https://api.openai.com/v1``), model ``REMEM_LLM_MODEL`` or
  ``gpt-4o-mini``;
- a base URL (with or without a key: local servers need none): ``REMEM_LLM_MODEL`` is required,
  since no model name works on every server; without it the LLM is off and /v1/health says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from remem.config import Settings
from remem.llm.client import LLMClient

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"

# What each LLM feature is, and what remem does instead without an LLM. Features not built yet
# say so; their owners flip ``built`` as they land.
FEATURES: dict[str, tuple[bool, str, str]] = {
    # name: (built, with an LLM, without one)
    "deduplication": (
        True,
        "memories near stored ones are judged same / refines / different by the LLM",
        "only memories whose text is the same after normalisation merge",
    ),
    "extraction": (
        True,
        "each debounced batch of new messages becomes memories with topics, entities and "
        "dates by the session's strategy, in one LLM call",
        "each message becomes an episodic memory of its own words, after a debounce",
    ),
    "summarisation": (
        True,
        "past the threshold of the window a write names, the oldest messages are summarised "
        "in order into the session's context, merged with the previous summary",
        "past the threshold, the oldest messages are trimmed and the context says how many "
        "and the dates they span",
    ),
    "summary_views": (
        True,
        "each partition of a view is summarised by the LLM, one call a partition (chunked "
        "past 8,000 tokens)",
        "each partition's summary is a digest: counts by type, most frequent topics and "
        "entities, date range and the ten newest texts",
    ),
    "query_optimisation": (
        True,
        "a semantic search (REST, memory prompt, MCP) asking optimize_query has its text "
        "rewritten for search by the LLM, one call per distinct text, kept per process; if the "
        "LLM fails, the text is searched as given",
        "optimize_query is accepted and ignored: the text is searched as given",
    ),
}


@dataclass(frozen=True)
class LLMTarget:
    base_url: str
    model: str
    api_key: str | None


def llm_target(settings: Settings) -> tuple[LLMTarget | None, str]:
    """The LLM the settings configure, or None and the reason there is none."""
    if not settings.llm_base_url and not settings.llm_api_key:
        return None, "REMEM_LLM_BASE_URL / REMEM_LLM_API_KEY not set"
    if settings.llm_base_url and not settings.llm_model:
        return None, "REMEM_LLM_MODEL not set (a model name is needed with REMEM_LLM_BASE_URL)"
    base_url = settings.llm_base_url or OPENAI_BASE_URL
    model = settings.llm_model or OPENAI_DEFAULT_MODEL
    return LLMTarget(base_url, model, settings.llm_api_key), ""


def llm_problem(settings: Settings) -> str | None:
    """Why the LLM settings cannot be what was meant, or None: a base URL names a server to
    use but no model (the LLM is then off, which the operator did not ask for)."""
    if settings.llm_base_url and not settings.llm_model:
        return (
            f"REMEM_LLM_BASE_URL is {settings.llm_base_url} but REMEM_LLM_MODEL is not set, so "
            "the LLM is off: set the model's name, or unset REMEM_LLM_BASE_URL to run without one"
        )
    return None


def build_llm(settings: Settings) -> LLMClient | None:
    target, _ = llm_target(settings)
    if target is None:
        return None
    return LLMClient(
        model=target.model,
        base_url=target.base_url,
        api_key=target.api_key,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )


def llm_report(settings: Settings) -> dict[str, object]:
    """The ``llm`` part of /v1/health: configured or why not, and each feature's mode."""
    target, reason = llm_target(settings)
    features = {
        name: {
            "uses_llm": target is not None and built,
            "built": built,
            "with_llm": with_llm,
            "without_llm": without,
        }
        for name, (built, with_llm, without) in FEATURES.items()
    }
    return {
        "configured": target is not None,
        "model": target.model if target else None,
        "reason": reason or None,
        "features": features,
    }
