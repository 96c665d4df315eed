"""Real OpenAI-compatible servers for tests, started and stopped by the tests themselves.

- `TransformersServe`: `transformers serve <model folder>` (transformers' own server) in its own process
  group on a free local port; it counts the chat requests it answered from its own access log, and can be
  SIGKILLed mid-run (a crash) and restarted on the same port.
- `ScriptedServer`: a small FastAPI app under uvicorn, in a thread of the test process, for what
  `transformers serve` cannot do on demand: ask for an API key (401), rate-limit (429), fail (5xx), answer
  slowly. It is a real HTTP server speaking the chat-completions protocol (it echoes the last user turn), so
  the openai client and its retries run unchanged; it records every request it got, with times.

>>> with TransformersServe(model_dir, tmp_path / "log").start() as server:
...     endpoint = Endpoint(base_url=server.base_url, model=server.model)
...     server.chat_requests()
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request  # at the top: FastAPI resolves the handlers' annotations from these globals
from fastapi.responses import JSONResponse
from private_argilla import group_runs

TRANSFORMERS_CLI = Path(sys.executable).parent / "transformers"
ANSWERED_CHAT = '"POST /v1/chat/completions HTTP/1.1" 200'  # uvicorn's access log line for one answered request


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tiny_model_ending_turns(folder: str | os.PathLike, tokenizer_folder: str | os.PathLike) -> Path:
    """fttrain's tiny random Llama with its end-of-turn token's output row nudged, so that some greedy answers end
    their turn after a few tokens and others run to the token limit: both finish reasons occur. Its
    generation_config says do_sample: transformers serve samples only then (a request's temperature > 0 does not
    turn sampling on there; temperature 0 turns it off), as a real instruct model's config usually says."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fttrain.testing import tiny_llama

    tiny_llama(folder, tokenizer_folder)
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    eos = AutoTokenizer.from_pretrained(str(folder)).eos_token_id
    with torch.no_grad():
        generator = torch.Generator().manual_seed(3)
        model.lm_head.weight[eos] = torch.randn(model.lm_head.weight.shape[1], generator=generator) * 0.05
    model.generation_config.do_sample = True
    model.save_pretrained(str(folder))
    return Path(folder)


class TransformersServe:
    """`transformers serve` for one model folder (FORCE_MODEL: the endpoint's model name is the folder path)."""

    def __init__(
        self,
        model_dir: str | os.PathLike,
        log_path: str | os.PathLike,
        port: int | None = None,
        continuous_batching: bool = False,
    ):
        self.model = str(model_dir)
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.continuous_batching = continuous_batching
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 300) -> TransformersServe:
        """Start the server (again, after a kill: same port, same log) and wait until GET /health answers 200."""
        command = [str(TRANSFORMERS_CLI), "serve", self.model, "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--device", "cpu", "--log-level", "warning"]
        if self.continuous_batching:
            command.append("--continuous-batching")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as log:
            # Its own session: a process group of its own, which stop() and kill() end as a whole.
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.kill()
        raise RuntimeError(f"transformers serve not healthy after {timeout} s:\n{self.log_tail()}")

    def chat_requests(self) -> int:
        """Chat completions this server answered (every start's, counted from its own access log)."""
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text(encoding="utf-8", errors="replace").count(ANSWERED_CHAT)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:] if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server's whole process group, as a crash would, and wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_group_gone()

    def stop(self) -> None:
        """SIGTERM the group (uvicorn shuts down cleanly), SIGKILL what is left after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._wait_group_gone()

    def _wait_group_gone(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 30
        while group_runs(self.process.pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"transformers serve (process group {self.process.pid}) still runs after a kill")
            time.sleep(0.1)

    def __enter__(self) -> TransformersServe:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@dataclass
class Received:
    """One request the scripted server got: when it came and went, its body and Authorization header."""

    path: str
    body: dict[str, Any]
    authorization: str | None
    began: float
    ended: float = 0.0
    status: int = 0


@dataclass
class Script:
    """What the scripted server does. `key`: the only Bearer key it accepts (None: any). `chat_status`: the status
    of the first `failures` chat requests (None: every one), answered 200 afterwards. `delay(text)`: seconds to
    wait before answering the chat whose last user turn is `text`. `retry_after_ms`: sent with failures.
    `echo_key`: a refused key is repeated in full in the 401's message (careless servers do)."""

    key: str | None = None
    chat_status: int = 200
    failures: int | None = None
    delay: Any = field(default=lambda text: 0.0)
    retry_after_ms: int | None = None
    echo_key: bool = False


class ScriptedServer:
    """A real OpenAI-compatible HTTP server in this process (uvicorn, a thread), answering as `script` says.

    A chat answer is "echo: <last user turn>" with usage prompt_tokens = words in all turns, completion_tokens =
    words in the answer, so expected values are countable by hand; with `n`, choice i is "echo i: ..."; with a
    temperature above 0, " (sample <k>)" follows, k counting the chat requests the server got.
    """

    def __init__(self, script: Script | None = None):
        self.script = script or Script()
        self.received: list[Received] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def chat(self) -> list[Received]:
        return [r for r in self.received if r.path.endswith("/chat/completions")]

    def start(self) -> ScriptedServer:
        import uvicorn

        self._server = uvicorn.Server(
            uvicorn.Config(self._app(), host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, name="scripted-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the scripted server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _app(self) -> Any:
        app = FastAPI()
        script = self.script

        def refused(authorization: str | None) -> JSONResponse | None:
            if script.key is not None and authorization != f"Bearer {script.key}":
                said = f": {(authorization or '').removeprefix('Bearer ')}" if script.echo_key else ""
                return JSONResponse({"error": {"message": f"Incorrect API key provided{said}", "code": 401}}, 401)
            return None

        @app.get("/v1/models")
        async def models(request: Request):
            record = Received("/v1/models", {}, request.headers.get("authorization"), time.monotonic())
            self.received.append(record)
            response = refused(record.authorization) or JSONResponse(
                {"object": "list", "data": [{"id": "scripted", "object": "model", "created": 0, "owned_by": "test"}]}
            )
            record.ended, record.status = time.monotonic(), response.status_code
            return response

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            record = Received("/v1/chat/completions", body, request.headers.get("authorization"), time.monotonic())
            with self._lock:
                self.received.append(record)
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                attempt = len(self.chat())
            try:
                response = refused(record.authorization)
                failing = script.chat_status != 200 and (script.failures is None or attempt <= script.failures)
                if response is None and failing:
                    headers = {"retry-after-ms": str(script.retry_after_ms)} if script.retry_after_ms else {}
                    response = JSONResponse(
                        {"error": {"message": f"scripted failure {script.chat_status}"}},
                        script.chat_status,
                        headers=headers,
                    )
                if response is None:
                    last_user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
                    await asyncio.sleep(script.delay(last_user))
                    response = JSONResponse(_completion(body, last_user, attempt))
            finally:
                with self._lock:
                    self.in_flight -= 1
            record.ended, record.status = time.monotonic(), response.status_code
            return response

        return app


def _completion(body: dict[str, Any], last_user: str, serial: int) -> dict[str, Any]:
    n = body.get("n", 1)
    texts = [f"echo: {last_user}" if n == 1 else f"echo {i}: {last_user}" for i in range(n)]
    if body.get("temperature", 0) > 0:  # sampled: every request draws something else, as a sampling server would
        texts = [f"{text} (sample {serial})" for text in texts]
    prompt_words = sum(len(m["content"].split()) for m in body["messages"])
    completion_words = sum(len(t.split()) for t in texts)
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            for i, text in enumerate(texts)
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": completion_words,
            "total_tokens": prompt_words + completion_words,
        },
    }
