"""The report's first sentence: is the fine-tune earning its cost? Fine-tuning is the last resort after prompting, so
the fine-tune is judged against the prompted base model first, on format adherence (`strict`: the share of answers
passing every style check), with its general-capability change and what the training took.

Usage:
    verdict(load_results("eval/latest/results.json"))
    # -> 'The fine-tune beats the prompt baseline on format adherence by +41.0 points (95 % CI +31.0 to +51.0, ...'
"""

from __future__ import annotations

from typing import Any

HEADLINE_METRIC = "strict"


def verdict(results: dict[str, Any]) -> str:
    """A plain-language verdict from results.json's content (its `comparisons`, `capability` and `training`)."""
    contestants = results["contestants"]
    comparisons = {(c["baseline"], c["contestant"], c["metric"]): c for c in results.get("comparisons", [])}

    def rate(name: str) -> str:
        value = contestants.get(name, {}).get("scores", {}).get(HEADLINE_METRIC)
        return "not scored" if value is None else f"{value * 100:.1f} %"

    if "finetuned" not in contestants:
        prompted = comparisons.get(("base", "base+prompt", HEADLINE_METRIC))
        text = f"No fine-tune scored. Prompting alone reaches {rate('base+prompt')} on format adherence"
        text += f" (base model {rate('base')}" + (f", {_describe(prompted)})." if prompted else ").")
        return text
    against_prompt = comparisons.get(("base+prompt", "finetuned", HEADLINE_METRIC))
    against_base = comparisons.get(("base", "finetuned", HEADLINE_METRIC))
    rates = (
        f"{rate('finetuned')} of the fine-tune's answers pass every style check, {rate('base+prompt')} of the prompted"
        f" base model's, {rate('base')} of the base model's"
    )
    if against_prompt is None:
        sentences = [f"{rates}."]
    elif against_prompt["verdict"] == "better":
        sentences = [
            f"The fine-tune beats the prompt baseline on format adherence by {_describe(against_prompt)}: {rates}."
        ]
    elif against_prompt["verdict"] == "worse":
        sentences = [
            f"The prompt baseline beats the fine-tune on format adherence ({_describe(against_prompt)}): {rates}.",
            f"Prompting alone reaches {rate('base+prompt')}: the fine-tune is not earning its cost.",
        ]
    else:
        sentences = [
            f"Prompting alone reaches {rate('base+prompt')} on format adherence; the fine-tune's"
            f" {_describe(against_prompt)} is not significant: the fine-tune is not earning its cost.",
            f"({rates}.)",
        ]
    if against_base is not None and against_base["verdict"] != "better":
        outcome = against_base["verdict"]
        sentences.append(f"Against the base model the fine-tune is {outcome} ({_describe(against_base)}).")
    sentences.append(_capability_sentence(results.get("capability")))
    training = results.get("training")
    if training and training.get("tokens_seen"):
        sentences.append(
            f"Training: {training['tokens_seen']:,} tokens seen over {training.get('steps')} steps"
            f" ({training.get('train_examples')} examples, {training.get('seconds')} s)."
        )
    return " ".join(sentences)


def _describe(comparison: dict[str, Any]) -> str:
    text = (
        f"{comparison['difference'] * 100:+.1f} points (95 % CI {comparison['ci_low'] * 100:+.1f} to"
        f" {comparison['ci_high'] * 100:+.1f}"
    )
    if comparison.get("p_value") is not None:
        text += f", McNemar p={comparison['p_value']:.3g}"
    return text + ")"


def _capability_sentence(capability: dict[str, Any] | None) -> str:
    if not capability or not capability.get("deltas"):
        return "General capability: not measured (no capability_tasks configured)."
    parts = []
    for task, metrics in capability["deltas"].items():
        metric = next((m for m in ("acc_norm", "acc", "exact_match") if m in metrics), next(iter(metrics), None))
        if metric is None:
            continue
        delta = metrics[metric]
        change = f"{delta['base']:.3f} → {delta['finetuned']:.3f} ({delta['delta']:+.3f}"
        if delta.get("delta_stderr") is not None:
            change += f" ± {delta['delta_stderr']:.3f}"
        parts.append(f"{task} {metric} {change})")
    return "General-capability change (lm-eval, finetuned vs base): " + "; ".join(parts) + "."
