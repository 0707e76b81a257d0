"""A small HTTP client for the operator endpoints, used by the CLI."""

from __future__ import annotations

import time
from typing import Any

import httpx
from tqdm import tqdm


class OperatorError(RuntimeError):
    pass


class OperatorClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 60) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def _json(self, resp: httpx.Response, *ok: int) -> Any:
        if resp.status_code not in (ok or (200,)):
            try:
                detail = "; ".join(e["details"] for e in resp.json()["errors"])
            except (ValueError, KeyError, TypeError):
                detail = resp.text[:500]
            raise OperatorError(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {detail}")
        return resp.json()

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get("/v1/status"))
        return result

    def post_events(self, events: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post("/v1/events", json={"data": events})

    def schemas(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get("/v1/search-schemas"))
        return result

    def set_schema(self, scope: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.put(f"/v1/search-schemas/listing/{scope}/{key}", json=body))
        return result

    def unset_schema(self, scope: str, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.delete(f"/v1/search-schemas/listing/{scope}/{key}"))
        return result

    def dead_letters(self, limit: int) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get("/v1/dead-letters", params={"limit": limit}))
        return result

    def dead_letter(self, letter_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get(f"/v1/dead-letters/{letter_id}"))["data"]
        return result

    def replay(self, letter_id: str | None) -> dict[str, Any]:
        path = "/v1/dead-letters/replay" if letter_id is None else f"/v1/dead-letters/{letter_id}/replay"
        result: dict[str, Any] = self._json(self.http.post(path))["data"]
        return result

    def reindex(self) -> str:
        return str(self._json(self.http.post("/v1/jobs/reindex"), 202)["id"])

    def resync(self) -> str:
        return str(self._json(self.http.post("/v1/jobs/resync"), 202)["id"])

    def reconcile(self, *, repair: bool) -> str:
        resp = self.http.post("/v1/jobs/reconcile", params={"repair": str(repair).lower()})
        return str(self._json(resp, 202)["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get(f"/v1/jobs/{job_id}"))
        return result

    def wait_job(self, job_id: str, *, progress: bool, timeout: float = 3600) -> dict[str, Any]:
        """Poll a job to its end, drawing documents done / total."""
        deadline = time.monotonic() + timeout
        with tqdm(desc="rebuild", unit="doc", disable=not progress, leave=False) as bar:
            while True:
                job = self.job(job_id)
                bar.total = job["progress"]["total"] or None
                bar.n = job["progress"]["done"]
                bar.set_postfix_str(job.get("phase", job["state"]))
                if job["state"] in ("succeeded", "failed"):
                    return job
                if time.monotonic() > deadline:
                    raise OperatorError(f"job {job_id} still {job['state']} after {timeout}s")
                time.sleep(0.3)

    def wait_searchable(self, seq: int, *, progress: bool, timeout: float = 600.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with tqdm(desc="indexing", unit="ev", disable=not progress, leave=False) as bar:
            while True:
                status = self.status()
                bar.n = status["events"]["applied"]
                bar.refresh()
                if status["pending"] == 0 and (status["lastSequenceId"] or 0) >= seq:
                    return status
                if time.monotonic() > deadline:
                    raise OperatorError(f"events not searchable after {timeout}s: {status}")
                time.sleep(0.5)
