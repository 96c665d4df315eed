"""Training data: an `ftdata export` split tokenized with the chat template, with assistant-only labels.

The rendering, the assistant spans and the labels come from `ftcore.chat` (the same reading of a
conversation that lint's token counts and fteval's held-out loss use); this module tokenizes a whole split
and refuses one in which an example would train nothing.

Usage:
    tokenized = tokenize_examples(load_split("exports/v1", "train"), tokenizer, max_seq_len=1024)
    print(explain_example(tokenized.items[0], tokenizer))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftcore import Example
from ftcore.chat import IGNORE_INDEX, MaskError, TokenizedExample, tokenize_example

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class TokenizedSplit:
    items: list[TokenizedExample]
    truncated_examples: int = 0  # examples that lost assistant tokens to truncation
    lost_assistant_tokens: int = 0
    fully_masked: list[str] = field(default_factory=list)  # ids with no trained token left

    def as_records(self) -> list[dict[str, Any]]:
        return [{"input_ids": item.input_ids, "labels": item.labels} for item in self.items]


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
