"""`ftdata draft` against `transformers serve`, a real OpenAI-compatible server started by the tests: drafts stored
with their provenance, a rerun that sends nothing (counted in the server's own log), and a server killed midway
that fails the run in one line, leaves the store as it was, and, once restarted, finishes from the cache with each
request answered once over both of the server's lives."""

import json
import re

import pytest
from click.testing import CliRunner
from draft_helpers import drafting_project, endpoint_settings, house_rows, write_prompts
from openai_server import TransformersServe

from ftcore.endpoint import EndpointError
from ftdata.cli import main
from ftdata.draft import draft_prompts
from ftdata.importers import ColumnMap
from ftdata.store import Store

pytestmark = pytest.mark.slow

DRAFT = {"n": 2, "max_new_tokens": 12, "shots": 2}


def drafted_examples(project):
    return [e for e in Store(project.store_path).read().examples if e.metadata.get("origin") == "drafted"]


def run(project, *args):
    return CliRunner().invoke(main, ["draft", "--project", str(project.root), *args])


def test_drafts_from_a_served_model_carry_provenance_and_a_rerun_sends_nothing(openai_server, gsm8k_rows, tmp_path):
    settings = endpoint_settings(openai_server.base_url, openai_server.model, concurrency=2, draft=DRAFT)
    project = drafting_project(tmp_path / "p", house_rows(gsm8k_rows, 0, 4), settings=settings)
    questions = [r["question"] for r in gsm8k_rows[600:603]]
    prompts = write_prompts(tmp_path / "questions.jsonl", questions, ticket=["A", "B", "C"])
    before = openai_server.chat_requests()

    result = run(project, str(prompts), "--map", "user=question", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["drafted"], report["requests"], report["cached"]) == (3, 6, 0)
    assert openai_server.chat_requests() - before == 6  # 3 prompts x 2 candidates, one request each
    assert report["completion_tokens"] > 0 and report["prompt_tokens"] > 0
    drafted = drafted_examples(project)
    assert sorted(e.messages[-2].content for e in drafted) == sorted(q.strip() for q in questions)
    for example in drafted:
        meta, draft = example.metadata, example.metadata["draft"]
        row = questions.index(example.messages[-2].content) + 1
        assert (meta["source"], meta["row"], meta["ticket"]) == (str(prompts), row, "ABC"[row - 1])
        assert draft["model"] == openai_server.model and draft["base_url"] == openai_server.base_url
        assert draft["backend"] == "endpoint" and draft["parameters"]["n"] == 2
        assert len(draft["candidates"]) == 2 and len(draft["shots"]) == 2
        chosen = draft["candidates"][draft["chosen"]]
        assert example.completion == chosen["text"] and chosen["checks"] == 4
        assert all(c["finish_reason"] in ("stop", "length") for c in draft["candidates"])

    version = Store(project.store_path).current_version()
    again = json.loads(run(project, str(prompts), "--map", "user=question", "--json").stdout)
    assert (again["drafted"], again["already_drafted"], again["requests"]) == (0, 3, 0)
    assert openai_server.chat_requests() - before == 6  # the server's own log: nothing more came
    assert Store(project.store_path).current_version() == version


def test_a_server_killed_midway_fails_in_one_line_and_the_rerun_pays_each_request_once(
    served_model_dir, gsm8k_rows, tmp_path
):
    server = TransformersServe(served_model_dir, tmp_path / "serve.log").start()
    try:
        settings = endpoint_settings(server.base_url, server.model, concurrency=1, max_retries=1, draft=DRAFT)
        project = drafting_project(tmp_path / "p", house_rows(gsm8k_rows, 0, 4), settings=settings)
        prompts = write_prompts(tmp_path / "questions.jsonl", [r["question"] for r in gsm8k_rows[700:705]])
        store_before = Store(project.store_path).current_version()
        answered = []

        def crash_after_two_prompts(stage, n, total, info):
            answered.append(n)
            if sum(answered) >= 2:
                server.kill()  # SIGKILL, as a crash: the request in flight gets no answer

        mapping = ColumnMap.parse("user=question", answer_required=False)
        with pytest.raises(EndpointError) as error:
            draft_prompts(project, [prompts], mapping=mapping, progress=crash_after_two_prompts)
        message = str(error.value)
        assert "\n" not in message
        found = re.fullmatch(
            rf"draft\.endpoint\.base_url: {re.escape(server.base_url)}: connection lost after (\d+) of 10 answers "
            r"\(.*\); rerun to continue from the cache",
            message,
        )
        assert found, message
        paid = server.chat_requests()
        assert 4 <= paid < 10 and int(found.group(1)) == paid
        assert Store(project.store_path).current_version() == store_before  # nothing half-written
        assert drafted_examples(project) == []

        server.start()  # the same port, so the same base_url: the cache applies
        result = run(project, str(prompts), "--map", "user=question", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["drafted"] == 5 and report["requests"] == 10 - paid
        assert server.chat_requests() == 10  # over both lives of the server: each candidate asked for once
        assert len({e.metadata["draft"]["prompt_id"] for e in drafted_examples(project)}) == 5
    finally:
        server.stop()


def test_the_cli_says_a_lost_server_in_one_line(served_model_dir, gsm8k_rows, tmp_path):
    server = TransformersServe(served_model_dir, tmp_path / "serve.log")  # never started: nothing listens there
    settings = endpoint_settings(server.base_url, server.model, draft=DRAFT)
    project = drafting_project(tmp_path / "p", [], settings=settings)
    prompts = write_prompts(tmp_path / "questions.jsonl", ["What is 6 times 7?"])
    result = run(project, str(prompts), "--map", "user=question")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: draft.endpoint.base_url: {server.base_url}")
