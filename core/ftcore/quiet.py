"""Output of the libraries underneath that is not the user's business, silenced narrowly where it comes from.

Each silencer names its source and why the user cannot act on it, and catches that one message only: anything
else a library says still reaches the user.

- bitsandbytes, when it is imported on a CPU with AVX512-BF16, logs "Failed to load CPU gemm_4bit_forward from
  kernels-community": an optional kernel the `kernels` package would fetch from the Hugging Face hub. Without it
  bitsandbytes uses its own CPU kernels; ftkit runs offline. (`quiet_bitsandbytes`, installed when ftcore.models
  is imported, before any tool imports bitsandbytes.)
- peft (0.21) reads `PreTrainedModel.is_gradient_checkpointing` whenever it wraps a model, and transformers 5
  deprecated that property with a FutureWarning: nothing ftkit or its user calls (`peft_wrapping`).
- transformers draws a tqdm bar while it loads weights; the CLIs show loading as a phase of their own display
  (`transformers_bars_off`; the hub's download bars stay).

Usage:
    with peft_wrapping():
        model = PeftModel.from_pretrained(base, "runs/latest")
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

BITSANDBYTES_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
KERNELS_HINT = "Failed to load CPU gemm_4bit_forward from kernels-community"
PEFT_DEPRECATION = r"`is_gradient_checkpointing` is deprecated"


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quiet_bitsandbytes() -> None:
    """Drop bitsandbytes' hint about the hub's optional CPU kernel (once per process; its other messages stay)."""
    logger = logging.getLogger(BITSANDBYTES_CPU_LOGGER)  # the logger bitsandbytes will use, made before it is
    if not any(isinstance(f, _DropMessage) and f.prefix == KERNELS_HINT for f in logger.filters):
        logger.addFilter(_DropMessage(KERNELS_HINT))


@contextmanager
def peft_wrapping() -> Iterator[None]:
    """Around `get_peft_model` / `PeftModel.from_pretrained`: without transformers' FutureWarning about the
    property peft reads (any other warning still shows)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PEFT_DEPRECATION, category=FutureWarning)
        yield


@contextmanager
def transformers_bars_off() -> Iterator[None]:
    """transformers' own progress bars (loading weights) off for the block; the hub's download bars as they were."""
    from huggingface_hub import utils as hub
    from transformers.utils import logging as transformers_logging

    was_on, hub_was_off = transformers_logging.is_progress_bar_enabled(), hub.are_progress_bars_disabled()
    transformers_logging.disable_progress_bar()  # turns the hub's bars off too: put them back as they were
    if not hub_was_off:
        hub.enable_progress_bars()
    try:
        yield
    finally:
        if was_on:
            transformers_logging.enable_progress_bar()
            if hub_was_off:
                hub.disable_progress_bars()
