"""fteval end to end on the tiny model: three contestants on a small export, results, and the regression gate."""

import importlib.util
import json
import math
import re
import unicodedata
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ftcore.style import StyleSpec
from fteval.cli import main
from fteval.config import load_eval_config
from fteval.run import contestant_prompts, run_eval
from fttrain.config import LoraConfig, TrainConfig
from fttrain.run import run as train

REPO = Path(__file__).resolve().parents[2]
PAIRS_SCORED = (
    ("base+prompt", "finetuned"),
    ("base+fewshot", "finetuned"),
    ("base", "finetuned"),
    ("base", "base+prompt"),
    ("base", "base+fewshot"),
)
HOUSE_ANSWER = "Half of 8 is 8/2=<<8/2=4>>4.\n#### 4"
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


def assert_scores_are_the_answers(results: dict, out: Path, spec: StyleSpec) -> None:
    """Every score is what the answers files hold: strict and each check's pass rate from their failed checks,
    exact match from the `#### n` lines, and the paired comparisons' discordant counts and McNemar p-values."""
    outcomes = {name: recomputed(out / "answers" / f"{name}.jsonl", spec) for name in results["contestants"]}
    for name, contestant in results["contestants"].items():
        assert {key: contestant["scores"][key] for key in outcomes[name]["scores"]} == outcomes[name]["scores"], name
    compared = 0
    for comparison in results["comparisons"]:
        if comparison["metric"] not in outcomes["base"]["passed"]:
            continue
        baseline = outcomes[comparison["baseline"]]["passed"][comparison["metric"]]
        contestant = outcomes[comparison["contestant"]]["passed"][comparison["metric"]]
        only_contestant = sum(c and not b for b, c in zip(baseline, contestant, strict=True))
        only_baseline = sum(b and not c for b, c in zip(baseline, contestant, strict=True))
        assert (comparison["only_contestant"], comparison["only_baseline"]) == (only_contestant, only_baseline)
        assert comparison["p_value"] == pytest.approx(mcnemar_p(only_contestant, only_baseline), rel=1e-9)
        assert comparison["difference"] == pytest.approx((only_contestant - only_baseline) / len(baseline))
        compared += 1
    pairs = {(c["baseline"], c["contestant"]) for c in results["comparisons"]}
    assert compared == len(pairs) * (2 + len(spec.checks))  # strict, exact match, each check; every pair


def recomputed(path: Path, spec: StyleSpec) -> dict:
    """From an answers file alone: per example, whether it passes strict, each check and exact match; and the
    scores those make. The failed checks it records must be what the spec finds in each answer."""
    answers = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    for answer in answers:
        found = {check_id for check_id, result in spec.evaluate(answer["answer"]).items() if not result.passed}
        assert set(answer["failed_checks"]) == found, answer
    passed = {"strict": [not answer["failed_checks"] for answer in answers]}
    for check in spec.checks:
        passed[f"pass_rate/{check.id}"] = [check.id not in answer["failed_checks"] for answer in answers]
    passed["exact_match"] = [final_answer(a["answer"]) == final_answer(a["reference"]) for a in answers]
    return {"passed": passed, "scores": {metric: sum(values) / len(values) for metric, values in passed.items()}}


def final_answer(text: str) -> object:
    """The eval config's answer_pattern's group, last match, in NFC form; without a match, a value equal to nothing."""
    found = re.findall(r"^####\s*(.*?)\s*$", unicodedata.normalize("NFC", text), re.MULTILINE)
    return found[-1] if found else object()


def mcnemar_p(only_contestant: int, only_baseline: int) -> float:
    """Two-sided exact McNemar: twice the smaller binomial tail of the discordant pairs at 1/2, at most 1."""
    discordant = only_contestant + only_baseline
    tail = sum(math.comb(discordant, k) for k in range(min(only_contestant, only_baseline) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


@pytest.fixture(scope="module")
def house_format_run(tmp_path_factory, tiny_model_dir, gsm8k_rows):
    """A fine-tune planted to answer every prompt with one answer in the house format: trained on an export whose
    answers are all that answer, it passes every style check whatever the question (the base model, random,
    passes none)."""
    from ftdata.testing import accepted_export

    root = tmp_path_factory.mktemp("house-format")
    rows = [{"question": r["question"], "answer": HOUSE_ANSWER} for r in gsm8k_rows[:80]]
    accepted_export(root / "project", rows, root / "export", system="Answer in the house format.")
    lora = LoraConfig(r=8, alpha=16, dropout=0.0, modules_to_save=["embed_tokens", "lm_head"])
    config = TrainConfig(
        base_model=str(tiny_model_dir), data=str(root / "export"), output_dir=str(root / "run"), method="lora",
        lora=lora, max_seq_len=256, epochs=6, batch_size=8, gradient_accumulation=1, learning_rate=1e-2,
        logging_steps=8, eval_each_epoch=False,
    )  # fmt: skip
    train(config)
    return root / "run"


@pytest.fixture(scope="module")
def half_fours_export(tmp_path_factory, gsm8k_rows):
    """Test answers in the house format, every other one ending '#### 4' (the planted fine-tune's final answer):
    exact match of the final answer splits them in two."""
    from ftdata.testing import accepted_export

    root = tmp_path_factory.mktemp("half-fours")
    rows = []
    for number, row in enumerate(r for r in gsm8k_rows[1000:1100] if "<<" in r["answer"]):
        reasoning, final = row["answer"].rsplit("\n####", 1)
        final = " 4" if number % 2 else final
        rows.append({"question": row["question"], "answer": f"{reasoning}\n####{final}"})
    ratios = "split.ratios={train: 0.6, validation: 0.1, test: 0.3}"
    return accepted_export(root / "project", rows[:40], root / "export", system="House.", overrides=(ratios,))


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
    events = []
    results = run_eval(config, progress=lambda *event: events.append(event))
    assert list(results["contestants"]) == ["base", "base+prompt", "base+fewshot", "finetuned"]
    out = Path(config.output_dir)
    assert {p.name for p in (out / "answers").iterdir()} == {
        "base.jsonl", "base+prompt.jsonl", "base+fewshot.jsonl", "finetuned.jsonl"
    }  # fmt: skip
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
    assert_scores_are_the_answers(results, out, StyleSpec.load(config.style))
    # The tiny model was trained on these answers' format: its loss on the test answers is far below the base model's.
    assert results["contestants"]["finetuned"]["scores"]["loss"] < results["contestants"]["base"]["scores"]["loss"] - 1
    # Paired statistics for every documented pair, the verdict, and what the fine-tune cost.
    pairs = {(c["baseline"], c["contestant"]) for c in results["comparisons"]}
    assert pairs == set(PAIRS_SCORED)
    strict = next(c for c in results["comparisons"] if c["metric"] == "strict" and c["baseline"] == "base")
    assert strict["n"] == n and strict["ci_low"] <= strict["difference"] <= strict["ci_high"]
    assert results["verdict"] and "format adherence" in results["verdict"]
    assert results["settings"]["prompting"] == ["base+prompt", "base+fewshot"]
    assert results["training"]["run"] == str(finetuned_run) and results["training"]["tokens_seen"] > 0
    # General capability: the shipped lm-eval suite on base and finetuned (not base+prompt), with deltas.
    capability = results["capability"]
    assert capability["tasks"] == ["ftkit_capability"] and set(capability["scores"]) == {"base", "finetuned"}
    arithmetic = capability["deltas"]["ftkit_arithmetic"]["acc"]
    assert arithmetic["delta"] == pytest.approx(arithmetic["finetuned"] - arithmetic["base"])
    assert "capability/ftkit_gsm8k_mc/acc" in results["contestants"]["finetuned"]["scores"]
    assert "capability/ftkit_gsm8k_mc/acc" not in results["contestants"]["base+prompt"]["scores"]
    assert results["metrics"]["capability/ftkit_gsm8k_mc/acc"]["higher_is_better"]
    # One progress phase at a time, each brought to its total before the next begins.
    requests = 8 * 1 + 8 * 4 + 8 * 4  # capability_limit 8: arithmetic one request an item, the others four choices
    assert_phases(events, [("loading the base model", 1)] + [
        phase for name in ("base", "base+prompt", "base+fewshot", "finetuned")
        for phase in [(f"generating: {name}", n), (f"held-out loss: {name}", n)]
        + ([(f"lm-eval capability suite: {name}", requests)] if name in ("base", "finetuned") else [])
    ])  # fmt: skip
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


def assert_phases(events: list[tuple], expected: list[tuple[str, int]]) -> None:
    """`progress(stage, n, total)` events: stages one after another (never interleaved), each announced before
    its first item is done (n = 0: a display's clock for it starts then, not a batch later) and ending with its
    count equal to its last total, which is `expected`."""
    stages = [stage for stage, *_ in events]
    order = list(dict.fromkeys(stages))
    assert [stage for stage, _ in expected] == order
    for stage, size in expected:
        mine = [event for event in events if event[0] == stage]
        first, last = stages.index(stage), len(stages) - 1 - stages[::-1].index(stage)
        assert last - first + 1 == len(mine), f"{stage}: interleaved with another phase"
        assert mine[0][1] == 0, f"{stage}: first heard of after {mine[0][1]} item(s) were done"
        assert sum(event[1] for event in mine) == mine[-1][2] == size, (stage, mine)


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
    # The display's last state: every phase on its own line and finished (its count at its total, no spinner).
    lines = {line.split("━")[0].strip(): line for line in result.stderr.splitlines() if "━" in line}
    requests = 8 * 1 + 8 * 4 + 8 * 4  # the capability suite's loglikelihood requests at capability_limit 8
    contestants = ("base", "base+prompt", "base+fewshot", "finetuned")
    assert lines.keys() == {"loading the base model"} | {
        f"{phase}: {name}" for name in contestants for phase in ("generating", "held-out loss")
    } | {f"lm-eval capability suite: {name}" for name in ("base", "finetuned")}
    for phase, line in lines.items():
        size = 1 if phase.startswith("loading") else requests if phase.startswith("lm-eval") else 4
        assert f" {size}/{size} " in line, line
    assert not re.search("[\u2800-\u28ff]", result.stderr)  # rich's spinner: drawn only while a phase runs
    from ftcore import load_split

    # The prompts scored, by id, so that compare can tell another test set (another limit) from this one.
    assert results["data"]["prompt_ids"] == [e.id for e in load_split(results["data"]["folder"], "test")[:4]]
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
    conversations = contestant_prompts(examples, "Be brief.")
    references = [e.completion for e in examples]
    one_at_a_time = heldout_loss(model, tokenizer, conversations, references, batch_size=1)
    batched = heldout_loss(model, tokenizer, conversations, references, batch_size=8)
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
    assert list(results["contestants"]) == ["base", "base+prompt", "base+fewshot", "finetuned"]
    assert results["contestants"]["finetuned"]["adapter"] == str(tmp_path / "run")
    assert f"## Evaluation\n\n{evaluation['verdict']}\n" in (tmp_path / "run" / "README.md").read_text()  # the card

    # Scored later as `previous`, on the same prompts with the same settings, the run's answers are read back from
    # its own evaluation, and the output says so (an answer planted there shows they were read, not generated).
    earlier = tmp_path / "run" / "eval" / "answers" / "finetuned.jsonl"
    rows = [json.loads(line) for line in earlier.read_text().splitlines()]
    rows[0]["answer"] = "PLANTED"
    earlier.write_text("".join(json.dumps(row) + "\n" for row in rows))
    again = tmp_path / "again"
    settings = {"limit": 4, "previous_run": str(tmp_path / "run"), "capability_tasks": [], "output_dir": str(again)}
    result = CliRunner().invoke(main, ["run", str(eval_config(**settings))])
    assert result.exit_code == 0, result.output
    previous = json.loads((again / "results.json").read_text())["contestants"]["previous"]
    assert previous["generation"]["reused_from"] == str(earlier) and previous["generation"]["new_tokens"] == 0
    answers = [json.loads(line)["answer"] for line in (again / "answers" / "previous.jsonl").read_text().splitlines()]
    assert answers == ["PLANTED"] + [row["answer"] for row in rows[1:]]
    assert f"previous: answers reused from {earlier}" in " ".join(result.stderr.split())
    assert re.search(r"tokens/s +(\d+ +){4}reused", result.stderr)
    assert re.search(r"answers reused: previous +━+ 4/4", result.stderr)
    # Another setting that shapes the answers: generated again.
    CliRunner().invoke(main, ["run", str(eval_config(**settings, max_new_tokens=40))])
    regenerated = json.loads((again / "results.json").read_text())["contestants"]["previous"]["generation"]
    assert "reused_from" not in regenerated and regenerated["new_tokens"] > 0


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


@pytest.mark.slow
def test_a_fine_tune_planted_to_hold_the_house_format_is_better(
    eval_config, house_format_run, half_fours_export, tmp_path
):
    """The verdict where it is known: every fine-tuned answer passes every check and no base answer does, so on
    `strict` the fine-tune is better than both baselines (n of n discordant pairs, McNemar p = 2 / 2^n, the
    interval [1, 1]), and the verdict says so first. Its final answer, 4, is right for the test answers ending
    '#### 4' only."""
    overrides = {"run": str(house_format_run), "data": str(half_fours_export), "capability_tasks": [], "fewshot_k": 0}
    config = load_eval_config(eval_config(**overrides))
    results = run_eval(config)
    out = tmp_path / "eval"
    assert_scores_are_the_answers(results, out, StyleSpec.load(config.style))
    n = results["data"]["n"]
    finetuned = [json.loads(line) for line in (out / "answers" / "finetuned.jsonl").read_text().splitlines()]
    assert [answer["answer"] for answer in finetuned] == [HOUSE_ANSWER] * n
    scores = {name: c["scores"]["strict"] for name, c in results["contestants"].items()}
    assert scores == {"base": 0.0, "base+prompt": 0.0, "finetuned": 1.0}
    fours = sum(answer["reference"].endswith("\n#### 4") for answer in finetuned)
    assert 0 < fours < n and results["contestants"]["finetuned"]["scores"]["exact_match"] == fours / n
    strict = {(c["baseline"], c["contestant"]): c for c in results["comparisons"] if c["metric"] == "strict"}
    for baseline in ("base", "base+prompt"):
        comparison = strict[(baseline, "finetuned")]
        assert (comparison["only_contestant"], comparison["only_baseline"]) == (n, 0)
        assert comparison["p_value"] == pytest.approx(2 / 2**n) and comparison["p_value"] < 0.05
        assert (comparison["ci_low"], comparison["ci_high"]) == (1.0, 1.0)
        assert comparison["verdict"] == "better"
    assert strict[("base", "base+prompt")]["verdict"] == "not significant"
    assert results["verdict"].startswith(
        "The fine-tune beats the best prompting contestant, base+prompt: 100.0 % vs 0.0 % on format adherence, "
        f"+100.0 points (95 % CI +100.0 to +100.0, McNemar p={2 / 2**n:.3g})."
    )
