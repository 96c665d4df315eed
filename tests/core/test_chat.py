"""One reading of a conversation for lint, training and evaluation: the answer starts where training's labels do."""

import pytest
from transformers import AutoTokenizer

from ftcore import Example
from ftcore.chat import IGNORE_INDEX, render_chat, tokenize_chat, tokenize_example
from ftdata.tokens import count_tokens

# A template that drops a reasoning block from what it renders of an assistant turn (as Qwen3's does): the
# answer's text as stored never appears verbatim in the rendering, so searching the text for it finds nothing.
THINKING_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = message['content'].split('</think>')[-1].lstrip('\n') %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + content + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# A generation prompt that ends in a space: byte-level BPE glues it to the answer's first word (" 4"), so that
# token starts in the prompt and ends in the answer. Training leaves it unlabelled; lint must count it as prompt.
SPACE_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' + message['content'] + '<|im_end|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant ' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer_dir):
    return AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))


@pytest.fixture(scope="module")
def thinking_tokenizer(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    tokenizer.chat_template = THINKING_TEMPLATE
    return tokenizer


@pytest.fixture(scope="module")
def space_tokenizer(tiny_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    tokenizer.chat_template = SPACE_TEMPLATE
    return tokenizer


def first_trained_of_last_answer(labels: list[int]) -> int:
    """Index of the first token of the last run of trained labels."""
    trained = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    start = trained[-1]
    while start - 1 in trained:
        start -= 1
    return start


def test_spans_by_hand_for_a_two_turn_conversation(tokenizer):
    messages = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "3+3?"},
        {"role": "assistant", "content": "6"},
    ]
    chat = render_chat(messages, tokenizer)
    expected = "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n" \
               "<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n6<|im_end|>\n"  # fmt: skip
    assert chat.text == expected
    assert [chat.text[a:b] for a, b in chat.spans] == ["4<|im_end|>\n", "6<|im_end|>\n"]
    assert chat.answer_start == len(expected) - len("6<|im_end|>\n")


def test_without_a_template_lint_joins_the_turns(tokenizer):
    bare = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    bare.chat_template = None
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
                {"role": "assistant", "content": "A"}]  # fmt: skip
    chat = render_chat(messages, bare, require_template=False)
    assert chat.text == "S\nQ\nA" and chat.spans == ((4, 5),)


def test_lint_prompt_count_is_where_training_starts_the_answer(
    tokenizer, thinking_tokenizer, space_tokenizer, gsm8k_rows
):
    examples = [
        Example.from_prompt_completion(r["question"], r["answer"], system="Answer in the house format.")
        for r in gsm8k_rows[:50]
    ]
    for tok in (tokenizer, thinking_tokenizer, space_tokenizer):
        counts = count_tokens(examples, tok)
        for example, prompt, total in zip(examples, counts.prompt, counts.total, strict=True):
            item = tokenize_example(example, tok, max_seq_len=10_000)
            assert total == len(item.input_ids)
            assert prompt == first_trained_of_last_answer(item.labels), example.id


def test_a_rendering_that_does_not_hold_the_answer_verbatim(thinking_tokenizer):
    answer = "<think>\nfour, surely</think>\n2+2=<<2+2=4>>4\n#### 4"
    example = Example.from_prompt_completion("What is 2+2?", answer)
    chat = render_chat([m.to_dict() for m in example.messages], thinking_tokenizer)
    assert chat.text.rfind(example.completion) == -1  # what searching for the answer's text used to give
    assert chat.text[chat.answer_start :] == "2+2=<<2+2=4>>4\n#### 4<|im_end|>\n"
    counts = count_tokens([example], thinking_tokenizer)
    prompt, completion = counts.prompt[0], counts.completion[0]
    answer_ids = thinking_tokenizer("2+2=<<2+2=4>>4\n#### 4<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert completion == len(answer_ids) and prompt > 0


def test_held_out_messages_are_labelled_on_the_answer_only(tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "#### 4"}]  # fmt: skip
    item = tokenize_chat(messages, tokenizer, max_seq_len=4096, example_id="ex_x")
    pairs = zip(item.input_ids, item.labels, strict=True)
    trained = tokenizer.decode([token for token, label in pairs if label != IGNORE_INDEX])
    assert item.id == "ex_x" and trained == "#### 4<|im_end|>\n"
