"""The store's versions: `ftdata store list`, `rollback` and `drop-rejected`, and how many versions are kept."""

import json

import pytest
from click.testing import CliRunner

from ftdata.cli import main
from ftdata.importers import import_files
from ftdata.lint import lint
from ftdata.project import Project, init_project
from ftdata.store import Store, StoreError


def chat(question, answer):
    return json.dumps({"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]})


@pytest.fixture
def project(tmp_path):
    init_project(tmp_path / "project")
    return Project.open(tmp_path / "project")


def write(path, *lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_list_rollback_and_drop_rejected(project, tmp_path):
    runner = CliRunner()
    args = ["--project", str(project.root)]
    first = write(tmp_path / "a.jsonl", chat("Q1", "A1"), chat("Q2", ""))  # one rejected row
    second = write(tmp_path / "b.jsonl", chat("Q3", "A3"), chat("Q4", "A4"))
    import_files(project, [first])
    import_files(project, [second])

    listed = runner.invoke(main, ["store", "list", *args, "--json"])
    assert listed.exit_code == 0, listed.output
    versions = json.loads(listed.stdout)
    assert [(v["version"], v["action"], v["examples"], v["rejected"], v["current"]) for v in versions] == [
        ("v000001", "import", 1, 1, False),
        ("v000002", "import", 3, 1, True),
    ]
    assert "b.jsonl (+2, 0 rejected)" in versions[1]["detail"]
    text = runner.invoke(main, ["store", "list", *args])
    assert "v000002" in text.stdout and "import" in text.stdout

    # Roll back the second import: its two examples go, as a new version that can itself be undone.
    rolled = runner.invoke(main, ["store", "rollback", "v000001", *args])
    assert rolled.exit_code == 0 and "v000003: the content of v000001 is current again" in rolled.stdout
    store = Store(project.store_path)
    assert store.current_version() == "v000003"
    assert [e.completion for e in store.read().examples] == ["A1"]
    assert store.describe()[-1].action == "rollback"
    again = runner.invoke(main, ["store", "rollback", "v000003", *args])
    assert again.exit_code == 2 and "v000003 is already the current version" in again.output
    missing = runner.invoke(main, ["store", "rollback", "v000099", *args])
    assert missing.exit_code == 2 and "no version 'v000099' (kept: v000001, v000002, v000003)" in missing.output

    assert len(lint(project).issues["schema"]) == 1
    dropped = runner.invoke(main, ["store", "drop-rejected", *args, "--source", "elsewhere.jsonl"])
    assert dropped.exit_code == 0 and "no rejected rows to drop" in dropped.stdout
    dropped = runner.invoke(main, ["store", "drop-rejected", *args])
    assert dropped.exit_code == 0 and "v000004: 1 rejected row(s) dropped" in dropped.stdout
    assert lint(project).issues["schema"] == [] and [e.completion for e in store.read().examples] == ["A1"]


def test_only_the_newest_versions_are_kept(project, tmp_path):
    project.config.store_history = 2
    for n in range(4):
        import_files(project, [write(tmp_path / f"{n}.jsonl", chat(f"Q{n}", f"A{n}"))])
    store = Store(project.store_path)
    assert store.versions() == ["v000003", "v000004"] and store.current_version() == "v000004"
    with pytest.raises(StoreError, match="no version 'v000001'"):
        store.read("v000001")
    assert len(store.read("v000003").examples) == 3
