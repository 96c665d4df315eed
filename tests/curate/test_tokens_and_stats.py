import pytest

from ftcore.errors import FtdataError
from ftdata import Example, tokens
from ftdata.project import CostConfig
from ftdata.stats import plot_token_histogram, stats_from_counts
from ftdata.tokens import Distribution, count_tokens, load_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer_dir):
    return load_tokenizer(str(tiny_tokenizer_dir))


def test_counts_match_the_chat_template(tokenizer):
    example = Example.from_prompt_completion("What is 2+2?", "2+2=<<2+2=4>>4\n#### 4", system="Be terse.")
    counts = count_tokens([example], tokenizer)
    messages = [m.to_dict() for m in example.messages]
    full = tokenizer.apply_chat_template(messages, tokenize=True)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True)
    full, prompt = (x["input_ids"] if hasattr(x, "keys") else x for x in (full, prompt))
    assert counts.total == [len(full)]
    assert counts.prompt == [len(prompt)]
    assert counts.completion == [len(full) - len(prompt)]


def test_batches_and_progress(tokenizer, gsm8k_rows, monkeypatch):
    examples = [Example.from_prompt_completion(r["question"], r["answer"]) for r in gsm8k_rows[:2100]]
    seen = []
    monkeypatch.setattr(tokens, "BATCH_SIZE", 1000)
    counts = count_tokens(examples, tokenizer, progress=seen.append)
    assert seen == [1000, 1000, 100]
    triples = zip(counts.total, counts.prompt, counts.completion, strict=True)
    assert all(total == prompt + answer and prompt > 0 and answer > 0 for total, prompt, answer in triples)


def test_unloadable_tokenizer_is_a_clean_error(tmp_path):
    with pytest.raises(FtdataError, match=r"tokenizer .*: cannot load"):
        load_tokenizer(str(tmp_path / "no-such-tokenizer"))


def test_stats_costs_and_plot(tokenizer, gsm8k_rows, tmp_path):
    examples = [
        Example.from_prompt_completion(r["question"], r["answer"], metadata={"source": "gsm8k", "tags": "math,easy"})
        for r in gsm8k_rows[:200]
    ]
    counts = count_tokens(examples, tokenizer)
    cost = CostConfig(
        epochs=2, usd_per_million_tokens={"low": 25.0}, gpu_tokens_per_second=1000.0, gpu_usd_per_hour=3.6
    )
    stats = stats_from_counts(examples, counts, cost, "tiny")
    assert stats.by_source == {"gsm8k": 200} and stats.by_tag == {"math": 200, "easy": 200}
    assert stats.training_tokens == 2 * sum(counts.total)
    assert stats.costs["low"] == round(stats.training_tokens / 1e6 * 25, 2)
    assert stats.gpu_hours == round(stats.training_tokens / 1000 / 3600, 3)
    assert stats.prompt_tokens == Distribution.of(counts.prompt)
    png = plot_token_histogram(stats, tmp_path / "hist.png", max_seq_len=256)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_distribution():
    assert Distribution.of([5, 1, 3, 2, 4]) == Distribution(min=1, p50=3, p95=5, max=5, mean=3.0)
    assert Distribution.of([]).max == 0
