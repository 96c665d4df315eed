"""Answers from any OpenAI-compatible chat-completions server, behind the same `Generator` interface as a
local model: a hosted model (OpenAI, Together, Groq, ...) or a server of your own (vLLM, llama.cpp,
Ollama, TGI, `transformers serve`). fteval's endpoint contestants and `ftdata draft` both use it.

Usage:
    endpoint = Endpoint(base_url="https://api.openai.com/v1", model="gpt-4o-mini", api_key_env="OPENAI_API_KEY",
                        input_price_per_1m=0.15, output_price_per_1m=0.60)
    generator = EndpointGenerator(endpoint, cache_dir="eval/latest/endpoint-cache", label="contestants.gpt")
    generator.preflight()                      # GET /models: unreachable URL or refused key, in one line
    answers = generator.complete(conversations)  # list[Answer], in input order
    answers[0].text, answers[0].prompt_tokens, answers[0].completion_tokens, answers[0].cost

`Endpoint` is a config section (ftcore.config): `load_config`/`build` read it from YAML like any other,
and a tool may subclass it to add its own keys (a contestant's system prompt, say). A caller makes its
generators (the key check) and calls `preflight()` before it loads any model, so that bad settings fail
in one line at once; `pending()` counts what a run would still send (for a dry run's estimate); `stats`
holds the totals (requests sent, answers from the cache, tokens, cost).

What it guarantees:
- **The key stays a secret.** A config names the environment variable (`api_key_env`), never the key;
  the variable is read when the generator is made (so a missing one fails before any model loads or any
  request is sent). The key is sent in the Authorization header and nowhere else: not in the cache key,
  the cache file, logs or error messages (a server's error text is scrubbed of it). `api_key_env: null`
  is for a key-less local server: a placeholder key is sent, and OPENAI_API_KEY is never picked up.
- **Nothing is paid for twice.** With a `cache_dir`, every answer is stored (ftcore.answer_cache) the
  moment it arrives, keyed by base URL, model, messages and every sampling parameter. A rerun, or a
  run resumed after a crash, sends only the requests whose answers are not there; a fully cached run
  needs no server at all.
- **Concurrency, timeouts, retries.** `concurrency` requests in flight at once (a thread pool: the
  openai client is synchronous and thread-safe, and callers are synchronous code). Retries are the
  openai client's own (`max_retries`): exponential backoff from 0.5 s doubling up to 8 s with jitter,
  on connection errors, 408, 409, 429 and 5xx, honouring a server's Retry-After. It is used rather than
  a retry loop of our own because it already does all that, and one retry policy is easier to reason
  about than two stacked ones.
- **One-line errors naming the setting**, all `EndpointError` (an `FtdataError`: exit code 2 in the CLIs):
  a missing key variable, an unreachable URL, HTTP 401/403, 404, 429 or 5xx still failing after the
  retries, a timeout, and a server lost mid-run ("...: connection lost after N of M answers; rerun to
  continue from the cache").

Candidates: `n` > 1 answers per prompt (temperature > 0) are n requests of one answer each by default,
since many servers return a single choice whatever `n` says (transformers serve, llama.cpp, Ollama);
with `seed`, candidate i asks for seed + i. `native_n: true` sends one request with `n` instead (OpenAI
and vLLM: the prompt is billed once) and fails in one line if the server returns fewer choices.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ftcore.answer_cache import AnswerCache, request_key
from ftcore.config import option
from ftcore.errors import FtdataError
from ftcore.generate import Answer, Candidate, Conversation, GenerationStats, Progress

PREFLIGHT_TIMEOUT = 10.0  # seconds for GET /models: an unreachable server is told apart quickly
NO_KEY = "ftkit-no-key"  # sent to key-less servers: the openai client needs some key, and must not take OPENAI_API_KEY
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EndpointError(FtdataError):
    """An endpoint that cannot answer: one line naming the setting to fix (the CLIs exit with code 2)."""


@dataclass
class Endpoint:
    """An OpenAI-compatible chat-completions endpoint and how to ask it (a config section)."""

    base_url: str = option(
        "",
        "The API's base URL, ending where /chat/completions follows: https://api.openai.com/v1, http://localhost:8000/v1",
    )
    model: str = option("", "The model name the server knows (a vLLM --lora-modules name serves an adapter)")
    api_key_env: str | None = option(
        None, "NAME of the environment variable holding the API key, e.g. OPENAI_API_KEY (none: key-less local server)"
    )
    temperature: float | None = option(0.0, "Sampling temperature: 0 is greedy (none: not sent, the server's default)")
    top_p: float | None = option(None, "Nucleus sampling (none: not sent, the server's default)")
    max_tokens: int = option(256, "Longest answer, in tokens (a caller's own max_new_tokens, when it passes one, wins)")
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = option(
        "max_tokens", "The request field for it: max_completion_tokens for OpenAI's reasoning models"
    )
    n: int = option(1, "Candidates per prompt (n > 1 needs temperature > 0)")
    native_n: bool = option(
        False, "Ask for the n candidates in one request (OpenAI, vLLM: prompt billed once); off: n requests of one"
    )
    seed: int | None = option(None, "Seed sent with each request (candidate i: seed + i); servers may ignore it")
    timeout: float = option(120.0, "Seconds to wait for one answer before retrying")
    max_retries: int = option(4, "Retries of a request after a connection error, 408, 409, 429 or 5xx (with backoff)")
    concurrency: int = option(4, "Requests in flight at once")
    input_price_per_1m: float = option(0.0, "Price per 1M input (prompt) tokens, e.g. in USD (0: free or unknown)")
    output_price_per_1m: float = option(0.0, "Price per 1M output (completion) tokens")

    def __post_init__(self) -> None:
        # Checked when the config is built (ConfigError names the file); the value is never echoed: it may be a key.
        if self.api_key_env is not None and not ENV_NAME.fullmatch(self.api_key_env):
            raise ValueError(
                "api_key_env: must be the NAME of an environment variable (letters, digits, _), e.g. OPENAI_API_KEY, "
                "never the key itself"
            )
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: must start with http:// or https://, got {self.base_url!r}")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError(f"temperature: must be 0 (greedy) or more, got {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p: must be in (0, 1], got {self.top_p}")
        for name in ("max_tokens", "n", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.n > 1 and self.temperature == 0:
            raise ValueError(f"n: {self.n} candidates need temperature > 0: greedy decoding gives one answer")
        if self.timeout <= 0 or self.max_retries < 0:
            raise ValueError("timeout must be positive and max_retries at least 0")
        if self.input_price_per_1m < 0 or self.output_price_per_1m < 0:
            raise ValueError("input_price_per_1m and output_price_per_1m must be 0 or more")

    def api_key(self, label: str = "endpoint") -> str | None:
        """The key from the environment variable named by `api_key_env` (None for a key-less server).

        Usage: Endpoint(base_url="https://api.openai.com/v1", model="gpt-4o", api_key_env="OPENAI_API_KEY").api_key()
        """
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            state = "is empty" if self.api_key_env in os.environ else "is not set"
            raise EndpointError(
                f"{label}.api_key_env: the environment variable {self.api_key_env} {state}: export the API key in it "
                f"(configs name the variable, never the key), or set api_key_env: null for a key-less local server"
            )
        return key

    def check(self, label: str = "endpoint") -> str | None:
        """Required settings present and the key variable set; returns the key. No network."""
        for name in ("base_url", "model"):
            if not getattr(self, name):
                raise EndpointError(f"{label}.{name}: required")
        return self.api_key(label)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """What these tokens cost at the configured prices: 1,000 in + 500 out at 0.15/0.60 per 1M = 0.00045."""
        return (prompt_tokens * self.input_price_per_1m + completion_tokens * self.output_price_per_1m) / 1_000_000

    def request(self, messages: list[dict[str, str]], max_tokens: int, candidate: int = 0) -> dict[str, Any]:
        """The chat-completions request body for one candidate (exactly what is sent and what the cache keys)."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, self.max_tokens_field: max_tokens}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.seed is not None:
            body["seed"] = self.seed + candidate
        if self.native_n and self.n > 1:
            body["n"] = self.n
        return body


@dataclass(frozen=True)
class _Unit:
    """One request to make: conversation `index`, `candidate` (or all n at once with native_n)."""

    index: int
    candidate: int
    body: dict[str, Any]
    key: str


class EndpointGenerator:
    """A `Generator` (ftcore.generate) answering through an OpenAI-compatible endpoint.

    `cache_dir`: the folder of the answer cache (None: no cache, every call pays again). `label`: the config
    section the endpoint came from, named in every error (e.g. "contestants.gpt-4o", "draft.endpoint").
    `progress(n)`: n more conversations answered (cached ones first, in one call), from the calling thread.
    Raises EndpointError at once when required settings or the key variable are missing: no network yet.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        cache_dir: str | os.PathLike | None = None,
        label: str = "endpoint",
        progress: Progress | None = None,
    ):
        self._key = endpoint.check(label)  # first of all: a missing key fails before anything else happens
        self.endpoint = endpoint
        self.label = label
        self.progress = progress
        self.cache_dir = cache_dir
        self.stats = GenerationStats()
        self._cache: AnswerCache | None = None
        self._client: Any = None
        self._checked = False

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url.rstrip("/")

    @property
    def cache(self) -> AnswerCache | None:
        """The answer cache, opened (and its folder made) when first needed: a run that fails its checks leaves none."""
        if self._cache is None and self.cache_dir is not None:
            self._cache = AnswerCache(self.cache_dir)
        return self._cache

    def close(self) -> None:
        """Close the cache file and the HTTP connections (also on leaving a `with` block)."""
        if self._cache is not None:
            self._cache.close()
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> EndpointGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self) -> Any:
        """The openai client (made once): the endpoint's timeout and retries, the key from its variable."""
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                base_url=self.base_url,
                api_key=self._key or NO_KEY,
                timeout=self.endpoint.timeout,
                max_retries=self.endpoint.max_retries,
            )
        return self._client

    def preflight(self) -> None:
        """GET /models with a short timeout and no retries: an unreachable URL or a refused key fails here, in one
        line, before any work. A server without /models (404) or with another error there still passes: the
        chat requests will say more. The model is not looked up in the list: llama.cpp, TGI and Ollama name
        models their own way. complete() calls it before its first request."""
        import openai

        try:
            quick = self.client().with_options(timeout=min(PREFLIGHT_TIMEOUT, self.endpoint.timeout), max_retries=0)
            quick.models.list()
        except openai.APIConnectionError as error:  # APITimeoutError included
            raise EndpointError(
                f"{self.label}.base_url: {self.base_url} is unreachable ({self._reason(error)}): is the server running?"
            ) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise EndpointError(self._auth_message(error)) from None
        except openai.APIError:  # 404, 5xx, a body that is not a model list: the server is there
            pass
        self._checked = True

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        return [answer.text for answer in self.complete(conversations, max_new_tokens)]

    def pending(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> int:
        """How many requests complete() would send now (those not in the cache): for a dry run's estimate."""
        units = self._units(conversations, self.endpoint.max_tokens if max_new_tokens is None else max_new_tokens)
        return sum(1 for unit in units if self.cache is None or self.cache.get(unit.key) is None)

    def complete(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[Answer]:
        """Every conversation's Answer, in input order: from the cache where it is there, else from the server."""
        max_tokens = self.endpoint.max_tokens if max_new_tokens is None else max_new_tokens
        units = self._units(conversations, max_tokens)
        found: dict[tuple[int, int], dict[str, Any]] = {}  # (conversation, candidate) -> response
        for unit in units:
            cached = self.cache.get(unit.key) if self.cache is not None else None
            if cached is not None:
                found[(unit.index, unit.candidate)] = cached | {"cached": True}
        missing = [unit for unit in units if (unit.index, unit.candidate) not in found]
        waiting = {i: 0 for i in range(len(conversations))}  # requests each conversation still waits for
        for unit in missing:
            waiting[unit.index] += 1
        complete_already = sum(1 for left in waiting.values() if left == 0)
        if self.progress is not None:  # the phase starts now (its clock too), with what the cache already holds
            self.progress(complete_already)
        if missing:
            began = time.perf_counter()
            try:
                self._fetch(missing, found, waiting, total=len(units))
            finally:
                self.stats.seconds += time.perf_counter() - began
        per_conversation = 1 if self.endpoint.native_n else self.endpoint.n
        answers = [self._answer(found, i, per_conversation) for i in range(len(conversations))]
        self.stats.add(answers)
        return answers

    # ----- requests -----

    def _units(self, conversations: Sequence[Conversation], max_tokens: int) -> list[_Unit]:
        units = []
        candidates = 1 if self.endpoint.native_n else self.endpoint.n
        for index, conversation in enumerate(conversations):
            messages = [dict(message) for message in conversation]
            for candidate in range(candidates):
                body = self.endpoint.request(messages, max_tokens, candidate)
                # The candidate index is in the key: without a seed, n identical bodies must still be n answers.
                key = request_key(self.base_url, {"body": body, "candidate": candidate})
                units.append(_Unit(index, candidate, body, key))
        return units

    def _fetch(
        self,
        missing: list[_Unit],
        found: dict[tuple[int, int], dict[str, Any]],
        waiting: dict[int, int],
        total: int,
    ) -> None:
        """Send `missing` with `concurrency` in flight; each answer is cached by the thread that got it. On the first
        failure nothing more is sent, requests in flight finish (and are cached), and the failure is raised."""
        if not self._checked:
            self.preflight()
        client = self.client()  # made here, in the calling thread, and shared by the workers (it is thread-safe)
        stop = threading.Event()
        executor = concurrent.futures.ThreadPoolExecutor(self.endpoint.concurrency, thread_name_prefix="endpoint")
        failure: BaseException | None = None
        try:
            futures = {executor.submit(self._send, client, unit, stop): unit for unit in missing}
            for future in concurrent.futures.as_completed(futures):
                unit = futures[future]
                try:
                    response = future.result()
                except concurrent.futures.CancelledError:
                    continue
                except Exception as error:
                    if failure is None:
                        failure = error
                        stop.set()
                        for pending in futures:
                            pending.cancel()
                    continue
                if response is None:  # not sent: a failure elsewhere stopped the run
                    continue
                found[(unit.index, unit.candidate)] = response
                self.stats.requests += 1
                waiting[unit.index] -= 1
                if waiting[unit.index] == 0 and self.progress is not None and failure is None:
                    self.progress(1)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        if failure is not None:
            done = sum(len(r["choices"]) if self.endpoint.native_n else 1 for r in found.values())
            all_answers = total * (self.endpoint.n if self.endpoint.native_n else 1)
            raise self._error(failure, done, all_answers) from None

    def _send(self, client: Any, unit: _Unit, stop: threading.Event) -> dict[str, Any] | None:
        if stop.is_set():
            return None
        began = time.perf_counter()
        completion = client.chat.completions.create(**unit.body)
        seconds = time.perf_counter() - began
        choices = sorted(completion.choices or [], key=lambda choice: choice.index)
        expected = self.endpoint.n if self.endpoint.native_n else 1
        if len(choices) != expected:
            raise EndpointError(
                f"{self.label}.native_n: {self.base_url} returned {len(choices)} choice(s) for n={expected}: "
                f"it does not support n; set native_n: false"
                if expected > 1
                else f"{self.label}: {self.base_url} returned {len(choices)} choices for one request"
            )
        usage = completion.usage
        response = {
            "choices": [
                {"text": (choice.message.content or "").strip(), "finish_reason": choice.finish_reason or "stop"}
                for choice in choices
            ],
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "model": completion.model,
            "seconds": round(seconds, 4),
        }
        if self.cache is not None:  # now, before anything else can fail: this answer is paid for
            self.cache.put(unit.key, self.base_url, {"body": unit.body, "candidate": unit.candidate}, response)
        return response

    def _answer(self, found: dict[tuple[int, int], dict[str, Any]], index: int, per_conversation: int) -> Answer:
        responses = [found[(index, candidate)] for candidate in range(per_conversation)]
        candidates: list[Candidate] = []
        prompt_tokens = 0
        for response in responses:
            completion = response["completion_tokens"] or 0
            share, extra = divmod(completion, len(response["choices"]))  # native n: one total for all choices
            for i, choice in enumerate(response["choices"]):
                candidates.append(Candidate(choice["text"], share + (extra if i == 0 else 0), choice["finish_reason"]))
            prompt_tokens += response["prompt_tokens"] or 0
        completion_tokens = sum(c.completion_tokens for c in candidates)
        if any(r["prompt_tokens"] is None for r in responses):
            self.stats.usage_missing += 1
        return Answer(
            tuple(candidates),
            prompt_tokens,
            sum(r["seconds"] for r in responses),
            cost=self.endpoint.cost(prompt_tokens, completion_tokens),
            cached=all(r.get("cached", False) for r in responses),
        )

    # ----- errors -----

    def _error(self, error: BaseException, done: int, total: int) -> BaseException:
        """The one line a failure becomes; an error that is not the endpoint's own goes up as it is."""
        import openai

        label, url, endpoint = self.label, self.base_url, self.endpoint
        resume = f"{done} of {total} answers are cached" if self.cache is not None else f"{done} of {total} answered"
        again = "rerun to continue from the cache" if self.cache is not None else "rerun"
        if isinstance(error, EndpointError):
            return error
        if isinstance(error, openai.APITimeoutError):
            return EndpointError(
                f"{label}.timeout: no answer from {url} within {endpoint.timeout:g} s, {endpoint.max_retries} "
                f"retries included; {resume}: raise {label}.timeout or {again}"
            )
        if isinstance(error, openai.APIConnectionError):
            return EndpointError(
                f"{label}.base_url: {url}: connection lost after {done} of {total} answers "
                f"({self._reason(error)}); {again}"
            )
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return EndpointError(self._auth_message(error))
        if isinstance(error, openai.RateLimitError):
            return EndpointError(
                f"{label}: {url} still answered HTTP 429 (rate limited: {self._reason(error)}) after "
                f"{endpoint.max_retries} retries; {resume}: lower {label}.concurrency or raise {label}.max_retries, "
                f"then {again}"
            )
        if isinstance(error, openai.InternalServerError):
            return EndpointError(
                f"{label}: {url} still answered HTTP {error.status_code} ({self._reason(error)}) after "
                f"{endpoint.max_retries} retries; {resume}: {again}"
            )
        if isinstance(error, openai.NotFoundError):
            return EndpointError(
                f"{label}.model: HTTP 404 from {url}/chat/completions ({self._reason(error)}): check the model "
                f"name {endpoint.model!r} and base_url (most servers end it with /v1)"
            )
        if isinstance(error, openai.APIStatusError):
            return EndpointError(
                f"{label}: {url} refused the request (HTTP {error.status_code}: {self._reason(error)}): check "
                f"{label}.model and the sampling settings"
            )
        return error

    def _auth_message(self, error: Any) -> str:
        status = getattr(error, "status_code", 401)
        if self.endpoint.api_key_env is None:
            return (
                f"{self.label}.api_key_env: {self.base_url} wants an API key (HTTP {status}: {self._reason(error)}): "
                "set api_key_env to the name of the environment variable holding it"
            )
        return (
            f"{self.label}.api_key_env: {self.base_url} refused the key in {self.endpoint.api_key_env} "
            f"(HTTP {status}: {self._reason(error)})"
        )

    def _reason(self, error: BaseException) -> str:
        """The error's own words in one short line, with the key scrubbed out should a server echo it."""
        cause = error.__cause__ or error.__context__
        text = str(error)
        if cause is not None and text in ("Connection error.", "Request timed out."):
            text = str(cause) or type(cause).__name__
        text = re.sub(r"^Error code: \d+ - ", "", " ".join(text.split()))  # the status is said already
        if self._key:
            text = text.replace(self._key, "***")
        return text[:300] + ("..." if len(text) > 300 else "")
