import json

from click.testing import CliRunner

from ftdata.cli import main
from ftdata.project import Project, init_project

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

    # A fresh project has no tokenizer: stats still works, on estimated counts, and says what to set (stderr).
    estimated = runner.invoke(main, ["stats", "--project", str(tmp_path), "--json"])
    assert estimated.exit_code == 0, estimated.output
    assert "set lint.tokenizer in ftdata.yaml" in estimated.stderr
    figures = json.loads(estimated.stdout)
    assert figures["estimated"] is True and figures["examples"] == 80
    first = gsm8k_rows[0]  # 4 characters per token, 8 characters of markup per turn, rounded up
    assert figures["prompt_tokens"]["max"] >= -(-(len(first["question"]) + 8) // 4)
    exact = sum(
        -(-(len(r["question"].strip()) + 8) // 4) + -(-(len(r["answer"].strip()) + 8) // 4) for r in gsm8k_rows[:80]
    )
    assert figures["dataset_tokens"] == exact


def test_init_writes_the_guidelines_it_names_from_the_style_spec(tmp_path):
    spec = tmp_path / "style.yaml"
    spec.write_text(
        "name: support-json\nchecks:\n  - check: format:json_schema\n    id: reply-shape\n    schema:\n"
        "      type: object\n      required: [category, reply]\n      additionalProperties: false\n"
        "      properties:\n        category: {enum: [billing, shipping]}\n"
        "        reply: {type: string, minLength: 1}\n"
        "  - check: length:max_words\n    max: 120\n"
    )
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--dataset", "tickets", "--style", str(spec)])
    assert result.exit_code == 0, result.output
    project = Project.open(tmp_path / "p")
    assert project.style_path.resolve() == spec.resolve() and project.config.style == "../style.yaml"
    text = project.guidelines_path.read_text()
    assert text.startswith("# Reviewing training examples: tickets")
    assert (
        "**reply-shape**: The answer is JSON that validates against a JSON Schema (a JSON object with the keys "
        'category (required: one of "billing", "shipping"), reply (required: text, not empty); no other keys).'
    ) in text
    assert "**length:max_words**: At most `max` words (whitespace-separated) (max: 120)." in text
    assert str(project.guidelines_path) in result.stdout
    # Without a spec: a starter that says how to describe the style; an existing file is kept unless --force.
    project.guidelines_path.write_text("our own rules\n")
    again = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--force"])
    assert again.exit_code == 0 and "Describe the house style here" in project.guidelines_path.read_text()
    init_project(tmp_path / "q")
    (tmp_path / "q" / "guidelines.md").write_text("kept\n")
    init_project(tmp_path / "q", force=True)
    assert "Describe the house style" in (tmp_path / "q" / "guidelines.md").read_text()


def test_results_go_to_stdout_and_progress_to_stderr(tmp_path, gsm8k_rows):
    """`ftdata check > lint.txt` keeps the report: results on stdout, progress bars and hints on stderr."""
    init_project(tmp_path)
    source = tmp_path / "raw.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in gsm8k_rows[:30]) + '{"question": "Q"}\n')
    runner = CliRunner()
    imported = runner.invoke(main, ["import", "--project", str(tmp_path), "--map", "user=question,assistant=answer",
                                    str(source)])  # fmt: skip
    assert imported.exit_code == 1
    assert "raw.jsonl" in imported.stdout and "listed by `ftdata check`" in imported.stderr
    checked = runner.invoke(main, ["check", "--project", str(tmp_path)])
    assert "30 examples" in checked.stdout and "schema" in checked.stdout and "example_count" in checked.stdout
    assert "30 examples" not in checked.stderr
    stats = runner.invoke(main, ["stats", "--project", str(tmp_path)])
    assert "training tokens" in stats.stdout and "training tokens" not in stats.stderr


def test_push_checks_its_inputs_before_the_lint(tmp_path, monkeypatch):
    """A missing guidelines file or an unreachable server is reported at once, not after a long lint."""
    import ftdata.lint

    def lint_ran(*args, **kwargs):
        raise AssertionError("the lint ran before the inputs were checked")

    monkeypatch.setattr(ftdata.lint, "lint", lint_ran)
    init_project(tmp_path)
    (tmp_path / "guidelines.md").unlink()
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")  # the discard port: nothing answers
    monkeypatch.setenv("ARGILLA_API_KEY", "unused")
    result = CliRunner().invoke(main, ["push", "--project", str(tmp_path)])
    assert result.exit_code == 2 and "guidelines.md not found" in result.output, result.output
    (tmp_path / "guidelines.md").write_text("Review carefully.\n")
    result = CliRunner().invoke(main, ["push", "--project", str(tmp_path)])
    assert result.exit_code == 2 and "cannot use Argilla at http://127.0.0.1:9" in result.output, result.output
