"""Assistant-only labels, checked token by token."""

import pytest
from transformers import AutoTokenizer

from ftcore import Example
from ftcore.chat import IGNORE_INDEX, MaskError, render_chat, tokenize_example
from fttrain.data import explain_example, tokenize_examples


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer_dir):
    return AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))


CONVERSATION = Example.create(
    [
        {"role": "system", "content": "Answer in the house format."},
        {"role": "user", "content": "Tom has 3 apples and buys 4 more. How many?"},
        {"role": "assistant", "content": "3+4 = <<3+4=7>>7\n#### 7"},
        {"role": "user", "content": "And twice that?"},
        {"role": "assistant", "content": "7*2 = <<7*2=14>>14\n#### 14"},
    ]
)


def test_mask_token_by_token_for_a_multi_turn_conversation_with_a_system_prompt(tokenizer):
    item = tokenize_example(CONVERSATION, tokenizer, max_seq_len=1024)
    text = tokenizer.apply_chat_template([m.to_dict() for m in CONVERSATION.messages], tokenize=False)
    assert tokenizer.decode(item.input_ids) == text  # nothing added or lost

    trained = [i for i, label in enumerate(item.labels) if label != IGNORE_INDEX]
    assert all(item.labels[i] == item.input_ids[i] for i in trained)
    # The trained tokens form exactly two runs: each answer followed by its end-of-turn marker.
    runs, current = [], [trained[0]]
    for index in trained[1:]:
        if index == current[-1] + 1:
            current.append(index)
        else:
            runs.append(current)
            current = [index]
    runs.append(current)
    decoded = [tokenizer.decode([item.input_ids[i] for i in run]) for run in runs]
    assert decoded == ["3+4 = <<3+4=7>>7\n#### 7<|im_end|>\n", "7*2 = <<7*2=14>>14\n#### 14<|im_end|>\n"]
    # Everything else — system, user turns, the "<|im_start|>assistant\n" headers — is masked.
    masked_text = tokenizer.decode(
        [t for t, label in zip(item.input_ids, item.labels, strict=True) if label == IGNORE_INDEX]
    )
    assert "Answer in the house format." in masked_text and "And twice that?" in masked_text
    assert masked_text.count("<|im_start|>assistant\n") == 2


def test_truncation_is_counted_and_a_fully_masked_example_fails(tokenizer):
    split = tokenize_examples([CONVERSATION], tokenizer, max_seq_len=60)
    assert split.truncated_examples == 1 and split.lost_assistant_tokens > 0
    prompt_only_fits = len(tokenizer.apply_chat_template(
        [m.to_dict() for m in CONVERSATION.messages[:2]], tokenize=False, add_generation_prompt=True))  # fmt: skip
    with pytest.raises(MaskError, match="would train on nothing") as raised:
        tokenize_examples([CONVERSATION], tokenizer, max_seq_len=max(16, prompt_only_fits // 8))
    assert CONVERSATION.id in str(raised.value)


def test_template_without_chat_template(tokenizer):
    bare = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    bare.chat_template = None
    with pytest.raises(MaskError, match="no chat template"):
        render_chat([m.to_dict() for m in CONVERSATION.messages], bare)


def test_explain_marks_trained_tokens(tokenizer):
    text = explain_example(tokenize_example(CONVERSATION, tokenizer, 1024), tokenizer)
    assert text.splitlines()[0].startswith(f"example {CONVERSATION.id}:")
    assert "TRAIN" in text and "  -  " in text
