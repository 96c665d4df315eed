"""The OpenAI-compatible endpoint client against a real HTTP server scripted for what transformers serve cannot do
on demand (a key to check, 429, 5xx, slow answers): the config section, secrets, cache, retries with backoff,
concurrency, order, and one-line errors. tests/core/test_endpoint_serve.py runs it against transformers serve."""

import itertools
import sqlite3
import time
from dataclasses import dataclass

import pytest
from openai_server import free_port

from ftcore.config import ConfigError, build, load_config
from ftcore.endpoint import NO_KEY, Endpoint, EndpointError, EndpointGenerator

KEY_VARIABLE = "FTKIT_TEST_ENDPOINT_KEY"
KEY = "sk-test-3f9c1e7a-the-secret-itself"


def ask(*texts):
    return [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}] for text in texts]


def endpoint(server, **settings):
    return Endpoint(base_url=server.base_url, model="scripted", **settings)


# ----- the config section -----


@dataclass
class DraftLikeConfig:
    """A tool's config holding an endpoint section, as fteval's contestants and ftdata draft's config will."""

    teacher: Endpoint


def test_endpoint_loads_as_a_config_section_with_overrides(tmp_path):
    path = tmp_path / "draft.yaml"
    path.write_text(
        "teacher:\n  base_url: http://localhost:8000/v1\n  model: Qwen/Qwen2.5-7B-Instruct\n"
        "  api_key_env: TEACHER_KEY\n  temperature: 0.7\n  n: 3\n  seed: 5\n"
        "  input_price_per_1m: 0.15\n  output_price_per_1m: 0.6\n",
        encoding="utf-8",
    )
    config = load_config(DraftLikeConfig, path, ["teacher.concurrency=16"])
    assert config.teacher == Endpoint(
        base_url="http://localhost:8000/v1",
        model="Qwen/Qwen2.5-7B-Instruct",
        api_key_env="TEACHER_KEY",
        temperature=0.7,
        n=3,
        seed=5,
        concurrency=16,
        input_price_per_1m=0.15,
        output_price_per_1m=0.6,
    )
    with pytest.raises(ConfigError, match=r"draft\.yaml: teacher\.max_token: unknown key \(did you mean 'max_tokens'"):
        load_config(DraftLikeConfig, path, ["teacher.max_token=5"])


def test_a_key_written_where_the_variable_name_belongs_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as error:
        build(DraftLikeConfig, {"teacher": {"base_url": "https://api.openai.com/v1", "api_key_env": KEY}}, "x.yaml")
    message = str(error.value)
    assert "x.yaml: teacher: api_key_env: must be the NAME of an environment variable" in message
    assert KEY not in message and "3f9c" not in message


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"n": 3}, "n: 3 candidates need temperature > 0"),
        ({"temperature": -1.0}, "temperature: must be 0"),
        ({"concurrency": 0}, "concurrency: must be at least 1"),
        ({"base_url": "localhost:8000/v1"}, "base_url: must start with http"),
    ],
)
def test_bad_settings_name_themselves(settings, complaint):
    with pytest.raises(ValueError, match=complaint):
        Endpoint(**settings)


def test_cost_from_the_prices_per_million_tokens():
    priced = Endpoint(input_price_per_1m=0.15, output_price_per_1m=0.60)
    # 1,000 input tokens at 0.15 per 1M = 0.00015; 500 output tokens at 0.60 per 1M = 0.0003.
    assert priced.cost(1_000, 500) == pytest.approx(0.00045, abs=1e-12)
    assert Endpoint().cost(10**9, 10**9) == 0.0


# ----- secrets -----


def test_a_missing_key_variable_fails_in_one_line_before_any_request(scripted, monkeypatch, tmp_path):
    server = scripted(key=KEY)
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with pytest.raises(EndpointError) as error:
        EndpointGenerator(endpoint(server, api_key_env=KEY_VARIABLE), tmp_path / "cache", label="contestants.gpt")
    message = str(error.value)
    assert message.startswith(f"contestants.gpt.api_key_env: the environment variable {KEY_VARIABLE} is not set")
    assert "\n" not in message
    monkeypatch.setenv(KEY_VARIABLE, "  ")
    with pytest.raises(EndpointError, match=f"{KEY_VARIABLE} is empty"):
        EndpointGenerator(endpoint(server, api_key_env=KEY_VARIABLE))
    assert server.received == []  # nothing was sent
    assert not (tmp_path / "cache").exists()  # nor anything written


def test_the_key_goes_in_the_header_only_never_in_the_cache(scripted, monkeypatch, tmp_path):
    server = scripted(key=KEY)
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    generator = EndpointGenerator(endpoint(server, api_key_env=KEY_VARIABLE), tmp_path / "cache")
    assert generator.generate(ask("What is 2+2?")) == ["echo: What is 2+2?"]
    assert {r.authorization for r in server.received} == {f"Bearer {KEY}"}
    for path in (tmp_path / "cache").iterdir():  # the database and its journal
        assert KEY.encode() not in path.read_bytes() and KEY_VARIABLE.encode() not in path.read_bytes()
    # The cache does not depend on which key asked: another key (the server accepts it) reads the same answers.
    server.script.key = "sk-another-key"
    monkeypatch.setenv(KEY_VARIABLE, "sk-another-key")
    again = EndpointGenerator(endpoint(server, api_key_env=KEY_VARIABLE), tmp_path / "cache")
    assert again.generate(ask("What is 2+2?")) == ["echo: What is 2+2?"] and len(server.chat()) == 1


def test_a_keyless_server_never_gets_openai_api_key(scripted, monkeypatch):
    server = scripted()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-users-openai-key")
    EndpointGenerator(endpoint(server)).generate(ask("hi"))
    assert {r.authorization for r in server.received} == {f"Bearer {NO_KEY}"}


def test_http_401_names_the_key_variable_in_one_line(scripted, monkeypatch):
    server = scripted(key="sk-the-right-one")
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    generator = EndpointGenerator(endpoint(server, api_key_env=KEY_VARIABLE, max_retries=3), label="teacher")
    with pytest.raises(EndpointError) as error:
        generator.generate(ask("hi"))
    message = str(error.value)
    assert message == (
        f"teacher.api_key_env: {server.base_url} refused the key in {KEY_VARIABLE} (HTTP 401: Incorrect API key "
        "provided)"
    )
    assert [r.path for r in server.received] == ["/v1/models"]  # found by the preflight; a 401 is never retried
    keyless = EndpointGenerator(endpoint(server), label="teacher")
    with pytest.raises(EndpointError, match=r"^teacher\.api_key_env: .* wants an API key \(HTTP 401.*set api_key_env"):
        keyless.preflight()


def test_a_key_echoed_by_the_server_is_scrubbed_from_the_error(scripted, monkeypatch):
    server = scripted(key="sk-the-right-one", echo_key=True)
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    with pytest.raises(EndpointError) as error:
        EndpointGenerator(endpoint(server, api_key_env=KEY_VARIABLE)).preflight()
    assert str(error.value).endswith("(HTTP 401: Incorrect API key provided: ***)")


# ----- reachability, retries, timeouts -----


def test_an_unreachable_url_fails_in_one_line_quickly(tmp_path):
    nothing = f"http://127.0.0.1:{free_port()}/v1"
    generator = EndpointGenerator(Endpoint(base_url=nothing, model="m", max_retries=5), tmp_path / "c", label="judge")
    began = time.monotonic()
    with pytest.raises(EndpointError) as error:
        generator.generate(ask("hi"))
    assert time.monotonic() - began < 5  # the preflight does not retry
    assert str(error.value).startswith(f"judge.base_url: {nothing} is unreachable (")
    assert str(error.value).endswith("): is the server running?") and "\n" not in str(error.value)


@pytest.mark.slow
def test_429_is_retried_with_exponential_backoff_then_fails_in_one_line(scripted, tmp_path):
    server = scripted(chat_status=429)
    generator = EndpointGenerator(endpoint(server, max_retries=2), tmp_path / "cache", label="teacher")
    with pytest.raises(EndpointError) as error:
        generator.generate(ask("hi"))
    assert str(error.value) == (
        f"teacher: {server.base_url} still answered HTTP 429 (rate limited: scripted failure 429) after 2 retries; "
        "0 of 1 answers are cached: lower teacher.concurrency or raise teacher.max_retries, then rerun to continue "
        "from the cache"
    )
    attempts = server.chat()
    assert len(attempts) == 3  # the request and its 2 retries
    gaps = [later.began - earlier.ended for earlier, later in itertools.pairwise(attempts)]
    # The openai client's backoff: 0.5 s x 2**retry, less up to 25 % jitter: [0.375, 0.5] then [0.75, 1.0]
    # (the upper bounds leave room for a loaded machine; a sleep is never shorter).
    assert 0.37 <= gaps[0] <= 0.9 and 0.74 <= gaps[1] <= 1.6 and gaps[1] > gaps[0], gaps


def test_5xx_is_retried_and_the_answer_arrives(scripted, tmp_path):
    server = scripted(chat_status=503, failures=2, retry_after_ms=20)
    generator = EndpointGenerator(endpoint(server, max_retries=2), tmp_path / "cache")
    assert generator.generate(ask("still there?")) == ["echo: still there?"]
    assert [r.status for r in server.chat()] == [503, 503, 200]
    assert generator.stats.requests == 1


def test_5xx_after_the_retries_fails_in_one_line(scripted, tmp_path):
    server = scripted(chat_status=500, retry_after_ms=10)
    generator = EndpointGenerator(endpoint(server, max_retries=1), tmp_path / "cache", label="teacher")
    with pytest.raises(EndpointError, match=r"^teacher: .* still answered HTTP 500 \(.*\) after 1 retries; 0 of 2 "):
        generator.generate(ask("a", "b"))


def test_a_timeout_names_the_setting(scripted, tmp_path):
    server = scripted(delay=lambda text: 3.0)
    generator = EndpointGenerator(endpoint(server, timeout=0.5, max_retries=0), tmp_path / "cache", label="judge")
    with pytest.raises(EndpointError, match=r"^judge\.timeout: no answer from .* within 0\.5 s, 0 retries included; "):
        generator.generate(ask("slow"))


# ----- cache, order, concurrency, candidates -----


def test_a_rerun_sends_nothing_and_gives_the_same_answers(scripted, tmp_path):
    server = scripted()
    questions = ask(*(f"question {i}" for i in range(6)))
    first = EndpointGenerator(endpoint(server, concurrency=3), tmp_path / "cache")
    answers = first.complete(questions)
    assert len(server.chat()) == 6 and first.stats.requests == 6 and first.stats.cached == 0
    rerun = EndpointGenerator(endpoint(server, concurrency=3), tmp_path / "cache")
    again = rerun.complete(questions)
    assert len(server.chat()) == 6  # nothing more reached the server
    assert rerun.stats.requests == 0 and rerun.stats.cached == 6 and all(a.cached for a in again)
    assert [a.candidates for a in again] == [a.candidates for a in answers]
    # Any parameter in the request is in the key: another max_tokens is another answer.
    rerun.complete(questions[:1], max_new_tokens=7)
    assert len(server.chat()) == 7 and server.chat()[-1].body["max_tokens"] == 7
    rows = sqlite3.connect(tmp_path / "cache" / "answers.sqlite").execute("SELECT COUNT(*) FROM answers").fetchone()
    assert rows == (7,)


def test_tokens_and_cost_per_answer(scripted, tmp_path):
    server = scripted()
    priced = endpoint(server, input_price_per_1m=2.0, output_price_per_1m=10.0)
    [answer] = EndpointGenerator(priced, tmp_path / "cache").complete(ask("three little words"))
    # The scripted server counts words: "Be brief." + "three little words" = 5 in; "echo: three little words" = 4 out.
    assert (answer.prompt_tokens, answer.completion_tokens, answer.finish_reason) == (5, 4, "stop")
    assert answer.cost == pytest.approx((5 * 2.0 + 4 * 10.0) / 1e6)
    cached = EndpointGenerator(priced, tmp_path / "cache")
    [again] = cached.complete(ask("three little words"))
    assert again.cost == answer.cost and cached.stats.cost == pytest.approx(answer.cost)  # cached answers still cost


def test_answers_come_in_input_order_whatever_order_they_arrive_in(scripted):
    # The first questions are answered last.
    server = scripted(delay=lambda text: 0.6 - 0.1 * int(text.split()[-1]))
    questions = ask(*(f"question {i}" for i in range(6)))
    generator = EndpointGenerator(endpoint(server, concurrency=6))
    answers = generator.generate(questions)
    arrival = [r.body["messages"][-1]["content"] for r in sorted(server.chat(), key=lambda r: r.ended)]
    assert arrival == [f"question {i}" for i in reversed(range(6))]  # they really did arrive reversed
    assert answers == [f"echo: question {i}" for i in range(6)]


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_overlaps_requests_up_to_the_limit(scripted, concurrency):
    server = scripted(delay=lambda text: 0.4)
    generator = EndpointGenerator(endpoint(server, concurrency=concurrency))
    began = time.monotonic()
    generator.generate(ask(*(f"q{i}" for i in range(8))))
    seconds = time.monotonic() - began
    assert server.most_in_flight == concurrency  # measured by the server
    # 8 answers of 0.4 s each: 3.2 s one at a time, 0.8 s four at a time (plus overheads).
    assert seconds >= 8 / concurrency * 0.4
    assert seconds < 8 / concurrency * 0.4 + 1.5


def test_progress_counts_conversations_cached_ones_first(scripted, tmp_path):
    server = scripted()
    EndpointGenerator(endpoint(server), tmp_path / "cache").generate(ask("a", "b"))
    seen = []
    generator = EndpointGenerator(endpoint(server), tmp_path / "cache", progress=seen.append)
    assert generator.pending(ask("a", "b", "c", "d")) == 2
    generator.generate(ask("a", "b", "c", "d"))
    assert seen == [2, 1, 1]
    fresh = []  # nothing cached: the phase is still announced before the first answer comes back
    EndpointGenerator(endpoint(server), tmp_path / "other-cache", progress=fresh.append).generate(ask("e"))
    assert fresh == [0, 1]


def test_n_candidates_as_separate_seeded_requests_each_cached(scripted, tmp_path):
    server = scripted()
    sampled = endpoint(server, temperature=0.8, n=3, seed=10)
    [answer] = EndpointGenerator(sampled, tmp_path / "cache").complete(ask("draft this"))
    assert len(answer.candidates) == 3
    assert sorted(r.body["seed"] for r in server.chat()) == [10, 11, 12]
    assert all("n" not in r.body and r.body["temperature"] == 0.8 for r in server.chat())
    assert answer.prompt_tokens == 3 * 4  # the prompt paid three times: 4 words each
    # Asking for 5 candidates later sends only the 2 new ones.
    more = endpoint(server, temperature=0.8, n=5, seed=10)
    [answer5] = EndpointGenerator(more, tmp_path / "cache").complete(ask("draft this"))
    assert len(answer5.candidates) == 5 and answer5.candidates[:3] == answer.candidates
    assert sorted(r.body["seed"] for r in server.chat()) == [10, 11, 12, 13, 14]


def test_unseeded_candidates_are_still_distinct_cache_entries(scripted, tmp_path):
    server = scripted()
    sampled = endpoint(server, temperature=1.0, n=3)
    [first] = EndpointGenerator(sampled, tmp_path / "cache").complete(ask("draft this"))
    assert len(server.chat()) == 3 and len({c.text for c in first.candidates}) == 3
    [again] = EndpointGenerator(sampled, tmp_path / "cache").complete(ask("draft this"))
    assert len(server.chat()) == 3 and again.candidates == first.candidates


def test_native_n_asks_once_and_splits_the_choices(scripted, tmp_path):
    server = scripted()
    native = endpoint(server, temperature=0.8, n=3, native_n=True)
    [answer] = EndpointGenerator(native, tmp_path / "cache").complete(ask("draft this"))
    assert len(server.chat()) == 1 and server.chat()[0].body["n"] == 3
    assert [c.text for c in answer.candidates] == [f"echo {i}: draft this (sample 1)" for i in range(3)]
    assert answer.prompt_tokens == 4  # billed once
    assert answer.completion_tokens == 3 * 6  # "echo i: draft this (sample 1)": 6 words each


def test_a_broken_request_names_the_settings_to_check(scripted, tmp_path):
    server = scripted(chat_status=422)
    generator = EndpointGenerator(endpoint(server), tmp_path / "cache", label="teacher")
    with pytest.raises(EndpointError, match=r"^teacher: .* refused the request \(HTTP 422: .*\): check teacher\.model"):
        generator.generate(ask("hi"))
    assert len(server.chat()) == 1  # a 422 is not retried
