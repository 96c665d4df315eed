"""The lm-eval capability suite on the tiny model: shipped data, scores from a path and from a loaded model, deltas."""

import json
import math
import re
from pathlib import Path

import pytest
import yaml

from fteval import capability
from fteval.capability import (
    SUITE,
    TASKS_DIR,
    CapabilityError,
    capability_deltas,
    run_capability_suite,
)
from fteval.tasks import build_tasks

LIMIT = 12  # items per task: enough for numbers that move, few enough for seconds
SHIPPED = {"ftkit_arithmetic": ["acc"], "ftkit_gsm8k_mc": ["acc", "acc_norm"], "ftkit_commonsense": ["acc", "acc_norm"]}


class _TaskYamlLoader(yaml.SafeLoader):
    """Reads lm-eval task YAMLs without importing what `!function` names."""


_TaskYamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def _task_configs() -> dict[str, dict]:
    configs = [yaml.load(path.read_text(), Loader=_TaskYamlLoader) for path in sorted(TASKS_DIR.glob("*.yaml"))]
    return {config["task"]: config for config in configs}


def _rows(config: dict) -> list[dict]:
    lines = (TASKS_DIR / config["dataset_kwargs"]["data_file"]).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _fields(template: str) -> set[str]:
    """The doc fields a YAML entry uses: a bare field name, or the names inside a Jinja template."""
    return set(re.findall(r"{{\s*(\w+)\s*}}", template)) if "{{" in template else {template}


def test_shipped_tasks_are_local_loglikelihood_and_tagged():
    configs = _task_configs()
    assert set(configs) == set(SHIPPED)
    for name, config in configs.items():
        assert config["tag"] == SUITE, name
        assert config["output_type"] in ("loglikelihood", "multiple_choice"), name
        assert config["custom_dataset"] == "jsonl_dataset.load", name  # never a hub dataset
        assert [m["metric"] for m in config["metric_list"]] == SHIPPED[name]


def test_shipped_data_files_validate():
    for name, config in _task_configs().items():
        rows = _rows(config)
        assert 50 <= len(rows) <= 100, name
        used = _fields(config["doc_to_text"]) | _fields(str(config["doc_to_target"]))
        used |= _fields(config.get("doc_to_choice", "")) - {""}
        for number, row in enumerate(rows, start=1):
            assert used <= set(row), f"{name}:{number}: lacks {used - set(row)}"
            if config["output_type"] == "multiple_choice":
                choices = row["choices"]
                assert len(choices) == 4 and len(set(choices)) == 4, f"{name}:{number}: {choices}"
                assert isinstance(row["label"], int) and 0 <= row["label"] < len(choices), f"{name}:{number}"
        questions = [row["question"] for row in rows]
        assert len(set(questions)) == len(questions), f"{name}: duplicated questions"


def test_shipped_data_is_what_the_build_script_makes(gsm8k_rows):
    rebuilt = {
        "arithmetic.jsonl": build_tasks.arithmetic_rows(),
        "commonsense.jsonl": build_tasks.commonsense_rows(),
        "gsm8k_mc.jsonl": build_tasks.gsm8k_rows(build_tasks.GSM8K),
    }
    for file_name, rows in rebuilt.items():
        assert [json.loads(line) for line in (TASKS_DIR / file_name).read_text().splitlines()] == rows, file_name
    gsm8k = _rows(_task_configs()["ftkit_gsm8k_mc"])
    # The last rows of GSM8K train, away from the examples, which start at the top of the file.
    assert [row["source_line"] for row in gsm8k] == list(range(len(gsm8k_rows) - 99, len(gsm8k_rows) + 1))
    for row in gsm8k:
        source = gsm8k_rows[row["source_line"] - 1]
        assert row["question"] == source["question"]
        assert row["choices"][row["label"]] == source["answer"].rsplit("####", 1)[1].strip().replace(",", "")


def test_deltas_are_finetuned_minus_base_with_direction():
    base = {
        "t": {"acc": 0.5, "acc_stderr": 0.03, "acc_norm": 0.25, "acc_norm_stderr": 0.04, "n": 100},
        "lm": {"perplexity": 10.0, "perplexity_stderr": 1.0, "n": 10},
        "g": {"exact_match,strict-match": 0.2, "exact_match_stderr,strict-match": math.nan},
    }
    tuned = {
        "t": {"acc": 0.4, "acc_stderr": 0.04, "acc_norm": 0.5, "acc_norm_stderr": 0.03, "n": 100},
        "lm": {"perplexity": 12.0, "perplexity_stderr": 1.0, "n": 10},
        "g": {"exact_match,strict-match": 0.3, "exact_match_stderr,strict-match": math.nan},
    }
    deltas = capability_deltas(base, tuned)
    acc = deltas["t"]["acc"]
    assert (acc["base"], acc["finetuned"], acc["higher_is_better"]) == (0.5, 0.4, True)
    assert acc["delta"] == pytest.approx(-0.1) and acc["delta_stderr"] == pytest.approx(0.05)
    assert deltas["t"]["acc_norm"]["delta"] == 0.25
    assert set(deltas["t"]) == {"acc", "acc_norm"}  # no stderr or n as metrics of their own
    assert deltas["lm"]["perplexity"]["delta"] == 2.0 and deltas["lm"]["perplexity"]["higher_is_better"] is False
    assert deltas["g"]["exact_match,strict-match"]["delta"] == pytest.approx(0.1)
    assert math.isnan(deltas["g"]["exact_match,strict-match"]["delta_stderr"])
    with pytest.raises(ValueError, match="different tasks: lm"):
        capability_deltas(base, {k: v for k, v in tuned.items() if k != "lm"})


def test_model_is_either_loaded_or_a_path():
    with pytest.raises(ValueError, match="either a loaded model"):
        run_capability_suite([SUITE])
    with pytest.raises(ValueError, match="either a loaded model"):
        run_capability_suite([SUITE], model=object(), tokenizer=object(), pretrained="some/model")
    with pytest.raises(ValueError, match="no peft"):
        run_capability_suite([SUITE], model=object(), tokenizer=object(), peft="runs/latest")
    with pytest.raises(ValueError, match="list of lm-eval task names"):
        run_capability_suite(SUITE, pretrained="some/model")


@pytest.fixture(scope="module")
def path_scores(tiny_model_dir):
    return run_capability_suite([SUITE], pretrained=str(tiny_model_dir), device="cpu", limit=LIMIT)


def _loaded(folder):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), AutoTokenizer.from_pretrained(folder)


def _assert_same_scores(scores: dict, expected: dict) -> None:
    assert scores.keys() == expected.keys()
    for task, metrics in expected.items():
        assert scores[task] == pytest.approx(metrics), task


@pytest.mark.slow
def test_suite_scores_every_shipped_task_with_stderr(path_scores):
    assert set(path_scores) == set(SHIPPED)
    for task, metrics in SHIPPED.items():
        assert set(path_scores[task]) == {"n", *metrics, *(f"{m}_stderr" for m in metrics)}
        assert path_scores[task]["n"] == LIMIT
        for metric in metrics:
            assert 0.0 <= path_scores[task][metric] <= 1.0
            assert 0.0 <= path_scores[task][f"{metric}_stderr"] <= 0.5


@pytest.mark.slow
def test_loaded_model_scores_as_its_path(tiny_model_dir, path_scores):
    model, tokenizer = _loaded(tiny_model_dir)
    _assert_same_scores(run_capability_suite([SUITE], model=model, tokenizer=tokenizer, limit=LIMIT), path_scores)


@pytest.mark.slow
def test_adapter_from_path_and_as_peft_model_agree_and_differ_from_base(tiny_model_dir, tiny_adapter_dir, path_scores):
    from peft import PeftModel

    from_path = run_capability_suite(
        [SUITE], pretrained=str(tiny_model_dir), peft=str(tiny_adapter_dir), device="cpu", limit=LIMIT
    )
    model, tokenizer = _loaded(tiny_model_dir)
    peft_model = PeftModel.from_pretrained(model, tiny_adapter_dir)
    loaded = run_capability_suite([SUITE], model=peft_model, tokenizer=tokenizer, limit=LIMIT)
    _assert_same_scores(loaded, from_path)
    deltas = capability_deltas(path_scores, from_path)
    assert {task: set(metrics) for task, metrics in deltas.items()} == {t: set(m) for t, m in SHIPPED.items()}
    moved = [d for metrics in deltas.values() for d in metrics.values() if d["delta"] != 0]
    assert moved, "the random adapter should change some score"
    for change in moved:
        assert change["delta"] == change["finetuned"] - change["base"]


@pytest.mark.slow
def test_chat_template_is_an_option_and_the_tokenizer_is_left_as_it_was(tiny_model_dir):
    model, tokenizer = _loaded(tiny_model_dir)
    tokenizer.pad_token = None  # lm-eval gives the tokenizer one for its run
    scores = run_capability_suite(
        ["ftkit_commonsense"], model=model, tokenizer=tokenizer, limit=4, apply_chat_template=True
    )
    assert tokenizer.pad_token is None
    assert scores["ftkit_commonsense"]["n"] == 4 and 0.0 <= scores["ftkit_commonsense"]["acc"] <= 1.0


@pytest.fixture
def lm_eval_arc_only(monkeypatch):
    """lm-eval's index of all its own tasks takes 6-30 s to build here: its ARC tasks stand in for them."""
    import lm_eval.tasks
    from lm_eval.tasks import TaskManager

    arc = Path(lm_eval.tasks.__file__).parent / "arc"
    managers = {
        False: TaskManager(include_path=str(TASKS_DIR), include_defaults=False),
        True: TaskManager(include_path=[str(arc), str(TASKS_DIR)], include_defaults=False),
    }
    monkeypatch.setattr(capability, "_task_manager", lambda with_lm_eval_tasks: managers[with_lm_eval_tasks])


def test_unknown_task_names_itself(lm_eval_arc_only):
    # Tasks are resolved before any model is loaded: the model path is never read.
    with pytest.raises(CapabilityError, match=r"unknown lm-eval task\(s\): no_such_task .*ftkit_capability"):
        run_capability_suite([SUITE, "no_such_task"], pretrained="never/loaded")


def test_hub_task_offline_fails_readably(tmp_path, monkeypatch, lm_eval_arc_only):
    import datasets

    # An empty datasets cache, so a copy of ARC cached on this machine cannot make it load.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path)
    with pytest.raises(CapabilityError, match=r"'arc_easy' could not load its dataset: .*offline"):
        run_capability_suite(["arc_easy"], pretrained="never/loaded")


FOUR_ITEMS = [  # (question, four choices): a local multiple-choice task small enough to score by hand
    ("What is 2 plus 3?", ["5", "6", "23", "1"]),
    ("Which animal barks?", ["a dog", "a cat", "a fish", "a bird"]),
    ("What colour is the sky on a clear day?", ["blue", "green", "red", "black"]),
    ("How many legs does a spider have?", ["eight", "six", "four", "ten"]),
]
FOUR_ITEMS_YAML = """
task: ftkit_four_items
dataset_path: ""
custom_dataset: !function jsonl_dataset.load
dataset_kwargs:
  data_file: four_items.jsonl
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_choice: choices
doc_to_target: label
target_delimiter: " "
num_fewshot: 0
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def _loglikelihood(model, tokenizer, context: str, continuation: str) -> float:
    """log P(continuation | context) summed over the continuation's tokens, the whole text encoded at once and
    split where the context's own encoding ends (as lm-eval's causal models do)."""
    import torch

    whole = tokenizer.encode(context + continuation)
    context_ids = tokenizer.encode(context)
    assert whole[: len(context_ids)] == context_ids
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0].double().log_softmax(-1)
    return sum(float(logits[position - 1, whole[position]]) for position in range(len(context_ids), len(whole)))


@pytest.mark.slow
def test_accuracy_is_the_share_of_items_whose_right_choice_is_most_likely(tmp_path, monkeypatch, tiny_model_dir):
    """A 4-item task scored by hand from the model's own log-likelihoods: lm-eval's acc and acc_norm must equal it.
    The labels are planted so that the model is right on three items and wrong on one: acc = 3/4 exactly."""
    import shutil

    from lm_eval.tasks import TaskManager

    model, tokenizer = _loaded(tiny_model_dir)
    rows, right, right_normalised = [], 0, 0
    for number, (question, choices) in enumerate(FOUR_ITEMS):
        context = f"Question: {question}\nAnswer:"
        scores = [_loglikelihood(model, tokenizer, context, " " + choice) for choice in choices]
        ranked = sorted(range(4), key=scores.__getitem__, reverse=True)
        assert scores[ranked[0]] - scores[ranked[1]] > 1e-4  # no near tie lm-eval's batching could flip
        label = ranked[0] if number != 2 else ranked[-1]  # item 3 planted wrong: its label is the least likely
        normalised = [score / len(choice) for score, choice in zip(scores, choices, strict=True)]
        right += label == ranked[0]
        right_normalised += label == max(range(4), key=normalised.__getitem__)
        rows.append({"question": question, "choices": choices, "label": label})
    assert right == 3

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    shutil.copy(TASKS_DIR / "jsonl_dataset.py", tasks)
    (tasks / "ftkit_four_items.yaml").write_text(FOUR_ITEMS_YAML)
    (tasks / "four_items.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    manager = TaskManager(include_path=str(tasks), include_defaults=False)
    monkeypatch.setattr(capability, "_task_manager", lambda with_lm_eval_tasks: manager)

    scores = run_capability_suite(["ftkit_four_items"], pretrained=str(tiny_model_dir), device="cpu")
    assert scores["ftkit_four_items"]["n"] == 4
    assert scores["ftkit_four_items"]["acc"] == 3 / 4
    assert scores["ftkit_four_items"]["acc_norm"] == right_normalised / 4
    # The standard error lm-eval reports for a mean of 0/1 values: sqrt(p (1 - p) / (n - 1)).
    assert scores["ftkit_four_items"]["acc_stderr"] == pytest.approx(math.sqrt(0.75 * 0.25 / 3))
    loaded = run_capability_suite(["ftkit_four_items"], model=model, tokenizer=tokenizer)
    assert loaded["ftkit_four_items"]["acc"] == 3 / 4 and loaded["ftkit_four_items"]["acc_norm"] == right_normalised / 4


def test_progress_counts_every_request_and_lm_eval_draws_no_bars(tiny_model_dir, capfd):
    """One report per scored request: a multiple-choice item is one loglikelihood request per choice, an arithmetic
    item one; the phase starts with an unknown total and ends with the count equal to it. lm-eval's own tqdm bars
    (building requests, scoring them) stay off."""
    model, tokenizer = _loaded(tiny_model_dir)
    capfd.readouterr()
    calls = []
    run_capability_suite(
        [SUITE], model=model, tokenizer=tokenizer, limit=4, progress=lambda n, total: calls.append((n, total))
    )
    configs = _task_configs()
    expected = sum(len(row["choices"]) if "doc_to_choice" in config else 1
                   for config in configs.values() for row in _rows(config)[:4])  # fmt: skip
    assert expected == 4 * 1 + 4 * 4 + 4 * 4  # arithmetic; GSM8K and common sense: four choices each
    assert calls[0] == (0, None) and calls[-1][1] == expected
    assert sum(n for n, _ in calls) == expected and sum(n == 1 for n, _ in calls) == expected
    assert "it/s" not in capfd.readouterr().err
