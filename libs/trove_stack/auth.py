"""The Firebase Auth Emulator (firebase-tools from node_modules), auth only, project demo-trove, kept offline."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Mapping
from pathlib import Path

from trove_stack.config import PROJECT_ID, REPO_ROOT, StackConfig
from trove_stack.process import Child, ProcessSpec, StackError

NAME = "auth"
SIGN_UP_PATH = "/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key"


def firebase_bin() -> Path:
    path = REPO_ROOT / "node_modules" / ".bin" / "firebase"
    if not path.exists():
        raise StackError(f"{path} not found: run `bash scripts/bootstrap.sh node` (npm ci)")
    return path


def write_firebase_json(cfg: StackConfig) -> Path:
    """<data>/auth/firebase.json: the emulator, its hub and its logging port on loopback, no UI."""
    cfg.auth_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "emulators": {
            "auth": {"host": cfg.host, "port": cfg.auth_port},
            "hub": {"host": cfg.host, "port": cfg.auth_hub_port},
            "logging": {"host": cfg.host, "port": cfg.auth_logging_port},
            "ui": {"enabled": False},
            "singleProjectMode": True,
        }
    }
    path = cfg.auth_dir / "firebase.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def offline_env(cfg: StackConfig, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment that keeps the CLI from reaching out: no update check, no message-of-the-day, no analytics.

    CI=true skips the MOTD fetch and the update notifier; NO_UPDATE_NOTIFIER says the same to the notifier;
    an empty per-stack config dir (XDG_CONFIG_HOME) has no login, so usage analytics stay off; a per-stack
    TMPDIR keeps the emulator hub's locator file from colliding with another stack for the same project.
    """
    source = os.environ if base is None else base
    env = {k: source[k] for k in ("PATH", "HOME", "LANG") if k in source}
    config_dir = cfg.auth_dir / "config"
    tmp_dir = cfg.auth_dir / "tmp"
    config_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "CI": "true",
            "NO_UPDATE_NOTIFIER": "1",
            "XDG_CONFIG_HOME": str(config_dir),
            "TMPDIR": str(tmp_dir),
        }
    )
    return env


def argv(cfg: StackConfig) -> tuple[str, ...]:
    """emulators:start --only auth with the generated config; dev stacks keep their users across restarts."""
    args = [
        str(firebase_bin()),
        "emulators:start",
        "--only", "auth",
        "--project", PROJECT_ID,
        "--config", str(write_firebase_json(cfg)),
    ]  # fmt: skip
    if cfg.durable:
        export_dir = cfg.auth_dir / "export"
        args += ["--import", str(export_dir), "--export-on-exit", str(export_dir)]
    return tuple(args)


def sign_up_answers(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """True once the emulator's sign-up endpoint answers.

    The probe sends an invalid e-mail, so the emulator answers 400 INVALID_EMAIL and creates no user.
    """
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        body = json.dumps({"email": "probe", "password": "probe-password", "returnSecureToken": True})
        conn.request("POST", SIGN_UP_PATH, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        return response.status == 200 or (response.status == 400 and b"error" in payload)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def child(cfg: StackConfig) -> Child:
    """The emulator process; it compiles its API schema at start, about 20 s of CPU on a small machine."""
    spec = ProcessSpec(
        name=NAME,
        argv=argv(cfg),
        env=offline_env(cfg),
        cwd=cfg.auth_dir,
        ready=lambda: sign_up_answers(cfg.host, cfg.auth_port),
        ready_timeout_s=180,
        stop_timeout_s=30,
    )
    return Child(spec, log_path=cfg.log_path(NAME), pid_path=cfg.pid_path(NAME))
