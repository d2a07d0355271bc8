"""The Firebase Auth Emulator: auth only, project demo-trove, on its configured loopback port, offline."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections.abc import Iterator

import httpx
import pytest
from support import sign_up

from trove_stack import auth
from trove_stack.config import StackConfig
from trove_stack.process import Child, group_members, is_alive, read_pid_file


@pytest.fixture(scope="module")
def cfg() -> Iterator[StackConfig]:
    config = StackConfig.ephemeral()
    yield config
    shutil.rmtree(config.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def emulator(cfg: StackConfig) -> Iterator[Child]:
    child = auth.child(cfg)
    child.start()
    record = read_pid_file(child.pid_path)
    try:
        child.wait_ready()
        yield child
    finally:
        child.stop()
    assert record is not None and group_members(record.pid) == []


async def test_sign_up_returns_an_id_token(cfg: StackConfig, emulator: Child) -> None:
    url = f"http://{cfg.auth_emulator_host}{auth.SIGN_UP_PATH}"
    email = f"stack-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(url, json={"email": email, "password": "secret-123", "returnSecureToken": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == email
    assert body["idToken"].count(".") == 2
    assert body["localId"]


def test_config_and_environment_keep_it_local(cfg: StackConfig, emulator: Child) -> None:
    config = json.loads((cfg.auth_dir / "firebase.json").read_text())["emulators"]
    for name in ("auth", "hub", "logging"):
        assert config[name]["host"] == "127.0.0.1"
    assert config["auth"]["port"] == cfg.auth_port
    assert config["ui"] == {"enabled": False}
    env = emulator.spec.env
    assert env["CI"] == "true" and env["NO_UPDATE_NOTIFIER"] == "1"
    assert env["XDG_CONFIG_HOME"].startswith(str(cfg.data_dir))
    assert "--only" in emulator.spec.argv and "auth" in emulator.spec.argv
    assert "demo-trove" in emulator.spec.argv


def test_probe_creates_no_user(cfg: StackConfig, emulator: Child) -> None:
    assert auth.sign_up_answers(cfg.host, cfg.auth_port)
    response = httpx.post(
        f"http://{cfg.auth_emulator_host}/identitytoolkit.googleapis.com/v1/projects/demo-trove/accounts:query",
        json={},
        headers={"Authorization": "Bearer owner"},
    )
    assert response.status_code == 200, response.text
    emails = [user.get("email") for user in response.json().get("userInfo", [])]
    assert "probe" not in emails


def test_stop_during_start_up_leaves_no_process() -> None:
    cfg = StackConfig.ephemeral()
    try:
        child = auth.child(cfg)
        child.start()
        record = read_pid_file(child.pid_path)
        assert record is not None and is_alive(record)
        child.stop()
        assert not is_alive(record)
        assert group_members(record.pid) == []
        assert not child.pid_path.exists()
    finally:
        shutil.rmtree(cfg.data_dir, ignore_errors=True)


async def test_admin_users_carry_the_admin_claim(cfg: StackConfig, emulator: Child) -> None:
    admin_token, _ = await sign_up(cfg.auth_emulator_host, admin=True)
    user_token, _ = await sign_up(cfg.auth_emulator_host)

    def claims(token: str) -> dict[str, object]:
        payload = token.split(".")[1]
        decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return decoded

    assert claims(admin_token).get("admin") is True
    assert "admin" not in claims(user_token)
