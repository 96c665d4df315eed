"""The local generator: batched left-padded greedy equals one at a time; tokens and finish reasons per answer;
sampled candidates (n per prompt, seeded)."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftcore.generate import Answer, Candidate, GenerationStats, Sampling, TransformersGenerator


def _load(folder):
    return AutoModelForCausalLM.from_pretrained(str(folder)), AutoTokenizer.from_pretrained(str(folder))


def _questions(rows, count, start=40, step=25):
    # Prompts of very different lengths, so a batch really needs padding.
    return [[{"role": "user", "content": r["question"][: start + step * i]}] for i, r in enumerate(rows[:count])]


def test_batched_left_padded_generation_equals_one_at_a_time(tiny_model_dir, gsm8k_rows):
    model, tokenizer = _load(tiny_model_dir)
    conversations = _questions(gsm8k_rows, 12)
    batched = TransformersGenerator(model, tokenizer, batch_size=12).generate(conversations, max_new_tokens=24)
    single = TransformersGenerator(model, tokenizer, batch_size=1).generate(conversations, max_new_tokens=24)
    assert batched == single
    assert tokenizer.padding_side == "right"  # the tokenizer's own setting is restored


def test_stats_and_progress(tiny_model_dir):
    model, tokenizer = _load(tiny_model_dir)
    seen = []
    generator = TransformersGenerator(model, tokenizer, batch_size=2, progress=seen.append)
    generator.generate([[{"role": "user", "content": f"Question {i}?"}] for i in range(5)], max_new_tokens=8)
    assert seen == [0, 2, 2, 1]  # announced before the first batch (a display's clock starts then), then per batch
    # The tiny random model never ends its turn within 8 tokens: 5 answers of exactly 8 new tokens.
    assert generator.stats.prompts == 5 and generator.stats.new_tokens == 40
    assert generator.stats.finish_reasons == {"length": 5} and generator.stats.tokens_per_second > 0


def test_tokens_and_finish_reason_per_answer(served_model_dir, gsm8k_rows):
    """Counted per answer from a batch as a server counts them one request at a time: the prompt's tokens, the new
    tokens up to and including the end-of-turn token, and whether the turn ended ("stop") or was cut ("length")."""
    model, tokenizer = _load(served_model_dir)
    conversations = _questions(gsm8k_rows, 16, start=30, step=20)
    answers = TransformersGenerator(model, tokenizer, batch_size=8).complete(conversations, max_new_tokens=16)
    for conversation, answer in zip(conversations, answers, strict=True):
        prompt = tokenizer.apply_chat_template(conversation, add_generation_prompt=True, return_dict=True)["input_ids"]
        with torch.no_grad():  # alone, unpadded: generation stops right after the end-of-turn token or at the limit
            alone = model.generate(torch.tensor([prompt]), max_new_tokens=16, do_sample=False)[0, len(prompt) :]
        ended = alone[-1].item() == tokenizer.eos_token_id
        assert answer.prompt_tokens == len(prompt)
        assert answer.completion_tokens == len(alone)
        assert answer.finish_reason == ("stop" if ended else "length")
        assert answer.text == tokenizer.decode(alone, skip_special_tokens=True).strip()
        assert answer.cost is None and not answer.cached
    reasons = {a.finish_reason for a in answers}
    assert reasons == {"stop", "length"}, "the served model is built so that both occur"


def test_sampled_candidates_are_seeded_and_n_per_prompt(tiny_model_dir, gsm8k_rows):
    model, tokenizer = _load(tiny_model_dir)
    conversations = _questions(gsm8k_rows, 3)

    def draw(seed):
        sampling = Sampling(temperature=1.0, top_p=0.95, n=3, seed=seed, max_new_tokens=12)
        return TransformersGenerator(model, tokenizer, batch_size=2, sampling=sampling).complete(conversations)

    first, again, other = draw(1), draw(1), draw(2)
    assert [len(a.candidates) for a in first] == [3, 3, 3]
    assert [a.candidates for a in first] == [a.candidates for a in again]  # same seed, same candidates
    assert [a.candidates for a in first] != [a.candidates for a in other]
    assert all(len({c.text for c in a.candidates}) > 1 for a in first)  # sampled, not three copies of greedy
    assert all(c.completion_tokens == 12 for a in first for c in a.candidates)  # max_new_tokens from Sampling
    prompt = tokenizer.apply_chat_template(conversations[0], add_generation_prompt=True, return_dict=True)
    assert first[0].prompt_tokens == 3 * len(prompt["input_ids"])  # each candidate processed the prompt
    assert first[0].text == first[0].candidates[0].text


def test_greedy_is_the_default_and_n_needs_temperature():
    assert Sampling().greedy and Sampling().n == 1
    with pytest.raises(ValueError, match="n=3 candidates need temperature > 0"):
        Sampling(n=3)
    with pytest.raises(ValueError, match="top_p"):
        Sampling(temperature=1.0, top_p=0)


def test_stats_add_counts_tokens_cost_and_reasons():
    answers = [
        Answer((Candidate("a", 3, "stop"), Candidate("b", 5, "length")), prompt_tokens=20, seconds=0.5, cost=0.25),
        Answer((Candidate("c", 7, "stop"),), prompt_tokens=9, seconds=0.1, cost=None, cached=True),
    ]
    stats = GenerationStats()
    stats.add(answers)
    assert (stats.prompts, stats.new_tokens, stats.prompt_tokens, stats.cost, stats.cached) == (2, 15, 29, 0.25, 1)
    assert stats.finish_reasons == {"stop": 2, "length": 1}
    assert answers[0].completion_tokens == 8 and answers[0].text == "a" and answers[0].finish_reason == "stop"
