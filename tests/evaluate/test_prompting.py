"""Prompting at its strongest as contestants: endpoint contestants against a real `transformers serve` (the same
greedy answers as the local prompting contestants, a cached rerun that sends nothing, a killed server resumed from
the cache), bad endpoint settings refused in one line before any model loads, golden sets and IFEval files as
`data:`, and the cost per 1,000 answers from recorded tokens and prices."""

import csv
import json
import math
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openai_server import Script, ScriptedServer, TransformersServe, free_port

from ftcore import load_split
from ftcore.endpoint import EndpointError
from fteval.cli import main
from fteval.config import load_eval_config
from fteval.run import run_eval

REPO = Path(__file__).resolve().parents[2]
STYLE = REPO / "examples" / "quickstart" / "style.yaml"
SYSTEM = "Answer with reasoning lines holding <<expr=value>> notes, then a last line '#### <number>'."


def write_config(path: Path, **settings) -> Path:
    config = {"style": str(STYLE), "system_prompt": SYSTEM, "output_dir": str(path.parent / "eval"),
              "max_new_tokens": 16, "batch_size": 8, "capability_tasks": [], "fewshot_k": 0, **settings}  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


def answers(out: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / "answers" / f"{name}.jsonl").read_text().split("\n") if line.strip()]


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


@pytest.mark.slow
def test_endpoint_answers_equal_the_local_prompting_answers_and_a_rerun_sends_nothing(
    openai_server, served_model_dir, export_dir, tmp_path
):
    served = {"type": "endpoint", "base_url": openai_server.base_url, "model": openai_server.model, "baseline": True,
              "input_price_per_1m": 1.0, "output_price_per_1m": 2.0}  # fmt: skip
    path = write_config(
        tmp_path / "eval.yaml", base_model=str(served_model_dir), data=str(export_dir), limit=6, fewshot_k=2,
        contestants={"served": served, "served-fewshot": {**served, "fewshot_k": 2, "baseline": False}},
    )  # fmt: skip
    before = openai_server.chat_requests()
    results = run_eval(load_eval_config(path))
    out = tmp_path / "eval"
    assert list(results.contestants) == ["base", "base+prompt", "base+fewshot", "served", "served-fewshot"]
    assert openai_server.chat_requests() - before == 12  # counted in the server's own log
    # Greedy decoding, the same model, the same conversations: the same answers, locally and over the endpoint.
    assert [a["answer"] for a in answers(out, "served")] == [a["answer"] for a in answers(out, "base+prompt")]
    assert [a["prompt"] for a in answers(out, "served")] == [a["prompt"] for a in answers(out, "base+prompt")]
    assert [a["answer"] for a in answers(out, "served-fewshot")] == [a["answer"] for a in answers(out, "base+fewshot")]
    # The few-shot examples are the train split's, named in results.json, and shown before each test prompt.
    shown = results.fewshot["ids"]
    train = {e.id: e for e in load_split(export_dir, "train")}
    assert len(shown) == 2 and set(shown) <= set(train)
    first = answers(out, "base+fewshot")[0]["prompt"]
    assert first[0] == {"role": "system", "content": SYSTEM}
    assert first[1] == train[shown[0]].messages[1].to_dict() and first[2] == train[shown[0]].messages[2].to_dict()
    # Cost: every answer's recorded tokens at the prices (1 and 2 per 1M), per 1,000 answers.
    rows = answers(out, "served")
    paid = sum(r["prompt_tokens"] * 1.0 + r["completion_tokens"] * 2.0 for r in rows) / 1e6
    served_result = results.contestants["served"]
    assert served_result.cost["per_1k_answers"] == pytest.approx(paid / 6 * 1000)
    assert served_result.kind == "endpoint" and served_result.prompting and served_result.endpoint["requests"] == 6
    assert results.contestants["base"].cost["per_1k_answers"] is None  # local, cost.hourly_price 0: not priced
    assert set(served_result.not_applicable) == {"loss", "perplexity"} and "rougeL" in served_result.scores
    assert results.verdict.startswith("No fine-tune scored. The best prompting contestant is")
    # A rerun: every endpoint answer comes from the cache under the output folder; the server sees nothing.
    again = run_eval(load_eval_config(path))
    assert openai_server.chat_requests() - before == 12
    assert again.contestants["served"].endpoint == {**served_result.endpoint, "requests": 0, "cached": 6}
    assert (out / "endpoint-cache" / "answers.sqlite").is_file()


@pytest.fixture(scope="module")
def served_run(tmp_path_factory, served_model_dir, export_dir):
    """A few LoRA steps on the served model: the fine-tune its endpoint and local prompting are measured against."""
    from fttrain.config import LoraConfig, TrainConfig
    from fttrain.run import run as train

    out = tmp_path_factory.mktemp("served-run") / "run"
    config = TrainConfig(
        base_model=str(served_model_dir), data=str(export_dir), output_dir=str(out), method="lora",
        lora=LoraConfig(r=4, alpha=8, dropout=0.0), max_seq_len=256, epochs=1, batch_size=8, gradient_accumulation=1,
        learning_rate=3e-3, logging_steps=4,
    )  # fmt: skip
    train(config)
    return out


@pytest.mark.slow
def test_the_fine_tune_against_every_prompting_contestant_with_cost_and_break_even(
    openai_server, served_model_dir, served_run, export_dir, tmp_path
):
    """Issue 14's "done when" on the tiny served model: base, base+prompt, base+fewshot, finetuned and a
    `transformers serve` endpoint marked as a baseline; the verdict names the best prompting contestant with its
    interval, p-value, cost per 1,000 answers and break-even volume, each figure recomputed here by hand."""
    served = {"type": "endpoint", "base_url": openai_server.base_url, "model": openai_server.model, "baseline": True,
              "fewshot_k": 2, "input_price_per_1m": 150.0, "output_price_per_1m": 600.0}  # fmt: skip
    path = write_config(
        tmp_path / "eval.yaml", base_model=str(served_model_dir), data=str(export_dir), run=str(served_run), limit=6,
        fewshot_k=2, cost={"hourly_price": 3.0, "training_hourly_price": 40.0}, contestants={"served": served},
    )  # fmt: skip
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "eval"
    results = json.loads((out / "results.json").read_text())
    contestants = results["contestants"]
    assert list(contestants) == ["base", "base+prompt", "base+fewshot", "finetuned", "served"]
    assert results["settings"]["prompting"] == ["base+prompt", "base+fewshot", "served"]
    # The endpoint saw the conversations base+fewshot saw: the same prompt tokens, recorded per answer.
    served_rows, fewshot_rows = answers(out, "served"), answers(out, "base+fewshot")
    assert [r["prompt"] for r in served_rows] == [r["prompt"] for r in fewshot_rows]
    assert [r["prompt_tokens"] for r in served_rows] == [r["prompt_tokens"] for r in fewshot_rows]
    # Cost per 1,000 answers: the endpoint's recorded tokens at its prices; a local contestant's generation time at
    # 3 per hour; training: the run's seconds at 40 per hour.
    paid = sum(r["prompt_tokens"] * 150.0 + r["completion_tokens"] * 600.0 for r in served_rows) / 1e6
    per_1k = {"served": paid / 6 * 1000}
    assert contestants["served"]["cost"]["per_1k_answers"] == pytest.approx(per_1k["served"])
    half_a_millisecond = 0.0005 / 3600 * 3.0 / 6 * 1000  # seconds are recorded to the millisecond
    for name in ("base", "base+prompt", "base+fewshot", "finetuned"):  # (the tiny model answers in ~0.04 s)
        per_1k[name] = contestants[name]["cost"]["seconds"] / 3600 * 3.0 / 6 * 1000
        assert contestants[name]["cost"]["per_1k_answers"] == pytest.approx(per_1k[name], abs=half_a_millisecond)
    training = results["training"]["seconds"] / 3600 * 40.0
    assert results["cost"]["training"]["total"] == pytest.approx(training)
    # The best prompting contestant: the highest strict pass rate, ties to the cheaper, then the first listed.
    prompting = results["settings"]["prompting"]
    # (Ranked on the recorded costs, checked above: recomputed from seconds rounded to the millisecond, two
    # contestants less than a millisecond apart could swap.)
    recorded = {n: contestants[n]["cost"]["per_1k_answers"] for n in prompting}
    best = min(prompting, key=lambda n: (-contestants[n]["scores"]["strict"], recorded[n], prompting.index(n)))
    assert results["cost"]["best_prompting"] == best
    text = results["verdict"]
    assert f"best prompting contestant, {best}" in text and "95 % CI" in text and "McNemar p=" in text
    finetuned_1k, best_1k = (
        contestants["finetuned"]["cost"]["per_1k_answers"],
        contestants[best]["cost"]["per_1k_answers"],
    )
    assert f"Cost per 1,000 answers: finetuned {finetuned_1k:.4g} USD, {best} {best_1k:.4g} USD." in text
    saving = (best_1k - finetuned_1k) / 1000
    if saving > 0:
        volume = math.ceil(results["cost"]["training"]["total"] / saving - 1e-9)
        assert results["cost"]["break_even_answers"] == volume
        assert f"Break-even against {best}: the training cost is paid back after {volume:,} answers." in text
    else:
        assert f"The fine-tune costs as much or more per answer than {best}: its training never pays back" in text
    # The report: a row per contestant (pass rate with its interval, cost per 1k) and the pass-rate-vs-cost plot.
    report = (out / "report.md").read_text()
    assert f"| `served` | `endpoint {openai_server.model}, prompting` |" in report
    assert "| `base+fewshot` | `local, prompting` |" in report and "| `finetuned` | `local` |" in report
    assert (out / "plots" / "pass_rate_vs_cost.png").read_bytes()[:4] == b"\x89PNG"
    # fteval compare gates the new contestants by name: unchanged passes; a planted drop of served fails.
    old = tmp_path / "old.json"
    old.write_text(json.dumps(results))
    gate = ["compare", str(old), str(out / "results.json"), "--contestant", "served", "--contestant", "base+fewshot"]
    result = CliRunner().invoke(main, [*gate, "--json"])
    assert result.exit_code == 0, result.output
    compared = json.loads(result.stdout)["changes"]
    assert {c["contestant"] for c in compared} == {"served", "base+fewshot"}
    assert "loss" not in {c["metric"] for c in compared if c["contestant"] == "served"}  # n/a for an endpoint
    contestants["served"]["scores"]["strict"] += 0.5
    old.write_text(json.dumps(results))
    result = CliRunner().invoke(main, gate)
    assert result.exit_code == 1 and "REGRESSION  served strict:" in result.output


@pytest.mark.slow
def test_a_server_killed_mid_run_fails_in_one_line_and_a_resumed_run_finishes_from_the_cache(
    served_model_dir, export_dir, tmp_path
):
    server = TransformersServe(served_model_dir, tmp_path / "serve.log").start()
    try:
        settings = {"type": "endpoint", "base_url": server.base_url, "model": server.model, "concurrency": 1,
                    "max_retries": 1}  # fmt: skip
        path = write_config(tmp_path / "eval.yaml", base_model=str(served_model_dir), data=str(export_dir), limit=6,
                            contestants={"served": settings})  # fmt: skip
        answered = []

        def crash_after_three(label, n, total):
            if label == "generating: served":
                answered.append(n)
                if sum(answered) == 3:
                    server.kill()  # SIGKILL, as a crash

        with pytest.raises(EndpointError) as error:
            run_eval(load_eval_config(path), progress=crash_after_three)
        message = str(error.value)
        found = re.fullmatch(
            rf"{re.escape(str(path))}: contestants\.served\.base_url: {re.escape(server.base_url)}: connection lost "
            r"after (\d) of 6 answers \([^\n]*\); rerun to continue from the cache",
            message,
        )
        assert found, message
        paid = int(found.group(1))
        assert 3 <= paid < 6 and server.chat_requests() == paid
        server.start()  # the same port: the same base_url, so the cache applies
        results = run_eval(load_eval_config(path))
        assert results.contestants["served"].endpoint["cached"] == paid
        assert results.contestants["served"].endpoint["requests"] == 6 - paid
        assert server.chat_requests() == 6  # over both lives of the server: each prompt answered once
        assert [a["answer"] for a in answers(tmp_path / "eval", "served")] == [
            a["answer"] for a in answers(tmp_path / "eval", "base+prompt")
        ]
    finally:
        server.stop()


def test_bad_endpoint_settings_fail_in_one_line_before_any_model_loads(export_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("FTKIT_TEST_NO_SUCH_KEY", raising=False)
    no_model = tmp_path / "no-model-here"  # were a model loaded first, the error would be about this folder
    runner = CliRunner()
    missing_key = {"type": "endpoint", "base_url": "https://api.example.invalid/v1", "model": "gpt-x",
                   "api_key_env": "FTKIT_TEST_NO_SUCH_KEY"}  # fmt: skip
    path = write_config(tmp_path / "eval.yaml", base_model=str(no_model), data=str(export_dir),
                        contestants={"gpt": missing_key})  # fmt: skip
    result = runner.invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert error_lines(result.output) == [
        f"Error: {path}: contestants.gpt.api_key_env: the environment variable FTKIT_TEST_NO_SUCH_KEY is not set: "
        "export the API key in it (configs name the variable, never the key), or set api_key_env: null for a "
        "key-less local server"
    ]
    port = free_port()
    unreachable = {"type": "endpoint", "base_url": f"http://127.0.0.1:{port}/v1", "model": "m"}
    write_config(path, base_model=str(no_model), data=str(export_dir), contestants={"local": unreachable})
    result = runner.invoke(main, ["run", str(path)])
    [line] = error_lines(result.output)
    assert result.exit_code == 2 and line.startswith(
        f"Error: {path}: contestants.local.base_url: http://127.0.0.1:{port}/v1 is unreachable ("
    )
    assert line.endswith("is the server running?")
    write_config(path, base_model=str(no_model), data=str(export_dir), contestants={"gpt": {"type": "openai"}})
    result = runner.invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert error_lines(result.output) == [
        f"Error: {path}: contestants.gpt.type: must be one of 'endpoint', got 'openai'"
    ]
    write_config(path, base_model=str(no_model), data=str(export_dir), contestants={"finetuned": {"model": "m"}})
    result = runner.invoke(main, ["run", str(path)])
    assert result.exit_code == 2 and "contestants.finetuned: a built-in contestant's name" in result.output
    assert not (tmp_path / "eval").exists()


def test_a_refused_key_fails_in_one_line_before_any_model_loads(export_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FTKIT_TEST_KEY", "sk-wrong-key-123")
    with ScriptedServer(Script(key="sk-right")) as server:
        gpt = {"type": "endpoint", "base_url": server.base_url, "model": "scripted", "api_key_env": "FTKIT_TEST_KEY"}
        path = write_config(tmp_path / "eval.yaml", base_model=str(tmp_path / "no-model"), data=str(export_dir),
                            contestants={"gpt": gpt})  # fmt: skip
        result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    [line] = error_lines(result.output)
    assert line.startswith(
        f"Error: {path}: contestants.gpt.api_key_env: {server.base_url} refused the key in FTKIT_TEST_KEY (HTTP 401"
    )
    assert "sk-wrong-key-123" not in result.output and not server.chat()


def test_rate_limits_that_outlast_the_retries_fail_in_one_line(tiny_model_dir, export_dir, tmp_path):
    with ScriptedServer(Script(chat_status=429, retry_after_ms=1)) as server:
        gpt = {"type": "endpoint", "base_url": server.base_url, "model": "scripted", "max_retries": 1}
        path = write_config(tmp_path / "eval.yaml", base_model=str(tiny_model_dir), data=str(export_dir), limit=2,
                            max_new_tokens=4, contestants={"gpt": gpt})  # fmt: skip
        result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    [line] = error_lines(result.output)
    assert line.startswith(f"Error: {path}: contestants.gpt: {server.base_url} still answered HTTP 429 (rate limited")
    assert "after 1 retries; 0 of 2 answers are cached: lower contestants.gpt.concurrency" in line


def test_a_golden_set_with_prompts_without_answers_and_an_endpoint_priced_by_its_tokens(tiny_model_dir, tmp_path):
    # Prompts only: scored by the style alone; reference metrics are not applicable (never 0).
    golden = tmp_path / "golden.jsonl"
    prompts = ["What is two plus two?", "Name three colours please", "How many legs has a spider?"]
    golden.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts) + '{"prompt": ""}\n')
    with ScriptedServer() as server:
        echo = {"type": "endpoint", "base_url": server.base_url, "model": "scripted", "baseline": True,
                "input_price_per_1m": 3.0, "output_price_per_1m": 5.0, "system_prompt": "Be brief."}  # fmt: skip
        path = write_config(tmp_path / "eval.yaml", base_model=str(tiny_model_dir), data=str(golden),
                            max_new_tokens=4, fewshot_k=2, contestants={"echo": echo})  # fmt: skip
        result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["data"]["kind"] == "golden" and results["data"]["n"] == 3
    assert results["data"]["left_out"] == {"breaks the contract": 1}
    assert f"1 row(s) of {golden} left out, breaking the contract: {golden}:4: prompt: is empty" in results["warnings"]
    assert "no few-shot examples: the data is a golden set; set fewshot_data to an export" in " ".join(
        results["warnings"]
    )
    assert list(results["contestants"]) == ["base", "base+prompt", "echo"]  # no train split: no base+fewshot
    for contestant in results["contestants"].values():
        assert "rougeL" not in contestant["scores"] and "loss" not in contestant["scores"]
        assert contestant["not_applicable"]["rougeL"] == "the data has prompts without reference answers"
    # The scripted server's tokens are words: the prompt's turns ("Be brief." + the question), the answer "echo: ...".
    prompt_words = sum(2 + len(p.split()) for p in prompts)
    answer_words = sum(1 + len(p.split()) for p in prompts)
    expected = (prompt_words * 3.0 + answer_words * 5.0) / 1e6 / 3 * 1000
    assert results["contestants"]["echo"]["cost"]["per_1k_answers"] == pytest.approx(expected)
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "| rougeL | higher is better | n/a | n/a | n/a |" in report and "| loss | lower is better | n/a |" in report
    assert f"| `echo` | `endpoint scripted, prompting` | 0.0 % (0.0–56.1) | {expected:.4g} USD |" in report
    assert (tmp_path / "eval" / "plots" / "pass_rate_vs_cost.png").read_bytes()[:4] == b"\x89PNG"
    # A file without one valid row: refused in one line naming the setting and the file.
    golden.write_text('{"prompt": ""}\n{"completion": "4"}\n')
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert error_lines(result.output) == [
        f"Error: {path}: data: {golden}: no valid rows (2 row(s)): {golden}:1: prompt: is empty"
    ]


def test_a_golden_csv_with_its_own_columns(tiny_model_dir, export_dir, tmp_path):
    rows = load_split(export_dir, "test")[:3]
    golden = tmp_path / "golden.csv"
    with golden.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket", "question", "answer"])
        writer.writerows([f"T{i}", e.messages[-2].content, e.completion] for i, e in enumerate(rows))
    path = write_config(tmp_path / "eval.yaml", base_model=str(tiny_model_dir), data=str(golden), max_new_tokens=4,
                        data_map="user=question,assistant=answer")  # fmt: skip
    results = run_eval(load_eval_config(path))
    assert results.data.kind == "golden" and results.data.n == 3
    assert {"rougeL", "exact_match", "loss"} <= set(results.contestants["base"].scores)
    references = [a["reference"] for a in answers(tmp_path / "eval", "base")]
    assert references == [e.completion for e in rows]


@pytest.mark.parametrize("form", ["parquet", "datasets folder"])
def test_a_golden_parquet_file_or_datasets_folder_with_answers_and_without(form, tmp_path):
    import datasets

    from fteval.data import load_eval_set

    rows = [
        {"prompt": "What is two plus two?", "completion": "4"},
        {"prompt": "Name three colours", "completion": None},  # a prompt without an answer
        {"prompt": "", "completion": "orphan"},  # breaks the contract: left out, counted
        {"prompt": "What is two plus two?", "completion": "4"},  # the same example again: once
    ]
    golden = tmp_path / ("golden.parquet" if form == "parquet" else "golden")
    if form == "parquet":
        datasets.Dataset.from_list(rows).to_parquet(str(golden))
    else:
        datasets.Dataset.from_list(rows).save_to_disk(str(golden))
    path = write_config(tmp_path / "eval.yaml", base_model=str(tmp_path / "not-loaded"), data=str(golden))
    test = load_eval_set(load_eval_config(path))
    assert test.kind == "golden" and [i.reference for i in test.items] == ["4", None]
    assert [i.turns()[-1]["content"] for i in test.items] == ["What is two plus two?", "Name three colours"]
    assert test.left_out == {"breaks the contract": 1, "the same prompt and answer as an earlier row": 1}
    assert not test.has_references  # ROUGE-L, exact match and loss: not applicable, never 0
    assert f"1 row(s) of {golden} left out, breaking the contract: {golden} row 3: prompt: is empty" in test.notes
    assert f"1 of 2 prompts of {golden} have no answer" in " ".join(test.notes)


@pytest.mark.slow
def test_an_ifeval_file_scored_through_transformers_serve(openai_server, served_model_dir, tmp_path):
    """An endpoint contestant on IFEval data: its prompt- and instruction-level strict accuracy, recomputed here from
    the failing instructions its answers file records, and the same answers as the local base+prompt."""
    rows = [
        {"key": 1, "prompt": "Say hello without any commas", "instruction_id_list": ["punctuation:no_comma"],
         "kwargs": [{}]},
        {"key": 2, "prompt": "Answer in lowercase and wrap it in double quotes",
         "instruction_id_list": ["change_case:english_lowercase", "startend:quotation"], "kwargs": [{}, {}]},
        {"key": 3, "prompt": "Write at least 3 sentences",
         "instruction_id_list": ["length_constraints:number_sentences"],
         "kwargs": [{"relation": "at least", "num_sentences": 3}]},
    ]  # fmt: skip
    data = tmp_path / "ifeval.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    served = {"type": "endpoint", "base_url": openai_server.base_url, "model": openai_server.model}
    path = write_config(tmp_path / "eval.yaml", base_model=str(served_model_dir), data=str(data), style="",
                        contestants={"served": served})  # fmt: skip
    results = run_eval(load_eval_config(path))
    rows_answered = answers(tmp_path / "eval", "served")
    assert [r["answer"] for r in rows_answered] == [r["answer"] for r in answers(tmp_path / "eval", "base+prompt")]
    failed = [len(r["failed_checks"]) for r in rows_answered]
    scores = results.contestants["served"].scores
    assert scores["strict"] == scores["ifeval/prompt_level_strict_acc"] == pytest.approx(failed.count(0) / 3)
    assert scores["ifeval/inst_level_strict_acc"] == pytest.approx((4 - sum(failed)) / 4)
    for answered, row in zip(rows_answered, rows, strict=True):  # each failure named by its instruction
        assert set(answered["failed_checks"]) <= set(row["instruction_id_list"])


def test_an_ifeval_file_as_data_scores_each_prompt_by_its_own_instructions(tiny_model_dir, tmp_path):
    rows = [
        {"key": 1, "prompt": "Say hello without any commas", "instruction_id_list": ["punctuation:no_comma"],
         "kwargs": [{}]},
        {"key": 2, "prompt": "Wrap your answer in double quotes", "instruction_id_list": ["startend:quotation"],
         "kwargs": [{}]},
        {"key": 3, "prompt": "Answer in Kannada", "instruction_id_list": ["language:response_language"],
         "kwargs": [{"language": "kn"}]},
    ]  # fmt: skip
    data = tmp_path / "ifeval.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with ScriptedServer() as server:
        echo = {"type": "endpoint", "base_url": server.base_url, "model": "scripted"}
        path = write_config(tmp_path / "eval.yaml", base_model=str(tiny_model_dir), data=str(data), style="",
                            max_new_tokens=4, contestants={"echo": echo})  # fmt: skip
        results = run_eval(load_eval_config(path))
    assert results.data.kind == "ifeval" and results.data.n == 2
    assert results.data.left_out == {"unsupported instruction language:response_language": 1}
    # "echo: Say hello without any commas" has no comma (followed); "echo: Wrap ..." is not in quotes (not followed).
    scores = results.contestants["echo"].scores
    assert scores["strict"] == scores["ifeval/prompt_level_strict_acc"] == 0.5
    assert scores["ifeval/inst_level_strict_acc"] == 0.5
    echoed = answers(tmp_path / "eval", "echo")
    assert echoed[0]["failed_checks"] == {} and echoed[1]["failed_checks"] == {
        "startend:quotation": "not wrapped in double quotes"
    }
    assert any("1 unsupported instruction(s) skipped (language:response_language 1)" in w for w in results.warnings)
