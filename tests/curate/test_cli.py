import json

from click.testing import CliRunner

from ftdata.cli import main

GOOD = '{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}\n'


def test_validate_ok_writes_normalised_examples(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(GOOD + '{"prompt": "Q2", "completion": "A2"}\n')
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["validate", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["messages"][-1]["content"] for r in records] == ["A", "A2"]
    assert all(r["id"].startswith("ex_") for r in records)


def test_validate_reports_problems_exit_1_and_writes_nothing(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(GOOD + "{not json\n" + '{"messages": [{"role": "user", "content": "Q"}]}\n')
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["validate", str(source), "--out", str(out)])
    assert result.exit_code == 1
    assert f"{source}:2: not valid JSON" in result.output
    assert f"{source}:3: messages[0].role: the last turn must be the assistant's answer" in result.output
    assert not out.exists()


def test_validate_json_report(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("[]\n")
    result = CliRunner().invoke(main, ["validate", "--json", str(source)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["files"][0]["problems"][0] == {
        "path": str(source),
        "line": 1,
        "field": None,
        "reason": "expected a JSON object, got array",
    }


def test_unreadable_file_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_ping_without_configuration_is_a_clean_error(monkeypatch):
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["ping"])
    assert result.exit_code == 2
    assert "ARGILLA_API_URL and ARGILLA_API_KEY not set" in result.output
    assert "Traceback" not in result.output
