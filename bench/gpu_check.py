"""The CUDA half of bench/gpu_check.sh: QLoRA on a ~1B Llama-shaped model, fttrain against plain TRL.

Everything is built here: a BPE tokenizer trained on synthetic house-format text, a randomly
initialised Llama (TinyLlama's shape: 22 layers, hidden 2048, 32k vocabulary, ~1.1B parameters)
and an export folder made by ftdata's export code. Runs a fixed number of optimiser steps of each
trainer and prints tokens/s, peak memory and MFU (6 × trainable-and-frozen parameters × tokens/s
over the GPU's bf16 peak, the usual approximation; set GPU_PEAK_TFLOPS for your card).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

STEPS = 30
SEQ = 2048
BATCH = 4


def synthetic_examples(n: int, rng: random.Random) -> list[dict]:
    rows = []
    for _ in range(n):
        a, b = rng.randrange(2, 500), rng.randrange(2, 500)
        question = (
            f"A shop sold {a} boxes on Monday and {b} boxes on Tuesday. " * rng.randint(2, 12) + "How many in all?"
        )
        answer = "\n".join(f"Day {i}: {a}+{b} = <<{a}+{b}={a + b}>>{a + b} boxes." for i in range(rng.randint(2, 20)))
        rows.append({"question": question, "answer": answer + f"\n#### {a + b}"})
    return rows


def build(work: Path) -> tuple[Path, Path]:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from ftdata.testing import accepted_export, tiny_chat_tokenizer

    rows = synthetic_examples(2000, random.Random(0))
    tokenizer_dir = tiny_chat_tokenizer((r["question"] + r["answer"] for r in rows), work / "tok", vocab_size=32000)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(
        vocab_size=max(len(tokenizer), 32000), hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
        num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=SEQ,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(work / "model"))
    tokenizer.save_pretrained(str(work / "model"))
    accepted_export(work / "project", rows, work / "export")
    return work / "model", work / "export"


def run_fttrain(model: Path, data: Path, out: Path) -> dict:
    import torch

    from fttrain.config import LoraConfig, TrainConfig
    from fttrain.run import run

    torch.cuda.reset_peak_memory_stats()
    config = TrainConfig(
        base_model=str(model), data=str(data), output_dir=str(out), method="qlora", lora=LoraConfig(r=16, alpha=32),
        max_seq_len=SEQ, packing=True, batch_size=BATCH, gradient_accumulation=1, epochs=1.0, learning_rate=2e-4,
        eval_each_epoch=False, logging_steps=5, gradient_checkpointing=True,
    )  # fmt: skip
    config.epochs = STEPS * BATCH / 1600  # ~STEPS optimiser steps over the 1,600 training examples (80%)
    summary = run(config)
    return {
        "seconds": summary["seconds"],
        "tokens": summary["tokens_seen"],
        "peak_gb": torch.cuda.max_memory_allocated() / 2**30,
    }


def run_trl(model_dir: Path, data: Path, out: Path) -> dict:
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    from ftcore import load_split

    torch.cuda.reset_peak_memory_stats()
    rows = [{"prompt": [m.to_dict() for m in e.prompt_messages], "completion": [e.messages[-1].to_dict()]}
            for e in load_split(data, "train")]  # fmt: skip
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)  # fmt: skip
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), quantization_config=quant, dtype=torch.bfloat16)
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=BATCH, bf16=True,
                       max_length=SEQ, padding_free=True, report_to=[], save_strategy="no", logging_steps=5),
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(str(model_dir)),
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
    )  # fmt: skip
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    tokens = trainer.state.num_input_tokens_seen or sum(e.get("num_tokens", 0) for e in trainer.state.log_history[-1:])
    return {"seconds": seconds, "tokens": tokens, "peak_gb": torch.cuda.max_memory_allocated() / 2**30}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    import torch

    peak_tflops = float(os.environ.get("GPU_PEAK_TFLOPS", "989"))  # H100/H200 SXM dense bf16
    with tempfile.TemporaryDirectory() as tmp:
        model, data = build(Path(tmp))
        from transformers import AutoConfig

        params = _parameters(AutoConfig.from_pretrained(str(model)))
        results = {
            "fttrain": run_fttrain(model, data, Path(tmp) / "ft"),
            "TRL": run_trl(model, data, Path(tmp) / "trl"),
        }
    print(f"{torch.cuda.get_device_name(0)}, {params / 1e9:.2f}B parameters, QLoRA NF4, bf16, seq {SEQ}, batch {BATCH}")
    for name, r in results.items():
        rate = r["tokens"] / r["seconds"] if r["seconds"] else 0.0
        mfu = 6 * params * rate / (peak_tflops * 1e12)
        print(f"{name:<8} {rate:>9.0f} tokens/s  peak {r['peak_gb']:.1f} GiB  MFU {mfu:.1%}")


def _parameters(config) -> int:
    h, i, layers, vocab = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.vocab_size
    kv = h * config.num_key_value_heads // config.num_attention_heads
    return vocab * h * 2 + layers * (2 * h * h + 2 * h * kv + 3 * h * i)


if __name__ == "__main__":
    main()
