"""`fttrain plan`: what a run will cost before it starts — tokens, steps, peak memory, hours and dollars, for a
named device: this machine's GPU, its CPU when it has no GPU, or the GPU the config names (`--device config`: the
one you are about to rent).

Usage:
    plan = make_plan(load_train_config("train.yaml", overrides=["gpu_memory_gb=24"]), device="config")
    plan.device.name, plan.fits, plan.memory.total, plan.warnings
    plan = make_plan(config, device="cpu", measure=True)   # a few real steps: tokens/s, and the measured peak
    plan.measured.peak_gib, plan.measured.error           # against the prediction at the same batch

Token counts come from the run's own preparation (`fttrain.run.prepare`: the manifest check, the chat
template, the assistant masks); the model's size and shape come from its config alone, never its weights. A CPU
has no throughput to assume, so a CPU plan measures a few steps (`fttrain.measure`, in a process of its own).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ftcore.models import load_model_config as load_base_config
from ftcore.training import estimate_cost
from fttrain.config import TrainConfig
from fttrain.run import TrainError, prepare

GIB = 2**30
# Usable share of the GPU: PyTorch's caching allocator fragments (reserved but unusable blocks), and cuBLAS
# workspaces, NCCL buffers and kernel scratch space are not in the estimate. 10% headroom is the usual allowance.
USABLE_SHARE = 0.9
# The CUDA context (driver, cuBLAS/cuDNN kernels loaded into the process) takes 0.5-1 GiB before any tensor.
CUDA_CONTEXT_GIB = 1.0
# On a CPU the whole process counts: Python with torch, transformers, peft, datasets and bitsandbytes imported
# holds ~0.5 GiB before any model (max RSS measured with torch 2.13 / transformers 5.24).
PROCESS_BASELINE_GIB = 0.5
MEASURED_STEPS = 3  # the first is set-up (allocations, kernel choice): timed from the second
DeviceChoice = Literal["auto", "cpu", "cuda", "config"]
DEVICE_CHOICES = ("auto", "cpu", "cuda", "config")
MIN_STEPS = 10  # below this the warm-up and the schedule have too few optimiser updates to mean anything
# Architectures whose modules `ModelShape` lists exactly (each checked against a real model in the tests).
# Others are counted as a Llama-style decoder, with a warning.
KNOWN_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2")


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak GPU memory of one training step, in GiB; `total` is the sum of the parts."""

    weights: float  # the base model as loaded: 4-bit blocks for qlora, compute dtype otherwise
    adapter: float  # trainable copies beside the base: LoRA matrices and modules_to_save (0 for full)
    optimizer: float  # AdamW's two moments per trainable parameter
    gradients: float  # one gradient per trainable parameter
    activations: float  # what autograd keeps for backward, plus the logits around the loss
    overhead: float  # CUDA context, and the 4-bit dequantisation buffer for qlora
    total: float


@dataclass(frozen=True)
class Device:
    """What a plan is for: this machine's GPU or CPU (`detected`), or the GPU a config names for a run elsewhere."""

    kind: Literal["cpu", "cuda"]
    name: str  # "NVIDIA H100 80GB HBM3", "AMD EPYC 7B13, 2 cores", "a 24 GiB GPU (gpu_memory_gb)"
    memory_gb: float  # what the run must fit in: the GPU's memory, or the machine's RAM (GiB)
    detected: bool

    def describe(self) -> str:
        """`the CPU of this machine (AMD EPYC, 2 cores, 23.4 GiB RAM)`, `a 24 GiB GPU (...)`."""
        if self.kind == "cpu":
            return f"this machine's CPU ({self.name}, {self.memory_gb:.1f} GiB RAM)"
        if self.detected:
            return f"this machine's GPU ({self.name}, {self.memory_gb:.1f} GiB)"
        return self.name


@dataclass(frozen=True)
class Measurement:
    """A few real training steps on the planned device, on the longest examples (the worst batches a run meets)."""

    steps: int
    batch_tokens: int  # tokens of the largest batch (the peak's), packed or padded
    tokens_per_second: float  # examples' tokens (not padding) per second, steady state: from the second step on
    peak_gib: float  # CPU: the process's max RSS; CUDA: peak allocated tensors (the CUDA context not included)
    predicted_gib: float  # the plan's estimate for the same batch, counted the same way
    error: float  # (predicted - measured) / measured
    dtype: str  # what the trained values were computed in: float32 on a CPU, as `fttrain run` trains there

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """What `fttrain run` would do with a config, and what it would take on `device`."""

    train_examples: int
    train_tokens: int  # with the chat template, after max_seq_len truncation
    trained_tokens: int  # assistant tokens (labels): what the loss sees
    sequences_per_epoch: int  # what the sampler draws per epoch: examples, packed or not (see make_plan)
    steps_per_epoch: int
    total_steps: int
    parameters: int  # from the model config alone (no weights loaded)
    trainable_parameters: int
    device: Device
    memory: MemoryEstimate
    fits: bool
    tokens_per_second: float | None  # what the hours assume (none: not known, for a CPU not measured)
    throughput_source: Literal["measured", "gpu_tokens_per_second", "unknown"]
    hours: float | None
    cost_usd: float | None  # at gpu_usd_per_hour for a GPU; none for a CPU (your own machine)
    measured: Measurement | None
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Module:
    """One leaf module of the model, by its name in `model.named_modules()` (what peft matches against)."""

    name: str
    kind: str  # "linear", "embedding" or "norm"
    in_features: int
    out_features: int
    parameters: int  # 0 for a head tied to the embeddings


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only transformer's dimensions, read from its config.

    Usage:
        shape = ModelShape.from_config(AutoConfig.from_pretrained("meta-llama/Llama-3.1-8B"))
        shape.parameters
        # -> 8030261248
    """

    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied_embeddings: bool
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    qk_norm: bool  # Qwen3 normalises queries and keys per head
    norms_per_layer: int  # 2 for Llama; Gemma 2 adds two around the MLP
    max_position_embeddings: int | None

    @classmethod
    def from_config(cls, config) -> ModelShape:
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        model_type = getattr(text, "model_type", "") or ""
        try:
            hidden, heads = text.hidden_size, text.num_attention_heads
            shape = cls(
                model_type=model_type,
                vocab_size=text.vocab_size,
                hidden_size=hidden,
                intermediate_size=text.intermediate_size,
                layers=text.num_hidden_layers,
                heads=heads,
                kv_heads=getattr(text, "num_key_value_heads", None) or heads,
                head_dim=getattr(text, "head_dim", None) or hidden // heads,
                tied_embeddings=bool(getattr(text, "tie_word_embeddings", False)),
                # Qwen2 has biases on q/k/v only; Llama's `attention_bias` puts one on o too.
                qkv_bias=model_type == "qwen2" or bool(getattr(text, "attention_bias", False)),
                o_bias=model_type != "qwen2" and bool(getattr(text, "attention_bias", False)),
                mlp_bias=bool(getattr(text, "mlp_bias", False)),
                qk_norm=model_type == "qwen3",
                norms_per_layer=4 if model_type == "gemma2" else 2,
                max_position_embeddings=getattr(text, "max_position_embeddings", None),
            )
        except AttributeError as error:
            raise TrainError(f"model type {model_type!r}: not a decoder fttrain can size ({error})") from None
        return shape

    def block_linears(self) -> list[tuple[str, int, int, bool]]:
        """(name, in_features, out_features, bias) of each linear layer in one decoder block."""
        h, q, kv, i = (
            self.hidden_size,
            self.heads * self.head_dim,
            self.kv_heads * self.head_dim,
            self.intermediate_size,
        )
        return [
            ("self_attn.q_proj", h, q, self.qkv_bias),
            ("self_attn.k_proj", h, kv, self.qkv_bias),
            ("self_attn.v_proj", h, kv, self.qkv_bias),
            ("self_attn.o_proj", q, h, self.o_bias),
            ("mlp.gate_proj", h, i, self.mlp_bias),
            ("mlp.up_proj", h, i, self.mlp_bias),
            ("mlp.down_proj", i, h, self.mlp_bias),
        ]

    def modules(self) -> list[Module]:
        """Every leaf module with its parameter count, named as transformers names them."""
        h, v = self.hidden_size, self.vocab_size
        found = [Module("model.embed_tokens", "embedding", v, h, v * h)]
        norm_names = ["input_layernorm", "post_attention_layernorm"]
        if self.norms_per_layer == 4:
            norm_names += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
        for layer in range(self.layers):
            prefix = f"model.layers.{layer}"
            for name, fan_in, fan_out, bias in self.block_linears():
                found.append(
                    Module(f"{prefix}.{name}", "linear", fan_in, fan_out, fan_in * fan_out + int(bias) * fan_out)
                )
            if self.qk_norm:
                d = self.head_dim
                found += [Module(f"{prefix}.self_attn.{n}", "norm", d, d, d) for n in ("q_norm", "k_norm")]
            found += [Module(f"{prefix}.{name}", "norm", h, h, h) for name in norm_names]
        found.append(Module("model.norm", "norm", h, h, h))
        found.append(Module("lm_head", "linear", h, v, 0 if self.tied_embeddings else h * v))
        return found

    def block_modules(self) -> list[Module]:
        """The decoder blocks' linear layers: what bitsandbytes quantises for qlora."""
        return [m for m in self.modules() if m.kind == "linear" and m.name != "lm_head"]

    @property
    def parameters(self) -> int:
        return sum(module.parameters for module in self.modules())


def make_plan(
    config: TrainConfig, device: DeviceChoice = "auto", measure: bool | None = None, steps: int = MEASURED_STEPS
) -> Plan:
    """Tokenize the training split as `run` would, size the model from its config, and estimate the run on
    `device`: auto is this machine's GPU, or its CPU without one; cpu and cuda are this machine's; config is the
    GPU the config names (gpu_memory_gb, gpu_tokens_per_second, gpu_usd_per_hour), wherever the plan is made.
    `measure` (default: on a CPU, whose throughput nobody can assume) trains `steps` real steps here first."""
    # Tokenizing does not depend on the compute dtype; passing "auto" keeps `prepare`'s check that half
    # precision needs CUDA from refusing a plan made on a laptop for the GPU it is about to rent.
    prepared = prepare(replace(config, base_model=replace(config.base_model, dtype="auto")))
    shape = ModelShape.from_config(load_model_config(config))
    items = prepared.train.items
    train_tokens = sum(len(item.input_ids) for item in items)
    # `run` draws examples: with packing, DataCollatorWithFlattening flattens each batch of `batch_size`
    # examples into one row, so packing removes the padding, not steps (tests/train/test_run.py: 64 examples,
    # batch 8, packing on: 8 steps an epoch).
    sequences = len(items)
    steps_per_epoch = steps_for(sequences, config)
    # The Trainer's own arithmetic: ceil(epochs x updates per epoch), so fractional epochs round up.
    total_steps = math.ceil(config.epochs * steps_per_epoch)
    target = detect_device(config, device)
    memory = estimate_memory(shape, config, device=target.kind)
    fits = memory.total <= target.memory_gb * USABLE_SHARE  # read as GiB: a "24 GB" card has 24 GiB
    longest = max((len(item.input_ids) for item in items), default=0)
    warnings = _warnings(shape, config, prepared, memory, fits, total_steps, longest, target)
    measured = None
    if measure if measure is not None else target.kind == "cpu":
        if not target.detected:
            warnings.append(f"not measured: {target.name} is not on this machine")
        elif not fits:
            warnings.append("not measured: the estimated peak does not fit this device")
        else:
            measured = measure_steps(config, shape, target, steps)
            # The measured batch is the worst the data holds, so its peak decides, when the estimate is lower
            # (on CUDA torch counts tensors only: the context is added back).
            peak = measured.peak_gib + (CUDA_CONTEXT_GIB if target.kind == "cuda" else 0)
            fits = max(memory.total, peak) <= target.memory_gb * USABLE_SHARE
            if not fits:
                warnings.append(
                    f"the measured peak ({peak:.2f} GiB) does not fit {target.describe()} "
                    f"({target.memory_gb * USABLE_SHARE:.1f} GiB usable)"
                )
            if measured.error < -0.25:
                warnings.append(
                    f"the estimate is {-measured.error:.0%} under the peak measured here ({measured.peak_gib:.2f} GiB "
                    f"for {measured.batch_tokens:,} tokens): trust the measurement"
                )
    if measured is not None:
        throughput, source = measured.tokens_per_second, "measured"
    elif target.kind == "cuda":
        throughput, source = config.gpu_tokens_per_second, "gpu_tokens_per_second"
    else:
        throughput, source = None, "unknown"
    hours = cost_usd = None
    if throughput:
        cost = estimate_cost(train_tokens, config.epochs, throughput, config.gpu_usd_per_hour)
        hours = cost.gpu_hours
        cost_usd = cost.gpu_usd if target.kind == "cuda" else None
    return Plan(
        train_examples=len(items),
        train_tokens=train_tokens,
        trained_tokens=sum(item.trained_tokens for item in items),
        sequences_per_epoch=sequences,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        parameters=shape.parameters,
        trainable_parameters=count_trainable(shape, config),
        device=target,
        memory=memory,
        fits=fits,
        tokens_per_second=throughput,
        throughput_source=source,
        hours=hours,
        cost_usd=cost_usd,
        measured=measured,
        warnings=warnings,
    )


def detect_device(config: TrainConfig, choice: DeviceChoice = "auto") -> Device:
    """The device a plan is for (see `make_plan`)."""
    import torch

    if choice not in DEVICE_CHOICES:
        raise TrainError(f"device {choice!r}: one of {', '.join(DEVICE_CHOICES)}")
    if choice == "config":
        name = f"a {config.gpu_memory_gb:g} GiB GPU (the config's gpu_memory_gb, not this machine's)"
        return Device("cuda", name, config.gpu_memory_gb, detected=False)
    if choice in ("auto", "cuda") and torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        return Device("cuda", properties.name, properties.total_memory / GIB, detected=True)
    if choice == "cuda":
        raise TrainError(
            "device cuda: this machine has no CUDA GPU; --device config plans for the GPU the config names"
        )
    return Device("cpu", _cpu_name(), _ram_gib(), detected=True)


def _cpu_name() -> str:
    import torch

    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = names[0] if names else platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    return f"{model}, {os.cpu_count()} cores, {threads} torch thread{'s' if threads > 1 else ''}"


def _ram_gib() -> float:
    import psutil

    return psutil.virtual_memory().total / GIB


def measure_steps(config: TrainConfig, shape: ModelShape, device: Device, steps: int = MEASURED_STEPS) -> Measurement:
    """Train `steps` steps of `batch_size` of the longest examples in a fresh process (`python -m fttrain.measure`:
    its peak is the run's, not this process's), and set the prediction for that same batch beside it."""
    from fttrain.run_folder import RunFolder

    if steps < 2:
        raise TrainError(f"steps must be at least 2 (the first is set-up, timed from the second), got {steps}")
    if device.kind == "cpu" and config.base_model.dtype in ("bfloat16", "float16"):
        # `fttrain run` refuses half precision on a CPU; the plan is for float32 there (see the warning).
        config = replace(config, base_model=replace(config.base_model, dtype="float32"))
    with tempfile.TemporaryDirectory(prefix="fttrain-measure-") as work:
        folder = RunFolder(Path(work))
        folder.write_config(replace(config, output_dir=str(Path(work) / "run")))
        result = subprocess.run(
            [sys.executable, "-m", "fttrain.measure", str(folder.path / "fttrain.resolved.yaml"), str(steps)],
            capture_output=True,
            text=True,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""} if device.kind == "cpu" else None,
        )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        last = re.sub(r"^[\w.]+(Error|Exception): ", "", last)  # the traceback's last line, without the class
        raise TrainError(f"measuring {steps} training steps failed: {last}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    predicted = estimate_memory(shape, config, tokens=found["batch_tokens"], device=device.kind)
    # CUDA: torch counts tensors only, so the context is left out of the prediction it is set against.
    predicted_gib = predicted.total - (CUDA_CONTEXT_GIB if device.kind == "cuda" else 0)
    peak = found["peak_bytes"] / GIB
    return Measurement(
        steps=steps,
        batch_tokens=found["batch_tokens"],
        tokens_per_second=found["tokens_per_second"],
        peak_gib=peak,
        predicted_gib=predicted_gib,
        error=(predicted_gib - peak) / peak,
        dtype=found["dtype"],
    )


def steps_for(sequences: int, config: TrainConfig) -> int:
    """Optimiser updates per epoch: ceil(micro-batches / gradient_accumulation), as the Trainer counts them."""
    micro_batches = math.ceil(sequences / config.batch_size)
    return max(math.ceil(micro_batches / config.gradient_accumulation), 1)


def load_model_config(config: TrainConfig):
    """The base model's config (a few KB), never its weights."""
    return load_base_config(config.base_model)


# --- trainable parameters, matched as peft matches them ---------------------------------------------------------


def lora_modules(shape: ModelShape, config: TrainConfig) -> list[Module]:
    """The modules that get LoRA matrices under `config.lora` (peft's rules for `target_modules`)."""
    targets = config.lora.target_modules
    saved = config.lora.modules_to_save
    chosen = []
    for module in shape.modules():
        if any(re.match(rf"(^|.*\.){name}($|\..*)", module.name) for name in saved):
            continue  # peft never puts an adapter inside a module it trains fully
        if targets == "all-linear":
            hit = module.kind == "linear" and module.name != "lm_head"  # every linear layer but the output head
        elif isinstance(targets, str):
            hit = re.fullmatch(targets, module.name) is not None
        else:
            hit = any(module.name == t or module.name.endswith(f".{t}") for t in targets)
        if hit and module.kind != "norm":
            chosen.append(module)
    if not chosen:
        raise TrainError(f"lora.target_modules {targets!r} matches no module of this {shape.model_type} model")
    return chosen


def saved_modules(shape: ModelShape, config: TrainConfig) -> list[Module]:
    """The leaf modules that `modules_to_save` copies and trains fully (peft: a name ends with one of them)."""
    names = config.lora.modules_to_save
    found = []
    for module in shape.modules():
        parts = module.name.split(".")
        prefixes = [".".join(parts[: end + 1]) for end in range(len(parts))]  # a named parent saves its leaves
        if any(prefix.endswith(name) for prefix in prefixes for name in names):
            found.append(module)
    return found


def _lora_size(module: Module, r: int) -> int:
    return r * (module.in_features + module.out_features)  # A is r x in, B is out x r


def _saved_size(module: Module, shape: ModelShape) -> int:
    # A tied head's copy is a full vocab x hidden matrix of its own.
    return module.parameters or shape.vocab_size * shape.hidden_size


def count_trainable(shape: ModelShape, config: TrainConfig) -> int:
    """Parameters the optimiser updates: all of them for `full`, else LoRA's A and B plus modules_to_save."""
    if config.method == "full":
        return shape.parameters
    lora = sum(_lora_size(m, config.lora.r) for m in lora_modules(shape, config))
    return lora + sum(_saved_size(m, shape) for m in saved_modules(shape, config))


# --- memory ---------------------------------------------------------------------------------------------------


def dtype_bytes(config: TrainConfig, device: str = "cuda") -> int:
    """Bytes per value in the compute dtype; `auto` is bfloat16 on a CUDA GPU (as `ftcore.models.torch_dtype` loads
    it); a CPU computes in float32 (`fttrain run` refuses half precision there)."""
    return 4 if device == "cpu" or config.base_model.dtype == "float32" else 2


def nf4_bytes_per_weight(config: TrainConfig) -> float:
    """4-bit weights: half a byte each, plus one absmax constant per block of 64 (bitsandbytes' block size).

    Plain: an fp32 constant per 64 weights (+0.0625 byte, 0.5 bit). Double quantisation (QLoRA, Dettmers et al.
    2023, section 3) stores those constants in 8 bits with an fp32 constant per 256 of them: 8/64 + 32/(64*256)
    = 0.127 bit per weight.
    """
    return 0.5 + (1 / 64 + 4 / (64 * 256) if config.quant.double_quant else 4 / 64)


def layer_activation_bytes(shape: ModelShape, config: TrainConfig, compute: int = 2) -> float:
    """Bytes autograd keeps per token in one decoder block, without gradient checkpointing.

    Counted from the tensors a transformers Llama block saves for backward under bf16 autocast with SDPA
    (tests/train/test_plan.py measures them and holds this within 10%), rather than Korthikanti et al. 2022's
    34 bytes x hidden (a GPT block with a 4x MLP and dropout): Llama's 3.5x gated MLP, RMSNorm's fp32 upcast
    and peft's fp32 adapters keep more: for a Llama-3-8B shape about 49 x hidden (full) to 112 x hidden
    (qlora, LoRA on every linear layer with dropout). Terms, in bytes per token:

    - RMSNorm computes in fp32: 4h per norm for its input, and 2h more for its output when its weight trains;
    - SDPA keeps q, k, v and its output (2 bytes each), not the seq x seq scores: linear in sequence length;
    - the gated MLP keeps gate's output, SiLU's output and up's output (2i each);
    - a trained linear layer keeps its input; with a frozen base each adapter keeps its own bf16 copy of it and
      lora_A's r outputs (~7r); with dropout, peft also keeps the dropped-out input in the adapter's fp32;
    - qlora: prepare_model_for_kbit_training leaves norms and embeddings in fp32, so the residual stream is fp32
      and the MLP's elementwise products run in fp32 (+6i).

    `compute`: bytes of the compute dtype (2 for bf16, the default; 4 for fp32, as on a CPU); the fp32 terms stay.
    """
    h, i = shape.hidden_size, shape.intermediate_size
    q, kv = shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    c = compute
    attention = 2 * c * (q + kv)
    mlp = 3 * c * i
    norms = shape.norms_per_layer * 4 * h
    if config.method == "full":
        norms += shape.norms_per_layer * c * h
        inputs = c * (2 * h + i)  # q/k/v share one input, gate/up another; o's is SDPA's output, kept above
        return norms + attention + mlp + inputs
    per_block = [m for m in lora_modules(shape, config) if m.name.startswith("model.layers.0.")]
    adapters = sum(c * m.in_features + 7 * config.lora.r for m in per_block)
    if config.lora.dropout > 0:
        adapters += sum(4 * m.in_features for m in per_block)
    upcast = 3 * (4 - c) * i if config.method == "qlora" else 0  # nothing to upcast when compute is fp32
    return norms + attention + mlp + adapters + upcast


def estimate_memory(
    shape: ModelShape, config: TrainConfig, tokens: int | None = None, device: str = "cuda"
) -> MemoryEstimate:
    """Peak memory of a training step at `tokens` tokens (default: the fullest micro-batch, `batch_size` x
    `max_seq_len`), the way `fttrain run` sets it up on `device` ("cuda": tensors and the CUDA context; "cpu": the
    whole process, fp32 compute for dtype auto)."""
    compute = dtype_bytes(config, device)
    params = shape.parameters
    if config.method == "qlora":
        # bitsandbytes quantises the decoder blocks' linear layers (not lm_head); prepare_model_for_kbit_training
        # then casts everything left (embeddings, head, norms, biases) to fp32: 4 bytes.
        quantised = sum(m.in_features * m.out_features for m in shape.block_modules())
        weights = quantised * nf4_bytes_per_weight(config) + (params - quantised) * 4
    else:
        weights = params * compute  # lora: a frozen base in the compute dtype; full: the trained weights themselves

    if config.method == "full":
        # fttrain loads the model in the compute dtype and trains it there: no fp32 master copy, so gradients and
        # AdamW's moments are in bf16 too (2 + 2 + 4 bytes per parameter beside the weights, not the 16 of
        # fp32-master mixed precision in the ZeRO paper's accounting).
        adapter, gradients = 0.0, params * compute
    else:
        # peft keeps LoRA matrices in fp32 (autocast_adapter_dtype); a modules_to_save copy keeps its module's
        # dtype: fp32 after prepare_model_for_kbit_training (qlora), the compute dtype otherwise.
        lora = sum(_lora_size(m, config.lora.r) for m in lora_modules(shape, config))
        saved = sum(_saved_size(m, shape) for m in saved_modules(shape, config))
        adapter = lora * 4 + saved * (4 if config.method == "qlora" else compute)
        gradients = adapter  # one gradient per trainable value, in its dtype
    optimizer = 2 * gradients  # AdamW: exp_avg and exp_avg_sq, in each parameter's dtype (torch's AdamW)

    if tokens is None:
        tokens = config.batch_size * config.max_seq_len  # the fullest micro-batch, packed or padded
    per_layer = layer_activation_bytes(shape, config, compute)
    if config.gradient_checkpointing:
        # Each block keeps only its input (the residual stream: fp32 under qlora, see above); during backward
        # one block at a time is recomputed with all its activations.
        residual = 4 if config.method == "qlora" else compute
        blocks = tokens * (shape.layers * residual * shape.hidden_size + per_layer)
    else:
        blocks = tokens * shape.layers * per_layer
    # The logits around the loss, often the largest term for a 128k vocabulary: lm_head's bf16 output (2 bytes),
    # the fp32 copy transformers' loss takes (4), the log-softmax cross_entropy keeps (4); in backward the
    # gradient into and out of the log-softmax (4 + 4) while the saved one is still held. Peak: 12 bytes.
    logits = tokens * shape.vocab_size * 12
    activations = blocks + logits

    overhead = (CUDA_CONTEXT_GIB if device == "cuda" else PROCESS_BASELINE_GIB) * GIB
    if config.method == "qlora":
        # bitsandbytes dequantises one weight at a time into the compute dtype for the matmul.
        overhead += max(m.in_features * m.out_features for m in shape.block_modules()) * compute

    parts = [value / GIB for value in (weights, adapter, optimizer, gradients, activations, overhead)]
    return MemoryEstimate(*parts, total=sum(parts))


# --- warnings -------------------------------------------------------------------------------------------------


def _warnings(shape, config, prepared, memory, fits, total_steps, longest, device: Device) -> list[str]:
    found = []
    if not fits:
        found.append(_does_not_fit(shape, config, memory, longest, device))
    if device.kind == "cpu" and config.base_model.dtype in ("bfloat16", "float16"):
        found.append(
            f"base_model.dtype {config.base_model.dtype} on a CPU: `fttrain run` refuses it there (~5x slower than "
            "float32); planned as float32. For the GPU it is meant for: --device config"
        )
    train = prepared.train
    if train.truncated_examples:
        found.append(
            f"{train.truncated_examples} example(s) lose {train.lost_assistant_tokens} assistant token(s) to "
            f"max_seq_len={config.max_seq_len}: the model never learns how those answers end; raise max_seq_len "
            "or shorten those examples (`fttrain run --dry-run` shows one)"
        )
    if total_steps < MIN_STEPS:
        found.append(
            f"only {total_steps} optimiser step(s): too few for the warm-up and the {config.lr_scheduler} schedule "
            f"to take shape; lower batch_size x gradient_accumulation ({config.batch_size} x "
            f"{config.gradient_accumulation}), or add epochs or data"
        )
    if shape.max_position_embeddings and config.max_seq_len > shape.max_position_embeddings:
        found.append(
            f"max_seq_len={config.max_seq_len} is beyond the model's {shape.max_position_embeddings} positions"
        )
    if shape.model_type not in KNOWN_MODEL_TYPES:
        found.append(
            f"model type {shape.model_type!r}: parameters and memory are counted as for a Llama-style decoder "
            f"({', '.join(KNOWN_MODEL_TYPES)} are counted exactly); treat them as rough"
        )
    return found


def _does_not_fit(shape: ModelShape, config: TrainConfig, memory: MemoryEstimate, longest: int, device: Device) -> str:
    usable = device.memory_gb * USABLE_SHARE
    options: list[tuple[str, TrainConfig]] = []
    if not config.gradient_checkpointing:
        options.append(("gradient_checkpointing=true", replace(config, gradient_checkpointing=True)))
    effective = config.batch_size * config.gradient_accumulation
    for batch in range(config.batch_size - 1, 0, -1):  # the largest batch that fits, same effective batch
        smaller = replace(config, batch_size=batch, gradient_accumulation=math.ceil(effective / batch))
        if estimate_memory(shape, smaller, device=device.kind).total <= usable or batch == 1:
            options.append((f"batch_size={batch} gradient_accumulation={smaller.gradient_accumulation}", smaller))
            break
    if 16 <= longest < config.max_seq_len:  # the data never fills max_seq_len: a tighter bound loses nothing
        options.append((f"max_seq_len={longest} (the longest example)", replace(config, max_seq_len=longest)))
    if config.method != "qlora":
        options.append(("method=qlora", replace(config, method="qlora")))
    estimates = [(change, estimate_memory(shape, changed, device=device.kind).total) for change, changed in options]
    fitting = [f"{change} ({total:.1f} GiB)" for change, total in estimates if total <= usable]
    what = f"{device.memory_gb:g} GiB GPU" if device.kind == "cuda" else f"{device.memory_gb:.1f} GiB of RAM"
    message = (
        f"estimated peak {memory.total:.1f} GiB does not fit a {what} "
        f"({usable:.1f} GiB usable; activations {memory.activations:.1f} GiB at {config.batch_size} x "
        f"{config.max_seq_len} tokens)"
    )
    if fitting:
        return f"{message}; it fits with any one of: " + "; ".join(fitting)
    tried = "; ".join(f"{change} ({total:.1f} GiB)" for change, total in estimates)
    larger = "a larger GPU" if device.kind == "cuda" else "a machine with more memory, or a GPU"
    return f"{message}; no single change is enough ({tried}): combine them, or use {larger}"
