"""Faults against a real Argilla: the server killed in the middle of `ftdata push`, the search backend
killed while annotators submit, and `ftdata pull` while they submit. Nothing may be lost, duplicated
or half-written, and what fails must fail visibly.

These tests kill and restart servers, so they run a private instance of scripts/argilla-local.sh of
their own (own state folder and free ports, the server's virtualenv), apart from the one the other
tests of the session share.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from private_argilla import PrivateArgilla
from review_helpers import make_review_project

from ftdata.annotators import add_annotators
from ftdata.importers import ColumnMap, import_files
from ftdata.review import answer_record, find_dataset, push
from ftdata.snapshot import Snapshot, fetch_records, pull
from ftdata.status import review_status
from ftdata.store import Store

pytestmark = [pytest.mark.argilla, pytest.mark.slow]

FTDATA = Path(sys.executable).parent / "ftdata"
SUBMITTED_FILTER = {"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["submitted"]}


@pytest.fixture(scope="module")
def faults_argilla(tmp_path_factory):
    """A second private instance, apart from the session's: these tests kill its servers."""
    instance = PrivateArgilla(tmp_path_factory.mktemp("faults") / ".argilla-local-faults")
    try:
        instance.up()
        yield instance
    finally:
        instance.remove()  # stops exactly what `up` started, then deletes its data (not the shared venv)


@pytest.fixture
def argilla(faults_argilla) -> PrivateArgilla:
    """The private instance, with every component running (`up` restarts whatever a test left dead)."""
    faults_argilla.up()
    return faults_argilla


def rows_of(gsm8k_rows, start: int, stop: int) -> list[dict]:
    return [dict(r) for r in gsm8k_rows[start:stop]]


def new_annotators(project, connection, tmp_path, *names: str) -> dict[str, str]:
    """Annotator accounts (unique names); returns username -> API key."""
    suffix = os.urandom(3).hex()
    _, path = add_annotators(project, connection, [f"{n}-{suffix}" for n in names], out=tmp_path / "annotators.json")
    return {c["username"]: c["api_key"] for c in json.loads(path.read_text())}


def all_records(connection, dataset_id: str) -> list[dict]:
    items, offset = [], 0
    while True:
        page = connection.request(
            "GET", f"/api/v1/datasets/{dataset_id}/records", params={"offset": offset, "limit": 1000}
        )
        items += page["items"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return items


def server_ids(connection, dataset_id: str) -> dict[str, str]:
    """external id -> the record's id on the server."""
    return {r["external_id"]: r["id"] for r in all_records(connection, dataset_id)}


def record_count(connection, dataset_id: str) -> int:
    """Records in SQLite (Argilla's source of truth)."""
    return connection.request("GET", f"/api/v1/datasets/{dataset_id}/records", params={"limit": 1})["total"]


def indexed_count(connection, dataset_id: str) -> int:
    """Records in the search index (what the annotation UI lists)."""
    return connection.request("GET", f"/api/v1/datasets/{dataset_id}/progress")["total"]


def indexed_submitted(connection, dataset_id: str, api_key: str) -> int:
    """Records the search index lists under the annotator's "Submitted" tab."""
    path = f"/api/v1/me/datasets/{dataset_id}/records/search"
    query = {"filters": {"and": [SUBMITTED_FILTER]}}
    return connection.request("POST", path, api_key=api_key, json=query, params={"limit": 1})["total"]


def responses_by_record(connection, dataset_id: str) -> dict[str, dict[str, tuple]]:
    """external id -> username -> (status, values), straight from the server's database."""
    usernames = {u["id"]: u["username"] for u in connection.request("GET", "/api/v1/users")["items"]}
    return {
        record.external_id: {r.username: (r.status, r.values) for r in record.responses}
        for record in fetch_records(connection, dataset_id, usernames, progress=None)
        if record.responses
    }


def review_values(index: int) -> tuple[str, dict]:
    """A varied, deterministic answer: (status, values)."""
    verdict = ("accept", "reject", "needs-edit")[index % 3]
    values = {"verdict": verdict, "style_score": 1 + index % 5}
    if verdict == "needs-edit":
        values["corrected"] = f"Corrected answer {index}\n#### {index}"
    if index % 4 == 1:
        values["issues"] = ["off-style"]
    status = "draft" if index % 10 == 7 else "submitted"
    return status, values


class Submitter(threading.Thread):
    """An annotator answering records one after another over REST, as the UI does, logging every reply."""

    def __init__(self, connection, api_key: str, records: list[dict], pause: float = 0.0, offset: int = 0):
        super().__init__(daemon=True)
        self.connection, self.api_key, self.records = connection, api_key, records
        self.pause, self.offset = pause, offset
        self.stop = threading.Event()
        # (external id, status, values, started, finished, error or None)
        self.log: list[tuple[str, str, dict, float, float, str | None]] = []

    def run(self) -> None:
        for number, record in enumerate(self.records):
            if self.stop.is_set():
                return
            status, values = review_values(number + self.offset)
            started = time.monotonic()
            try:
                answer_record(self.connection, self.api_key, record["id"], values, status)
                error = None
            except Exception as failure:  # any kind: the test checks that each one says what went wrong
                error = f"{type(failure).__name__}: {failure}"
            self.log.append((record["external_id"], status, values, started, time.monotonic(), error))
            time.sleep(self.pause)

    def acknowledged(self) -> dict[str, tuple]:
        return {ext: (status, values) for ext, status, values, _, _, error in self.log if error is None}

    def failed(self) -> dict[str, str]:
        return {ext: error for ext, _, _, _, _, error in self.log if error is not None}


def test_push_killed_midway_completes_on_rerun_once_each_with_responses_kept(argilla, gsm8k_rows, tmp_path):
    started = time.monotonic()
    connection = argilla.connection
    rows = rows_of(gsm8k_rows, 0, 2000)
    project = make_review_project(tmp_path / "project", rows[:200])
    assert push(project, connection).pushed == 200
    dataset_id = str(find_dataset(project, connection.client()).id)

    # An annotator reviews 20 of the first 200 records before the big push.
    [(annotator, key)] = new_annotators(project, connection, tmp_path, "early").items()
    first = sorted(all_records(connection, dataset_id), key=lambda r: r["external_id"])[:20]
    for number, record in enumerate(first):
        status, values = review_values(number)
        answer_record(connection, key, record["id"], values, status)
    before = responses_by_record(connection, dataset_id)
    assert len(before) == 20
    server_ids_first = server_ids(connection, dataset_id)

    (tmp_path / "all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_files(project, [tmp_path / "all.jsonl"], mapping=ColumnMap.parse("user=question,assistant=answer"))
    store_ids = {e.id for e in Store(project.store_path).read().examples}
    assert len(store_ids) == 2000

    # `ftdata push` of all 2,000 in a subprocess; the server is SIGKILLed once some but not all are in.
    out, err = tmp_path / "push.out", tmp_path / "push.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [str(FTDATA), "push", "--project", str(project.root)], env=argilla.cli_env(), stdout=stdout, stderr=stderr
        )
        try:
            at_kill = 0
            deadline = time.monotonic() + 300
            while process.poll() is None and time.monotonic() < deadline:
                at_kill = record_count(connection, dataset_id)
                if at_kill >= 800:
                    argilla.kill("server")
                    break
                time.sleep(0.2)
            assert 200 < at_kill < 2000, f"the push was not interrupted mid-way ({at_kill} records when polled last)"
            returncode = process.wait(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
    stderr_text = err.read_text()
    assert returncode != 0
    assert "Traceback" not in stderr_text, stderr_text[-3000:]
    lines = [line for line in stderr_text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert errors == [lines[-1]], stderr_text[-3000:]  # one clear line, last
    assert f"cannot reach Argilla at {connection.api_url}" in lines[-1]
    assert connection.api_key not in stderr_text + out.read_text()

    connection = argilla.up()  # restarts the server (search backend and worker kept running)
    after_restart, indexed_after_restart = record_count(connection, dataset_id), indexed_count(connection, dataset_id)
    assert after_restart < 2000
    server_ids_at_restart = server_ids(connection, dataset_id)
    assert len(server_ids_at_restart) == after_restart and server_ids_first.items() <= server_ids_at_restart.items()

    rerun = subprocess.run(
        [str(FTDATA), "push", "--project", str(project.root), "--json"],
        env=argilla.cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    result = json.loads(rerun.stdout)
    assert result["pushed"] == 2000 and result["skipped"] == {}

    records = all_records(connection, dataset_id)
    external_ids = [r["external_id"] for r in records]
    assert len(records) == record_count(connection, dataset_id) == 2000
    assert set(external_ids) == store_ids
    # Every record already on the server was updated in place, not deleted and created again: its server id
    # (which responses, the UI's links and annotators' drafts hang on) is the same as before the re-push.
    server_ids_now = {r["external_id"]: r["id"] for r in records}
    kept = {ext: server_ids_now.get(ext) for ext in server_ids_at_restart}
    assert kept == server_ids_at_restart
    assert indexed_count(connection, dataset_id) == 2000  # the annotation UI sees every record too
    assert responses_by_record(connection, dataset_id) == before  # the 20 early reviews, untouched
    submitted = sum(status == "submitted" for by_user in before.values() for status, _ in by_user.values())
    assert indexed_submitted(connection, dataset_id, key) == submitted
    print(
        f"\n[push kill] {at_kill} records when the server was killed, {after_restart} in SQLite and "
        f"{indexed_after_restart} in the index after restart; re-run pushed {result['pushed']}: "
        f"{len(records)} records, the server ids of the {len(kept)} already there kept; "
        f"{len(before)} early responses of {annotator} kept; "
        f"error line: {lines[-1]!r}; {time.monotonic() - started:.0f} s"
    )


def test_search_backend_killed_while_annotators_submit_loses_no_response(argilla, gsm8k_rows, tmp_path):
    started = time.monotonic()
    connection = argilla.connection
    project = make_review_project(tmp_path / "project", rows_of(gsm8k_rows, 2000, 2400))
    assert push(project, connection).pushed == 400
    dataset_id = str(find_dataset(project, connection.client()).id)
    keys = new_annotators(project, connection, tmp_path, "ana", "ben")
    records = all_records(connection, dataset_id)
    submitters = {
        name: Submitter(connection, key, records if number == 0 else records[::-1], pause=0.05, offset=number)
        for number, (name, key) in enumerate(keys.items())
    }
    for submitter in submitters.values():
        submitter.start()
    _wait_until(lambda: all(len(s.acknowledged()) >= 10 for s in submitters.values()), 60)
    before_kill = sum(len(s.log) for s in submitters.values())

    argilla.kill("search")  # noida-db: the Elasticsearch-compatible index and Redis, without its snapshot
    outage = time.monotonic()
    # `ftdata pull` and `ftdata status` read SQLite: they work with the index down.
    assert len(pull(project, connection).records) == 400
    assert review_status(project, connection).records == 400
    time.sleep(max(0.0, 4 - (time.monotonic() - outage)))  # annotators keep submitting into the outage
    during_outage = sum(len(s.log) for s in submitters.values()) - before_kill
    restart = argilla.up()  # restarts the search backend and rebuilds the index from SQLite
    assert restart.api_url == connection.api_url
    restarted = sum(len(s.log) for s in submitters.values())
    time.sleep(3)  # and after
    for submitter in submitters.values():
        submitter.stop.set()
    for submitter in submitters.values():
        submitter.join(timeout=120)
        assert not submitter.is_alive()

    failed = {name: s.failed() for name, s in submitters.items()}
    acknowledged = {name: s.acknowledged() for name, s in submitters.items()}
    assert sum(map(len, failed.values())) > 0, "no submission failed: the outage was not exercised"
    # Every failure surfaced as an exception naming the HTTP status or the unreachable server.
    for errors in failed.values():
        assert all("HTTP 5" in e or "HTTP 409" in e or "cannot reach" in e for e in errors.values()), errors

    stored = responses_by_record(connection, dataset_id)
    saved_anyway = 0
    for name, submitter in submitters.items():
        mine = {ext: by_user[name] for ext, by_user in stored.items() if name in by_user}
        for ext, answer in acknowledged[name].items():  # every 2xx reply: in SQLite, as sent
            assert mine.get(ext) == answer, (name, ext)
        extra = set(mine) - set(acknowledged[name])
        assert extra <= set(failed[name])  # nothing appears that was not sent
        attempted = {ext: (status, values) for ext, status, values, *_ in submitter.log}
        assert all(mine[ext] == attempted[ext] for ext in extra)
        saved_anyway += len(extra)

    status = {a.username: a for a in review_status(project, connection).annotators}
    extra_reindex = False
    for name, key in keys.items():
        in_sqlite = sum(1 for by_user in stored.values() if by_user.get(name, ("",))[0] == "submitted")
        assert status[name].submitted == in_sqlite  # `ftdata status`
        if indexed_submitted(connection, dataset_id, key) != in_sqlite:
            extra_reindex = True
            result = argilla.script("reindex")
            assert result.returncode == 0, result.stderr[-3000:]
        assert indexed_submitted(connection, dataset_id, key) == in_sqlite  # what the annotator's UI lists
    assert indexed_count(connection, dataset_id) == 400
    snapshot = pull(project, connection)
    pulled = {r.external_id: {x.username: (x.status, x.values) for x in r.responses} for r in snapshot.records}
    assert {ext: by_user for ext, by_user in pulled.items() if by_user} == stored
    print(
        f"\n[search restart] {sum(map(len, acknowledged.values()))} responses acknowledged (2xx), all present; "
        f"{sum(map(len, failed.values()))} failed visibly ({saved_anyway} of them saved in SQLite all the same); "
        f"{during_outage} submissions in the 4 s outage, {restarted - before_kill} before `up` returned; "
        f"extra reindex needed: {extra_reindex}; {time.monotonic() - started:.0f} s"
    )


def test_pull_while_annotators_submit_is_consistent_and_catches_up(argilla, gsm8k_rows, tmp_path):
    started = time.monotonic()
    connection = argilla.connection
    project = make_review_project(tmp_path / "project", rows_of(gsm8k_rows, 3000, 4100))
    pushed = push(project, connection).pushed
    assert pushed > 1000  # two pages of records for every pull
    dataset_id = str(find_dataset(project, connection.client()).id)
    keys = new_annotators(project, connection, tmp_path, "ana", "ben", "cleo")
    records = all_records(connection, dataset_id)
    # Each annotator takes two of every 36 records, overlapping the next one's: records across both pages
    # get one or two reviews (two complete a record: review.annotators_per_record is 2).
    submitters = {
        name: Submitter(connection, key, [r for i, r in enumerate(records) if i % 36 in (k, (k + 1) % 3)], offset=k)
        for k, (name, key) in enumerate(keys.items())
    }
    for submitter in submitters.values():
        submitter.start()
    pulls = []  # (started, finished, snapshot)
    while any(s.is_alive() for s in submitters.values()):
        begun = time.monotonic()
        snapshot = pull(project, connection)
        pulls.append((begun, time.monotonic(), snapshot))
        time.sleep(0.5)
    for submitter in submitters.values():
        submitter.join()
    begun = time.monotonic()
    pulls.append((begun, time.monotonic(), pull(project, connection)))  # after the last answer

    attempts = {
        (ext, name): (status, values, first, last)
        for name, s in submitters.items()
        for ext, status, values, first, last, _ in s.log
    }
    assert not any(s.failed() for s in submitters.values())
    import pyarrow.parquet as pq

    previous: dict = {}
    for begun, finished, snapshot in pulls:
        folder = project.snapshots_path / snapshot.id
        assert pq.read_table(folder / "records.parquet").num_rows == pushed  # the parquet reads back whole
        loaded = Snapshot.load(project, snapshot.id)
        assert loaded.records == snapshot.records
        ids = [r.external_id for r in loaded.records]
        assert len(ids) == len(set(ids)) == pushed  # no record missed or repeated across pages
        responses = {}
        for record in loaded.records:
            names = [r.username for r in record.responses]
            assert len(names) == len(set(names))
            for response in record.responses:
                status, values, first, _ = attempts[(record.external_id, response.username)]
                assert (response.status, response.values) == (status, values)  # whole, as sent
                assert first < finished  # nothing from the future
                responses[(record.external_id, response.username)] = (response.status, response.values)
            # The status agrees with the reviews beside it, even when read between Argilla's two commits.
            assert record.status == ("completed" if len(record.submitted()) >= 2 else "pending")
        acknowledged_before = {key for key, (_, _, _, last) in attempts.items() if last < begun}
        assert acknowledged_before <= set(responses)  # everything answered before the pull began is in it
        assert previous.items() <= responses.items()  # monotone: a later pull keeps all an earlier one had
        assert snapshot.info["responses"] == dict(sorted(Counter(s for s, _ in responses.values()).items()))
        previous = responses

    final = pulls[-1][2]
    assert previous == {key: (status, values) for key, (status, values, _, _) in attempts.items()}
    server_status = {r["external_id"]: r["status"] for r in all_records(connection, dataset_id)}
    assert {r.external_id: r.status for r in final.records} == server_status  # the final pull is the server's state
    status = review_status(project, connection)
    assert {a.username: a.submitted for a in status.annotators} == {
        name: sum(1 for (_, n), (s, _) in previous.items() if n == name and s == "submitted") for name in keys
    }
    assert status.completed == sum(r.status == "completed" for r in final.records)
    counts = [sum(p[2].info["responses"].values()) for p in pulls]
    print(
        f"\n[pull during review] {len(pulls) - 1} pulls during {len(attempts)} submissions, responses per pull "
        f"{counts}; {time.monotonic() - started:.0f} s"
    )


def _wait_until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
