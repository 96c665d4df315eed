"""The tests' Argilla is their own: never the server a user works in, started on free ports, removed afterwards."""

import os
import socket
import tempfile
from pathlib import Path

import httpx
import pytest
from private_argilla import PORT_VARIABLES, PrivateArgilla, server_venv

pytestmark = pytest.mark.argilla


def test_the_session_uses_its_own_server_not_the_users(argilla_connection, private_argilla):
    opted_in = os.environ.get("FTKIT_TEST_ARGILLA_URL")
    if private_argilla is None:  # FTKIT_TEST_ARGILLA_URL/KEY: the one server the tests may use besides their own
        assert argilla_connection.api_url == opted_in.rstrip("/")
        return
    users_server = os.environ.get("ARGILLA_API_URL")
    assert argilla_connection.api_url != (users_server or "").rstrip("/")
    assert Path(tempfile.gettempdir()) in private_argilla.home.parents  # a temporary state folder
    ports = {private_argilla.script_env[name] for name in PORT_VARIABLES}
    assert argilla_connection.api_url == f"http://127.0.0.1:{private_argilla.script_env['FTKIT_ARGILLA_PORT']}"
    assert len(ports) == 3 and not ports & {"6900", "19200", "16379"}  # not the default instance's
    assert server_venv() == Path(private_argilla.script_env["FTKIT_ARGILLA_VENV"])
    assert (server_venv() / "bin" / "python").exists()  # shared, not installed again


@pytest.mark.slow
def test_a_private_instance_is_removed_whole(tmp_path):
    instance = PrivateArgilla(tmp_path / "state")
    connection = instance.up()
    assert connection.server_version() == "2.8.0"
    pids = [int((instance.home / f"{name}.pid").read_text()) for name in ("search", "server", "worker")]
    instance.remove()
    assert not instance.home.exists()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{connection.api_url}/api/v1/version", timeout=2)
    for name in PORT_VARIABLES:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(instance.script_env[name]))) != 0, name
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
