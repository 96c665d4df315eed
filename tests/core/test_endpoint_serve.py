"""The endpoint client against `transformers serve`, a real OpenAI-compatible server started by the tests: the same
greedy answers as the local generator, a cached rerun that sends nothing (counted in the server's own log), and a
server killed mid-run, then restarted, that finishes from the cache with each prompt answered once."""

import re
import sqlite3

import pytest
from openai_server import TransformersServe
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftcore.endpoint import Endpoint, EndpointError, EndpointGenerator
from ftcore.generate import TransformersGenerator

pytestmark = pytest.mark.slow

MAX_NEW_TOKENS = 16


def questions(rows, count, offset=0):
    """Contestant-style prompts: a system turn and GSM8K questions cut to different lengths."""
    return [
        [
            {"role": "system", "content": "Answer in the house format."},
            {"role": "user", "content": r["question"][: 30 + 20 * i]},
        ]
        for i, r in enumerate(rows[offset : offset + count])
    ]


def local_answers(model_dir, conversations):
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    return TransformersGenerator(model, tokenizer, batch_size=8).complete(conversations, MAX_NEW_TOKENS)


def served(server, **settings):
    return Endpoint(base_url=server.base_url, model=server.model, max_tokens=MAX_NEW_TOKENS, **settings)


def test_greedy_answers_equal_the_local_generators(openai_server, served_model_dir, gsm8k_rows, tmp_path):
    conversations = questions(gsm8k_rows, 12)
    remote = EndpointGenerator(served(openai_server, concurrency=4), tmp_path / "cache").complete(conversations)
    local = local_answers(served_model_dir, conversations)
    assert [a.text for a in remote] == [a.text for a in local]
    assert [a.prompt_tokens for a in remote] == [a.prompt_tokens for a in local]
    assert [a.completion_tokens for a in remote] == [a.completion_tokens for a in local]
    # The one bounded difference: a turn that ends on exactly the last allowed token is "stop" locally (the model
    # ended it) but "length" for transformers serve, which calls any answer reaching max_tokens "length".
    for r, lo in zip(remote, local, strict=True):
        expected = "length" if lo.completion_tokens == MAX_NEW_TOKENS else lo.finish_reason
        assert r.finish_reason == expected
    assert {a.finish_reason for a in local} == {"stop", "length"}  # both kinds were compared


def test_a_rerun_sends_zero_requests(openai_server, gsm8k_rows, tmp_path):
    conversations = questions(gsm8k_rows, 6, offset=20)
    before = openai_server.chat_requests()
    first = EndpointGenerator(served(openai_server), tmp_path / "cache").complete(conversations)
    assert openai_server.chat_requests() - before == 6
    rerun = EndpointGenerator(served(openai_server), tmp_path / "cache")
    again = rerun.complete(conversations)
    assert openai_server.chat_requests() - before == 6  # the server's own log: nothing more came
    assert [a.text for a in again] == [a.text for a in first] and rerun.stats.requests == 0


def test_a_server_killed_midway_then_restarted_finishes_from_the_cache(served_model_dir, gsm8k_rows, tmp_path):
    conversations = questions(gsm8k_rows, 8, offset=40)
    expected = [a.text for a in local_answers(served_model_dir, conversations)]
    server = TransformersServe(served_model_dir, tmp_path / "serve.log").start()
    try:
        answered = []

        def crash_after_three(n):
            answered.append(n)
            if sum(answered) == 3:
                server.kill()  # SIGKILL, as a crash: requests in flight get no answer

        settings = served(server, concurrency=1, max_retries=1)
        generator = EndpointGenerator(settings, tmp_path / "cache", label="draft.endpoint", progress=crash_after_three)
        with pytest.raises(EndpointError) as error:
            generator.complete(conversations)
        message = str(error.value)
        found = re.fullmatch(
            rf"draft\.endpoint\.base_url: {re.escape(server.base_url)}: connection lost after (\d) of 8 answers "
            r"\([^\n]*\); rerun to continue from the cache",
            message,
        )
        assert found, message
        paid = int(found.group(1))
        assert 3 <= paid < 8 and server.chat_requests() == paid
        db = sqlite3.connect(tmp_path / "cache" / "answers.sqlite")
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone() == (paid,)  # every answer it got is kept

        server.start()  # the same port, so the same base_url: the cache applies
        resumed = EndpointGenerator(served(server), tmp_path / "cache", label="draft.endpoint")
        answers = resumed.generate(conversations)
        assert answers == expected
        assert resumed.stats.cached == paid and resumed.stats.requests == 8 - paid
        assert server.chat_requests() == 8  # over both lives of the server: each prompt answered once
    finally:
        server.stop()


def test_native_n_on_a_server_that_ignores_n_fails_in_one_line(openai_server, tmp_path):
    settings = served(openai_server, temperature=0.9, n=3, native_n=True)
    generator = EndpointGenerator(settings, tmp_path / "cache", label="draft.endpoint")
    with pytest.raises(EndpointError) as error:
        generator.generate([[{"role": "user", "content": "Draft an answer."}]])
    assert str(error.value) == (
        f"draft.endpoint.native_n: {openai_server.base_url} returned 1 choice(s) for n=3: it does not support n; "
        "set native_n: false"
    )


def test_seeded_candidates_over_the_endpoint(openai_server, tmp_path):
    # transformers serve samples when the model's generation_config says do_sample (the served model's does) and
    # seeds torch per request; one request at a time, the same seeds give the same candidates.
    settings = served(openai_server, temperature=1.0, n=3, seed=7, concurrency=1)
    prompt = [[{"role": "user", "content": "Natalia sold clips to 48 of her friends in April."}]]
    [first] = EndpointGenerator(settings, tmp_path / "one").complete(prompt)
    [second] = EndpointGenerator(settings, tmp_path / "two").complete(prompt)
    assert len(first.candidates) == 3 and len({c.text for c in first.candidates}) > 1
    assert first.candidates == second.candidates
