"""A full run of a summary view done by a `remem worker` process: the API (in this process)
runs no tasks; the task record goes pending -> success through the worker alone."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import wait_until
from tests.lifecycle.test_worker_processes import _start, _stop

SRC = str(Path(__file__).resolve().parents[2] / "src")
SV = "/v1/summary-views"


async def test_a_remem_worker_process_runs_the_view(settings: Settings, tmp_path: Path) -> None:
    api_settings = settings.model_copy(update={"run_worker": False})
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]),
        "REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
        "REMEM_DATA_DIR": str(tmp_path / "unused"),
        "REMEM_LLM_BASE_URL": "",
        "REMEM_LLM_API_KEY": "",
        "OPENAI_API_BASE": "",
        "OPENAI_API_KEY": "",
    }
    app = create_app(api_settings)
    log = tmp_path / "worker.log"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            memories = [{"text": f"fact {i}", "user_id": f"u{i % 3}"} for i in range(9)]
            await http.post("/v1/long-term-memory/", json={"memories": memories})
            body = {"source": "long_term", "group_by": ["user_id"]}
            view = (await http.post(SV, json=body)).json()
            task = (await http.post(f"{SV}/{view['id']}/run")).json()
            assert task["status"] == "pending"
            worker = _start(["worker"], env, log)
            try:

                async def finished() -> dict[str, object] | None:
                    assert worker.poll() is None, log.read_text()
                    got = dict((await http.get(f"/v1/tasks/{task['id']}")).json())
                    return got if got["status"] in ("success", "failed") else None

                done = await wait_until(finished, timeout=60, interval=0.1)
            finally:
                _stop(worker)
            assert done["status"] == "success", (done, log.read_text())
            listed = (await http.get(f"{SV}/{view['id']}/partitions")).json()
            assert [(p["group"]["user_id"], p["memory_count"]) for p in listed] == [
                ("u0", 3),
                ("u1", 3),
                ("u2", 3),
            ]
