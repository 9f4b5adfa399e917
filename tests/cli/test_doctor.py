"""`remem doctor` as a user runs it: a healthy setup, a model changed without `remem reindex`,
a Redis without the Query Engine, no Redis at all."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import redis

from remem.config import Settings
from remem.store.embedded import find_binaries
from tests.cli.test_data_commands import remem
from tests.serving import free_port


async def test_a_healthy_setup_passes_every_check(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/long-term-memory/", json={"memories": [{"text": "hello"}]})
    done = remem(settings, "doctor")
    lines = done.stdout.splitlines()
    assert all(line.startswith("ok") for line in lines), done.stdout
    assert any("long-term index" in line and "1 memories" in line for line in lines)
    assert any(line.startswith("ok   LLM: off (") for line in lines)
    assert any(line.startswith("ok   APIs: Agent Memory Server") for line in lines)
    assert any("managed Agent Memory (/v1/stores/{storeId}/" in line for line in lines)
    parsed = json.loads(remem(settings, "doctor", "--json").stdout)
    assert [c["name"] for c in parsed][:2] == ["Redis", "embedding model"]
    assert all(c["ok"] for c in parsed)


async def test_a_model_of_another_size_fails_and_names_reindex(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/long-term-memory/", json={"memories": [{"text": "hello"}]})
    done = remem(settings, "doctor", check=False, REMEM_LOCAL_MODEL="minilm")  # 384 dims
    assert done.returncode == 1, done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1 and "long-term index" in failed[0] and "reindex" in failed[0]


def test_a_redis_without_the_query_engine_and_no_redis(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    bare = subprocess.Popen(
        [str(find_binaries().server), "--port", str(port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        url = f"redis://127.0.0.1:{port}"
        done = remem(settings.model_copy(update={"redis_url": url}), "doctor", check=False)
        assert done.returncode == 1
        assert done.stdout.startswith("FAIL Redis:") and "module" in done.stdout.lower()
    finally:
        bare.terminate()
        bare.wait(10)
    gone = remem(settings.model_copy(update={"redis_url": url}), "doctor", check=False)
    assert gone.returncode == 1 and f"is Redis running at {url}?" in gone.stdout


def test_an_unreachable_embedding_provider_is_named_and_the_rest_still_checked(
    settings: Settings, tmp_path: Path
) -> None:
    """The embedded Redis (a data directory of its own) with an OpenAI-compatible embedding
    provider on a closed port: the embedding model fails, as itself; Redis, the working-memory
    index and the LLM are still checked, and the long-term index (named after the model's
    dimensions) says it could not be."""
    provider = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = remem(
        settings, "doctor", "--data-dir", str(tmp_path / "data"), check=False,
        REMEM_REDIS_URL="", REMEM_EMBEDDING_PROVIDER="openai",
        REMEM_EMBEDDING_BASE_URL=provider, REMEM_EMBEDDING_API_KEY="k",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    lines = {line[5:].split(":")[0]: line[:4].strip() for line in done.stdout.splitlines()}
    assert lines == {
        "Redis": "ok",
        "embedding model": "FAIL",
        "long-term index": "skip",
        "working-memory index": "ok",
        "LLM": "ok",
        "APIs": "ok",
    }, done.stdout
    failed = next(line for line in done.stdout.splitlines() if line.startswith("FAIL"))
    assert "unreachable" in failed and "REMEM_EMBEDDING_BASE_URL" in failed


def test_an_llm_base_url_without_a_model_fails(settings: Settings) -> None:
    """REMEM_LLM_BASE_URL names a server but no model: the LLM would be off, which is not what
    the setting asked for."""
    done = remem(
        settings, "doctor", check=False, REMEM_LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1"
    )
    assert done.returncode == 1, done.stdout
    *others, llm, apis = done.stdout.splitlines()
    assert llm.startswith("FAIL LLM: ") and "REMEM_LLM_MODEL is not set" in llm
    assert all(line.startswith("ok") for line in [*others, apis]), done.stdout
