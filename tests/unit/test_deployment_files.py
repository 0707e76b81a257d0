"""docker-compose.yml says only what the service understands: every setting it gives is one the
settings know (a misspelt name would be ignored silently), and the engine is reached over TLS with
credentials and a CA, never plain http."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def known_names() -> set[str]:
    names = set()
    for name, info in Settings.model_fields.items():
        names.add(f"LISTING_SEARCH_{name.upper()}")
        alias = info.validation_alias
        for choice in getattr(alias, "choices", ()):
            names.add(str(choice))
    return names


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_every_setting_the_compose_file_gives_is_known() -> None:
    known = known_names()
    for name, service in compose()["services"].items():
        for key in service.get("environment") or {}:
            if key.startswith(("LISTING_SEARCH_", "OPENSEARCH_", "REDIS_", "AWS_")) and name != "opensearch":
                assert key in known, f"{name}: {key} is not a setting"


def test_the_engine_is_reached_with_tls_credentials_and_a_ca() -> None:
    services = compose()["services"]
    for name in ("api", "worker", "jobs"):
        env = services[name]["environment"]
        assert env["OPENSEARCH_URL"].startswith("https://"), name
        assert env["OPENSEARCH_USERNAME"] and env["OPENSEARCH_PASSWORD"] and env["OPENSEARCH_CA_CERTS"], name
        assert env.get("OPENSEARCH_VERIFY_CERTS", "true") != "false", name
    engine = services["opensearch"]["environment"]
    assert "DISABLE_SECURITY_PLUGIN" not in engine and engine["OPENSEARCH_INITIAL_ADMIN_PASSWORD"]
