"""The report's first sentences: is the fine-tune earning its cost over prompting?

Fine-tuning is the last resort after prompting, so the fine-tune is judged against the **best prompting
contestant**: the highest strict pass rate (the share of answers passing every style check) among base+prompt,
base+fewshot and every endpoint marked `baseline: true` (ties: the cheaper per answer, then the first listed).
Every sentence follows from a figure in results.json, by these rules (p: the fine-tune's pass rate, q: the best
prompting contestant's, T: `target_pass_rate`; "better"/"worse": the paired interval excludes zero and McNemar's
test agrees, fteval.paired):

- better: the fine-tune beats it, by how much (interval, p-value).
- worse: the prompting contestant beats the fine-tune: prompting is enough, and better.
- not significant, q >= T: prompting already reaches the target: it is enough for this target.
- not significant, q < T: neither is shown better; prompting is below the target, so it is not shown to be
  enough either (nor the fine-tune, when p < T too); more test prompts narrow the interval.
- against `previous` (an earlier run), always said when scored: a significant regression or improvement, or no
  significant change.
- against the base model, said when the fine-tune is not better than it.
- then the cost line (per 1,000 answers, training, break-even: fteval.cost), the general-capability change and what
  the training took.

Usage:
    verdict(load_results("eval/latest/results.json"))
    # -> 'The fine-tune beats the best prompting contestant, base+fewshot, on format adherence: 90.0 % vs 20.0 % ...'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

HEADLINE_METRIC = "strict"
DEFAULT_TARGET = 0.8
PROMPTING = ("base+prompt", "base+fewshot")


def best_prompting(contestants: Mapping[str, Any], prompting: Sequence[str]) -> str | None:
    """The prompting contestant with the highest strict pass rate; ties go to the cheaper per answer (an unpriced
    one counts as dearest), then to the first in `prompting`."""
    scored = [name for name in prompting if _rate(contestants, name) is not None]
    if not scored:
        return None

    def rank(name: str) -> tuple[float, float, int]:
        cost = (contestants[name].get("cost") or {}).get("per_1k_answers")
        return (-_rate(contestants, name), float("inf") if cost is None else cost, scored.index(name))

    return min(scored, key=rank)


def verdict(results: Mapping[str, Any]) -> str:
    """A plain-language verdict from results.json's content (contestants, comparisons, settings, cost, capability,
    training)."""
    data = results.to_dict() if hasattr(results, "to_dict") else dict(results)
    contestants = data["contestants"]
    comparisons = {(c["baseline"], c["contestant"], c["metric"]): c for c in data.get("comparisons", [])}
    settings = data.get("settings") or {}
    target = settings.get("target_pass_rate", DEFAULT_TARGET)
    prompting = prompting_contestants(data)
    best = best_prompting(contestants, prompting)
    rate = lambda name: _percent(_rate(contestants, name))  # noqa: E731

    if "finetuned" not in contestants:
        if best is None:
            return "No fine-tune and no prompting contestant scored."
        text = f"No fine-tune scored. The best prompting contestant is {best} at {rate(best)} on format adherence"
        against_base = comparisons.get(("base", best, HEADLINE_METRIC))
        text += f" (base model {rate('base')}" + (f", {_describe(against_base)})." if against_base else ").")
        return " ".join([text, *_cost_sentences(data, best)])

    sentences = [_against_prompting(comparisons, contestants, best, target)]
    previous = comparisons.get(("previous", "finetuned", HEADLINE_METRIC))
    if previous is not None:
        sentences.append(_against_previous(previous, contestants))
    against_base = comparisons.get(("base", "finetuned", HEADLINE_METRIC))
    if against_base is not None and against_base["verdict"] != "better" and best != "base":
        sentences.append(
            f"Against the base model ({rate('base')}) the fine-tune is {against_base['verdict']}"
            f" ({_describe(against_base)})."
        )
    sentences += _cost_sentences(data, best)
    sentences.append(_capability_sentence(data.get("capability")))
    return " ".join(sentences)


def prompting_contestants(data: Mapping[str, Any]) -> list[str]:
    """The prompting contestants, as results.json lists them (older files: base+prompt and base+fewshot)."""
    listed = (data.get("settings") or {}).get("prompting")
    contestants = data["contestants"]
    if listed is not None:
        return [name for name in listed if name in contestants]
    return [name for name, c in contestants.items() if name in PROMPTING or c.get("prompting")]


def _against_prompting(comparisons: dict, contestants: Mapping[str, Any], best: str | None, target: float) -> str:
    fine_tune = _rate(contestants, "finetuned")
    if best is None:
        return f"{_percent(fine_tune)} of the fine-tune's answers pass every style check; no prompting contestant."
    comparison = comparisons.get((best, "finetuned", HEADLINE_METRIC))
    prompt = _rate(contestants, best)
    rates = f"{_percent(fine_tune)} vs {_percent(prompt)} on format adherence"
    if comparison is None:
        return f"The fine-tune against the best prompting contestant, {best}: {rates} (no paired comparison)."
    outcome = comparison["verdict"]
    if outcome == "better":
        return f"The fine-tune beats the best prompting contestant, {best}: {rates}, {_describe(comparison)}."
    if outcome == "worse":
        return (
            f"The best prompting contestant, {best}, beats the fine-tune: {_percent(prompt)} vs {_percent(fine_tune)}"
            f" on format adherence, {_describe(comparison)}: prompting is enough here, and better."
        )
    head = (
        f"The fine-tune is not significantly different from the best prompting contestant, {best}: {rates},"
        f" {_describe(comparison)}, on {comparison['n']} test prompts."
    )
    if prompt >= target:
        return (
            f"{head} {best} already reaches the target pass rate of {_percent(target)}: prompting is enough for this"
            " target."
        )
    if fine_tune >= target:
        return (
            f"{head} The fine-tune reaches the target pass rate of {_percent(target)} and {best} does not, but the"
            " difference is within chance: more test prompts are needed to tell them apart."
        )
    return (
        f"{head} Neither reaches the target pass rate of {_percent(target)}: prompting is not shown to be enough,"
        " and neither is the fine-tune."
    )


def _against_previous(comparison: dict[str, Any], contestants: Mapping[str, Any]) -> str:
    change = f"{_percent(_rate(contestants, 'previous'))} → {_percent(_rate(contestants, 'finetuned'))}"
    if comparison["verdict"] == "worse":
        return f"It is significantly worse than the previous run: {change}, {_describe(comparison)}: a regression."
    if comparison["verdict"] == "better":
        return f"It is significantly better than the previous run: {change}, {_describe(comparison)}."
    return f"No significant change from the previous run: {change}, {_describe(comparison)}."


def _cost_sentences(data: Mapping[str, Any], best: str | None) -> list[str]:
    contestants = data["contestants"]
    cost = data.get("cost") or {}
    currency = cost.get("currency", "USD")
    named = [name for name in ("finetuned", best) if name and name in contestants]
    sentences = []
    if named and any(contestants[name].get("cost") for name in named):
        parts = [f"{name} {_money(contestants[name].get('cost'), currency)}" for name in named]
        sentences.append(f"Cost per 1,000 answers: {', '.join(parts)}.")
    run, priced = data.get("training"), cost.get("training")
    if run and run.get("tokens_seen"):
        spent = ""
        if priced:
            spent = f", {priced['total']:.4g} {currency}" if priced.get("total") is not None else ", not priced"
        sentences.append(
            f"Training: {run['tokens_seen']:,} tokens seen over {run.get('steps')} steps"
            f" ({run.get('train_examples')} examples, {run.get('seconds')} s{spent})."
        )
    if "finetuned" in contestants and best and cost:
        if cost.get("break_even") == "answers":
            sentences.append(
                f"Break-even against {best}: the training cost is paid back after {cost['break_even_answers']:,}"
                " answers."
            )
        elif cost.get("break_even") == "never":
            sentences.append(
                f"The fine-tune costs as much or more per answer than {best}: its training never pays back on cost."
            )
        else:
            sentences.append(
                "Break-even: not computed (price the local machine with cost.hourly_price and endpoints with their"
                " per-1M-token prices)."
            )
    return sentences


def _money(cost: Mapping[str, Any] | None, currency: str) -> str:
    if not cost:
        return "not measured"
    if cost.get("per_1k_answers") is None:
        return "not priced"
    return f"{cost['per_1k_answers']:.4g} {currency}"


def _rate(contestants: Mapping[str, Any], name: str) -> float | None:
    value = (contestants.get(name) or {}).get("scores", {}).get(HEADLINE_METRIC)
    return None if value is None else float(value)


def _percent(value: float | None) -> str:
    return "not scored" if value is None else f"{value * 100:.1f} %"


def _describe(comparison: Mapping[str, Any]) -> str:
    text = (
        f"{comparison['difference'] * 100:+.1f} points (95 % CI {comparison['ci_low'] * 100:+.1f} to"
        f" {comparison['ci_high'] * 100:+.1f}"
    )
    if comparison.get("p_value") is not None:
        text += f", McNemar p={comparison['p_value']:.3g}"
    return text + ")"


def _capability_sentence(capability: Mapping[str, Any] | None) -> str:
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
