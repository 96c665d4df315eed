import gzip
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftcore import jsonl
from ftcore.errors import FtdataError
from ftcore.jsonl import UnreadableFile
from ftdata.cli import main
from ftdata.importers import ColumnMap, import_files
from ftdata.lint import lint
from ftdata.project import Project, init_project
from ftdata.store import Store


@pytest.fixture
def project(tmp_path):
    init_project(tmp_path / "project")
    return Project.open(tmp_path / "project")


def chat_line(question, answer, **extra):
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages, **extra})


def tree_digest(folder: Path) -> str:
    """Everything under a folder, names and bytes: to prove a failed import changed nothing."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_chat_and_prompt_completion_jsonl_with_provenance(project, tmp_path):
    source = tmp_path / "raw.jsonl"
    source.write_text(
        chat_line("Q1", "A1", metadata={"tags": ["math"]})
        + "\n"
        + json.dumps({"prompt": "Q2", "completion": "A2"})
        + "\n"
    )
    [result] = import_files(project, [source])
    assert (result.rows, result.added, result.format) == (2, 2, "jsonl")
    examples = Store(project.store_path).read().examples
    assert [e.completion for e in examples] == ["A1", "A2"]
    assert examples[0].metadata == {"tags": ["math"], "source": str(source), "row": 1}
    assert examples[1].metadata["row"] == 2


def test_reimport_adds_nothing_and_keeps_the_version(project, tmp_path):
    source = tmp_path / "raw.jsonl"
    source.write_text(chat_line("Q1", "A1") + "\n" + chat_line("Q1", "A1  ") + "\n" + "{broken\n")
    first = import_files(project, [source])[0]
    assert (first.added, first.already_present, len(first.rejected)) == (1, 1, 1)
    version = Store(project.store_path).current_version()
    again = import_files(project, [source])[0]
    # The file still holds its broken row (reported again), but nothing changed: the store keeps its version.
    assert (again.added, again.already_present, len(again.rejected), again.superseded) == (0, 2, 1, 0)
    snapshot = Store(project.store_path).read()
    assert snapshot.version == version
    assert len(snapshot.examples) == 1 and len(snapshot.rejected) == 1


def test_csv_with_map_keeps_other_columns(project, tmp_path):
    source = tmp_path / "raw.csv"
    source.write_text('question,answer,topic,system_prompt\n"What, exactly?","Line one\nline two",ops,Be brief\n')
    mapping = ColumnMap.parse("user=question, assistant=answer, system=system_prompt")
    [result] = import_files(project, [source], mapping=mapping)
    assert result.added == 1
    [example] = Store(project.store_path).read().examples
    assert [m.role for m in example.messages] == ["system", "user", "assistant"]
    assert example.completion == "Line one\nline two"
    assert example.metadata["topic"] == "ops"


def test_parquet_and_hf_folder(project, tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"prompt": f"P{i}", "completion": f"C{i}"} for i in range(3)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "raw.parquet")
    chat = [
        {"messages": [{"role": "user", "content": f"U{i}"}, {"role": "assistant", "content": f"A{i}"}]}
        for i in range(2)
    ]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(chat)}).save_to_disk(str(tmp_path / "hf"))
    results = import_files(project, [tmp_path / "raw.parquet", tmp_path / "hf"])
    assert [(r.format, r.added) for r in results] == [("parquet", 3), ("hf", 2)]
    hf_example = Store(project.store_path).read().examples[-1]
    assert hf_example.metadata["hf_split"] == "train"


def test_gzip_jsonl(project, tmp_path):
    source = tmp_path / "raw.jsonl.gz"
    source.write_bytes(gzip.compress((chat_line("Q", "A") + "\n").encode()))
    assert import_files(project, [source])[0].added == 1


TICKETS = (
    "\ufeffticket_id,channel,customer_message,agent_reply\n"
    'T-1,email,"Hello,\nmy order never came.\nCan you check?",Sorry: I have reshipped it.\n'
    "T-2,chat,Where is my refund?,It was sent on Monday.\n"
    'T-3,phone,"Two\nlines",\n'  # an empty answer: rejected
    "T-4,web,Change my address,Done.\n"
)


def test_a_file_whose_columns_do_not_map_is_refused_whole(project, tmp_path):
    """Without --map, a CSV of a team's own columns is not 4 rejected rows in the store but one error, and nothing
    changes; a JSONL file none of whose rows has the contract's keys likewise."""
    runner = CliRunner()
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(TICKETS, encoding="utf-8")
    result = runner.invoke(main, ["import", "--project", str(project.root), str(tickets)])
    assert result.exit_code == 2 and "tickets.csv: no 'messages' or 'prompt'/'completion' columns" in result.output
    assert "(has: ticket_id, channel, customer_message, agent_reply)" in result.output  # the BOM is not a column
    assert "pass --map user=COL,assistant=COL" in result.output and "nothing was imported" in result.output
    assert Store(project.store_path).current_version() is None
    # Columns are known from the header: refused at once, before a broken byte further down is even read.
    many = "".join(f"T-{n},chat,Where is order {n}?,On its way.\n" for n in range(5, 5000))
    tickets.write_bytes((TICKETS + many).encode() + "T-9,email,Caf\u00e9?,Oui\n".encode("latin-1"))
    early = runner.invoke(main, ["import", "--project", str(project.root), str(tickets)])
    assert early.exit_code == 2 and "no 'messages'" in early.output and "not UTF-8" not in early.output
    rows = tmp_path / "raw.jsonl"
    rows.write_text(json.dumps({"question": "Q", "answer": "A"}) + "\n" + json.dumps({"question": "Q2"}) + "\n")
    with pytest.raises(UnreadableFile, match=r"raw.jsonl: no 'messages'.*nothing was imported"):
        import_files(project, [rows])
    assert Store(project.store_path).current_version() is None
    # A row without the keys among rows that have them is one rejected row, as before.
    rows.write_text(chat_line("Q", "A") + "\n" + json.dumps({"question": "Q2", "answer": "A2"}) + "\n")
    [result] = import_files(project, [rows])
    assert result.added == 1 and "pass --map user=COL,assistant=COL" in result.rejected[0].problems[0][1]


def test_rejections_belong_to_their_import_and_a_later_import_of_the_source_replaces_them(project, tmp_path):
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(TICKETS, encoding="utf-8")
    mapping = ColumnMap.parse("user=customer_message,assistant=agent_reply")
    [first] = import_files(project, [tickets], mapping=mapping)
    assert (first.added, len(first.rejected)) == (3, 1)
    store = Store(project.store_path)
    [rejected] = store.read().rejected
    assert (rejected.row, rejected.line, rejected.import_id) == (3, 6, 1)  # T-3: data row 3 starts on line 6
    assert "(import 1, store v000001)" in lint(project).issues["schema"][0].message
    # The team fixes the empty answer and imports the file again: the stale rejection is gone, not reported forever.
    tickets.write_text(TICKETS.replace('"Two\nlines",\n', '"Two\nlines",Both fixed.\n'), encoding="utf-8")
    [second] = import_files(project, [tickets], mapping=mapping)
    assert (second.added, len(second.rejected), second.superseded) == (1, 0, 1)
    assert store.read().rejected == [] and lint(project).issues["schema"] == []
    imports = store.read().imports
    assert [(entry["id"], entry["version"], entry["rejected"]) for entry in imports] == [
        (1, "v000001", 1),
        (2, "v000002", 0),
    ]
    # Another source's rejections are its own: importing tickets.csv again leaves them alone.
    other = tmp_path / "other.jsonl"
    other.write_text(chat_line("Q", "") + "\n")
    import_files(project, [other])
    import_files(project, [tickets], mapping=mapping)
    assert [r.source for r in store.read().rejected] == [str(other)]


def test_csv_positions_name_the_file_line_and_the_data_row(project, tmp_path):
    """A cell spanning lines puts a record's first line below its row number (+1 for the header): check names
    the file line an editor jumps to, the data row, and the team's own id column."""
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(TICKETS.replace("Change my address,Done.", "Change my address,Sorry! Great question!"))
    project.config.id_column = "ticket_id"
    import_files(project, [tickets], mapping=ColumnMap.parse("user=customer_message,assistant=agent_reply"))
    examples = {e.metadata["ticket_id"]: e for e in Store(project.store_path).read().examples}
    assert {k: (e.metadata["row"], e.metadata["line"]) for k, e in examples.items()} == {
        "T-1": (1, 2),
        "T-2": (2, 5),
        "T-4": (4, 8),
    }
    spec = tmp_path / "style.yaml"
    spec.write_text("checks:\n  - check: phrases:forbidden\n    phrases: [great question]\n")
    project.config.style = str(spec)
    report = lint(project)
    assert report.issues["style"][0].locations == [f"{tickets}:8 (row 4, ticket_id T-4)"]
    assert report.issues["schema"][0].locations == [f"{tickets}:6 (row 3, ticket_id T-3)"]


def test_review_queue_examples_are_marked_as_test_prompts(project, tmp_path):
    """fteval's review_queue.jsonl holds the fine-tune's answers to *test* prompts: imported for review, each is
    marked (`holdout: test`, its origin kept), counted, and said so on the command line."""
    queue = tmp_path / "review_queue.jsonl"
    marked = {"source": "fteval:finetuned", "test_id": "ex_0123456789abcdef", "failed_checks": ["json"]}
    queue.write_text(
        chat_line("Where is my parcel?", "it is late", metadata=marked) + "\n" + chat_line("Q", "A") + "\n"
    )
    result = CliRunner().invoke(main, ["import", "--project", str(project.root), str(queue)])
    assert result.exit_code == 0 and "1 example(s) hold test prompts" in result.stderr
    first, second = Store(project.store_path).read().examples
    assert first.metadata["holdout"] == "test" and first.metadata["origin"] == "fteval:finetuned"
    assert first.metadata["test_id"] == "ex_0123456789abcdef" and first.metadata["source"] == str(queue)
    assert "holdout" not in second.metadata


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, dict]]:
    good = (chat_line("Q", "A") + "\n").encode()
    files = {
        "binary": (tmp_path / "image.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))),
        "truncated gzip": (tmp_path / "cut.jsonl.gz", gzip.compress(good * 200)[:-30]),
        "latin-1 jsonl": (tmp_path / "latin.jsonl", good + good.replace(b'"Q"', '"Café?"'.encode("latin-1"))),
        "latin-1 csv": (tmp_path / "latin.csv", "question,answer\nCafé?,Oui\n".encode("latin-1")),
        "csv missing mapped column": (tmp_path / "cols.csv", b"q,a\nx,y\n"),
        "line too long": (tmp_path / "long.jsonl", good + b'{"messages": "' + b"x" * 5000 + b'"}\n'),
        "not parquet": (tmp_path / "fake.parquet", b"PAR1 not really"),
    }
    for path, content in files.values():
        path.write_bytes(content)
    return files


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("binary", "binary data"),
        ("truncated gzip", "truncated gzip"),
        ("latin-1 jsonl", "latin.jsonl:2: not valid UTF-8 (byte 0xe9"),
        ("latin-1 csv", "not UTF-8"),
        ("csv missing mapped column", "no column 'question' named in --map (columns: q, a)"),
        ("line too long", "long.jsonl:2: line longer than"),
        ("not parquet", "not a readable Parquet file"),
    ],
)
def test_bad_file_is_one_clear_error_and_the_store_is_untouched(project, tmp_path, monkeypatch, case, message):
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1024)  # stands in for a 2 GB single line
    good = tmp_path / "good.jsonl"
    good.write_text(chat_line("Q0", "A0") + "\n")
    import_files(project, [good])
    before = tree_digest(project.store_path)
    bad, _ = _bad_files(tmp_path)[case]
    mapping = ColumnMap.parse("user=question,assistant=answer") if "csv" in case else None
    extra = tmp_path / ("extra.csv" if mapping else "extra.jsonl")
    extra.write_text("question,answer\nQ9,A9\n" if mapping else chat_line("Q9", "A9") + "\n")
    with pytest.raises(UnreadableFile) as raised:
        import_files(project, [extra, bad], mapping=mapping)  # the good file before it is not kept either
    assert message in str(raised.value) and str(bad.name) in str(raised.value)
    assert "\n" not in str(raised.value)
    assert tree_digest(project.store_path) == before


def test_cli_exit_codes(project, tmp_path):
    runner = CliRunner()
    good, bad_row, unreadable = tmp_path / "good.jsonl", tmp_path / "row.jsonl", tmp_path / "none.jsonl"
    good.write_text(chat_line("Q", "A") + "\n")
    bad_row.write_text(chat_line("Q2", "") + "\n")
    args = ["import", "--project", str(project.root)]
    assert runner.invoke(main, [*args, str(good)]).exit_code == 0
    result = runner.invoke(main, [*args, str(bad_row)])
    assert result.exit_code == 1 and "ftdata check" in result.output
    result = runner.invoke(main, [*args, str(unreadable)])
    assert result.exit_code == 2 and "none.jsonl: not found" in result.output
    result = runner.invoke(main, [*args, "--json", str(good)])
    assert json.loads(result.stdout)[0]["already_present"] == 1


@pytest.mark.parametrize("text", ["user=q", "assistant=a", "user=q,assistant=a,bot=b", "user:q,assistant=a"])
def test_bad_map(text):
    with pytest.raises(FtdataError, match="--map"):
        ColumnMap.parse(text)
