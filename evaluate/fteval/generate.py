"""Answer generation behind one small interface: transformers by default; vLLM where a user has it installed.

Batched greedy decoding with **left** padding and the KV cache: with the tokenizer's usual right
padding, batched answers silently go wrong (valid-JSON answers fell from 50/50 to 2/50 here).

Usage:
    generator = TransformersGenerator(model, tokenizer, batch_size=16)
    answers = generator.generate([[{"role": "user", "content": "2+2?"}]], max_new_tokens=64)

`make_generator(config, ...)` picks the backend named by the eval config's `generator` key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

Conversation = Sequence[dict[str, str]]


@dataclass
class GenerationStats:
    prompts: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


class Generator(Protocol):
    stats: GenerationStats

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        """The assistant's next turn for each conversation, greedy, in input order."""
        ...


class TransformersGenerator:
    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 16, progress: Callable[[int], None] | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.progress = progress
        self.stats = GenerationStats()

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        import torch

        tokenizer = self.tokenizer
        padding_side, pad_token = tokenizer.padding_side, tokenizer.pad_token
        tokenizer.padding_side = "left"  # new tokens must follow every prompt's last token, not padding
        if pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        answers: list[str] = []
        try:
            for start in range(0, len(conversations), self.batch_size):
                batch = conversations[start : start + self.batch_size]
                texts = [
                    tokenizer.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True) for c in batch
                ]
                inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
                inputs = {k: v.to(self.model.device) for k, v in inputs.items()}
                began = time.perf_counter()
                with torch.no_grad():
                    output = self.model.generate(
                        **inputs,
                        max_new_tokens=max_new_tokens,
                        do_sample=False,
                        use_cache=True,
                        pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=tokenizer.eos_token_id,
                    )
                new = output[:, inputs["input_ids"].shape[1] :]
                self.stats.seconds += time.perf_counter() - began
                self.stats.prompts += len(batch)
                self.stats.new_tokens += int((new != tokenizer.pad_token_id).sum())
                answers += [text.strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
                if self.progress is not None:
                    self.progress(len(batch))
        finally:  # the caller's tokenizer comes back as it was
            tokenizer.padding_side = padding_side
            if pad_token is None:
                tokenizer.pad_token = None
        return answers


class VLLMGenerator:
    """Greedy generation through vLLM (never required: `pip install vllm` on a CUDA machine, then
    `generator: vllm` in the eval config). One engine serves the base model and every adapter
    (`enable_lora`); an adapter is passed per request, so contestants share the loaded weights.
    """

    _engines: ClassVar[dict[tuple[str, int], Any]] = {}  # one engine per base model and seed for the whole process

    def __init__(
        self,
        base_model: str,
        adapter: str | None = None,
        seed: int = 0,
        lora_rank: int = 64,
        progress: Callable[[int], None] | None = None,
    ):
        try:
            import vllm
        except ImportError:
            raise ImportError("generator: vllm needs the vllm package (`pip install vllm`, CUDA only)") from None
        key = (base_model, seed)
        if key not in self._engines:
            self._engines[key] = vllm.LLM(model=base_model, enable_lora=True, max_lora_rank=lora_rank, seed=seed)
        self.engine = self._engines[key]
        self.sampling = vllm.SamplingParams(temperature=0.0, seed=seed)
        self.lora = None
        if adapter:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(adapter, abs(hash(adapter)) % 2**31 + 1, adapter)
        self.progress = progress
        self.stats = GenerationStats()

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int) -> list[str]:
        self.sampling.max_tokens = max_new_tokens
        began = time.perf_counter()
        outputs = self.engine.chat([list(c) for c in conversations], self.sampling, lora_request=self.lora)
        self.stats.seconds += time.perf_counter() - began
        self.stats.prompts += len(conversations)
        self.stats.new_tokens += sum(len(output.outputs[0].token_ids) for output in outputs)
        if self.progress is not None:
            self.progress(len(conversations))
        return [output.outputs[0].text.strip() for output in outputs]


def make_generator(
    config: Any, model: Any, tokenizer: Any, adapter: str | None, progress: Callable[[int], None] | None = None
) -> Generator:
    """The backend the eval config names: `transformers` (the loaded `model`) or `vllm` (its own engine)."""
    if config.generator == "vllm":
        if config.base_model.gguf_file:
            raise ValueError("generator: vllm: a GGUF base model is not supported here; use generator: transformers")
        return VLLMGenerator(config.base_model.path, adapter, seed=config.seed, progress=progress)
    return TransformersGenerator(model, tokenizer, config.batch_size, progress=progress)
