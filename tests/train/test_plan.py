"""fttrain plan: counts checked against real models and peft, steps against the Trainer, activations against
what autograd really keeps, the 8B-on-a-small-GPU case that the plan exists to catch, and the device a plan is
for: this machine's CPU (measured) or GPU, or the GPU a config names."""

import json
import math
import os

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig

from fttrain.config import LoraConfig, TrainConfig, load_train_config
from fttrain.plan import GIB, ModelShape, count_trainable, detect_device, layer_activation_bytes, make_plan
from fttrain.run import TrainError

TINY = {"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
HEADS = {"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16}  # head_dim != hidden / heads on purpose


def shape_of(folder) -> ModelShape:
    return ModelShape.from_config(AutoConfig.from_pretrained(str(folder)))


def test_parameter_count_equals_the_real_tiny_model(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    shape = shape_of(tiny_model_dir)
    assert shape.parameters == sum(p.numel() for p in model.parameters())
    assert count_trainable(shape, TrainConfig(method="full")) == shape.parameters


@pytest.mark.parametrize(
    "model_type, extra",
    [
        ("llama", {"attention_bias": True, "mlp_bias": True, "tie_word_embeddings": True}),
        ("mistral", {}),
        ("qwen2", {}),  # biases on q, k, v only
        ("qwen3", {}),  # per-head q/k norms
        ("gemma", {}),  # tied head
        ("gemma2", {}),  # four norms per block
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_parameter_count_for_each_known_architecture(model_type, extra):
    config = AutoConfig.for_model(model_type, **TINY, **HEADS, **extra)
    model = AutoModelForCausalLM.from_config(config)
    assert ModelShape.from_config(config).parameters == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "lora",
    [
        LoraConfig(r=8, alpha=16),
        LoraConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"]),
        LoraConfig(r=8, alpha=16, modules_to_save=["embed_tokens", "lm_head"]),
        LoraConfig(r=2, alpha=4, target_modules=r".*\.mlp\.(gate|up)_proj"),
        LoraConfig(r=4, alpha=8, target_modules=["o_proj", "embed_tokens", "lm_head"]),
    ],
    ids=["all-linear", "q-v", "modules-to-save", "regex", "embedding-and-head"],
)
def test_trainable_count_equals_what_peft_reports(tiny_model_dir, lora):
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    peft_model = get_peft_model(
        model,
        PeftLoraConfig(
            task_type="CAUSAL_LM",
            r=lora.r,
            lora_alpha=lora.alpha,
            target_modules=lora.target_modules,
            modules_to_save=lora.modules_to_save or None,
        ),
    )
    trainable, _ = peft_model.get_nb_trainable_parameters()
    assert count_trainable(shape_of(tiny_model_dir), TrainConfig(method="lora", lora=lora)) == trainable


@pytest.mark.parametrize("packing", [True, False])
def test_steps_are_what_the_trainer_runs_with_and_without_packing(train_config, tiny_model_dir, tmp_path, packing):
    import datasets
    from transformers import Trainer

    from fttrain.run import collator, prepare, training_arguments

    config = load_train_config(
        train_config(packing=packing, batch_size=8, gradient_accumulation=2, epochs=2, max_seq_len=512)
    )
    plan = make_plan(config, device="config")
    assert plan.train_examples == plan.sequences_per_epoch == 64
    assert plan.steps_per_epoch == math.ceil(64 / (8 * 2)) and plan.total_steps == 2 * plan.steps_per_epoch
    # The Trainer's own count. Packing flattens each batch of 8 examples into one row: it removes padding,
    # not steps, so the plan counts examples, not ceil(tokens / max_seq_len) packed rows.
    prepared = prepare(config)
    trainer = Trainer(
        model=AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)),
        args=training_arguments(config, tmp_path / "out", has_validation=False),
        train_dataset=datasets.Dataset.from_list(prepared.train.as_records()),
        data_collator=collator(config, prepared.tokenizer),
    )
    loader = trainer.get_train_dataloader()
    assert math.ceil(len(loader) / config.gradient_accumulation) == plan.steps_per_epoch
    batch = next(iter(loader))
    assert batch["input_ids"].shape[0] == (1 if packing else 8)
    assert batch["input_ids"].numel() <= config.batch_size * config.max_seq_len  # the activation bound
    fractional = make_plan(
        load_train_config(train_config(batch_size=8, gradient_accumulation=2, epochs=1.5)), device="config"
    )
    assert fractional.total_steps == math.ceil(1.5 * 4)


@pytest.fixture
def llama_8b_dir(tmp_path, tiny_tokenizer_dir):
    """A Llama-3-8B-shaped config with a tokenizer beside it: all `plan` reads, no weights."""
    folder = tmp_path / "llama-8b"
    LlamaConfig(
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=8192,
    ).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir)).save_pretrained(folder)
    return folder


def test_an_8b_model_on_a_24gb_gpu_does_not_fit_and_says_what_to_change(train_config, llama_8b_dir):
    path = train_config(base_model=str(llama_8b_dir), method="qlora", batch_size=16, max_seq_len=4096, gpu_memory_gb=24)
    plan = make_plan(load_train_config(path), device="config")
    assert plan.parameters == 8_030_261_248  # Llama-3-8B's published count
    assert not plan.fits and plan.memory.total > 24
    message = next(w for w in plan.warnings if "does not fit" in w)
    assert "gradient_checkpointing=true" in message and "batch_size=" in message

    small = make_plan(load_train_config(path, ["batch_size=1", "max_seq_len=2048", "gpu_memory_gb=80"]), "config")
    assert small.fits and 24 < small.memory.total < 80 * 0.9
    assert not any("does not fit" in w for w in small.warnings)
    # 4-bit blocks: under half of the bf16 weights even with the fp32 embeddings and head peft leaves beside them.
    bf16 = make_plan(load_train_config(path, ["method=lora", "batch_size=1", "max_seq_len=2048"]), "config")
    assert small.memory.weights < bf16.memory.weights / 2
    assert small.trainable_parameters == bf16.trainable_parameters == 20_971_520  # r=8 on every linear layer


def test_tiny_estimate_is_positive_and_adds_up(train_config):
    config = load_train_config(train_config(epochs=2, gpu_tokens_per_second=1000, gpu_usd_per_hour=3.0))
    plan = make_plan(config, device="config")
    memory = plan.memory
    parts = [memory.weights, memory.adapter, memory.optimizer, memory.gradients, memory.activations, memory.overhead]
    assert all(part > 0 for part in parts)
    assert memory.total == pytest.approx(sum(parts))
    assert plan.fits and plan.device.memory_gb == 80 and plan.device.kind == "cuda" and not plan.device.detected
    assert plan.throughput_source == "gpu_tokens_per_second" and plan.measured is None
    assert plan.trained_tokens < plan.train_tokens
    assert plan.hours == pytest.approx(plan.train_tokens * 2 / 1000 / 3600)
    assert plan.cost_usd == pytest.approx(plan.hours * 3.0)
    assert json.loads(json.dumps(plan.to_dict()))["memory"]["total"] == pytest.approx(memory.total)
    checkpointed = make_plan(load_train_config(train_config(gradient_checkpointing=True)), device="config")
    assert checkpointed.memory.activations < memory.activations
    # A plan is made before renting the GPU: half precision is planned for, not refused, on a CPU machine.
    bf16 = make_plan(load_train_config(train_config(epochs=2), ["base_model.dtype=bfloat16"]), device="config")
    assert bf16.memory == memory
    fp32 = make_plan(load_train_config(train_config(epochs=2), ["base_model.dtype=float32"]), device="config")
    assert fp32.memory.weights == pytest.approx(2 * memory.weights)


def test_warns_on_truncation_and_too_few_steps(train_config):
    from fttrain.run import prepare

    config = load_train_config(train_config(max_seq_len=256, batch_size=8, gradient_accumulation=1, epochs=1))
    plan = make_plan(config, device="config")
    truncated = prepare(config).train.truncated_examples
    assert truncated > 0
    assert any(w.startswith(f"{truncated} example(s) lose") for w in plan.warnings)
    assert plan.total_steps == 8 and any("only 8 optimiser step(s)" in w for w in plan.warnings)
    clean = make_plan(
        load_train_config(train_config(max_seq_len=512, batch_size=4, gradient_accumulation=1)), device="config"
    )
    assert clean.total_steps == 16 and clean.warnings == []


def _saved_bytes(model, vocab_size: int, tokens: tuple[int, int], half: bool) -> int:
    """Bytes of every tensor autograd keeps for backward (not parameters), found by walking the graph."""
    ids = torch.randint(0, vocab_size, tokens)
    # half: as on CUDA with bf16, the setting a GPU plan is for; otherwise fp32 throughout, as `fttrain run` on a CPU.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=half):
        loss = model(input_ids=ids, labels=ids).loss
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen, stack, visited, total = set(), [loss.grad_fn], set(), 0
    while stack:
        node = stack.pop()
        if node is None or node in visited:
            continue
        visited.add(node)
        for attribute in (a for a in dir(node) if a.startswith("_saved_")):
            value = getattr(node, attribute)
            for tensor in value if isinstance(value, tuple) else (value,):
                if isinstance(tensor, torch.Tensor) and tensor.numel():
                    key = tensor.untyped_storage().data_ptr()
                    if key not in seen and key not in parameters:
                        seen.add(key)
                        total += tensor.untyped_storage().nbytes()
        stack.extend(next_node for next_node, _ in node.next_functions)
    return total


@pytest.mark.parametrize(
    "config, compute",
    [
        (TrainConfig(method="lora", lora=LoraConfig(r=8, dropout=0.05)), 2),
        (TrainConfig(method="lora", lora=LoraConfig(r=8, dropout=0.0, target_modules=["q_proj", "v_proj"])), 2),
        (TrainConfig(method="qlora", lora=LoraConfig(r=8, dropout=0.05)), 2),
        (TrainConfig(method="full"), 2),
        (TrainConfig(method="lora", lora=LoraConfig(r=8, dropout=0.05)), 4),
        (TrainConfig(method="qlora", lora=LoraConfig(r=8, dropout=0.05)), 4),
    ],
    ids=["lora", "lora-q-v-no-dropout", "qlora", "full", "lora-fp32-cpu", "qlora-fp32-cpu"],
)
def test_activation_estimate_matches_what_autograd_keeps(tmp_path, config, compute):
    """One block's share: the saved bytes of a 3-block model minus a 2-block one, per token, against the formula."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig, LlamaForCausalLM

    dims = {"vocab_size": 500, "hidden_size": 64, "intermediate_size": 176, "num_attention_heads": 4}
    saved = []
    for layers in (2, 3):
        folder = tmp_path / f"layers-{layers}"
        torch.manual_seed(0)
        LlamaForCausalLM(LlamaConfig(**dims, num_key_value_heads=2, num_hidden_layers=layers)).save_pretrained(folder)
        dtype = torch.bfloat16 if compute == 2 else torch.float32
        kwargs = {"dtype": dtype, "attn_implementation": "sdpa"}
        if config.method == "qlora":
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
            )
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        if config.method == "qlora":
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        if config.method != "full":
            lora = config.lora
            peft_config = PeftLoraConfig(
                task_type="CAUSAL_LM", r=lora.r, lora_dropout=lora.dropout, target_modules=lora.target_modules
            )
            model = get_peft_model(model, peft_config)
        saved.append(_saved_bytes(model.train(), dims["vocab_size"], (2, 64), half=compute == 2))
    measured = (saved[1] - saved[0]) / (2 * 64)
    estimated = layer_activation_bytes(shape_of(tmp_path / "layers-3"), config, compute)
    assert estimated == pytest.approx(measured, rel=0.1)


# --- the device a plan is for ---------------------------------------------------------------------------------


def test_the_plan_names_the_device_it_is_for(train_config):
    import psutil

    config = load_train_config(train_config(gpu_memory_gb=24))
    rented = detect_device(config, "config")
    assert (rented.kind, rented.memory_gb, rented.detected) == ("cuda", 24, False)
    assert "24 GiB GPU" in rented.describe()
    cpu = detect_device(config, "cpu")
    assert cpu.kind == "cpu" and cpu.detected and f"{os.cpu_count()} cores" in cpu.name
    assert cpu.memory_gb == pytest.approx(psutil.virtual_memory().total / GIB)
    assert cpu.describe().startswith("this machine's CPU")
    if torch.cuda.is_available():
        found = detect_device(config, "auto")
        assert found.kind == "cuda" and found.detected and found.name == torch.cuda.get_device_name(0)
    else:  # no GPU here: auto is the CPU, and asking for this machine's GPU is an error that says what to do
        assert detect_device(config, "auto") == cpu
        with pytest.raises(TrainError, match="--device config"):
            detect_device(config, "cuda")


def test_a_cpu_plan_is_for_float32_in_this_machines_ram(train_config, tiny_model_dir):
    """On a CPU `fttrain run` computes in float32 and the whole process counts: weights at 4 bytes each (hand count:
    the real model's parameters x 4), against the machine's RAM, and no throughput until measured."""
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    parameters = sum(p.numel() for p in model.parameters())
    config = load_train_config(train_config(gpu_tokens_per_second=1000, gpu_usd_per_hour=3.0))
    cpu = make_plan(config, device="cpu", measure=False)
    gpu = make_plan(config, device="config")
    assert cpu.memory.weights == pytest.approx(parameters * 4 / GIB)
    assert gpu.memory.weights == pytest.approx(parameters * 2 / GIB)  # bf16 on the GPU
    assert cpu.memory.overhead == pytest.approx(0.5) and gpu.memory.overhead == pytest.approx(1.0)
    assert cpu.device.kind == "cpu" and cpu.fits
    # A CPU's speed is not the GPU's gpu_tokens_per_second, and its time costs no GPU dollars.
    assert cpu.hours is None and cpu.cost_usd is None and cpu.throughput_source == "unknown"
    assert gpu.hours == pytest.approx(gpu.train_tokens / 1000 / 3600) and gpu.cost_usd == pytest.approx(gpu.hours * 3)
    assert json.loads(json.dumps(cpu.to_dict()))["device"]["kind"] == "cpu"


@pytest.mark.parametrize("method, packing", [("lora", True), ("lora", False), ("qlora", True)])
def test_a_cpu_plan_measures_a_few_steps_of_the_longest_examples(train_config, method, packing):
    from fttrain.run import prepare

    config = load_train_config(train_config(method=method, packing=packing, batch_size=4, max_seq_len=512, epochs=2))
    plan = make_plan(config, device="cpu", steps=2)
    measured = plan.measured
    lengths = sorted((len(item.input_ids) for item in prepare(config).train.items), reverse=True)
    # The peak batch: the 4 longest examples, flattened into one row when packing, else padded to the longest.
    assert measured.batch_tokens == (sum(lengths[:4]) if packing else 4 * lengths[0])
    assert measured.steps == 2 and measured.tokens_per_second > 0 and measured.dtype == "float32"
    assert plan.throughput_source == "measured" and plan.tokens_per_second == measured.tokens_per_second
    assert plan.hours == pytest.approx(plan.train_tokens * 2 / measured.tokens_per_second / 3600)
    assert plan.cost_usd is None
    # The training process's own peak (a fresh interpreter with torch and the model: far above nothing, far below
    # what this test's process holds), and an estimate that is near it.
    assert 0.2 < measured.peak_gib < 4
    assert measured.error == pytest.approx((measured.predicted_gib - measured.peak_gib) / measured.peak_gib)
    print(f"{method} packing={packing}: {measured}")  # pytest -s shows the error on the tiny model
    # The fresh process is most of it on the tiny model (PROCESS_BASELINE_GIB): measured -10% on this machine.
    assert abs(measured.error) < 0.25, (measured.predicted_gib, measured.peak_gib)


def test_a_plan_in_half_precision_on_a_cpu_is_measured_in_float32_and_says_so(train_config):
    """`fttrain run` refuses bf16 on a CPU; the plan made there says so and measures float32, as the run would be."""
    plan = make_plan(load_train_config(train_config(), ["base_model.dtype=bfloat16"]), device="cpu", steps=2)
    assert any(w.startswith("base_model.dtype bfloat16 on a CPU") and "--device config" in w for w in plan.warnings)
    assert plan.measured.dtype == "float32" and plan.measured.tokens_per_second > 0


def test_the_plan_command_says_which_device_it_planned_for(train_config):
    from click.testing import CliRunner

    from fttrain.cli import main

    path = str(train_config(gpu_memory_gb=24, gpu_tokens_per_second=1000))
    here = CliRunner().invoke(main, ["plan", path, "--device", "cpu", "--steps", "2"])
    assert here.exit_code == 0, here.output
    assert "plan for this machine's CPU" in here.output and "fits this machine's RAM" in here.output
    assert "measured 2 steps here (float32)" in here.output and "tokens/s (measured) on your own machine" in here.output
    assert "GPU" not in here.output and "$" not in here.output  # no GPU memory, price or speed for a CPU plan
    rented = CliRunner().invoke(main, ["plan", path, "--device", "config", "--json"])
    assert rented.exit_code == 0, rented.output
    found = json.loads(rented.stdout)
    assert found["device"]["kind"] == "cuda" and found["device"]["memory_gb"] == 24 and found["measured"] is None
    assert found["tokens_per_second"] == 1000 and found["throughput_source"] == "gpu_tokens_per_second"


def test_a_measured_peak_is_the_measuring_process_own_not_its_parent_s():
    """Linux carries a process's max RSS across fork and exec: a plan started from a large process (this test
    session, a notebook) must not report its parent's memory as the run's peak."""
    import subprocess
    import sys

    ballast = bytearray(1024 * 2**20)  # 1 GiB, touched page by page so that it is resident here
    for index in range(0, len(ballast), 4096):
        ballast[index] = 1
    child = subprocess.run(
        [sys.executable, "-c", "from fttrain.callbacks import peak_rss_bytes; print(peak_rss_bytes())"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    del ballast
    assert 10 * 2**20 < int(child.stdout) < 700 * 2**20  # the child's own imports, far below the parent's 1 GiB
