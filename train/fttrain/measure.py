"""A few real training steps, for `fttrain plan`: `python -m fttrain.measure RESOLVED.yaml STEPS` prints one JSON line.

Run in a process of its own (fttrain.plan.measure_steps starts it), so the peak it reports is a training
process's, as `fttrain run` would have it: on a CPU the max RSS of the whole process, on CUDA the peak of allocated
tensors. The steps take `batch_size` examples each from the longest of the training split, in order, with the
run's own model, collator and arguments (one micro-batch per step, no evaluation, no checkpoint): the largest
batch comes first, so the peak is the worst a run meets. Throughput is timed from the second step on.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from fttrain.config import load_train_config


def measure(config_path: str, steps: int) -> dict:
    import torch
    from transformers import PrinterCallback, Trainer, TrainerCallback

    from fttrain.callbacks import peak_rss_bytes
    from fttrain.run import _check_hardware, _records_dataset, collator, load_model, prepare, training_arguments

    config = load_train_config(config_path)
    _check_hardware(config)  # what `fttrain run` refuses here is not measured either
    prepared = prepare(config)
    longest = sorted(prepared.train.items, key=lambda item: len(item.input_ids), reverse=True)
    size = config.batch_size
    batches = [batch for start in range(0, steps * size, size) if (batch := longest[start : start + size])]
    real = [sum(len(item.input_ids) for item in batch) for batch in batches]  # what throughput counts, as the plan
    # What memory holds: packing makes one padding-free row of the batch's examples; without it, each is padded
    # to the longest in the batch.
    padded = [len(batch) * max(len(item.input_ids) for item in batch) for batch in batches]
    tokens = real if config.packing else padded
    records = [{"input_ids": item.input_ids, "labels": item.labels} for batch in batches for item in batch]

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.starts: list[float] = []
            self.end = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.starts.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            self.end = time.perf_counter()

    timer = StepTimes()
    arguments = training_arguments(config, Path(config.output_dir), has_validation=False)
    arguments = replace(
        arguments, max_steps=len(batches), gradient_accumulation_steps=1, eval_strategy="no", save_strategy="no",
        logging_strategy="no", train_sampling_strategy="sequential", load_best_model_at_end=False,
    )  # fmt: skip
    model = load_model(config)
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=_records_dataset(records),
        data_collator=collator(config, prepared.tokenizer),
        processing_class=prepared.tokenizer,
        callbacks=[timer],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    timed = real[1:]
    seconds = timer.end - timer.starts[1] if len(timer.starts) > 1 else 0.0
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else peak_rss_bytes()
    return {
        "steps": len(batches),
        "batch_tokens": max(tokens),
        "tokens_per_second": sum(timed) / seconds if seconds > 0 else None,
        "peak_bytes": peak,
        "dtype": str(next(p for p in model.parameters() if p.requires_grad).dtype).removeprefix("torch."),
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
