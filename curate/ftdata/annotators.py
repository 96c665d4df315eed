"""`ftdata annotators add / list / reset-password`: annotator accounts in the project's Argilla workspace.

New annotators get the role `annotator`, membership of this workspace only (or, with `--senior`, of
the senior review's workspace), and a random password and API key. Those are written once, to a file
only its owner can read, and never printed. An account that exists keeps its password; when its
credentials are lost, the owner resets it (`reset-password`: a new random password, written the same way).

Usage:
    created = add_annotators(project, connection, ["ana", "ben"], out="ana-ben.credentials.json")
    path = reset_passwords(project, connection, ["ana"], out="ana.credentials.json")
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftcore.atomic import atomic_write
from ftcore.errors import FtdataError
from ftdata.argilla_client import ArgillaConnection, ArgillaRequestError
from ftdata.project import Project


@dataclass(frozen=True)
class Annotator:
    username: str
    role: str
    user_id: str
    created: bool  # False: the account existed; its credentials were not re-issued


def workspace_id(connection: ArgillaConnection, name: str, create: bool = False) -> str:
    for workspace in connection.request("GET", "/api/v1/me/workspaces")["items"]:
        if workspace["name"] == name:
            return workspace["id"]
    if not create:
        raise FtdataError(f"Argilla workspace {name!r} does not exist (yet): `ftdata push` creates it")
    return connection.request("POST", "/api/v1/workspaces", json={"name": name})["id"]


def add_annotators(
    project: Project,
    connection: ArgillaConnection,
    usernames: list[str],
    out: str | os.PathLike | None = None,
    workspace: str | None = None,
) -> tuple[list[Annotator], Path | None]:
    """Create annotator users in the project's workspace (or `workspace`); returns them and the credentials
    file (mode 600)."""
    workspace = workspace or project.config.workspace
    ws_id = workspace_id(connection, workspace, create=True)
    members = {u["username"]: u for u in connection.request("GET", f"/api/v1/workspaces/{ws_id}/users")["items"]}
    existing = {u["username"]: u for u in connection.request("GET", "/api/v1/users")["items"]}
    annotators: list[Annotator] = []
    credentials: list[dict[str, Any]] = []
    for username in usernames:
        user = existing.get(username)
        created = user is None
        if created:
            password = secrets.token_urlsafe(12)
            try:
                user = connection.request(
                    "POST",
                    "/api/v1/users",
                    json={"username": username, "first_name": username, "role": "annotator", "password": password},
                )
            except ArgillaRequestError as error:
                raise FtdataError(f"cannot create annotator {username!r}: {error}") from None
            credentials.append(
                {
                    "username": username,
                    "password": password,
                    "api_key": user["api_key"],
                    "workspace": workspace,
                    "url": connection.api_url,
                }
            )
        if username not in members:
            connection.request("POST", f"/api/v1/workspaces/{ws_id}/users", json={"user_id": user["id"]})
        annotators.append(Annotator(username, user["role"], user["id"], created))
    path = _write_credentials(project, credentials, out) if credentials else None
    return annotators, path


def reset_passwords(
    project: Project, connection: ArgillaConnection, usernames: list[str], out: str | os.PathLike | None = None
) -> Path:
    """Give existing members of the project's workspace new random passwords, as the owner, and write them with
    their API keys to a credentials file (mode 600): the way back in when the first file was lost."""
    ws_id = workspace_id(connection, project.config.workspace)
    members = {u["username"]: u for u in connection.request("GET", f"/api/v1/workspaces/{ws_id}/users")["items"]}
    users = {u["username"]: u for u in connection.request("GET", "/api/v1/users")["items"]}
    credentials = []
    for username in usernames:
        if username not in members:
            raise FtdataError(f"{username!r} is not a member of workspace {project.config.workspace!r}")
        if members[username]["role"] != "annotator":
            raise FtdataError(f"{username!r} is an {members[username]['role']}: only annotators' passwords are reset")
        password = secrets.token_urlsafe(12)
        user_id = members[username]["id"]
        connection.request("PATCH", f"/api/v1/users/{user_id}", json={"password": password})
        credentials.append(
            {
                "username": username,
                "password": password,
                "api_key": users.get(username, {}).get("api_key"),
                "workspace": project.config.workspace,
                "url": connection.api_url,
            }
        )
    return _write_credentials(project, credentials, out)


def _write_credentials(project: Project, credentials: list[dict[str, Any]], out: str | os.PathLike | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = Path(out) if out else project.resolve(f".ftdata/credentials/annotators-{stamp}.json")
    with atomic_write(path, permissions=0o600) as handle:
        handle.write(json.dumps(credentials, indent=2) + "\n")
    return path


def list_annotators(project: Project, connection: ArgillaConnection, workspace: str | None = None) -> list[Annotator]:
    """Members of the project's workspace, or of `workspace` (usernames and roles; never keys)."""
    ws_id = workspace_id(connection, workspace or project.config.workspace)
    users = connection.request("GET", f"/api/v1/workspaces/{ws_id}/users")["items"]
    return [Annotator(u["username"], u["role"], u["id"], created=False) for u in users]
