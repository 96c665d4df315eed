"""Play the recorded reviews of ana, ben and chen into Argilla, through its API, as those three users.

    python examples/gsm8k-house-style/play_reviews.py [--ui-answers 5]

The review really happens on the server: the annotators are created in the project's workspace (their
credentials go to a private file), a few answers per annotator are sent exactly as Argilla's UI sends them
(`POST /api/v1/records/{id}/responses` with the annotator's own API key), and the rest are logged by the
owner on the annotators' behalf in bulk upserts keyed on user id: one answer at a time would take ~0.25 s
each (~8 minutes for this example). Re-running changes nothing: responses are upserted per record and user.
Needs ARGILLA_API_URL / ARGILLA_API_KEY (the owner), as every ftdata command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from ftcore.errors import FtdataError
from ftdata.annotators import add_annotators
from ftdata.argilla_client import ArgillaConnection
from ftdata.project import Project
from ftdata.review import answer_record, find_dataset
from ftdata.snapshot import fetch_records

HERE = Path(__file__).resolve().parent
BULK = 500  # Argilla's limit per bulk upsert


def play(project: Project, connection: ArgillaConnection, recorded: Path, ui_answers: int) -> dict[str, int]:
    reviews = [json.loads(line) for line in recorded.read_text(encoding="utf-8").splitlines() if line.strip()]
    usernames = sorted({r["annotator"] for r in reviews})
    credentials = project.resolve(".ftdata/credentials/demo-annotators.json")
    # Written only when accounts are created (a fresh server): then the file is replaced with the new passwords.
    annotators, written = add_annotators(project, connection, usernames, out=credentials)
    user_ids = {a.username: a.user_id for a in annotators}
    # The owner may read annotators' keys; used only for the few answers sent the UI's way, never printed.
    users = connection.request("GET", "/api/v1/users")["items"]
    keys = {u["username"]: u["api_key"] for u in users}
    dataset = find_dataset(project, connection.client())
    if dataset is None:
        raise FtdataError(f"no Argilla dataset {project.config.dataset!r} yet: run `ftdata push` first")
    records, fields, answered = {}, {}, set()
    for record in fetch_records(connection, str(dataset.id), {u["id"]: u["username"] for u in users}, None):
        records[record.external_id] = record.server_id
        # The server's upsert validates fields even when the record exists: they are sent back as they are.
        fields[record.server_id] = {"conversation": record.conversation, "answer": record.answer}
        answered |= {(record.server_id, response.username) for response in record.responses}
    counts = {"via_ui": 0, "bulk": 0, "already_answered": 0, "not_in_dataset": 0}
    by_record: dict[str, list[dict]] = defaultdict(list)
    ui_left = dict.fromkeys(usernames, ui_answers)
    for review in reviews:
        record_id = records.get(review["example_id"])
        if record_id is None:  # lint kept it out of Argilla (a secret, an extra exact copy)
            counts["not_in_dataset"] += 1
            continue
        user = review["annotator"]
        if (record_id, user) in answered:
            counts["already_answered"] += 1
            continue
        if ui_left[user] > 0 and review["status"] == "submitted":
            answer_record(connection, keys[user], record_id, review["values"], review["status"])
            ui_left[user] -= 1
            counts["via_ui"] += 1
            continue
        values = {name: {"value": value} for name, value in review["values"].items()}
        # Values go with a discard too: Argilla 2.8 fails to index a record holding a response without values.
        response = {"user_id": user_ids[user], "status": review["status"], "values": values}
        by_record[record_id].append(response)
    items = [
        {"id": record_id, "fields": fields[record_id], "responses": responses}
        for record_id, responses in by_record.items()
    ]
    for start in range(0, len(items), BULK):
        batch = items[start : start + BULK]
        connection.request("PUT", f"/api/v1/datasets/{dataset.id}/records/bulk", json={"items": batch})
        counts["bulk"] += sum(len(item["responses"]) for item in batch)
    if written:
        print(f"annotator credentials (mode 600): {written}", file=sys.stderr)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=HERE, help="The ftdata project folder (default: this example)")
    parser.add_argument("--recorded", type=Path, default=HERE / "recorded_reviews.jsonl")
    parser.add_argument("--ui-answers", type=int, default=5, help="Answers per annotator sent the UI's way")
    args = parser.parse_args()
    try:
        counts = play(Project.open(args.project), ArgillaConnection.from_env(), args.recorded, args.ui_answers)
    except FtdataError as error:
        raise SystemExit(f"play_reviews: {error}") from None
    print(
        f"recorded reviews played: {counts['via_ui']} answers the UI's way (annotators' own keys), "
        f"{counts['bulk']} in bulk on their behalf; {counts['already_answered']} already on the server, "
        f"{counts['not_in_dataset']} for examples lint kept out of Argilla"
    )


if __name__ == "__main__":
    main()
