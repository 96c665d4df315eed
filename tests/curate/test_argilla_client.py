"""Against the real local Argilla server (scripts/argilla-local.sh), with its real owner key."""

import uuid

import argilla as rg
import pytest

from ftdata import Example
from ftdata.argilla_client import ArgillaConnection, ArgillaUnavailable, record_fields

pytestmark = pytest.mark.argilla


@pytest.fixture
def workspace(argilla_client):
    workspace = rg.Workspace(name=f"ftkit-test-{uuid.uuid4().hex[:8]}", client=argilla_client).create()
    yield workspace
    for dataset in workspace.datasets:
        dataset.delete()
    workspace.delete()


def review_settings():
    return rg.Settings(
        fields=[rg.ChatField(name="conversation"), rg.TextField(name="answer")],
        questions=[rg.LabelQuestion(name="verdict", labels=["accept", "reject", "needs-edit"])],
    )


def test_log_read_back_and_relog_examples(argilla_client, workspace):
    examples = [
        Example.from_prompt_completion("What is 2+2?", "2+2=<<2+2=4>>4\n#### 4", system="Answer in house format."),
        Example.from_prompt_completion("Ünïcode — and <b>markup</b>?", "Kept as is.", metadata={"row": 2}),
        Example.create(
            [
                {"role": "user", "content": "First question"},
                {"role": "assistant", "content": "First answer"},
                {"role": "user", "content": "Follow-up"},
                {"role": "assistant", "content": "Second answer"},
            ]
        ),
    ]
    dataset = rg.Dataset(name="wiring", workspace=workspace, settings=review_settings(), client=argilla_client)
    dataset.create()
    dataset.records.log([rg.Record(id=ex.id, fields=record_fields(ex)) for ex in examples])

    stored = {record.id: record for record in dataset.records}
    assert set(stored) == {ex.id for ex in examples}
    for ex in examples:
        fields = stored[ex.id].fields
        assert fields["answer"] == ex.completion
        assert [(m["role"], m["content"]) for m in _as_dicts(fields["conversation"])] == [
            (m.role, m.content) for m in ex.prompt_messages
        ]

    # The example id is the record id: logging again updates, never duplicates.
    dataset.records.log([rg.Record(id=ex.id, fields=record_fields(ex)) for ex in examples])
    assert len(list(dataset.records)) == len(examples)

    dataset.delete()
    assert argilla_client.datasets(name="wiring", workspace=workspace) is None


def test_connection_reports_version_and_user(argilla_connection, argilla_client):
    assert argilla_connection.server_version() == "2.8.0"
    assert argilla_client.me.role == "owner"


def test_wrong_key_is_a_clean_error_without_the_key(argilla_connection):
    wrong = ArgillaConnection(api_url=argilla_connection.api_url, api_key="not-a-real-key-ftkit")
    with pytest.raises(ArgillaUnavailable) as raised:
        wrong.client(retries=0)
    assert argilla_connection.api_url in str(raised.value)
    assert "not-a-real-key-ftkit" not in str(raised.value)
    assert repr(argilla_connection.api_key) not in repr(argilla_connection)


def _as_dicts(messages):
    return [m if isinstance(m, dict) else {"role": m.role, "content": m.content} for m in messages]
