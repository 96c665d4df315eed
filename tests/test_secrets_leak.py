"""Secrets and access, against the real local Argilla: the whole ftkit loop leaks no key or password
(not into a file, an output or an error message, not even base64- or URL-encoded), annotator
credentials are private files, an annotator's key reaches its own workspace's records and nothing
else, and a reviewed example with a credential in it stays out of the export unless allowed by id."""

import base64
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import yaml

# tests/ folders are not packages: the review helpers live beside the curate tests.
sys.path.insert(0, str(Path(__file__).resolve().parent / "curate"))
from review_helpers import GUIDELINES, make_review_project, remove_review_project

from ftcore import ExportManifest, load_split
from ftcore.errors import FtdataError
from ftdata.annotators import add_annotators
from ftdata.argilla_client import ArgillaConnection, ArgillaRequestError
from ftdata.export import export_dataset
from ftdata.project import Project
from ftdata.review import answer_record, find_dataset, push
from ftdata.snapshot import pull

pytestmark = pytest.mark.argilla

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STYLE = REPO / "examples" / "quickstart" / "style.yaml"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documentation example: a credential shape, not a credential


def encodings(secret: str) -> dict[str, bytes]:
    """The forms a secret could leak in: as is, URL-encoded, and base64 (standard and URL-safe) at each
    of the three alignments it can have inside a longer base64 text (e.g. "user:password" in a header)."""
    raw = secret.encode()
    forms = {"plain": raw, "url-encoded": quote(secret, safe="").encode(), "form-encoded": quote_plus(secret).encode()}
    for shift in range(3):
        first, last = -(-shift // 3) * 4, (shift + len(raw)) // 3 * 4  # the base64 groups made of secret bytes only
        forms[f"base64 (+{shift})"] = base64.b64encode(bytes(shift) + raw)[first:last]
        forms[f"base64url (+{shift})"] = base64.urlsafe_b64encode(bytes(shift) + raw)[first:last]
    distinct = {}
    for name, value in forms.items():  # a key with no character to escape is its own URL encoding: once
        if value not in distinct.values():
            distinct[name] = value
    return distinct


def hits_in(data: bytes, secrets: dict[str, str]) -> list[str]:
    return [
        f"{name} ({form})"
        for name, secret in secrets.items()
        for form, needle in encodings(secret).items()
        if needle in data
    ]


def local_owner_secrets(connection: ArgillaConnection, home: Path | None) -> dict[str, str]:
    """The owner's password and the server's token-signing secret, when the server is the tests' own (`home`)."""
    if home is None:
        return {}
    try:
        lines = (home / "owner.env").read_text().splitlines()
    except FileNotFoundError:
        return {}
    values = dict(line.split("=", 1) for line in lines if "=" in line)
    if values.get("ARGILLA_API_KEY") != connection.api_key:
        return {}
    return {
        "owner password": values["FTKIT_ARGILLA_OWNER_PASSWORD"],
        "auth signing secret": values["FTKIT_ARGILLA_AUTH_SECRET"],
    }


@pytest.mark.slow
def test_whole_loop_leaks_no_key_or_password(argilla_connection, private_argilla, gsm8k_rows, tiny_model_dir, tmp_path):
    started = time.monotonic()
    project_dir, run_dir, eval_dir, home = (tmp_path / n for n in ("project", "run", "eval", "home"))
    home.mkdir()
    bad_key = "ftkit.wrong." + uuid.uuid4().hex  # a key that is refused: error paths must not echo it either
    secrets = {"owner API key": argilla_connection.api_key, "refused API key": bad_key}
    secrets |= local_owner_secrets(argilla_connection, private_argilla.home if private_argilla else None)
    # Every command runs as a user would run it, with a HOME of its own (scanned too: nothing may be cached there).
    env = {
        **os.environ,
        "HOME": str(home),
        "ARGILLA_API_URL": argilla_connection.api_url,
        "ARGILLA_API_KEY": argilla_connection.api_key,
    }
    outputs: dict[str, bytes] = {}  # command -> its stdout and stderr
    messages: list[str] = []  # exception messages and reprs

    def run(*args: str, ok=(0,), **extra_env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / args[0]), *args[1:]], env={**env, **extra_env}, capture_output=True, timeout=600
        )
        outputs[" ".join(args)] = result.stdout + result.stderr
        assert result.returncode in ok, (args, result.stderr.decode()[-3000:])
        return result

    rows = [dict(r) for r in gsm8k_rows[300:400] if "<<" in r["answer"]][:10]
    with_email = gsm8k_rows[400]["question"] + " Reply to kim.lee@example.org."
    rows.append({"question": with_email, "answer": rows[0]["answer"]})
    (tmp_path / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    project = ["--project", str(project_dir)]
    workspace = f"ftkit-test-{uuid.uuid4().hex[:8]}"
    run("ftdata", "init", str(project_dir), "--dataset", "leak-test")
    config = (project_dir / "ftdata.yaml").read_text()
    config = config.replace("workspace: ftkit", f"workspace: {workspace}")
    (project_dir / "ftdata.yaml").write_text(config.replace("guidelines: guidelines.md", f"guidelines: {GUIDELINES}"))
    try:
        run("ftdata", "import", str(tmp_path / "raw.jsonl"), "--map", "user=question,assistant=answer", *project)
        run("ftdata", "check", *project, ok=(0, 1))  # too few examples: a warning or an error, exit 1
        run("ftdata", "ping")
        run("ftdata", "ping", ok=(2,), ARGILLA_API_KEY=bad_key)
        run("ftdata", "push", *project)
        run("ftdata", "annotators", "add", "leak-a", "leak-b", "leak-c", *project)
        run("ftdata", "annotators", "list", *project)
        [credentials_file] = (project_dir / ".ftdata" / "credentials").iterdir()
        assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
        credentials = json.loads(credentials_file.read_text())
        for entry in credentials:
            secrets[f"{entry['username']} API key"] = entry["api_key"]
            secrets[f"{entry['username']} password"] = entry["password"]
        keys = [entry["api_key"] for entry in credentials]

        connection = ArgillaConnection(argilla_connection.api_url, argilla_connection.api_key)
        dataset_id = str(find_dataset(Project.open(project_dir), connection.client()).id)
        records = connection.request("GET", f"/api/v1/datasets/{dataset_id}/records")["items"]
        for number, record in enumerate(records):  # three annotators, as the UI does it
            for key in keys[: 2 + number % 2]:
                answer_record(connection, key, record["id"], {"verdict": "accept", "style_score": 5})
        # Error paths, where keys tend to leak: a refused key, an annotator asking for too much, no server.
        for attempt in (
            lambda: ArgillaConnection(connection.api_url, bad_key).client(),
            lambda: connection.request("POST", "/api/v1/users", api_key=keys[0], json={"username": "x"}),
            lambda: pull(Project.open(project_dir), ArgillaConnection(connection.api_url, keys[0])),
            lambda: ArgillaConnection("http://127.0.0.1:9", keys[1]).request("GET", "/api/v1/me", attempts=1),
        ):
            with pytest.raises(FtdataError) as caught:
                attempt()
            messages.append(f"{caught.value!s} {caught.value!r}")
        messages += [repr(connection), repr(ArgillaConnection(connection.api_url, keys[2]))]
        run("ftdata", "pull", *project, ok=(2,), ARGILLA_API_KEY=keys[0])

        run("ftdata", "status", *project)
        run("ftdata", "status", "--json", *project)
        run("ftdata", "pull", *project)
        export = project_dir / "exports" / "v1"
        run("ftdata", "export", "--out", str(export), "--allow-small", *project)
        assert sum(ExportManifest.read(export).counts().values()) == len(rows)

        train_config = tmp_path / "train.yaml"
        train = {"base_model": str(tiny_model_dir), "data": str(export), "output_dir": str(run_dir), "epochs": 1}
        train |= {"method": "lora", "max_seq_len": 256, "batch_size": 4, "lora": {"r": 4, "alpha": 8, "dropout": 0.0}}
        train_config.write_text(yaml.safe_dump(train))
        run("fttrain", "run", str(train_config), "--dry-run")
        run("fttrain", "run", str(train_config))  # a real (tiny) run: its folder records environment and config
        make_eval_folder(eval_dir, export, str(tiny_model_dir))
        run("fteval", "report", str(eval_dir))
    finally:
        remove_review_project(Project.open(project_dir), argilla_connection)

    scanned, hits = 0, []
    for folder in (project_dir, run_dir, eval_dir, home):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            scanned += 1
            found = hits_in(path.read_bytes(), secrets)
            if path == credentials_file:  # the one place credentials belong (mode 600, checked above)
                expected = {f"{e['username']} {kind} (plain)" for e in credentials for kind in ("API key", "password")}
                assert set(found) == expected
                continue
            hits += [f"{path}: {hit}" for hit in found]
    for command, output in outputs.items():
        hits += [f"output of `{command}`: {hit}" for hit in hits_in(output, secrets)]
    for message in messages:
        hits += [f"exception message {message[:80]!r}: {hit}" for hit in hits_in(message.encode(), secrets)]
    assert hits == []
    print(
        f"\n[secrets] {len(secrets)} secrets in {sum(len(encodings(s)) for s in secrets.values())} forms, "
        f"{scanned} files, {len(outputs)} command outputs, {len(messages)} exception messages: {len(hits)} hits; "
        f"{time.monotonic() - started:.0f} s"
    )


def make_eval_folder(folder: Path, export: Path, base_model: str) -> None:
    """An `fteval run` folder by hand: results and answers for the export's test split."""
    test = load_split(export, "test")
    manifest = ExportManifest.read(export)
    data = {"dataset": manifest.dataset, "n": len(test), "manifest_fingerprint": manifest.fingerprint}
    results = {
        "schema_version": 1,
        "created_at": "2026-11-28T00:00:00+00:00",
        "metrics": {"strict": {"higher_is_better": True}},
        "style_checks": [{"id": "final-answer-line"}],
        "data": data | {"split": "test", "folder": str(export)},
        "base_model": base_model,
        "contestants": {"base": {"scores": {"strict": 0.5, "pass_rate/final-answer-line": 0.5}}},
    }
    (folder / "answers").mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    answers = [
        {"id": e.id, "prompt": [m.to_dict() for m in e.prompt_messages], "answer": e.completion,
         "reference": e.completion, "failed_checks": {}}
        for e in test
    ]  # fmt: skip
    (folder / "answers" / "base.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))


def test_annotator_credentials_are_private_files(argilla_connection, private_argilla, gsm8k_rows, tmp_path):
    project = make_review_project(tmp_path / "project", [dict(r) for r in gsm8k_rows[500:502]])
    suffix = uuid.uuid4().hex[:6]
    umask = os.umask(0)  # the most permissive umask: the mode must not depend on it
    try:
        _, default_path = add_annotators(project, argilla_connection, [f"priv-a-{suffix}"])
        given = tmp_path / "given.json"
        given.write_text("{}")
        given.chmod(0o644)  # an existing readable file at --out is replaced by a private one
        _, given_path = add_annotators(project, argilla_connection, [f"priv-b-{suffix}"], out=given)
    finally:
        os.umask(umask)
        remove_review_project(project, argilla_connection)
    assert default_path.parent == project.root / ".ftdata" / "credentials"
    for path in (default_path, given_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    leftovers = [p.name for p in default_path.parent.iterdir() if p != default_path]
    assert leftovers == []  # no temporary copy left beside it
    if private_argilla is not None:  # the tests' own server: its owner's credentials file is private too
        assert stat.S_IMODE((private_argilla.home / "owner.env").stat().st_mode) == 0o600


@pytest.mark.slow
def test_annotator_key_reaches_its_workspace_only(argilla_connection, gsm8k_rows, tmp_path):
    rows = [dict(r) for r in gsm8k_rows[600:606]]
    own = make_review_project(tmp_path / "own", rows[:3])
    other = make_review_project(tmp_path / "other", rows[3:])
    owner = argilla_connection
    try:
        push(own, owner)
        push(other, owner)
        own_id = str(find_dataset(own, owner.client()).id)
        other_id = str(find_dataset(other, owner.client()).id)
        annotators, path = add_annotators(own, owner, [f"conf-{uuid.uuid4().hex[:6]}"], out=tmp_path / "c.json")
        [entry] = json.loads(path.read_text())
        key, user_id = entry["api_key"], annotators[0].user_id
        record_id = owner.request("GET", f"/api/v1/datasets/{own_id}/records")["items"][0]["id"]

        def as_annotator(method, path, **kwargs):
            return owner.request(method, path, api_key=key, **kwargs)

        # Membership: this workspace only; only its datasets are listed.
        assert [w["name"] for w in as_annotator("GET", "/api/v1/me/workspaces")["items"]] == [own.config.workspace]
        assert [w["name"] for w in owner.request("GET", f"/api/v1/users/{user_id}/workspaces")["items"]] == [
            own.config.workspace
        ]
        assert [d["id"] for d in as_annotator("GET", "/api/v1/me/datasets")["items"]] == [own_id]
        # What an annotator may do: read and answer its workspace's records.
        search = as_annotator("POST", f"/api/v1/me/datasets/{own_id}/records/search", json={})
        assert search["total"] == 3
        answer_record(owner, key, record_id, {"verdict": "accept", "style_score": 4})

        other_workspace = find_dataset(other, owner.client()).workspace.id
        forbidden = {
            "list another workspace's datasets": ("GET", "/api/v1/me/datasets", {"params": {"workspace_id": str(other_workspace)}}),  # noqa: E501
            "read another workspace's dataset": ("GET", f"/api/v1/datasets/{other_id}", {}),
            "read another workspace's records": ("POST", f"/api/v1/me/datasets/{other_id}/records/search", {"json": {}}),  # noqa: E501
            "delete the dataset": ("DELETE", f"/api/v1/datasets/{own_id}", {}),
            "delete records": ("DELETE", f"/api/v1/datasets/{own_id}/records", {"params": {"ids": record_id}}),
            "delete a record": ("DELETE", f"/api/v1/records/{record_id}", {}),
            "overwrite records": ("PUT", f"/api/v1/datasets/{own_id}/records/bulk", {"json": {"items": [{"id": record_id, "fields": {"answer": "x"}}]}}),  # noqa: E501
            "export records with everyone's responses": ("GET", f"/api/v1/datasets/{own_id}/records", {"params": {"include": "responses"}}),  # noqa: E501
            "search everyone's responses": ("POST", f"/api/v1/datasets/{own_id}/records/search", {"json": {}}),
            "export the dataset to the Hub": ("POST", f"/api/v1/datasets/{own_id}/export", {"json": {"name": "x/y", "token": "hf_x"}}),  # noqa: E501
            "list users": ("GET", "/api/v1/users", {}),
            "create a user": ("POST", "/api/v1/users", {"json": {"username": f"evil-{uuid.uuid4().hex[:6]}", "first_name": "e", "password": "p" * 12, "role": "owner"}}),  # noqa: E501
            "make itself owner": ("PATCH", f"/api/v1/users/{user_id}", {"json": {"role": "owner"}}),
            "create a workspace": ("POST", "/api/v1/workspaces", {"json": {"name": f"evil-{uuid.uuid4().hex[:6]}"}}),
            "join another workspace": ("POST", f"/api/v1/workspaces/{other_workspace}/users", {"json": {"user_id": user_id}}),  # noqa: E501
        }  # fmt: skip
        allowed = {}
        for what, (method, path, kwargs) in forbidden.items():
            try:
                allowed[what] = as_annotator(method, path, **kwargs)
            except ArgillaRequestError as error:
                if error.status_code not in (401, 403):
                    allowed[what] = f"HTTP {error.status_code}: {error}"
        assert allowed == {}
        # Nothing changed: both datasets whole, the annotator still an annotator of one workspace.
        assert owner.request("GET", f"/api/v1/datasets/{own_id}/records")["total"] == 3
        assert owner.request("GET", f"/api/v1/datasets/{other_id}/records")["total"] == 3
        assert owner.request("GET", f"/api/v1/users/{user_id}")["role"] == "annotator"
        # And `ftdata pull` with an annotator's key is refused with a clear error, not a partial snapshot.
        with pytest.raises(FtdataError, match="HTTP 403"):
            pull(own, ArgillaConnection(owner.api_url, key))
        assert not own.snapshots_path.exists() or not any(own.snapshots_path.iterdir())
    finally:
        remove_review_project(own, owner)
        remove_review_project(other, owner)
    print(f"\n[access] {len(forbidden)} forbidden calls with an annotator's key: all refused (401/403)")


@pytest.mark.slow
def test_export_leaves_out_reviewed_secret_unless_its_id_is_allowed(argilla_connection, gsm8k_rows, tmp_path):
    rows = [dict(r) for r in gsm8k_rows[700:800] if "<<" in r["answer"]][:6]
    with_key = {
        "question": f"{gsm8k_rows[800]['question']}\naws_access_key_id = {AWS_KEY}",
        "answer": rows[0]["answer"],
    }
    with_email = {
        "question": f"{gsm8k_rows[801]['question']} Mail me at kim.lee@example.org.",
        "answer": rows[1]["answer"],
    }
    project = make_review_project(tmp_path / "project", [*rows, with_key, with_email], f"style={STYLE}")
    connection = argilla_connection
    try:
        skipped = push(project, connection).skipped
        [(reason, [secret_id])] = skipped.items()
        assert reason.startswith("contains a secret")
        assert push(project, connection, include_secrets=True).pushed == 8  # reviewed anyway, on purpose
        credentials = tmp_path / "credentials.json"
        add_annotators(project, connection, [f"sec-{n}-{uuid.uuid4().hex[:6]}" for n in "ab"], out=credentials)
        keys = [c["api_key"] for c in json.loads(credentials.read_text())]
        dataset_id = find_dataset(project, connection.client()).id
        for record in connection.request("GET", f"/api/v1/datasets/{dataset_id}/records")["items"]:
            for key in keys:  # both reviewers accept everything, the credential included
                answer_record(connection, key, record["id"], {"verdict": "accept", "style_score": 5})
        snapshot = pull(project, connection)
    finally:
        remove_review_project(project, connection)
    assert {r.external_id for r in snapshot.records if len(r.submitted()) == 2} >= {secret_id}

    refused = export_dataset(project, out=tmp_path / "refused", allow_small=True).manifest
    exported = {e.id for split in refused.splits for e in load_split(tmp_path / "refused", split)}
    assert secret_id not in exported and len(exported) == 7
    assert refused.drops == {"contains a secret (export.allow_secret_ids lets it in)": 1}
    assert refused.lint.get("pii") == 1 and "secret" not in refused.lint  # the PII count of what was exported
    assert AWS_KEY not in "".join(p.read_text(errors="replace") for p in (tmp_path / "refused").rglob("*.jsonl"))

    allowed_project = Project.open(project.root, (f"export.allow_secret_ids=[{secret_id}]",))
    allowed = export_dataset(allowed_project, out=tmp_path / "allowed", allow_small=True).manifest
    exported = {e.id for split in allowed.splits for e in load_split(tmp_path / "allowed", split)}
    assert secret_id in exported and len(exported) == 8
    assert allowed.drops == {}
    assert allowed.lint.get("secret") == 1 and allowed.lint.get("pii") == 1  # let in, and still reported
