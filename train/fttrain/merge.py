"""`fttrain merge`: a run's adapter folded into full-precision base weights, saved as safetensors, then checked.

Usage:
    report = merge_run("runs/latest", "merged/")
    report.passed, report.max_abs_logit_diff <= report.tolerance
    # -> (True, True)

Merges fail silently elsewhere (an update rounded away in 4-bit weights, modules_to_save left
behind, an adapter that never loaded), so the merged folder is reloaded from disk and its logits
compared with the adapter model's on a few validation prompts before it takes its final name.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ftcore import ExportManifest, load_split
from ftcore.atomic import atomic_write
from ftcore.errors import FtdataError
from ftcore.models import load_base
from ftcore.quiet import peft_wrapping
from ftcore.run_folder import ADAPTER_FILES, RESOLVED_CONFIG, NotARunFolderError
from fttrain.config import TrainConfig
from fttrain.run_folder import RunFolder

REPORT_NAME = "merge_report.json"

# The default tolerance on max |merged - adapter logit|, as a share of the logit scale (the largest
# |logit| the adapter model gives on the prompts, at least 1), by the dtype both models run in.
# Merged and unmerged compute the same function in another order (x(W + sBA) against xW + s(xA)B) and
# the merged weights are rounded once to the dtype, so a good merge differs by rounding noise alone,
# which grows with the logits' size: bf16 keeps 8 significant bits, so a logit near 30 moves in steps
# of 0.125 and no fixed bound like 5e-2 holds for real models. Measured (random Llamas, 4-16 layers,
# logits up to ~40, merged vs unmerged): noise is ~1.5e-6 of the scale in float32 and ~1.7e-2 in bf16
# (0.7e-2 of that just from storing the merged weights in bf16). 1e-4 leaves float32 a wide margin and
# still sees a change of 0.004 in logits of 40; 5e-2 leaves bf16 a 3x margin for deeper models, and so
# sees only failures above ~5% of the scale. The silent failures are the adapter's whole effect (a lost
# adapter, lost modules_to_save, a wrong scaling): the report records it as `adapter_logit_shift`; when
# it is not well above the tolerance (a gentle adapter checked in bf16), the check cannot tell them.
RELATIVE_TOLERANCES = {"float32": 1e-4, "bfloat16": 5e-2}


class MergeError(FtdataError):
    """A run that cannot be merged; the message names the file or folder at fault."""


class NoAdapterError(MergeError):
    """The run has no adapter to merge: a `method: full` run, or adapter files missing."""


class OutputExistsError(MergeError):
    """`--out` already exists and is not empty: a merge never writes over anything."""


class MergeCheckError(MergeError):
    """The merged model's logits differ from the adapter model's beyond the tolerance.

    A problem found, not bad input: `fttrain merge` exits 1 on it. `report` is the failed report;
    `kept` the `*.failed` folder holding the merged weights and the report, for inspection.
    """

    def __init__(self, report: MergeReport, kept: Path):
        self.report = report
        self.kept = kept
        super().__init__(
            f"{kept}: merged logits differ from the adapter model's by {report.max_abs_logit_diff:.3g} "
            f"(tolerance {report.tolerance:.3g}, {report.dtype}, {report.prompts_checked} prompts): do not use "
            f"this merge; the folder is kept there only for inspection ({REPORT_NAME} inside), and nothing was "
            f"written to {report.out}"
        )


@dataclass(frozen=True)
class MergeReport:
    """What `merge_run` did and found; written as `merge_report.json` into the merged folder."""

    run_dir: str
    out: str  # the requested --out; the folder is there when passed, beside it as `<out>.failed` otherwise
    base_model: str
    prompts_checked: int
    max_abs_logit_diff: float  # merged (reloaded from disk) against base + adapter, over every position and token
    tolerance: float  # the bound applied to max_abs_logit_diff (the default: a share of logit_scale)
    passed: bool
    dtype: str = ""  # what both models ran in, and the merged weights' dtype: float32 on CPU, bfloat16 on CUDA
    logit_scale: float = 0.0  # the largest |logit| of the adapter model on the prompts
    adapter_logit_shift: float = 0.0  # max |adapter model - base model| on the prompts: what a lost adapter costs
    split: str = ""  # the export split the prompts came from
    data_manifest: str = ""  # fingerprint of the export the prompts came from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def merge_run(
    run_dir: str | os.PathLike, out: str | os.PathLike, prompts: int = 4, tolerance: float | None = None
) -> MergeReport:
    """Merge the adapter of `run_dir` into its base model's weights, write them to `out`, check the logits.

    `tolerance` bounds max |merged - adapter logit|; by default it is RELATIVE_TOLERANCES[dtype] times the
    largest |logit| (at least 1). Raises `MergeError` subclasses for unusable input (before any model
    loads), and `MergeCheckError` when the merged model does not reproduce the adapter model: then nothing
    is written under `out`.
    """
    if prompts < 1:
        raise MergeError(f"prompts must be at least 1, got {prompts}")
    run_dir = Path(os.path.abspath(run_dir))
    out = Path(os.path.abspath(out))
    config = read_run_config(run_dir)
    _check_out(out, run_dir)
    split, examples, fingerprint = _check_prompts(config, prompts)
    tokenizer = _load_run_tokenizer(run_dir)
    inputs = [render_prompt(tokenizer, example, config.max_seq_len) for example in examples]

    import torch

    dtype = merge_dtype()
    dtype_name = str(dtype).removeprefix("torch.")
    staging = out.parent / f".{out.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        adapter_logits, shift = _merge_into(staging, run_dir, config, tokenizer, inputs, dtype)
        scale = torch.stack([logits.abs().max() for logits in adapter_logits]).max().item()
        if tolerance is None:
            tolerance = RELATIVE_TOLERANCES[dtype_name] * max(scale, 1.0)
        merged = _load_merged(staging, dtype)
        diff = _max_abs_diff([_logits(merged, ids) for ids in inputs], adapter_logits)
        del merged
        report = MergeReport(
            run_dir=str(run_dir),
            out=str(out),
            base_model=config.base_model.label(),
            prompts_checked=len(inputs),
            max_abs_logit_diff=diff,
            tolerance=tolerance,
            passed=diff <= tolerance,  # False for a NaN
            dtype=dtype_name,
            logit_scale=scale,
            adapter_logit_shift=shift,
            split=split,
            data_manifest=fingerprint,
        )
        with atomic_write(staging / REPORT_NAME) as handle:
            handle.write(json.dumps(report.to_dict(), indent=2) + "\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if not report.passed:
        # Kept, not deleted: a large merge is slow to redo, and its weights and report are the evidence
        # for what went wrong. The name keeps it from being taken for a good merge.
        failed = out.parent / f"{out.name}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(staging, failed)
        raise MergeCheckError(report, failed)
    _publish(staging, out)
    return report


def read_run_config(run_dir: Path) -> TrainConfig:
    """The resolved config of a run folder that holds an adapter, or a clear error naming what is missing."""
    run = RunFolder.open(run_dir)
    config = run.config
    if config.method == "full":
        raise NoAdapterError(
            f"{run.file(RESOLVED_CONFIG)}: method: full: a full fine-tune has no adapter to merge; {run_dir} already "
            f"holds the whole model (model.safetensors) and loads as it is"
        )
    for name in ADAPTER_FILES:
        if not run.file(name).is_file():
            raise NoAdapterError(
                f"{run.file(name)}: missing: no adapter to merge (a run saves it when training ends; an interrupted "
                f"run has it only in checkpoints/: finish it with `fttrain run --resume`)"
            )
    return config


def _check_out(out: Path, run_dir: Path) -> None:
    if out == run_dir:
        raise OutputExistsError(f"{out}: is the run folder: give --out a new folder")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out}: exists and is not a folder: give --out a new or empty folder")
    if out.is_dir() and any(out.iterdir()):
        raise OutputExistsError(f"{out}: exists and is not empty: give --out a new or empty folder")


def _check_prompts(config: TrainConfig, count: int) -> tuple[str, list, str]:
    """The first `count` examples of the run's export: its validation split, or train when it has none."""
    data = Path(config.data)
    if not data.is_dir():
        raise MergeError(f"data: {data} is not a folder: the run's export is needed for the prompts the check uses")
    manifest = ExportManifest.read(data)
    split = "validation" if "validation" in manifest.splits and manifest.splits["validation"].examples else "train"
    examples = load_split(data, split)[:count]
    if not examples:
        raise MergeError(f"{data / manifest.splits[split].path}: no examples to check the merge on")
    return split, examples, manifest.fingerprint


def _load_run_tokenizer(run_dir: Path):
    """The tokenizer the run saved beside its adapter (the one it trained with, pad token included)."""
    from transformers import AutoTokenizer

    if not (run_dir / "tokenizer_config.json").is_file():
        raise NotARunFolderError(f"{run_dir / 'tokenizer_config.json'}: missing: the run folder has no tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir))
    if not getattr(tokenizer, "chat_template", None):
        raise MergeError(f"{run_dir}: the run's tokenizer has no chat template to render the check's prompts")
    return tokenizer


def render_prompt(tokenizer, example, max_seq_len: int):
    """Token ids (a 1 x n tensor) of the prompt as the model sees it before answering."""
    import torch

    messages = [m.to_dict() for m in example.prompt_messages]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_seq_len]  # as ftcore.chat tokenizes
    return torch.tensor([ids])


def merge_dtype():
    """float32 on CPU (bf16 is ~5x slower there), bfloat16 on CUDA (half the memory; float32 on GPUs without
    bf16). Never 4-bit: merging into quantised weights rounds most of the update away, so a QLoRA adapter
    merges into the unquantised base."""
    import torch

    return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32


def _merge_into(staging: Path, run_dir: Path, config: TrainConfig, tokenizer, inputs: list, dtype):
    """Load base + adapter, keep its logits (and how far they are from the base's), merge, save to `staging`."""
    from peft import PeftModel

    with peft_wrapping():
        model = PeftModel.from_pretrained(_load_base(config, dtype), str(run_dir)).eval()
    adapter_logits = [_logits(model, ids) for ids in inputs]
    with model.disable_adapter():
        shift = _max_abs_diff([_logits(model, ids) for ids in inputs], adapter_logits)
    merged = model.merge_and_unload()
    merged.save_pretrained(str(staging))  # transformers 5 writes safetensors only
    tokenizer.save_pretrained(str(staging))
    return adapter_logits, shift


def _load_base(config: TrainConfig, dtype):
    # Never 4-bit, and in the merge's own dtype (see merge_dtype), whatever the run trained in.
    return load_base(config.base_model, dtype=dtype, device=_device())


def _load_merged(folder: Path, dtype):
    return load_base(str(folder), setting="the merged model", dtype=dtype, device=_device()).eval()


def _device() -> str | None:
    import torch

    # On CUDA, spread a model too large for one GPU over all of them; the check catches a bad placement too.
    return "auto" if torch.cuda.is_available() else None


def _logits(model, ids):
    """Logits of every position, in float32 on the CPU (a few prompts: small beside the model)."""
    import torch

    with torch.inference_mode():
        return model(input_ids=ids.to(model.device), use_cache=False).logits[0].float().cpu()


def _max_abs_diff(got: list, expected: list) -> float:
    """max |got - expected| over all tensors; NaN if any is NaN (Python's max() would drop it)."""
    import torch

    return torch.stack([(a - b).abs().max() for a, b in zip(got, expected, strict=True)]).max().item()


def _publish(staging: Path, out: Path) -> None:
    """Rename the checked staging folder to `out` (an empty `out` is replaced, a non-empty one never)."""
    try:
        if out.is_dir():
            out.rmdir()  # fails if anything appeared in it meanwhile
        os.replace(staging, out)
    except OSError as error:
        raise OutputExistsError(
            f"{out}: cannot put the merged model there ({error.strerror}); it is complete and checked in {staging}"
        ) from None
