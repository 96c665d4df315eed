"""A conversation as training formats it: rendered through the tokenizer's chat template, with the assistant's spans.

Lint's token counts (ftdata), training's assistant-only labels (fttrain) and the held-out loss of the test
answers (fteval) all read a conversation through `render_chat`, so the three agree on where an answer starts.

Only the assistant's turns are trained: their text and the template's end-of-turn tokens, nothing of the
system prompt, the user's turns or the template's headers. Most shipped templates lack the `{% generation %}`
markers that `return_assistant_tokens_mask` needs, so the spans are read off the template itself: for each
assistant turn, the rendering of the conversation before it (with the generation prompt) and up to it bracket
its characters; token offsets map those to tokens.

Usage:
    chat = render_chat([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], tokenizer)
    chat.text[chat.answer_start:]
    # -> '4<|im_end|>\\n'
    item = tokenize_example(example, tokenizer, max_seq_len=1024)
    item.trained_tokens
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ftcore.errors import FtdataError
from ftcore.example import Example

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100  # the label the loss skips (PyTorch's and transformers' convention)


class MaskError(FtdataError):
    """The chat template cannot give assistant-only labels, or an example would train nothing."""


@dataclass(frozen=True)
class RenderedChat:
    """A conversation's text as the template renders it, and the character span of each assistant turn.

    A span runs from the end of the generation prompt to the end of that turn's rendering: the answer and the
    end-of-turn tokens the model must learn to emit.
    """

    text: str
    spans: tuple[tuple[int, int], ...]

    @property
    def answer_start(self) -> int:
        """Where the last assistant turn starts: everything before it is the prompt (len(text) without one)."""
        return self.spans[-1][0] if self.spans else len(self.text)


def render_chat(
    messages: Sequence[dict[str, str]], tokenizer: PreTrainedTokenizerBase, require_template: bool = True
) -> RenderedChat:
    """Render `messages` with the tokenizer's chat template and locate each assistant turn in the text.

    A tokenizer without a chat template raises `MaskError`; with `require_template=False` (lint's token
    counts, which also serve tokenizers of base models) the turns are joined by newlines instead.
    """
    messages = list(messages)
    if not getattr(tokenizer, "chat_template", None):
        if require_template:
            raise MaskError("the tokenizer has no chat template: give base_model a tokenizer with one")
        return _render_plain(messages)
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:index], tokenize=False, add_generation_prompt=True)
        # The conversation through its final turn is the whole text: one rendering saved per example.
        last = index == len(messages) - 1
        through = text if last else tokenizer.apply_chat_template(messages[: index + 1], tokenize=False)
        if not (text.startswith(through) and through.startswith(before)):
            raise MaskError(
                "the chat template does not render a conversation as a prefix of its continuation, so assistant "
                "tokens cannot be located; use a template with {% generation %} markers"
            )
        spans.append((len(before), len(through)))
    return RenderedChat(text, tuple(spans))


def _render_plain(messages: list[dict[str, str]]) -> RenderedChat:
    parts, spans, position = [], [], 0
    for message in messages:
        if message["role"] == "assistant":
            spans.append((position, position + len(message["content"])))
        parts.append(message["content"])
        position += len(message["content"]) + 1  # the joining newline
    return RenderedChat("\n".join(parts), tuple(spans))


@dataclass
class TokenizedExample:
    id: str
    input_ids: list[int]
    labels: list[int]  # the token where it is trained, IGNORE_INDEX elsewhere
    truncated_assistant_tokens: int  # assistant tokens cut off by max_seq_len

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def tokenize_chat(
    messages: Sequence[dict[str, str]], tokenizer: PreTrainedTokenizerBase, max_seq_len: int, example_id: str = ""
) -> TokenizedExample:
    """Token ids of the rendered conversation and labels that train its assistant spans only, cut to max_seq_len."""
    chat = render_chat(messages, tokenizer)
    encoded = tokenizer(chat.text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    labels = [
        token if any(start <= begin < end for start, end in chat.spans) else IGNORE_INDEX
        for token, (begin, _) in zip(input_ids, offsets, strict=True)
    ]
    lost = sum(1 for label in labels[max_seq_len:] if label != IGNORE_INDEX)
    return TokenizedExample(example_id, input_ids[:max_seq_len], labels[:max_seq_len], lost)


def tokenize_example(example: Example, tokenizer: PreTrainedTokenizerBase, max_seq_len: int) -> TokenizedExample:
    """`tokenize_chat` on a contract example, keeping its id."""
    return tokenize_chat([m.to_dict() for m in example.messages], tokenizer, max_seq_len, example.id)
