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


def test_stats_with_a_local_tokenizer(tmp_path, tiny_tokenizer_dir, gsm8k_rows):
    from ftdata.importers import ColumnMap, import_files
    from ftdata.project import Project, init_project

    init_project(tmp_path)
    source = tmp_path / "raw.jsonl"
    source.write_text("".join(json.dumps({**r, "tags": "math"}) + "\n" for r in gsm8k_rows[:80]))
    import_files(Project.open(tmp_path), [source], mapping=ColumnMap.parse("user=question,assistant=answer"))
    runner = CliRunner()
    args = ["stats", "--project", str(tmp_path), "--set", f"lint.tokenizer={tiny_tokenizer_dir}"]
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["examples"] == 80 and stats["by_source"] == {"raw.jsonl": 80} and stats["by_tag"] == {"math": 80}
    assert stats["training_tokens"] == 3 * stats["dataset_tokens"] > 0
    assert set(stats["costs"]) == {"hosted fine-tuning (low)", "hosted fine-tuning (high)"}
    assert (tmp_path / ".ftdata" / "token_histogram.png").read_bytes()[:4] == b"\x89PNG"
    text = runner.invoke(main, [*args, "--plot", str(tmp_path / "h.png")])
    assert text.exit_code == 0 and "training tokens" in text.output and (tmp_path / "h.png").exists()

    no_tokenizer = runner.invoke(main, ["stats", "--project", str(tmp_path)])
    assert no_tokenizer.exit_code == 2 and "lint.tokenizer is not set" in no_tokenizer.output
