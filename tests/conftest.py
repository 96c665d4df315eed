"""Shared test set-up: offline Hugging Face, one torch thread, and the tests' own real Argilla."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Set before anything imports transformers/datasets/torch: no hub access, and one thread (two torch
# threads run 4x slower on the shared 2-core machines).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

from private_argilla import PrivateArgilla

from ftdata.argilla_client import ArgillaConnection

# No test reads outside the repository, its temporary folders and the Python installation (a bare clone).
pytest_plugins = ["read_guard"]

REPO = Path(__file__).resolve().parent.parent
# An explicit opt-in to run the Argilla tests against a server of your choosing (they create and delete users).
TEST_URL_VARIABLE, TEST_KEY_VARIABLE = "FTKIT_TEST_ARGILLA_URL", "FTKIT_TEST_ARGILLA_KEY"
# Real public data, bundled with its MIT licence (tests/data/gsm8k/README.md).
GSM8K = REPO / "tests" / "data" / "gsm8k" / "train.jsonl"


@pytest.fixture(scope="session")
def gsm8k_path() -> Path:
    """GSM8K's train.jsonl, bundled in tests/data/gsm8k."""
    return GSM8K


@pytest.fixture(scope="session")
def gsm8k_rows() -> list[dict]:
    """GSM8K's training split (MIT): 7,473 {"question", "answer"} rows of real, human-written data."""
    with GSM8K.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory, gsm8k_rows) -> Path:
    """A byte-level BPE tokenizer with a ChatML template, trained here on GSM8K text (about 1 s)."""
    from ftdata.testing import tiny_chat_tokenizer

    texts = (row["question"] + "\n" + row["answer"] for row in gsm8k_rows[:2000])
    return tiny_chat_tokenizer(texts, tmp_path_factory.mktemp("tiny-tokenizer"))


@pytest.fixture(scope="session")
def private_argilla(tmp_path_factory):
    """The tests' own Argilla server, started for this session and removed after it (None when the session was
    pointed at another server with FTKIT_TEST_ARGILLA_URL / FTKIT_TEST_ARGILLA_KEY)."""
    if os.environ.get(TEST_URL_VARIABLE) and os.environ.get(TEST_KEY_VARIABLE):
        yield None
        return
    instance = PrivateArgilla(tmp_path_factory.mktemp("argilla") / "state")
    try:
        instance.up()
        yield instance
    finally:
        instance.remove()


@pytest.fixture(scope="session")
def argilla_connection(private_argilla):
    """The Argilla server for integration tests: the session's own (see `private_argilla`), never the one a user
    works in: ARGILLA_API_URL / ARGILLA_API_KEY are ignored here, since tests create and delete users, workspaces
    and datasets. To run them against another server on purpose, set FTKIT_TEST_ARGILLA_URL and
    FTKIT_TEST_ARGILLA_KEY (an owner's key). Never skipped: a server that cannot be had fails the tests."""
    if private_argilla is None:
        return ArgillaConnection(os.environ[TEST_URL_VARIABLE].rstrip("/"), os.environ[TEST_KEY_VARIABLE])
    return private_argilla.connection


@pytest.fixture(scope="session")
def argilla_client(argilla_connection):
    return argilla_connection.client()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer_dir):
    from fttrain.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_adapter_dir(tmp_path_factory, tiny_model_dir):
    """A LoRA adapter on the tiny model with random B weights (peft starts them at zero), so it changes outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]),
    )
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 1.0)
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def served_model_dir(tmp_path_factory, tiny_tokenizer_dir):
    """A tiny Llama (the ChatML tokenizer above) whose greedy answers sometimes end their turn early and sometimes
    run to the token limit: both finish reasons occur, served and local alike."""
    from openai_server import tiny_model_ending_turns

    return tiny_model_ending_turns(tmp_path_factory.mktemp("served-model"), tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def openai_server(served_model_dir, tmp_path_factory):
    """`transformers serve` on `served_model_dir`, a real OpenAI-compatible server for the whole session, on a free
    port; stopped (its process group) afterwards. Shared: count requests as differences of chat_requests()."""
    from openai_server import TransformersServe

    server = TransformersServe(served_model_dir, tmp_path_factory.mktemp("transformers-serve") / "serve.log")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def scripted():
    """`scripted(**script)` starts a ScriptedServer (tests/openai_server.py: answers, failures and delays as the
    test scripts them, for what a real server cannot be made to do on cue); every one is stopped afterwards."""
    from openai_server import Script, ScriptedServer

    servers = []

    def start(**script):
        server = ScriptedServer(Script(**script)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory, gsm8k_rows):
    """80 GSM8K examples, accepted by two reviewers in a snapshot, exported by ftdata's export."""
    from ftdata.testing import accepted_export

    root = tmp_path_factory.mktemp("project")
    rows = [r for r in gsm8k_rows[:200] if "<<" in r["answer"] and len(r["answer"]) < 400][:80]
    return accepted_export(root, rows, root / "export", system="Answer in the house format.")
