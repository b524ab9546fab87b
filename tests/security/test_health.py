"""/health/deep (api-and-security §1.2 resolution): named checks, no anonymous error text, 503 on primary down."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.support import app_client

pytestmark = pytest.mark.integration
TOKEN = "health-admin-token-0123456789abcdefgh"
CHECKS = {"primary_db", "anchor_db", "event_bus", "evidence_store", "audit_mirror", "projections"}


def test_deep_when_all_dependencies_up_then_healthy(module_db: str, nats_url: str, module_ns: str,
                                                    tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "mirror").mkdir()
    with app_client(module_db, nats_url, module_ns, PAULP_EVIDENCE_DIR=str(tmp_path / "ev"),
                    PAULP_AUDIT_MIRROR_DIR=str(tmp_path / "mirror")) as (client, _):
        r = client.get("/health/deep")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "healthy" and set(body["checks"]) == CHECKS
    assert all(c["status"] == "healthy" and isinstance(c["latencyMs"], float) for c in body["checks"].values())


def test_deep_when_optional_part_down_then_degraded_and_error_only_for_operators(
        module_db: str, nats_url: str, module_ns: str, tmp_path: Path) -> None:
    config = {"ADMIN_TOKEN": TOKEN, "PAULP_EVIDENCE_DIR": str(tmp_path / "missing"),
              "PAULP_ANCHOR_DATABASE_URL": "postgresql://nobody:pw-secret@127.0.0.1:1/anchor"}
    with app_client(module_db, nats_url, module_ns, **config) as (client, _):
        anonymous = client.get("/health/deep")
        wrong = client.get("/health/deep", headers={"Authorization": "Bearer wrong"})
        operator = client.get("/health/deep", headers={"Authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == 200 and anonymous.json()["status"] == "degraded"
    for check in ("anchor_db", "evidence_store", "audit_mirror"):
        assert anonymous.json()["checks"][check]["status"] == "unhealthy"
    assert "error" not in anonymous.text and "error" not in wrong.text
    assert "PAULP_AUDIT_MIRROR_DIR is not configured" in operator.json()["checks"]["audit_mirror"]["error"]


def test_deep_when_primary_database_down_then_503(module_db: str, nats_url: str, module_ns: str) -> None:
    with app_client(module_db, nats_url, module_ns) as (client, container):
        container.pool.close()
        r = client.get("/health/deep")
        ready = client.get("/health/ready")
    assert r.status_code == 503 and r.json()["checks"]["primary_db"]["status"] == "unhealthy"
    assert (ready.status_code, ready.json()) == (503, {"ready": False})


PROBE_UNDER_FSIZE_0 = """
import resource, sys
from pathlib import Path
from paulp.api.routers.health import probe_dir
resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # every byte written to a file is refused: a disk that is full
try:
    probe_dir(Path(sys.argv[1]), "PAULP_EVIDENCE_DIR")
except RuntimeError as exc:
    print(exc)
    sys.exit(3)
"""


def test_deep_probe_when_folder_refuses_writes_then_unhealthy_and_nothing_left(tmp_path: Path) -> None:
    """A folder that is there and permitted but takes no byte (full disk) is unhealthy: only a write shows it.
    Run in a child whose file-size limit is 0 (Python ignores SIGXFSZ, so the write fails with EFBIG)."""
    import subprocess
    import sys

    ev = tmp_path / "ev"
    ev.mkdir()
    refused = subprocess.run([sys.executable, "-c", PROBE_UNDER_FSIZE_0, str(ev)], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 3, (refused.stdout, refused.stderr)
    assert refused.stdout.startswith("PAULP_EVIDENCE_DIR refuses writes (OSError: File too large)"), refused.stdout
    healthy = subprocess.run([sys.executable, "-c", PROBE_UNDER_FSIZE_0.replace("(0, 0)", "(-1, -1)"), str(ev)],
                             capture_output=True, text=True, timeout=60)
    assert healthy.returncode == 0, (healthy.stdout, healthy.stderr)
    assert list(ev.iterdir()) == []  # the probe's file is removed whether the write was taken or refused
