"""Answers an endpoint already gave, on disk: a rerun, or a run resumed after a crash, pays for nothing twice.

One SQLite file (`answers.sqlite`) in a folder the caller names, e.g. fteval's output folder or ftdata's
project. Each entry is keyed by the sha256 of the request that produced it: base URL, model, messages and
every sampling parameter (see `request_key`); never by anything secret. Each answer is committed on its
own the moment it arrives (WAL journal), so a process killed midway keeps every answer already paid for.

Usage:
    cache = AnswerCache("eval/latest/endpoint-cache")
    request = {"model": "m", "messages": [{"role": "user", "content": "2+2?"}], "temperature": 0}
    key = request_key("http://localhost:8000/v1", request)
    cache.get(key) or cache.put(key, "http://localhost:8000/v1", request, {"choices": [...], ...})

Why SQLite and not a JSON file per answer: one file whatever the count, lookups by key without listing a
folder, atomic commits across threads and processes, and `sqlite3 answers.sqlite` to look inside.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

CACHE_FILE = "answers.sqlite"
SCHEMA_VERSION = 1  # in the key: a change in what a request means starts a fresh cache instead of misreading one


def request_key(base_url: str, request: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the base URL (without a trailing /) and the request body."""
    canonical = json.dumps(
        {"v": SCHEMA_VERSION, "base_url": base_url.rstrip("/"), "request": request},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AnswerCache:
    """A folder's answers.sqlite; safe to share between threads (one lock) and processes (SQLite's locks)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / CACHE_FILE
        self._lock = threading.Lock()
        # Autocommit: every put is its own transaction, durable once it returns.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=60)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers ("
                "key TEXT PRIMARY KEY, base_url TEXT NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, base_url: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Store one answer now (INSERT OR REPLACE: the same key twice keeps the latest)."""
        values = (
            key,
            base_url,
            json.dumps(request, ensure_ascii=False),
            json.dumps(response, ensure_ascii=False),
            time.time(),
        )
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)", values)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
