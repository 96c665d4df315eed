"""`ftdata draft` on the in-process transformers path (a tiny local model) and against a real HTTP server scripted for
what a model cannot do on demand (echo answers with countable tokens, a key to refuse, 429s): prompts read like
`ftdata import` reads examples, the drafting prompt built from the project, candidates scored and the best kept,
provenance, reruns that add nothing, a run cut off that resumes from the cache, and one-line errors that leave the
store as it was. tests/curate/test_draft_serve.py runs it against `transformers serve`."""

import json
import sqlite3

import pytest
from click.testing import CliRunner
from draft_helpers import STYLE, drafting_project, endpoint_settings, house_rows, write_prompts
from openai_server import free_port

from ftcore.example import Example, Message, compute_id
from ftcore.generate import Answer, Candidate
from ftcore.style import StyleSpec
from ftdata.cli import main
from ftdata.draft import (
    IMPROVE_NOTE,
    PromptRow,
    _draft_example,
    draft_prompts,
    drafting_conversation,
    drafting_instructions,
    read_prompts,
)
from ftdata.guidelines import describe_check
from ftdata.importers import ColumnMap
from ftdata.project import Project
from ftdata.snapshot import Response, SnapshotRecord, _record_to_row, _write_snapshot
from ftdata.store import Store

KEY_VARIABLE = "FTKIT_TEST_DRAFT_KEY"
KEY = "sk-draft-7c1d9e-the-secret-itself"
OWN_SYSTEM = "This conversation's own system prompt, which the answer must follow too:"


def store_state(project):
    store = Store(project.store_path)
    return store.current_version(), len(store.read().examples)


def run(project, *args):
    return CliRunner().invoke(main, ["draft", "--project", str(project.root), *args])


# ----- what a drafting model is asked -----


def test_the_drafting_prompt_is_built_from_the_project(tmp_path):
    guidelines = (
        "# Reviewing\n\n## 1. The house style\n\nThe style spec (`ftdata check` tests it) holds every answer.\n\n"
        "- Write the units only in the reasoning, never on the last line.\n- One step per line.\n\n"
        "Some records come with suggestions from `ftdata check`.\n\n## 2. Verdict\n\nAccept or reject.\n"
    )
    project = drafting_project(tmp_path, [], settings={"draft": {"instructions": "Prefer whole numbers."}})
    project.guidelines_path.write_text(guidelines)
    spec = StyleSpec.load(STYLE)
    text = drafting_instructions(project, spec)
    for check in spec.checks:  # the spec in words, as the starter guidelines write it
        assert f"- {describe_check(check)}" in text
    assert "- Write the units only in the reasoning, never on the last line.\n- One step per line." in text
    assert "Prefer whole numbers." in text
    # Only the style section, and not what speaks of the tool: the verdict section and ftdata's own notes stay out.
    assert "Accept or reject" not in text and "ftdata" not in text and "suggestions" not in text

    project.config.draft.guidelines_section = None
    assert "One step per line" not in drafting_instructions(project, spec)


def test_the_conversation_holds_shots_the_prompts_own_system_turn_and_an_answer_to_improve():
    shots = [
        Example.from_prompt_completion("1+1?", "1+1 = <<1+1=2>>2\n#### 2", system="Old system"),
        Example.from_prompt_completion("2+3?", "2+3 = <<2+3=5>>5\n#### 5"),
    ]
    prompt = PromptRow((Message("system", "Answer kids."), Message("user", "2+3?")), "It is five.", {})
    messages = drafting_conversation("RULES", shots, prompt)
    assert messages == [
        {"role": "system", "content": f"RULES\n\n{OWN_SYSTEM}\nAnswer kids."},
        {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": "1+1 = <<1+1=2>>2\n#### 2"},
        # The shot of this very question is left out: the model would copy it.
        {"role": "user", "content": f"2+3?\n\n---\n{IMPROVE_NOTE}\nIt is five."},
    ]


def test_prompts_are_read_like_imports_with_or_without_answers(tmp_path):
    project = drafting_project(tmp_path / "p", [])
    jsonl = tmp_path / "prompts.jsonl"
    jsonl.write_text(
        json.dumps({"prompt": "What is 2+2?", "ticket": "T-1"}) + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "What is 3+3?"}]}) + "\n"
        + json.dumps({"prompt": "What is 4+4?", "completion": "eight"}) + "\n"
        + json.dumps({"messages": [{"role": "assistant", "content": "no question"}]}) + "\n"
    )  # fmt: skip
    csv = tmp_path / "tickets.csv"
    csv.write_text('body,reply,channel\nWhere is my parcel?,,email\n"Refund\nplease",Done.,chat\n')
    prompts, rejected = read_prompts(project, [jsonl])
    assert [(p.messages[-1].content, p.answer) for p in prompts] == [
        ("What is 2+2?", None),
        ("What is 3+3?", None),
        ("What is 4+4?", "eight"),
    ]
    assert prompts[0].metadata == {"ticket": "T-1", "source": str(jsonl), "row": 1}
    assert [(r.row, r.problems[0][0]) for r in rejected] == [(4, "messages[0].role")]
    mapped, rejected = read_prompts(project, [csv], mapping=ColumnMap.parse("user=body,assistant=reply", False))
    assert [(p.messages[-1].content, p.answer, p.metadata["channel"]) for p in mapped] == [
        ("Where is my parcel?", None, "email"),
        ("Refund\nplease", "Done.", "chat"),
    ]
    assert mapped[1].metadata["line"] == 3 and rejected == []


def test_a_file_with_no_prompt_column_asks_for_a_map_in_one_line(tmp_path):
    project = drafting_project(tmp_path / "p", [], settings={"draft": {"model": "unused"}})
    (tmp_path / "q.jsonl").write_text('{"question": "What is 2+2?"}\n{"question": "And 3+3?"}\n')
    (tmp_path / "q.csv").write_text("question,channel\nWhat is 2+2?,email\n")
    for name, columns in (("q.jsonl", "question"), ("q.csv", "question, channel")):
        result = run(project, str(tmp_path / name))
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == (
            f"Error: {tmp_path / name}: no 'messages' or 'prompt'/'completion' columns (has: {columns}): pass --map "
            "user=COLUMN (and assistant=COLUMN for an answer to improve); nothing drafted"
        )
    assert store_state(project)[1] == 0


# ----- candidates and the draft -----


def test_the_candidate_passing_most_checks_becomes_the_draft():
    spec = StyleSpec.load(STYLE)
    prompt = PromptRow((Message("user", "What is 2+2?"),), None, {"source": "q.jsonl", "row": 7})
    chatty = Candidate("Great question! It is 4.", 9, "stop")  # fails final-answer-line, calculator-notes, no-chatter
    good = Candidate("2+2 = <<2+2=4>>4\n#### 4", 14, "stop")  # passes all four
    cut = Candidate("2+2 = <<2+2=4>>4", 20, "length")  # fails final-answer-line only
    answer = Answer((chatty, good, Candidate("", 1, "stop"), cut), prompt_tokens=40, seconds=0.1)
    example = _draft_example(prompt, answer, spec, {"model": "teacher"})
    assert example.messages == (Message("user", "What is 2+2?"), Message("assistant", good.text))
    assert example.id == compute_id(example.messages)  # a content id, like every example's
    draft = example.metadata["draft"]
    assert draft["chosen"] == 1 and draft["model"] == "teacher"
    assert [(c["passed"], c["checks"], c["failed"]) for c in draft["candidates"]] == [
        (1, 4, ["final-answer-line", "calculator-notes", "no-chatter"]),
        (4, 4, []),
        (0, 4, ["final-answer-line", "calculator-notes", "no-chatter", "length:max_words"]),
        (3, 4, ["final-answer-line"]),
    ]
    assert example.metadata["origin"] == "drafted" and example.metadata["row"] == 7
    # Equal scores: a candidate the model ended goes before one cut at the token limit, then the first.
    tie = Answer((Candidate("4", 1, "length"), Candidate("four", 1, "stop")), 10, 0.1)
    assert _draft_example(prompt, tie, spec, {"model": "m"}).completion == "four"
    assert _draft_example(prompt, Answer((Candidate("", 1, "stop"),), 10, 0.1), spec, {"model": "m"}) is None


# ----- a local model, in process -----


def test_local_drafts_land_with_provenance_and_a_rerun_adds_nothing(tmp_path, tiny_model_dir, gsm8k_rows):
    project = drafting_project(
        tmp_path / "p", house_rows(gsm8k_rows, 0, 6), "draft.max_new_tokens=8", "draft.batch_size=2"
    )
    questions = [r["question"] for r in gsm8k_rows[100:105]]
    prompts = write_prompts(tmp_path / "prompts.jsonl", questions, ticket=["T-1", "T-2", "T-3", "T-4", "T-5"])
    mapping = ColumnMap.parse("user=question", answer_required=False)
    version_before, _ = store_state(project)
    result = draft_prompts(project, [prompts], mapping=mapping, model=str(tiny_model_dir))
    assert (result.prompts, result.drafted, result.requests, result.cached) == (5, 5, 5, 0)
    assert result.shot_source == "4 human-written from the store"  # no pull yet: the team's own examples
    drafted = [e for e in Store(project.store_path).read().examples if e.metadata.get("origin") == "drafted"]
    assert [e.messages[0].content for e in drafted] == [q.strip() for q in questions]
    for row, example in enumerate(drafted, start=1):
        meta, draft = example.metadata, example.metadata["draft"]
        assert (meta["source"], meta["row"], meta["ticket"]) == (str(prompts), row, f"T-{row}")
        assert draft["backend"] == "local" and draft["model"].endswith(tiny_model_dir.name)
        assert draft["parameters"] == {"temperature": 0.8, "top_p": 0.95, "n": 3, "seed": 0, "max_new_tokens": 8}
        assert len(draft["candidates"]) == 3 and draft["shots"] == result.shots
        assert example.completion == draft["candidates"][draft["chosen"]]["text"]
    assert result.version != version_before

    again = draft_prompts(project, [prompts], mapping=mapping, model=str(tiny_model_dir))
    assert (again.drafted, again.already_drafted, again.requests, again.cached, again.version) == (0, 5, 0, 0, None)
    assert store_state(project)[0] == result.version  # no new store version


def test_a_local_run_cut_off_resumes_from_the_cache(tmp_path, tiny_model_dir, gsm8k_rows):
    project = drafting_project(
        tmp_path / "p", house_rows(gsm8k_rows, 0, 4), "draft.max_new_tokens=6", "draft.batch_size=2"
    )
    prompts = write_prompts(tmp_path / "prompts.jsonl", [r["question"] for r in gsm8k_rows[200:205]])
    mapping = ColumnMap.parse("user=question", answer_required=False)
    before = store_state(project)
    ticks = []

    def killed_after_first_batch(stage, n, total, info):
        ticks.append(n)
        if len(ticks) == 2:  # (the first tick says what the cache answered: nothing)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        draft_prompts(project, [prompts], mapping=mapping, model=str(tiny_model_dir), progress=killed_after_first_batch)
    assert store_state(project) == before  # nothing half-written
    cache = sqlite3.connect(project.resolve(".ftdata/draft-cache") / "answers.sqlite")
    assert cache.execute("SELECT COUNT(*) FROM answers").fetchone() == (2,)  # the batch it finished is kept
    result = draft_prompts(project, [prompts], mapping=mapping, model=str(tiny_model_dir))
    assert (result.drafted, result.cached, result.requests) == (5, 2, 3)


def test_a_dry_run_prints_one_drafting_prompt_and_the_estimate(tmp_path, tiny_model_dir, gsm8k_rows):
    settings = {"draft": {"max_new_tokens": 16}}
    project = drafting_project(tmp_path / "p", house_rows(gsm8k_rows, 0, 4), settings=settings)
    prompts = write_prompts(tmp_path / "prompts.jsonl", [r["question"] for r in gsm8k_rows[300:303]])
    model = str(tiny_model_dir)
    result = run(project, str(prompts), "--map", "user=question", "--model", model, "--dry-run", "--n", "2")
    assert result.exit_code == 0, result.output
    assert "--- system ---" in result.stdout and gsm8k_rows[300]["question"].strip()[:60] in result.stdout
    # 3 prompts x 2 candidates = 6 to generate, each at most 16 new tokens
    assert "6 candidate(s) to generate" in result.stdout and "at most 96 completion tokens" in result.stdout
    assert "dry run: nothing sent, nothing stored" in result.stdout
    assert Store(project.store_path).read().examples and not project.resolve(".ftdata/draft-cache").exists()


# ----- the few-shot examples -----


def write_snapshot(project, records):
    info = {"id": "20260101T000000Z-draft", "workspace": "ftkit", "dataset": "draft-test", "content_sha256": "0" * 64,
            "guideline_version": "", "pulled_at": "2026-01-01T00:00:00+00:00", "review_design": {}}  # fmt: skip
    _write_snapshot(project.snapshots_path, info["id"], [_record_to_row(r) for r in records], info)


def reviewed(example, *verdicts, corrected=None, bulk_by=None):
    responses = tuple(
        Response(f"r{i}", "submitted", {"verdict": v, **({"corrected": corrected} if corrected else {})})
        for i, v in enumerate(verdicts)
    )
    metadata = {"source": "human.jsonl", **({"bulk_accepted_by": "r0"} if bulk_by else {})}
    return SnapshotRecord(example.id, f"srv-{example.id}", "completed", [m.to_dict() for m in example.prompt_messages],
                          example.completion, metadata, [], responses)  # fmt: skip


def test_shots_are_the_accepted_examples_of_the_latest_snapshot(tmp_path, gsm8k_rows):
    rows = house_rows(gsm8k_rows, 400, 6)
    project = drafting_project(tmp_path / "p", rows, "draft.shots=3")
    examples = {e.messages[0].content: e for e in Store(project.store_path).read().examples}
    a, b, c, d, e, f = (examples[r["question"].strip()] for r in rows)
    fixed = c.completion.replace("####", "So:\n####")
    write_snapshot(project, [
        reviewed(a, "accept", "accept"),
        reviewed(b, "reject", "reject"),
        reviewed(c, "needs-edit", "needs-edit", corrected=fixed),
        reviewed(d, "accept"),  # below the quorum of 2: not kept
    ])  # fmt: skip
    from ftdata.draft import choose_shots

    shots, source = choose_shots(project, StyleSpec.load(STYLE))
    # Kept by the reviews: a, and c with its correction; one more from the team's own examples, never b (rejected).
    assert source == "2 accepted in snapshot 20260101T000000Z-draft + 1 human-written from the store"
    assert shots[0].id in (a.id, Example.create([*c.prompt_messages, Message("assistant", fixed)]).id)
    assert {s.completion for s in shots[:2]} == {a.completion, fixed}
    assert shots[2].id in {d.id, e.id, f.id}


def test_shots_leave_out_unreviewed_drafts_and_test_prompts(tmp_path, gsm8k_rows):
    rows = [{"prompt": r["question"], "completion": r["answer"]} for r in house_rows(gsm8k_rows, 500, 4)]
    rows[0]["metadata"] = {"origin": "drafted"}  # a model's answer nobody reviewed
    rows[1]["metadata"] = {"source": "fteval:finetuned", "test_id": "t1"}  # a test prompt (fteval's review queue)
    project = drafting_project(tmp_path / "p", [])
    (project.root / "mixed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from ftdata.draft import choose_shots
    from ftdata.importers import import_files

    import_files(project, [project.root / "mixed.jsonl"])
    shots, _ = choose_shots(project, StyleSpec.load(STYLE))
    assert sorted(s.messages[0].content for s in shots) == sorted(r["prompt"].strip() for r in rows[2:])


# ----- an endpoint (a real HTTP server, scripted) -----


def test_endpoint_drafts_cost_what_the_server_counted_and_a_rerun_sends_nothing(tmp_path, scripted, gsm8k_rows):
    server = scripted()
    settings = endpoint_settings(server.base_url, "teacher", input_price_per_1m=1.0, output_price_per_1m=2.0,
                                 draft={"n": 2, "shots": 1})  # fmt: skip
    project = drafting_project(tmp_path / "p", house_rows(gsm8k_rows, 0, 3), settings=settings)
    prompts = write_prompts(tmp_path / "prompts.jsonl", ["What is 6 times 7?", "What is 9 minus 4?"])
    result = run(project, str(prompts), "--map", "user=question", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["drafted"], report["requests"], report["cached"]) == (2, 4, 0)
    chats = server.chat()
    assert len(chats) == 4 and {c.body["temperature"] for c in chats} == {0.8}
    assert sorted(c.body["seed"] for c in chats) == [0, 0, 1, 1]  # candidate i sends seed + i
    # The server counts words: prompt_tokens = words of every turn it got, completion = words of its answer.
    prompt_words = sum(len(m["content"].split()) for c in chats for m in c.body["messages"])
    completion_words = sum(len(f"echo: {c.body['messages'][-1]['content']} (sample 1)".split()) for c in chats)
    assert (report["prompt_tokens"], report["completion_tokens"]) == (prompt_words, completion_words)
    assert report["cost"] == pytest.approx((prompt_words * 1.0 + completion_words * 2.0) / 1e6)
    drafted = [e for e in Store(project.store_path).read().examples if e.metadata.get("origin") == "drafted"]
    echoed = {e.completion.split(" (sample")[0] for e in drafted}
    assert echoed == {"echo: What is 6 times 7?", "echo: What is 9 minus 4?"}
    assert {e.metadata["draft"]["base_url"] for e in drafted} == {server.base_url}

    version = Store(project.store_path).current_version()
    # The drafting prompt changes (new instructions, or new accepted examples after a pull): the cache no longer
    # matches, yet a prompt this model drafted already is not drafted again, and nothing is sent.
    with_more = project.config_path.read_text().replace("instructions: ''", "instructions: Be brief.")
    assert with_more != project.config_path.read_text()
    project.config_path.write_text(with_more)
    again = json.loads(run(project, str(prompts), "--map", "user=question", "--json").stdout)
    assert (again["drafted"], again["already_drafted"], again["requests"], again["cached"]) == (0, 2, 0, 0)
    assert len(server.chat()) == 4 and Store(project.store_path).current_version() == version


def test_limit_repeats_and_an_answer_to_improve(tmp_path, scripted):
    server = scripted()
    project = drafting_project(tmp_path / "p", [], settings=endpoint_settings(server.base_url, "teacher",
                                                                               draft={"n": 1, "shots": 0}))  # fmt: skip
    prompts = tmp_path / "tickets.csv"
    prompts.write_text(
        "body,reply\nWhere is my parcel?,\nCan I pay by card?,Yes.\nWhere is my parcel?,\nDo you ship to Oslo?,\n"
    )
    mapped = ("--map", "user=body,assistant=reply", "--json")
    first = json.loads(run(project, str(prompts), *mapped, "--limit", "2").stdout)
    # The first 2 distinct prompts; the third row repeats the first.
    assert (first["prompts"], first["drafted"], first["repeated"], first["requests"]) == (2, 2, 1, 2)
    improved = next(c for c in server.chat() if "Can I pay by card?" in c.body["messages"][-1]["content"])
    assert improved.body["messages"][-1]["content"] == f"Can I pay by card?\n\n---\n{IMPROVE_NOTE}\nYes."
    drafted = {e.messages[0].content: e for e in Store(project.store_path).read().examples}
    assert drafted["Can I pay by card?"].metadata["draft"]["improves"] == "Yes."
    assert "improves" not in drafted["Where is my parcel?"].metadata["draft"]

    rest = json.loads(run(project, str(prompts), *mapped).stdout)
    assert (rest["prompts"], rest["drafted"], rest["already_drafted"], rest["requests"]) == (3, 1, 2, 1)
    assert len(server.chat()) == 3 and len(Store(project.store_path).read().examples) == 3


def test_a_dry_run_against_an_endpoint_sends_nothing_and_prices_the_worst_case(tmp_path, scripted, gsm8k_rows):
    server = scripted()
    settings = endpoint_settings(server.base_url, "teacher", input_price_per_1m=1.0, output_price_per_1m=4.0,
                                 draft={"n": 3, "max_new_tokens": 100, "shots": 0})  # fmt: skip
    project = drafting_project(tmp_path / "p", [], settings=settings)
    prompts = write_prompts(tmp_path / "prompts.jsonl", ["What is 6 times 7?", "What is 9 minus 4?"])
    result = run(project, str(prompts), "--map", "user=question", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["dry_run"]
    conversation = plan["conversation"]
    assert [m["role"] for m in conversation] == ["system", "user"]
    assert conversation[1]["content"] == "What is 6 times 7?"
    # 2 prompts x 3 candidates = 6 requests; each prompt's characters (+8 per turn) / 4, rounded up, x 3 requests
    assert plan["requests"] == 6 and plan["max_completion_tokens"] == 600
    assert plan["prompt_tokens"] % 3 == 0 and plan["tokens_estimated"] is True
    assert plan["max_cost"] == pytest.approx((plan["prompt_tokens"] * 1.0 + 600 * 4.0) / 1e6)
    assert server.received == []  # not even GET /models


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing key", f"draft.endpoint.api_key_env: the environment variable {KEY_VARIABLE} is not set"),
        ("unreachable", "draft.endpoint.base_url: "),
        ("refused key", f"draft.endpoint.api_key_env: http://127.0.0.1:PORT/v1 refused the key in {KEY_VARIABLE}"),
        ("rate limited", "draft.endpoint: http://127.0.0.1:PORT/v1 still answered HTTP 429"),
    ],
)
def test_endpoint_failures_are_one_line_and_leave_the_store_as_it_was(
    tmp_path, scripted, gsm8k_rows, monkeypatch, case, expected
):
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    if case == "missing key":
        monkeypatch.delenv(KEY_VARIABLE)
    server = {
        "missing key": lambda: scripted(key=KEY),
        "unreachable": lambda: None,
        "refused key": lambda: scripted(key="sk-another-key", echo_key=True),
        "rate limited": lambda: scripted(key=KEY, chat_status=429, retry_after_ms=10),
    }[case]()
    url = server.base_url if server else f"http://127.0.0.1:{free_port()}/v1"
    settings = endpoint_settings(url, "teacher", api_key_env=KEY_VARIABLE, max_retries=2, timeout=5, concurrency=1)
    project = drafting_project(tmp_path / "p", house_rows(gsm8k_rows, 0, 2), settings=settings)
    prompts = write_prompts(tmp_path / "prompts.jsonl", ["What is 6 times 7?", "What is 9 minus 4?"])
    before = store_state(project)
    result = run(project, str(prompts), "--map", "user=question")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: " + expected.replace("PORT", url.split(":")[2][:-3]))
    assert KEY not in result.output
    assert store_state(project) == before
    if case == "rate limited":
        # One request at a time: the first, tried once and retried twice, fails the run; the worker may have taken
        # the next one before the failure stopped it (3 more tries), and then nothing more is sent (not all 18).
        assert len(server.chat()) in (3, 6)
    if case in ("unreachable", "missing key"):
        assert server is None or server.received == []


def test_sampling_is_set_once_for_both_backends(tmp_path):
    project = drafting_project(tmp_path / "p", [])
    text = project.config_path.read_text().replace("  endpoint: null", "  endpoint:\n    base_url: http://x/v1\n"
                                                   "    model: m\n    temperature: 0.2")  # fmt: skip
    project.config_path.write_text(text)
    with pytest.raises(Exception, match=r"draft\.endpoint\.temperature: not set here: set draft\.temperature"):
        Project.open(project.root)
