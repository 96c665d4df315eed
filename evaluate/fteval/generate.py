"""Which generator answers for fteval: the eval config's `generator` key picks a backend of ftcore.generate.

The generators themselves (the `Generator` interface, batched left-padded transformers, vLLM, and an
OpenAI-compatible endpoint) live in the core, so that `ftdata draft` uses the very same ones.

Usage:
    generator = make_generator(config, model, tokenizer, adapter=None)
    answers = generator.generate(conversations, config.max_new_tokens)
"""

from __future__ import annotations

from typing import Any

from ftcore.generate import Generator, Progress, TransformersGenerator, VLLMGenerator


def make_generator(
    config: Any, model: Any, tokenizer: Any, adapter: str | None, progress: Progress | None = None
) -> Generator:
    """The backend the eval config names: `transformers` (the loaded `model`) or `vllm` (its own engine); greedy."""
    if config.generator == "vllm":
        if config.base_model.gguf_file:
            raise ValueError("generator: vllm: a GGUF base model is not supported here; use generator: transformers")
        return VLLMGenerator(config.base_model.path, adapter, seed=config.seed, progress=progress)
    return TransformersGenerator(model, tokenizer, config.batch_size, progress=progress)
