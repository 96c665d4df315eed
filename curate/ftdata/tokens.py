"""Token counts with the base model's tokenizer and chat template: what training will actually see.

Usage:
    tokenizer = load_tokenizer("HuggingFaceTB/SmolLM2-135M-Instruct")   # or a local folder
    counts = count_tokens(examples, tokenizer)
    counts.total[0], counts.prompt[0], counts.completion[0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ftcore import models
from ftcore.chat import render_chat
from ftcore.example import Example
from ftcore.models import ModelSource

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

BATCH_SIZE = 4096


@dataclass(frozen=True)
class Distribution:
    min: int
    p50: int
    p95: int
    max: int
    mean: float

    @classmethod
    def of(cls, values: Sequence[int]) -> Distribution:
        if not values:
            return cls(0, 0, 0, 0, 0.0)
        ordered = sorted(values)
        return cls(
            min=ordered[0],
            p50=_percentile(ordered, 50),
            p95=_percentile(ordered, 95),
            max=ordered[-1],
            mean=round(sum(ordered) / len(ordered), 1),
        )


@dataclass(frozen=True)
class TokenCounts:
    prompt: list[int]  # everything before the answer, generation prompt included
    completion: list[int]  # the answer and the template's end-of-turn tokens
    total: list[int]


def load_tokenizer(source: ModelSource | str, setting: str = "lint.tokenizer") -> PreTrainedTokenizerBase:
    """The base model's tokenizer: a local folder, a hub id (offline runs need it in the local cache) or a GGUF
    file, loaded as training loads it (`ftcore.models.load_tokenizer`)."""
    return models.load_tokenizer(source, setting)


def count_tokens(
    examples: Sequence[Example],
    tokenizer: PreTrainedTokenizerBase,
    progress: Callable[[int], None] | None = None,
) -> TokenCounts:
    """Prompt, completion and total tokens per example, rendered with the tokenizer's chat template
    (or, for a tokenizer without one, the turns joined by newlines). The completion is the answer
    and what the template puts after it (end-of-turn tokens); the prompt is everything before."""
    prompt_counts: list[int] = []
    total_counts: list[int] = []
    backend = getattr(tokenizer, "backend_tokenizer", None)
    for start in range(0, len(examples), BATCH_SIZE):
        batch = examples[start : start + BATCH_SIZE]
        texts, answer_starts = zip(*(render(example, tokenizer) for example in batch), strict=True)
        if backend is not None:
            # One encoding pass over the full text (the Rust tokenizer, threaded); the prompt's
            # share is read off the token offsets where the answer begins.
            for answer_start, encoding in zip(
                answer_starts, backend.encode_batch(texts, add_special_tokens=False), strict=True
            ):
                boundary = encoding.char_to_token(answer_start)
                if boundary is not None and encoding.offsets[boundary][0] < answer_start:
                    boundary += 1  # a token straddling the boundary is not trained (ftcore.chat): it is prompt
                total_counts.append(len(encoding.ids))
                prompt_counts.append(len(encoding.ids) if boundary is None else boundary)
        else:  # a slow (Python) tokenizer has no offsets: encode the prompt part separately
            prompts = [text[:answer_start] for text, answer_start in zip(texts, answer_starts, strict=True)]
            encoded = tokenizer(list(prompts) + list(texts), add_special_tokens=False)["input_ids"]
            prompt_counts += [len(ids) for ids in encoded[: len(batch)]]
            total_counts += [len(ids) for ids in encoded[len(batch) :]]
        if progress is not None:
            progress(len(batch))
    completion_counts = [total - prompt for total, prompt in zip(total_counts, prompt_counts, strict=True)]
    return TokenCounts(prompt_counts, completion_counts, total_counts)


def render(example: Example, tokenizer: PreTrainedTokenizerBase) -> tuple[str, int]:
    """The conversation as training formats it, and the character offset where the answer starts: the start
    of the last assistant span that training's labels use (`ftcore.chat.render_chat`)."""
    chat = render_chat([m.to_dict() for m in example.messages], tokenizer, require_template=False)
    return chat.text, chat.answer_start


def _percentile(ordered: Sequence[int], q: int) -> int:
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
