"""What answers cost: per 1,000 answers for every contestant, the fine-tune's one-off training cost, and the
break-even volume after which the fine-tune has paid for its training against the best prompting contestant.

- An endpoint contestant costs its recorded tokens at its own prices (`input_price_per_1m`, `output_price_per_1m`):
  every answer's prompt and completion tokens as the server reported them, cached answers included (a cached
  answer cost that much when it was paid for).
- A local contestant costs its measured generation time at `cost.hourly_price` (the machine that generates: a GPU
  or CPU instance). 0 means not priced: its cost is then unknown, never zero.
- Training costs the run's time (summary.json `seconds`) at `cost.training_hourly_price` (default hourly_price).
- Break-even: training cost / (best prompting contestant's cost per answer - the fine-tune's cost per answer),
  rounded up. Where the fine-tune costs as much or more per answer it never pays back on cost.

>>> per_thousand(0.0045, 9)
0.5
>>> break_even(training=3.0, fine_tune_per_answer=0.0001, prompting_per_answer=0.0004)
10000
>>> break_even(training=3.0, fine_tune_per_answer=0.0004, prompting_per_answer=0.0004) is None
True
"""

from __future__ import annotations

import math
from typing import Any


def per_thousand(total: float, answers: int) -> float:
    """The cost of 1,000 answers when `answers` cost `total`."""
    return total / answers * 1000 if answers else 0.0


def break_even(training: float, fine_tune_per_answer: float, prompting_per_answer: float) -> int | None:
    """Answers after which `training` is paid back by the cheaper answers (None: never, they are not cheaper)."""
    saving = prompting_per_answer - fine_tune_per_answer
    if saving <= 0:
        return None
    return math.ceil(training / saving - 1e-9)  # a share of a cent left over by float division is no extra answer


def endpoint_cost(stats: Any, answers: int, input_price: float, output_price: float) -> dict[str, Any]:
    """An endpoint contestant's cost from its generator's totals (tokens and price, cached answers included)."""
    priced = input_price > 0 or output_price > 0
    return {
        "basis": "tokens × prices",
        "priced": priced,
        "total": stats.cost if priced else None,
        "per_1k_answers": per_thousand(stats.cost, answers) if priced else None,
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.new_tokens,
        "input_price_per_1m": input_price,
        "output_price_per_1m": output_price,
    }


def local_cost(stats: Any, answers: int, hourly_price: float) -> dict[str, Any]:
    """A local contestant's cost: its measured generation time at the machine's hourly price."""
    priced = hourly_price > 0
    total = stats.seconds / 3600 * hourly_price
    return {
        "basis": "generation time × hourly price",
        "priced": priced,
        "total": total if priced else None,
        "per_1k_answers": per_thousand(total, answers) if priced else None,
        "seconds": round(stats.seconds, 3),
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.new_tokens,
        "hourly_price": hourly_price,
    }


def training_cost(training: dict[str, Any] | None, hourly_price: float) -> dict[str, Any] | None:
    """The run's one-off cost: its training time at `hourly_price` (and the tokens it saw), or None without a run."""
    if not training or training.get("seconds") is None:
        return None
    hours = float(training["seconds"]) / 3600
    return {
        "hours": round(hours, 4),
        "tokens_seen": training.get("tokens_seen"),
        "hourly_price": hourly_price,
        "total": hours * hourly_price if hourly_price > 0 else None,
    }


def cost_summary(
    contestants: dict[str, Any], best_prompting: str | None, training: dict[str, Any] | None, currency: str
) -> dict[str, Any]:
    """results.json's `cost`: the currency, the training's one-off cost, and the break-even volume against the best
    prompting contestant (None where a figure it needs is not priced)."""
    summary: dict[str, Any] = {"currency": currency, "training": training, "best_prompting": best_prompting}
    summary["break_even_answers"] = None
    summary["break_even"] = "no fine-tune" if "finetuned" not in contestants else "not priced"
    if "finetuned" not in contestants or best_prompting is None:
        return summary
    fine_tune = contestants["finetuned"].cost.get("per_1k_answers")
    prompting = contestants[best_prompting].cost.get("per_1k_answers")
    if fine_tune is None or prompting is None or training is None or training.get("total") is None:
        return summary
    answers = break_even(training["total"], fine_tune / 1000, prompting / 1000)
    summary["break_even_answers"] = answers
    summary["break_even"] = "never" if answers is None else "answers"
    return summary
