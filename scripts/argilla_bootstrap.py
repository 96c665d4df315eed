"""Migrate the local Argilla database and make sure the owner user has the local credentials.

Run by scripts/argilla-local.sh with the server's own virtualenv. Both steps live in one
interpreter because every `argilla_server` import costs ~6 s. Idempotent: an existing owner keeps
its id and data; only its API key and password are brought in line with .argilla-local/owner.env.
"""

import asyncio
import os

from argilla_server.cli.database.migrate import migrate_db
from argilla_server.cli.database.users.utils import get_or_new_workspace
from argilla_server.contexts import accounts
from argilla_server.database import AsyncSessionLocal
from argilla_server.models import User, UserRole

OWNER_USERNAME = "argilla"


async def ensure_owner(api_key: str, password: str) -> str:
    async with AsyncSessionLocal() as session:
        owner = await accounts.get_user_by_username(session, OWNER_USERNAME)
        if owner is None:
            await User.create(
                session,
                first_name="Local owner",
                username=OWNER_USERNAME,
                role=UserRole.owner,
                api_key=api_key,
                password_hash=accounts.hash_password(password),
                workspaces=[await get_or_new_workspace(session, OWNER_USERNAME)],
            )
            return "created"
        if owner.api_key != api_key or not accounts.verify_password(password, owner.password_hash):
            await accounts.update_user(session, owner, {"api_key": api_key, "password": password})
            return "updated"
        return "unchanged"


if __name__ == "__main__":
    migrate_db("head")
    outcome = asyncio.run(ensure_owner(os.environ["FTKIT_OWNER_API_KEY"], os.environ["FTKIT_OWNER_PASSWORD"]))
    print(f"owner user {OWNER_USERNAME!r}: {outcome}")  # never the key itself
