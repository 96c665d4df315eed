"""Answers from a model behind one small interface, the same for a local model and a remote endpoint.

Three backends implement `Generator`: `TransformersGenerator` (a loaded transformers model, batched),
`VLLMGenerator` (vLLM where a user has it installed) and `ftcore.endpoint.EndpointGenerator` (any
OpenAI-compatible chat-completions server). fteval scores their answers; `ftdata draft` drafts with them.

Usage:
    generator = TransformersGenerator(model, tokenizer, batch_size=16)
    generator.generate([[{"role": "user", "content": "2+2?"}]], max_new_tokens=64)
    # -> ['4']
    drafts = TransformersGenerator(model, tokenizer, sampling=Sampling(temperature=0.7, n=3, seed=1))
    answer = drafts.complete(conversations)[0]   # an Answer: 3 candidates, tokens, finish reasons
    [c.text for c in answer.candidates], answer.prompt_tokens, answer.completion_tokens

`generate` gives one text per conversation (the first candidate); `complete` gives an `Answer` per
conversation with every candidate and its token counts. Greedy decoding (`Sampling()`) is the default.

Local generation is batched with **left** padding and the KV cache: with the tokenizer's usual right
padding, batched answers silently go wrong (valid-JSON answers fell from 50/50 to 2/50 here).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

Conversation = Sequence[Mapping[str, str]]
Progress = Callable[[int], None]  # progress(n): n more conversations answered (ftcore.cli.ProgressBars.counter)


@dataclass(frozen=True)
class Sampling:
    """How answers are drawn. The default is greedy decoding, one candidate: what fteval scores.

    `temperature` > 0 samples (with `top_p`); `n` candidates per conversation need it. `seed` makes a
    local sampled run repeatable (same prompts, seed and batch size: same candidates). Other sampling
    settings (e.g. top_k) are the model's own generation_config, as `transformers serve` uses them.
    """

    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int | None = None
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or more, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1 or self.max_new_tokens < 1:
            raise ValueError("n and max_new_tokens must be positive")
        if self.n > 1 and self.temperature == 0:
            raise ValueError(f"n={self.n} candidates need temperature > 0: greedy decoding gives one answer")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Candidate:
    """One generated answer: its text (stripped), its new tokens (end-of-turn token included), why it ended."""

    text: str
    completion_tokens: int
    finish_reason: str  # "stop": the model ended its turn; "length": cut at max_new_tokens


@dataclass(frozen=True)
class Answer:
    """Everything generated for one conversation.

    `prompt_tokens` counts the input tokens processed (billed, for an endpoint) for all its candidates:
    n separate requests pay the prompt n times. `seconds` is this answer's share of generation time
    (a local batch's time divided among its rows; an endpoint request's latency, retries included).
    `cost` is the endpoint's price for its tokens (None for a local model: its cost is its time).
    `cached`: read from an endpoint's cache, no request sent in this run.
    """

    candidates: tuple[Candidate, ...]
    prompt_tokens: int
    seconds: float
    cost: float | None = None
    cached: bool = False

    @property
    def text(self) -> str:
        return self.candidates[0].text

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.candidates)

    @property
    def finish_reason(self) -> str:
        return self.candidates[0].finish_reason


@dataclass
class GenerationStats:
    """Totals over every call of one generator: what fteval reports per contestant."""

    prompts: int = 0  # conversations answered
    new_tokens: int = 0  # completion tokens, every candidate
    seconds: float = 0.0  # generation time (wall time of the calls, for an endpoint)
    prompt_tokens: int = 0
    requests: int = 0  # requests sent to an endpoint in these calls (0 locally)
    cached: int = 0  # answers an endpoint read from its cache
    cost: float = 0.0  # an endpoint's price for all its answers, cached ones included (0 locally)
    usage_missing: int = 0  # endpoint answers whose server reported no token usage (counted as 0 tokens)
    finish_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0

    def add(self, answers: Sequence[Answer]) -> None:
        self.prompts += len(answers)
        for answer in answers:
            self.new_tokens += answer.completion_tokens
            self.prompt_tokens += answer.prompt_tokens
            self.cost += answer.cost or 0.0
            self.cached += answer.cached
            for candidate in answer.candidates:
                self.finish_reasons[candidate.finish_reason] = self.finish_reasons.get(candidate.finish_reason, 0) + 1


class Generator(Protocol):
    """What fteval and ftdata call, whatever answers: a local model or an endpoint.

    `max_new_tokens` given to a call wins; None means the generator's own (Sampling.max_new_tokens,
    Endpoint.max_tokens). Results come in input order.
    """

    stats: GenerationStats

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """The assistant's next turn for each conversation (its first candidate)."""
        ...

    def complete(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[Answer]:
        """Every candidate for each conversation, with token counts, finish reasons and time."""
        ...


class TransformersGenerator:
    """A loaded transformers model (and its tokenizer), in batches of `batch_size` conversations."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        batch_size: int = 16,
        progress: Progress | None = None,
        sampling: Sampling = Sampling(),  # frozen: one shared default is safe
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.progress = progress
        self.sampling = sampling
        self.stats = GenerationStats()

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        return [answer.text for answer in self.complete(conversations, max_new_tokens)]

    def complete(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[Answer]:
        import torch

        tokenizer, sampling = self.tokenizer, self.sampling
        max_new_tokens = sampling.max_new_tokens if max_new_tokens is None else max_new_tokens
        padding_side, pad_token = tokenizer.padding_side, tokenizer.pad_token
        tokenizer.padding_side = "left"  # new tokens must follow every prompt's last token, not padding
        if pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        generate_kwargs = {
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "use_cache": True,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        }
        # Greedy passes exactly what it always did (no sampling flags: transformers warns about unused ones).
        if not sampling.greedy:
            generate_kwargs |= {
                "do_sample": True,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "num_return_sequences": sampling.n,
            }
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        answers: list[Answer] = []
        if self.progress is not None:
            self.progress(0)  # the phase starts now, so its clock counts the first batch too
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
                    output = self.model.generate(**inputs, **generate_kwargs)
                new = output[:, inputs["input_ids"].shape[1] :]
                seconds = time.perf_counter() - began
                self.stats.seconds += seconds
                prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
                texts = [text.strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
                eos = tokenizer.eos_token_id
                rows = [_candidate(text, ids, eos) for text, ids in zip(texts, new.tolist(), strict=True)]
                n = sampling.n
                batch_answers = [
                    Answer(tuple(rows[i * n : (i + 1) * n]), prompt_tokens[i] * n, seconds / len(batch))
                    for i in range(len(batch))
                ]
                self.stats.add(batch_answers)
                answers += batch_answers
                if self.progress is not None:
                    self.progress(len(batch))
        finally:  # the caller's tokenizer comes back as it was
            tokenizer.padding_side = padding_side
            if pad_token is None:
                tokenizer.pad_token = None
        return answers


def _candidate(text: str, new_ids: list[int], eos_token_id: int | None) -> Candidate:
    """A batch row's new tokens up to and including the end-of-turn token (what a server counts); after it
    comes padding. A row that never ended its turn ran to max_new_tokens."""
    if eos_token_id is not None and eos_token_id in new_ids:
        return Candidate(text, new_ids.index(eos_token_id) + 1, "stop")
    return Candidate(text, len(new_ids), "length")


class VLLMGenerator:
    """Generation through vLLM (never required: `pip install vllm` on a CUDA machine, then
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
        progress: Progress | None = None,
        sampling: Sampling = Sampling(),
    ):
        try:
            import vllm
        except ImportError:
            raise ImportError("generator: vllm needs the vllm package (`pip install vllm`, CUDA only)") from None
        key = (base_model, seed)
        if key not in self._engines:
            self._engines[key] = vllm.LLM(model=base_model, enable_lora=True, max_lora_rank=lora_rank, seed=seed)
        self.engine = self._engines[key]
        if sampling.greedy:
            self.sampling = vllm.SamplingParams(temperature=0.0, seed=seed)
        else:
            self.sampling = vllm.SamplingParams(
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                n=sampling.n,
                seed=sampling.seed if sampling.seed is not None else seed,
            )
        self.default_max_new_tokens = sampling.max_new_tokens
        self.lora = None
        if adapter:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(adapter, abs(hash(adapter)) % 2**31 + 1, adapter)
        self.progress = progress
        self.stats = GenerationStats()

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        return [answer.text for answer in self.complete(conversations, max_new_tokens)]

    def complete(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[Answer]:
        self.sampling.max_tokens = self.default_max_new_tokens if max_new_tokens is None else max_new_tokens
        if self.progress is not None:
            self.progress(0)  # the phase starts now, so its clock counts the whole run
        began = time.perf_counter()
        outputs = self.engine.chat([list(c) for c in conversations], self.sampling, lora_request=self.lora)
        seconds = time.perf_counter() - began
        self.stats.seconds += seconds
        answers = [
            Answer(
                tuple(
                    Candidate(o.text.strip(), len(o.token_ids), "length" if o.finish_reason == "length" else "stop")
                    for o in output.outputs
                ),
                len(output.prompt_token_ids) * len(output.outputs),
                seconds / max(len(conversations), 1),
            )
            for output in outputs
        ]
        self.stats.add(answers)
        if self.progress is not None:
            self.progress(len(conversations))
        return answers
