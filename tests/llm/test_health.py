"""/v1/health says whether an LLM is configured (or why not) and which features use it; the
fields agent-memory-client reads stay as they were."""

from __future__ import annotations

import httpx
import pytest

from remem.api.app import create_app
from remem.config import Settings
from remem.llm.status import llm_target
from tests.llm_server import llm_server
from tests.serving import served

NO_LLM = {"llm_base_url": None, "llm_api_key": None, "llm_model": None}


async def health(settings: Settings) -> dict[str, object]:
    async with served(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.get("/v1/health")
    assert answer.status_code == 200
    body: dict[str, object] = answer.json()
    assert isinstance(body["now"], int) and body["now"] > 1.7e12  # what the client reads
    return body


async def test_health_without_an_llm_says_what_is_off_and_why(settings: Settings) -> None:
    llm = (await health(settings.model_copy(update=NO_LLM)))["llm"]
    assert isinstance(llm, dict)
    assert llm["configured"] is False and llm["model"] is None
    assert llm["reason"] == "REMEM_LLM_BASE_URL / REMEM_LLM_API_KEY not set"
    dedup = llm["features"]["deduplication"]
    assert dedup["uses_llm"] is False
    assert dedup["without_llm"] == "only memories whose text is the same after normalisation merge"
    assert set(llm["features"]) == {
        "deduplication",
        "extraction",
        "summarisation",
        "summary_views",
        "query_optimisation",
    }
    summarisation = llm["features"]["summarisation"]
    assert summarisation["built"] is True and summarisation["uses_llm"] is False
    assert "trimmed" in summarisation["without_llm"]
    views = llm["features"]["summary_views"]
    assert views["built"] is True and views["uses_llm"] is False
    assert "digest" in views["without_llm"] and "not built" not in views["without_llm"]


async def test_health_with_an_llm(settings: Settings) -> None:
    async with llm_server() as server:
        configured = settings.model_copy(
            update={**NO_LLM, "llm_base_url": server.base_url, "llm_model": "local-model"}
        )
        llm = (await health(configured))["llm"]
    assert isinstance(llm, dict)
    assert (llm["configured"], llm["model"], llm["reason"]) == (True, "local-model", None)
    assert llm["features"]["deduplication"]["uses_llm"] is True
    assert llm["features"]["extraction"]["uses_llm"] is True
    assert llm["features"]["summarisation"]["uses_llm"] is True
    assert llm["features"]["summary_views"]["uses_llm"] is True
    assert llm["features"]["query_optimisation"]["uses_llm"] is True


async def test_a_base_url_without_a_model_is_off_and_says_so(settings: Settings) -> None:
    update = {**NO_LLM, "llm_base_url": "http://127.0.0.1:9/v1"}
    llm = (await health(settings.model_copy(update=update)))["llm"]
    assert isinstance(llm, dict) and llm["configured"] is False
    assert "REMEM_LLM_MODEL not set" in str(llm["reason"])


def test_a_key_alone_means_openai_with_gpt_4o_mini() -> None:
    target, _ = llm_target(Settings(llm_api_key="sk-test", llm_base_url=None, llm_model=None))
    assert target is not None
    assert (target.base_url, target.model) == ("https://api.openai.com/v1", "gpt-4o-mini")


def test_upstream_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_BASE", "http://localhost:11434/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "ollama")
    monkeypatch.setenv("REMEM_LLM_MODEL", "llama3.2")
    settings = Settings()
    assert (settings.llm_base_url, settings.llm_api_key, settings.llm_model) == (
        "http://localhost:11434/v1",
        "ollama",
        "llama3.2",
    )
