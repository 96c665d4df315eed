"""Tiny local models for tests and benchmarks, built from a config: nothing is downloaded.

Usage:
    folder = tiny_llama("tmp/tiny-llama", tokenizer_folder="tmp/tokenizer")
    AutoModelForCausalLM.from_pretrained(folder)
"""

from __future__ import annotations

import os
from pathlib import Path


def tiny_llama(
    folder: str | os.PathLike,
    tokenizer_folder: str | os.PathLike,
    hidden_size: int = 64,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """A randomly initialised Llama-shaped model with the tokenizer from `tokenizer_folder`, saved to `folder`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return Path(folder)
