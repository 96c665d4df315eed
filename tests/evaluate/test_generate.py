"""Batched generation must give exactly what one-at-a-time generation gives (left padding)."""

from transformers import AutoModelForCausalLM, AutoTokenizer

from fteval.generate import TransformersGenerator


def test_batched_left_padded_generation_equals_one_at_a_time(tiny_model_dir, gsm8k_rows):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    # Prompts of very different lengths, so a batch really needs padding.
    conversations = [[{"role": "user", "content": r["question"][: 40 + 25 * i]}] for i, r in enumerate(gsm8k_rows[:12])]
    batched = TransformersGenerator(model, tokenizer, batch_size=12).generate(conversations, max_new_tokens=24)
    single = TransformersGenerator(model, tokenizer, batch_size=1).generate(conversations, max_new_tokens=24)
    assert batched == single
    assert tokenizer.padding_side == "right"  # the tokenizer's own setting is restored


def test_stats_and_progress(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    seen = []
    generator = TransformersGenerator(
        AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), tokenizer, batch_size=2, progress=seen.append
    )
    generator.generate([[{"role": "user", "content": f"Question {i}?"}] for i in range(5)], max_new_tokens=8)
    assert seen == [2, 2, 1]
    assert (
        generator.stats.prompts == 5 and 0 < generator.stats.new_tokens <= 40 and generator.stats.tokens_per_second > 0
    )
