"""Training data: an `ftdata export` split tokenized with the chat template, with assistant-only labels.

Only the assistant's turns are trained — their text and the template's end-of-turn tokens — and
nothing of the system prompt, the user's turns or the template's headers. Most shipped templates
lack the `{% generation %}` markers that `return_assistant_tokens_mask` needs, so the mask is read
off the template itself: for each assistant turn, the rendering of the conversation before it (with
the generation prompt) and up to it bracket its characters, and token offsets map those to tokens.

Usage:
    tokenized = tokenize_examples(load_split("exports/v1", "train"), tokenizer, max_seq_len=1024)
    print(explain_example(tokenized.items[0], tokenizer))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftcore import Example
from ftcore.errors import FtdataError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100  # what the loss skips


class MaskError(FtdataError):
    """The chat template cannot give assistant-only labels, or an example would train nothing."""


@dataclass
class TokenizedExample:
    id: str
    input_ids: list[int]
    labels: list[int]
    truncated_assistant_tokens: int  # assistant tokens cut off by max_seq_len

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class TokenizedSplit:
    items: list[TokenizedExample]
    truncated_examples: int = 0  # examples that lost assistant tokens to truncation
    lost_assistant_tokens: int = 0
    fully_masked: list[str] = field(default_factory=list)  # ids with no trained token left

    def as_records(self) -> list[dict[str, Any]]:
        return [{"input_ids": item.input_ids, "labels": item.labels} for item in self.items]


def assistant_spans(
    messages: Sequence[dict[str, str]], tokenizer: PreTrainedTokenizerBase
) -> tuple[str, list[tuple[int, int]]]:
    """The conversation as the template renders it, and the character span of each assistant turn.

    A span runs from the end of the generation prompt to the end of that turn's rendering, so it
    holds the answer and the end-of-turn tokens the model must learn to emit.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise MaskError("the tokenizer has no chat template: give base_model a tokenizer with one")
    text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(list(messages[:index]), tokenize=False, add_generation_prompt=True)
        through = tokenizer.apply_chat_template(list(messages[: index + 1]), tokenize=False)
        if not (text.startswith(through) and through.startswith(before)):
            raise MaskError(
                "the chat template does not render a conversation as a prefix of its continuation, so assistant "
                "tokens cannot be located; use a template with {% generation %} markers"
            )
        spans.append((len(before), len(through)))
    return text, spans


def tokenize_example(example: Example, tokenizer: PreTrainedTokenizerBase, max_seq_len: int) -> TokenizedExample:
    text, spans = assistant_spans([m.to_dict() for m in example.messages], tokenizer)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
        for token, (begin, _) in zip(input_ids, offsets, strict=True)
    ]
    lost = sum(1 for label in labels[max_seq_len:] if label != IGNORE_INDEX)
    return TokenizedExample(example.id, input_ids[:max_seq_len], labels[:max_seq_len], lost)


def tokenize_examples(
    examples: Sequence[Example], tokenizer: PreTrainedTokenizerBase, max_seq_len: int
) -> TokenizedSplit:
    """Tokenize a split; raise `MaskError` naming every example that would train no token at all."""
    split = TokenizedSplit(items=[tokenize_example(e, tokenizer, max_seq_len) for e in examples])
    for item in split.items:
        if item.truncated_assistant_tokens:
            split.truncated_examples += 1
            split.lost_assistant_tokens += item.truncated_assistant_tokens
        if item.trained_tokens == 0:
            split.fully_masked.append(item.id)
    if split.fully_masked:
        shown = ", ".join(split.fully_masked[:5]) + (" …" if len(split.fully_masked) > 5 else "")
        raise MaskError(
            f"{len(split.fully_masked)} example(s) would train on nothing (every label masked, the answer cut off by "
            f"max_seq_len={max_seq_len}): {shown}. Raise max_seq_len or shorten their prompts"
        )
    return split


def explain_example(item: TokenizedExample, tokenizer: PreTrainedTokenizerBase) -> str:
    """One line per token: index, id, the token's text, and whether it is trained (what --dry-run prints)."""
    lines = [f"example {item.id}: {len(item.input_ids)} tokens, {item.trained_tokens} trained"]
    for index, (token, label) in enumerate(zip(item.input_ids, item.labels, strict=True)):
        piece = tokenizer.decode([token]).replace("\n", "\\n")
        lines.append(f"{index:5d} {token:7d} {'TRAIN' if label != IGNORE_INDEX else '  -  '} {piece!r}")
    return "\n".join(lines)
