"""fteval end to end on the tiny model: three contestants on a small export, results, and the regression gate."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fteval.cli import main
from fteval.config import load_eval_config
from fteval.run import contestant_prompts, run_eval
from fttrain.config import LoraConfig, TrainConfig
from fttrain.run import run as train

REPO = Path(__file__).resolve().parents[2]
SYSTEM = "Answer with reasoning lines holding <<expr=value>> notes, then a last line '#### <number>'."


@pytest.fixture(scope="module")
def finetuned_run(tmp_path_factory, tiny_model_dir, export_dir):
    out = tmp_path_factory.mktemp("run") / "run"
    lora = LoraConfig(r=8, alpha=16, dropout=0.0, modules_to_save=["embed_tokens", "lm_head"])
    config = TrainConfig(
        base_model=str(tiny_model_dir), data=str(export_dir), output_dir=str(out), method="lora", lora=lora,
        max_seq_len=256, epochs=3, batch_size=8, gradient_accumulation=1, learning_rate=3e-3, logging_steps=4,
    )  # fmt: skip
    train(config)
    return out


@pytest.fixture
def eval_config(tmp_path, tiny_model_dir, export_dir, finetuned_run):
    def make(**overrides):
        config = {
            "base_model": str(tiny_model_dir),
            "data": str(export_dir),
            "style": str(REPO / "examples" / "quickstart" / "style.yaml"),
            "system_prompt": SYSTEM,
            "run": str(finetuned_run),
            "output_dir": str(tmp_path / "eval"),
            "max_new_tokens": 48,
            "batch_size": 8,
            "answer_pattern": r"^####\s*(.*?)\s*$",
            "capability_limit": 8,
            **overrides,
        }
        path = tmp_path / "eval.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return make


def test_three_contestants_scored_and_recorded(eval_config, export_dir, finetuned_run):
    config = load_eval_config(eval_config())
    results = run_eval(config)
    assert list(results["contestants"]) == ["base", "base+prompt", "finetuned"]
    out = Path(config.output_dir)
    assert {p.name for p in (out / "answers").iterdir()} == {"base.jsonl", "base+prompt.jsonl", "finetuned.jsonl"}
    n = results["data"]["n"]
    assert n == 8 and results["data"]["split"] == "test"
    from ftcore import ExportManifest

    assert results["data"]["manifest_fingerprint"] == ExportManifest.read(export_dir).fingerprint
    assert results["contestants"]["finetuned"]["adapter"] == str(finetuned_run)
    assert results["metrics"]["loss"]["higher_is_better"] is False and results["metrics"]["strict"]["higher_is_better"]
    for name, contestant in results["contestants"].items():
        scores = contestant["scores"]
        assert contestant["n"] == n and 0 <= scores["strict"] <= 1 and 0 <= scores["rougeL"] <= 1, name
        assert {"pass_rate/final-answer-line", "pass_rate/calculator-notes", "exact_match", "loss"} <= set(scores)
        answers = [json.loads(line) for line in (out / "answers" / f"{name}.jsonl").read_text().splitlines()]
        assert len(answers) == n and all(
            {"id", "prompt", "answer", "reference", "failed_checks"} <= set(a) for a in answers
        )
    # The tiny model was trained on these answers' format: its loss on the test answers is far below the base model's.
    assert results["contestants"]["finetuned"]["scores"]["loss"] < results["contestants"]["base"]["scores"]["loss"] - 1
    # Paired statistics for every documented pair, the verdict, and what the fine-tune cost.
    pairs = {(c["baseline"], c["contestant"]) for c in results["comparisons"]}
    assert pairs == {("base+prompt", "finetuned"), ("base", "finetuned"), ("base", "base+prompt")}
    strict = next(c for c in results["comparisons"] if c["metric"] == "strict" and c["baseline"] == "base")
    assert strict["n"] == n and strict["ci_low"] <= strict["difference"] <= strict["ci_high"]
    assert strict["verdict"] in ("better", "worse", "not significant")
    assert results["verdict"] and "format adherence" in results["verdict"]
    assert results["training"]["run"] == str(finetuned_run) and results["training"]["tokens_seen"] > 0
    # General capability: the shipped lm-eval suite on base and finetuned (not base+prompt), with deltas.
    capability = results["capability"]
    assert capability["tasks"] == ["ftkit_capability"] and set(capability["scores"]) == {"base", "finetuned"}
    arithmetic = capability["deltas"]["ftkit_arithmetic"]["acc"]
    assert arithmetic["delta"] == pytest.approx(arithmetic["finetuned"] - arithmetic["base"])
    assert "capability/ftkit_gsm8k_mc/acc" in results["contestants"]["finetuned"]["scores"]
    assert "capability/ftkit_gsm8k_mc/acc" not in results["contestants"]["base+prompt"]["scores"]
    assert results["metrics"]["capability/ftkit_gsm8k_mc/acc"]["higher_is_better"]
    assert "General-capability change (lm-eval, finetuned vs base): ftkit_arithmetic acc" in results["verdict"]
    # Closing the loop: the fine-tune's failing answers, as examples ftdata imports for review.
    from ftcore import read_examples

    queue = read_examples(out / "review_queue.jsonl")
    failing = [a for a in (json.loads(x) for x in (out / "answers" / "finetuned.jsonl").read_text().splitlines())
               if a["failed_checks"] and a["answer"].strip()]  # fmt: skip
    assert len(queue) == len(failing) and all(e.metadata["source"] == "fteval:finetuned" for e in queue)
    from ftdata.importers import import_files
    from ftdata.project import Project, init_project

    init_project(out / "next-round")
    [imported] = import_files(Project.open(out / "next-round"), [out / "review_queue.jsonl"])
    assert imported.added == len({e.id for e in queue}) and not imported.rejected
    prompted = json.loads((out / "answers" / "base+prompt.jsonl").read_text().splitlines()[0])["prompt"]
    assert prompted[0] == {"role": "system", "content": SYSTEM}


def test_the_prompted_baseline_replaces_the_system_turn(export_dir):
    from ftcore import load_split

    example = load_split(export_dir, "test")[0]
    assert example.system == "Answer in the house format."
    [with_prompt] = contestant_prompts([example], "House rules.")
    assert [m["role"] for m in with_prompt] == ["system", "user"] and with_prompt[0]["content"] == "House rules."
    [plain] = contestant_prompts([example], None)
    assert plain[0]["content"] == "Answer in the house format."


def test_cli_run_then_compare_gates_on_a_planted_regression(eval_config, tmp_path):
    path = eval_config(limit=4)
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 0, result.output
    results_path = tmp_path / "eval" / "results.json"
    results = json.loads(results_path.read_text())
    assert "finetuned" in result.output and "strict" in result.output
    assert {"report.md", "report.html", "results.json"} <= {p.name for p in (tmp_path / "eval").iterdir()}
    worse = json.loads(json.dumps(results))
    worse["contestants"]["finetuned"]["scores"]["loss"] += 0.5  # a planted regression
    worse_path = tmp_path / "worse.json"
    worse_path.write_text(json.dumps(worse))
    assert CliRunner().invoke(main, ["compare", str(results_path), str(results_path)]).exit_code == 0
    gated = CliRunner().invoke(main, ["compare", str(results_path), str(worse_path)])
    assert gated.exit_code == 1 and "REGRESSION  finetuned loss" in gated.output


def test_bad_config_errors(eval_config, tmp_path):
    runner = CliRunner()
    no_prompt = eval_config(system_prompt="")
    result = runner.invoke(main, ["run", str(no_prompt)])
    assert result.exit_code == 2 and "system_prompt: required" in result.output
    if importlib.util.find_spec("vllm") is None:
        result = runner.invoke(main, ["run", str(eval_config(generator="vllm"))])
        assert result.exit_code == 2 and "the vllm package is not installed" in result.output
    result = runner.invoke(main, ["run", str(eval_config(generator="tgi"))])
    assert result.exit_code == 2 and "generator" in result.output and "vllm" in result.output
    not_a_run = eval_config(run=str(tmp_path))
    result = runner.invoke(main, ["run", str(not_a_run)])
    assert result.exit_code == 2 and "holds no adapter" in result.output


def test_heldout_loss_is_the_same_batched_and_one_at_a_time(tiny_model_dir, export_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftcore import load_split
    from fteval.run import heldout_loss

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    examples = load_split(export_dir, "test")
    one_at_a_time = heldout_loss(model, tokenizer, examples, "Be brief.", batch_size=1)
    batched = heldout_loss(model, tokenizer, examples, "Be brief.", batch_size=8)
    assert batched["loss"] == pytest.approx(one_at_a_time["loss"], rel=1e-4)


def test_fttrain_evaluates_the_run_when_its_config_names_an_eval(eval_config, tiny_model_dir, export_dir, tmp_path):
    from fttrain.cli import main as fttrain_main

    eval_path = eval_config(limit=4, run=None)
    train_path = tmp_path / "train.yaml"
    train = {
        "base_model": str(tiny_model_dir), "data": str(export_dir), "output_dir": str(tmp_path / "run"),
        "method": "lora", "epochs": 1, "batch_size": 8, "gradient_accumulation": 1, "max_seq_len": 256,
        "evaluate": str(eval_path),
    }  # fmt: skip
    train_path.write_text(yaml.safe_dump(train))
    result = CliRunner().invoke(fttrain_main, ["run", str(train_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    evaluation = summary["evaluation"]
    assert Path(evaluation["report"]).is_file() and evaluation["verdict"]
    results = json.loads(Path(evaluation["results"]).read_text())
    assert list(results["contestants"]) == ["base", "base+prompt", "finetuned"]
    assert results["contestants"]["finetuned"]["adapter"] == str(tmp_path / "run")


def test_the_base_weights_come_back_whole_after_the_fine_tune(eval_config, finetuned_run):
    """The adapter is merged for speed and unmerged afterwards: `previous` (here the same adapter) must score
    exactly as `finetuned` did, which only holds if the base weights came back as they were."""
    results = run_eval(load_eval_config(eval_config(limit=4, previous_run=str(finetuned_run), capability_tasks=[])))
    finetuned, previous = results["contestants"]["finetuned"], results["contestants"]["previous"]
    assert previous["scores"]["strict"] == finetuned["scores"]["strict"]
    assert previous["scores"]["loss"] == pytest.approx(finetuned["scores"]["loss"], rel=1e-5)


def test_a_run_is_scored_only_on_its_own_base_model(eval_config, finetuned_run, tmp_path, tiny_tokenizer_dir):
    from fttrain.testing import tiny_llama

    other = tiny_llama(tmp_path / "other-model", tiny_tokenizer_dir, seed=1)
    result = CliRunner().invoke(main, ["run", str(eval_config(base_model=str(other)))])
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert f"base_model '{other}' is not the base model the run was trained from" in line
    assert f"'{load_eval_config(eval_config()).base_model.path}'" in line  # the run's, named too
    assert not (tmp_path / "eval").exists()  # refused before any model loads
    # Left out, the base model is the run's own.
    path = eval_config(limit=2, max_new_tokens=8, capability_tasks=[])
    text = yaml.safe_load(path.read_text())
    del text["base_model"]
    path.write_text(yaml.safe_dump(text))
    results = run_eval(load_eval_config(path))
    assert results.base_model == load_eval_config(eval_config()).base_model.path and not results.warnings


def test_a_run_scored_on_another_export_is_a_recorded_warning(eval_config, finetuned_run, gsm8k_rows, tmp_path):
    from ftcore import ExportManifest
    from ftdata.testing import accepted_export

    rows = [r for r in gsm8k_rows[300:500] if "<<" in r["answer"] and len(r["answer"]) < 400][:40]
    other = accepted_export(tmp_path / "project", rows, tmp_path / "other-export", system="Answer in the house format.")
    path = eval_config(data=str(other), limit=2, max_new_tokens=8, capability_tasks=[])
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 0, result.output
    run_fingerprint = json.loads((finetuned_run / "summary.json").read_text())["data_manifest"]
    expected = (
        f"run {finetuned_run} was trained on export {run_fingerprint[:12]} "
        f"(" + json.loads((finetuned_run / "data_manifest.json").read_text())["folder"] + "), not on the export "
        f"scored here, {ExportManifest.read(other).fingerprint[:12]} ({other})"
    )
    assert f"warning: {expected}" in " ".join(result.output.split())  # printed (rich may wrap it)
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["warnings"] == [expected]  # and recorded


def test_run_json_is_results_on_stdout(eval_config, tmp_path):
    path = eval_config(limit=2, max_new_tokens=8, capability_tasks=[])
    result = CliRunner().invoke(main, ["run", str(path), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # nothing but JSON on stdout; tables and bars stay off
    written = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert {key: value for key, value in printed.items() if key != "files"} == written
    assert printed["files"]["results"] == str(tmp_path / "eval" / "results.json")
    assert Path(printed["files"]["report"]).is_file() and "Verdict." not in result.stderr
