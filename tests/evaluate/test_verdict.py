"""The report's first sentence, in the terms the project judges a fine-tune by: prompting first."""

from fteval.paired import paired_comparison
from fteval.verdict import verdict


def results_with(finetuned, prompted, base, capability=None, training=None):
    per_example = {"base": base, "base+prompt": prompted, "finetuned": finetuned}
    comparisons = [
        paired_comparison("strict", a, per_example[a], b, per_example[b]).to_dict()
        for a, b in (("base+prompt", "finetuned"), ("base", "finetuned"), ("base", "base+prompt"))
    ]
    contestants = {name: {"scores": {"strict": sum(v) / len(v)}} for name, v in per_example.items()}
    return {"contestants": contestants, "comparisons": comparisons, "capability": capability, "training": training}


def test_a_fine_tune_that_beats_the_prompt_says_so_with_its_interval_and_cost():
    delta = {"base": 0.5, "finetuned": 0.48, "delta": -0.02, "delta_stderr": 0.07, "higher_is_better": True}
    capability = {"deltas": {"ftkit_arithmetic": {"acc": delta}}}
    training = {"tokens_seen": 123456, "steps": 40, "train_examples": 300, "seconds": 210.0}
    text = verdict(results_with([1] * 45 + [0] * 5, [1] * 10 + [0] * 40, [0] * 50, capability, training))
    assert text.startswith("The fine-tune beats the prompt baseline on format adherence by +70.0 points (95 % CI")
    assert "McNemar p=" in text and "90.0 % of the fine-tune's answers" in text and "20.0 % of the prompted" in text
    assert "ftkit_arithmetic acc 0.500 → 0.480 (-0.020 ± 0.070)" in text and "123,456 tokens" in text


def test_prompting_alone_is_enough_when_the_difference_is_not_significant():
    text = verdict(results_with([1] * 9 + [0], [1] * 8 + [0] * 2, [0] * 10))
    assert text.startswith("Prompting alone reaches 80.0 % on format adherence")
    assert "not significant: the fine-tune is not earning its cost" in text
    assert "General capability: not measured" in text


def test_a_prompt_that_beats_the_fine_tune():
    text = verdict(results_with([0] * 40, [1] * 40, [0] * 40))
    assert text.startswith("The prompt baseline beats the fine-tune") and "not earning its cost" in text
    assert "Against the base model the fine-tune is not significant" in text


def test_without_a_fine_tune_the_prompt_is_the_story():
    results = results_with([1] * 30, [1] * 30, [0] * 30)
    del results["contestants"]["finetuned"]
    text = verdict(results)
    assert text.startswith("No fine-tune scored. Prompting alone reaches 100.0 %") and "base model 0.0 %" in text
