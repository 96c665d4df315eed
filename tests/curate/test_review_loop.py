"""The review loop's ways out, against the real Argilla: the team's own columns as metadata, the senior review of
the adjudication queue, a lead's bulk accept, and annotators' passwords reset by the owner."""

import json
import uuid
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from review_helpers import make_review_project, remove_review_project

from ftdata import load_split
from ftdata.annotators import add_annotators, list_annotators, reset_passwords
from ftdata.cli import main
from ftdata.export import export_dataset
from ftdata.project import Project
from ftdata.review import answer_record, find_dataset, find_senior_dataset, push, senior_workspace
from ftdata.snapshot import fetch_records, pull

pytestmark = [pytest.mark.argilla, pytest.mark.slow]
REPO_STYLE = "examples/quickstart/style.yaml"
CHANNELS = ("email", "chat", "phone")


def ticket_rows(gsm8k_rows, start, count):
    rows = [dict(r) for r in gsm8k_rows[start : start + 200] if "<<" in r["answer"]][:count]
    return [{**row, "ticket_id": f"T-{n:04d}", "channel": CHANNELS[n % 3]} for n, row in enumerate(rows)]


@pytest.fixture
def tickets(tmp_path, gsm8k_rows, argilla_connection):
    """A project of 9 'tickets' with their own id and channel columns, in a workspace of its own."""
    root = tmp_path / "project"
    make_review_project(root, ticket_rows(gsm8k_rows, 300, 9))
    style = Path(__file__).resolve().parents[2] / REPO_STYLE
    config = (root / "ftdata.yaml").read_text()
    for default, setting in [("id_column: null", "id_column: ticket_id"), ("style: null", f"style: {style}"),
                             ("metadata_columns: []", "metadata_columns: [channel]")]:  # fmt: skip
        assert default in config
        config = config.replace(default, setting)
    (root / "ftdata.yaml").write_text(config)  # in the file: the CLI commands below read it
    project = Project.open(root)
    yield project
    client = argilla_connection.client()
    senior = find_senior_dataset(project, client)
    if senior is not None:  # the senior review's dataset, seniors and workspace, then the main ones
        senior.delete()
        for user in list_annotators(project, argilla_connection, senior_workspace(project)):
            if user.role == "annotator":
                argilla_connection.request("DELETE", f"/api/v1/users/{user.user_id}")
        client.workspaces(name=senior_workspace(project)).delete()
    remove_review_project(project, argilla_connection)


def new_annotators(project, connection, tmp_path, *names, senior=False):
    suffix = uuid.uuid4().hex[:6]
    usernames = [f"{name}-{suffix}" for name in names]
    workspace = senior_workspace(project) if senior else None
    _, path = add_annotators(project, connection, usernames, out=tmp_path / f"{suffix}.json", workspace=workspace)
    keys = {entry["username"]: entry["api_key"] for entry in json.loads(path.read_text())}
    return [(username, keys[username]) for username in usernames]


def records_by_ticket(project, connection):
    return {r.metadata["ticket_id"]: r for r in pull(project, connection).records}


def test_the_teams_columns_are_argilla_metadata_and_name_records_in_status(tickets, argilla_connection, tmp_path):
    # A dataset pushed before the columns were configured gets their metadata properties on the next push.
    tickets.config.review.metadata_columns = []
    tickets.config.id_column = None
    push(tickets, argilla_connection)
    tickets.config.review.metadata_columns = ["channel"]
    tickets.config.id_column = "ticket_id"
    push(tickets, argilla_connection)
    dataset = find_dataset(tickets, argilla_connection.client())
    assert {"ticket_id", "channel"} <= {m.name for m in dataset.settings.metadata}
    records = records_by_ticket(tickets, argilla_connection)
    assert sorted(records) == [f"T-{n:04d}" for n in range(9)]
    assert {r.metadata["channel"] for r in records.values()} == set(CHANNELS)
    # Annotators filter on the team's own column, as the UI's metadata filter does.
    (ann, key), (bob, bob_key) = new_annotators(tickets, argilla_connection, tmp_path, "ann", "bob")
    query = {"filters": {"and": [{"type": "terms", "scope": {"entity": "metadata", "metadata_property": "channel"},
                                  "values": ["email"]}]}}  # fmt: skip
    found = argilla_connection.request(
        "POST", f"/api/v1/me/datasets/{dataset.id}/records/search", api_key=key, json=query
    )
    assert sorted(item["record"]["metadata"]["ticket_id"] for item in found["items"]) == ["T-0000", "T-0003", "T-0006"]

    disputed = records["T-0004"]
    answer_record(argilla_connection, key, disputed.server_id, {"verdict": "accept", "style_score": 5})
    answer_record(argilla_connection, bob_key, disputed.server_id, {"verdict": "reject", "style_score": 2})
    env = {"ARGILLA_API_URL": argilla_connection.api_url, "ARGILLA_API_KEY": argilla_connection.api_key}
    status = CliRunner(env=env).invoke(main, ["status", "--project", str(tickets.root)])
    assert status.exit_code == 0, status.output
    assert f"{disputed.external_id} (ticket_id T-0004): {ann}=accept, {bob}=reject" in status.stdout
    as_json = json.loads(CliRunner(env=env).invoke(main, ["status", "--project", str(tickets.root), "--json"]).stdout)
    assert as_json["labels"][disputed.external_id] == "ticket_id T-0004"
    listed = CliRunner(env=env).invoke(main, ["annotators", "list", "--project", str(tickets.root)])
    assert ann in listed.stdout and ann not in listed.stderr


def test_the_adjudication_queue_goes_to_a_senior_and_export_applies_the_decisions(
    tickets, argilla_connection, tmp_path
):
    push(tickets, argilla_connection)
    (ann, a), (_, b) = new_annotators(tickets, argilla_connection, tmp_path, "ann", "bob")
    records = records_by_ticket(tickets, argilla_connection)
    fix_one = records["T-0000"].answer.replace("####", "So:\n####")
    fix_two = records["T-0000"].answer.replace("####", "Hence:\n####")
    for ticket, record in records.items():
        if ticket == "T-0000":  # different corrections
            answer_record(argilla_connection, a, record.server_id, {"verdict": "needs-edit", "style_score": 3,
                                                                     "corrected": fix_one})  # fmt: skip
            answer_record(argilla_connection, b, record.server_id, {"verdict": "needs-edit", "style_score": 3,
                                                                     "corrected": fix_two})  # fmt: skip
        elif ticket in ("T-0001", "T-0002"):  # ties
            answer_record(argilla_connection, a, record.server_id, {"verdict": "accept", "style_score": 5})
            answer_record(argilla_connection, b, record.server_id, {"verdict": "reject", "style_score": 2})
        else:
            for key in (a, b):
                answer_record(argilla_connection, key, record.server_id, {"verdict": "accept", "style_score": 5})
    pull(tickets, argilla_connection)
    first = export_dataset(tickets, out=tmp_path / "before", allow_small=True)
    queued = sorted(records[t].external_id for t in ("T-0000", "T-0001", "T-0002"))
    assert sorted(e["id"] for e in first.adjudication) == queued

    env = {"ARGILLA_API_URL": argilla_connection.api_url, "ARGILLA_API_KEY": argilla_connection.api_key}
    pushed = CliRunner(env=env).invoke(main, ["adjudicate", "--project", str(tickets.root), "--json"])
    assert pushed.exit_code == 0, pushed.output
    summary = json.loads(pushed.stdout)
    assert summary["pushed"] == 3 and summary["workspace"] == f"{tickets.config.workspace}-senior"
    assert summary["reasons"] == {"no majority verdict": 2, "different corrections": 1}
    [(_, senior_key)] = new_annotators(tickets, argilla_connection, tmp_path, "dora", senior=True)
    client = argilla_connection.client()
    senior_dataset = find_senior_dataset(tickets, client)
    senior_records = {r.id: r for r in senior_dataset.records(with_suggestions=True)}  # the SDK's id: external
    queued = senior_records[records["T-0000"].external_id]
    assert f"**{ann}**: needs-edit" in queued.fields["reviews"] and "So:" in queued.fields["reviews"]
    assert queued.metadata["ticket_id"] == "T-0000" and queued.metadata["reason"] == "different corrections"
    assert queued.suggestions["corrected"].value in (fix_one.strip(), fix_two.strip())
    # The main review's annotators never see the senior dataset.
    visible = argilla_connection.request("GET", "/api/v1/me/datasets", api_key=a)["items"]
    assert str(senior_dataset.id) not in {d["id"] for d in visible}

    server_ids = {
        r.external_id: r.server_id for r in fetch_records(argilla_connection, str(senior_dataset.id), {}, None)
    }
    decisions = {
        "T-0000": {"verdict": "needs-edit", "corrected": fix_two},
        "T-0001": {"verdict": "accept"},
        "T-0002": {"verdict": "reject"},
    }
    for ticket, values in decisions.items():
        answer_record(argilla_connection, senior_key, server_ids[records[ticket].external_id], values)
    again = CliRunner(env=env).invoke(main, ["adjudicate", "--project", str(tickets.root), "--json"])
    assert json.loads(again.stdout)["pushed"] == 3  # still queued by the votes; the decisions are kept
    snapshot = pull(tickets, argilla_connection)
    assert snapshot.info["senior_decisions"] == 3 and len(snapshot.senior) == 3
    after = export_dataset(tickets, out=tmp_path / "after", allow_small=True)
    assert after.adjudication == []
    assert after.manifest.drops.get("rejected by a senior reviewer") == 1
    exported = {e.completion for split in after.manifest.splits for e in load_split(tmp_path / "after", split)}
    assert fix_two.strip() in exported and fix_one.strip() not in exported
    assert records["T-0001"].answer in exported and records["T-0002"].answer not in exported
    assert sum(after.manifest.counts().values()) == sum(first.manifest.counts().values()) + 2


def test_a_leads_bulk_accept_is_marked_counts_by_the_quorum_rule_and_survives_a_push(
    tickets, argilla_connection, tmp_path
):
    push(tickets, argilla_connection)
    records = records_by_ticket(tickets, argilla_connection)
    (lena, _), (_, b) = new_annotators(tickets, argilla_connection, tmp_path, "lena", "bob")
    answer_record(argilla_connection, b, records["T-0005"].server_id, {"verdict": "reject", "style_score": 1})
    answer_record(argilla_connection, b, records["T-0006"].server_id, {"verdict": "accept", "style_score": 5})
    env = {"ARGILLA_API_URL": argilla_connection.api_url, "ARGILLA_API_KEY": argilla_connection.api_key}
    runner = CliRunner(env=env)
    args = ["accept", "--unflagged", "--as", lena, "--project", str(tickets.root)]
    dry = json.loads(runner.invoke(main, [*args, "--dry-run", "--json"]).stdout)
    assert dry["accepted"] == 8 and dry["skipped"] == {"a reviewer did not accept it (review it)": 1}
    done = runner.invoke(main, [*args, "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["accepted"] == 8 and result["lead"] == lena
    log = json.loads(Path(result["log"]).read_text())
    assert log["lead"] == lena and len(log["records"]) == 8
    again = json.loads(runner.invoke(main, [*args, "--json"]).stdout)
    assert again["accepted"] == 0 and again["skipped"][f"{lena} answered it already"] == 8

    push(tickets, argilla_connection)  # a later push rewrites the lint metadata but keeps the lead's mark
    records = records_by_ticket(tickets, argilla_connection)
    marked = {t for t, r in records.items() if r.metadata.get("bulk_accepted_by") == lena}
    assert marked == set(records) - {"T-0005"}
    lead_responses = [r for record in records.values() for r in record.responses if r.username == lena]
    assert len(lead_responses) == 8 and {r.values["verdict"] for r in lead_responses} == {"accept"}

    status = json.loads(runner.invoke(main, ["status", "--project", str(tickets.root), "--json"]).stdout)
    assert status["bulk_accepts"] == {lena: 8}
    assert status["agreement"]["verdict"]["answers"] == 2  # bob's two; the lead's bulk accepts are left out

    meets = export_dataset(tickets, out=tmp_path / "meets", allow_small=True)
    assert sum(meets.manifest.counts().values()) == 8  # T-0006 with bob's accept too; T-0005 rejected by bob alone
    assert meets.manifest.drops == {"fewer than 2 submitted verdicts (quorum)": 1}
    tickets.config.export.bulk_accept = "one-vote"
    one_vote = export_dataset(tickets, out=tmp_path / "one-vote", allow_small=True)
    assert sum(one_vote.manifest.counts().values()) == 1  # only T-0006 reaches a quorum of 2
    assert one_vote.manifest.drops == {"fewer than 2 submitted verdicts (quorum)": 8}


def test_the_owner_resets_a_lost_password(tickets, argilla_connection, tmp_path):
    push(tickets, argilla_connection)
    [(ann, _)] = new_annotators(tickets, argilla_connection, tmp_path, "ann")
    env = {"ARGILLA_API_URL": argilla_connection.api_url, "ARGILLA_API_KEY": argilla_connection.api_key}
    again = CliRunner(env=env).invoke(main, ["annotators", "add", ann, "--project", str(tickets.root)])
    assert "exists (credentials not re-issued)" in again.stdout and "reset-password" in again.stderr
    path = reset_passwords(tickets, argilla_connection, [ann], out=tmp_path / "reset.json")
    [entry] = json.loads(path.read_text())
    assert oct(path.stat().st_mode & 0o777) == "0o600" and entry["username"] == ann and entry["api_key"]
    signed_in = httpx.post(
        f"{argilla_connection.api_url}/api/v1/token", data={"username": ann, "password": entry["password"]}
    )
    assert signed_in.status_code == 201, signed_in.text
    with pytest.raises(Exception, match=r"only annotators' passwords are reset|not a member"):
        reset_passwords(tickets, argilla_connection, ["argilla"], out=tmp_path / "owner.json")


def test_played_reviews_give_a_way_in_when_the_annotators_existed(tickets, argilla_connection, tmp_path):
    """The demo's case: an earlier session created the annotators and its credentials file is gone. Playing the
    recorded reviews resets their passwords as the owner and writes the file it then points at."""
    from ftdata.testing import play_recorded_reviews

    push(tickets, argilla_connection)
    suffix = uuid.uuid4().hex[:6]
    names = [f"ana-{suffix}", f"ben-{suffix}"]
    _, lost = add_annotators(tickets, argilla_connection, names, out=tmp_path / "lost.json")
    lost.unlink()
    records = records_by_ticket(tickets, argilla_connection)
    recorded = tmp_path / "recorded.jsonl"
    recorded.write_text(
        "".join(
            json.dumps(
                {
                    "example_id": r.external_id,
                    "annotator": name,
                    "status": "submitted",
                    "values": {"verdict": "accept", "style_score": 5},
                }
            )
            + "\n"
            for r in records.values()
            for name in names
        )
    )
    credentials = tickets.root / ".ftdata" / "credentials" / "demo-annotators.json"
    played = play_recorded_reviews(tickets, argilla_connection, recorded, ui_answers=1, credentials=credentials)
    assert played.passwords_reset and played.credentials == credentials
    assert (played.via_ui, played.bulk) == (2, 16)
    entries = {e["username"]: e for e in json.loads(credentials.read_text())}
    assert sorted(entries) == names and oct(credentials.stat().st_mode & 0o777) == "0o600"
    for name in names:
        signed_in = httpx.post(
            f"{argilla_connection.api_url}/api/v1/token", data={"username": name, "password": entries[name]["password"]}
        )
        assert signed_in.status_code == 201, signed_in.text
    again = play_recorded_reviews(tickets, argilla_connection, recorded, ui_answers=1, credentials=credentials)
    assert not again.passwords_reset and again.already_answered == 18  # the file is there: nothing reset
