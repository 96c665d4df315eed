"""Fuzzing what ftkit reads: mutated JSONL and CSV files, and random or broken YAML configs for all three tools.

The CLI contract under test (ftcore.cli): whatever the input, no traceback reaches the user, the exit
code is 0, 1 or 2, and exit 2 ends the output with ONE line, "Error: ...", that names the file at fault.
Hypothesis runs derandomized (the same cases on every run, no example database). Each target declares how
many cases it runs; a case equal to one it already ran is drawn again, and the test fails unless the target
ran exactly that many distinct cases. FTKIT_FUZZ_SCALE multiplies every target's count: the soak run,
`FTKIT_FUZZ_SCALE=15`, runs more than 10,000 distinct cases. The last test prints the counts and outcomes
(`pytest -s tests/test_fuzz_inputs.py`).
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import traceback
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ftcore import load_split
from ftcore.config import ConfigError
from ftdata.cli import main as ftdata_main
from ftdata.project import Project, init_project
from ftdata.snapshot import Response, SnapshotRecord, _record_to_row, _write_snapshot
from ftdata.store import Store
from fteval.cli import main as fteval_main
from fteval.config import load_eval_config
from fttrain.cli import main as fttrain_main

REPO = Path(__file__).resolve().parent.parent
STYLE = REPO / "examples" / "quickstart" / "style.yaml"
SCALE = int(os.environ.get("FTKIT_FUZZ_SCALE", "1"))  # the soak run: 15
DECLARED: dict[str, int] = {}  # target -> distinct cases it must run
SEEN: dict[str, set[str]] = {}  # target -> fingerprints of the cases it ran to their end
CURRENT: dict[str, str] = {}  # target -> fingerprint of the case running now
OUTCOMES: dict[str, Counter[str]] = {}  # target -> how its cases ended ("exit 2", "ModelLoadReached", ...)
_serial = itertools.count()
pytestmark = pytest.mark.slow  # about two minutes in all; each fuzz target takes a few seconds


@pytest.fixture(scope="module", autouse=True)
def made_up_paths_are_no_reads(read_guard):
    """Fuzzed configs name paths that exist nowhere (a byte inserted into a folder name): opening one reads no
    file of this machine. Existing files outside the repository still fail a test (tests/read_guard.py)."""
    read_guard.missing_ok = True
    yield
    read_guard.missing_ok = False


def fuzz(target: str, examples: int):
    """One fuzz target: `examples` × FTKIT_FUZZ_SCALE distinct cases, derandomized, no database, no deadline;
    afterwards, the check that Hypothesis ran every one of them to its end (`distinct`, then `count`)."""
    DECLARED[target] = examples * SCALE
    hypothesis_settings = settings(
        max_examples=DECLARED[target],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,  # repeated cases are rejected by `distinct`
        ],
    )

    def decorate(test):
        run = hypothesis_settings(test)

        @functools.wraps(run)
        def run_and_count(*args, **kwargs):
            SEEN[target], OUTCOMES[target] = set(), Counter()
            run(*args, **kwargs)
            ran, ended = len(SEEN[target]), sum(OUTCOMES[target].values())
            assert ran == ended == DECLARED[target], f"{target}: {ran} distinct cases ran to their end, {ended} counted"

        return run_and_count

    return decorate


def distinct(target: str, *case: object) -> None:
    """Called with a case's inputs before it runs: a case equal to one the target already ran to its end is
    rejected, and Hypothesis draws another (a rejected case does not count toward its max_examples). A case that
    failed is not "ran": Hypothesis replays it while it shrinks the failure."""
    fingerprint = hashlib.sha256(repr(case).encode("utf-8", "surrogatepass")).hexdigest()
    assume(fingerprint not in SEEN[target])
    CURRENT[target] = fingerprint


def check_outcome(
    result,
    names: list[str],
    allowed_exception: type[BaseException] | None = None,
    report: bool = False,
    any_path: bool = False,
) -> str:
    """The contract: no exception escaped, exit 0/1/2, and exit 2 ends in one `Error:` line naming a file
    (one of `names`; with `any_path`, any absolute path, e.g. the data folder a config points at). `report`: a
    command whose exit 2 comes with its own per-file report instead, like `validate`. Returns how it ended."""
    exception = result.exception
    if exception is not None and not isinstance(exception, SystemExit):
        if allowed_exception is not None and isinstance(exception, allowed_exception):
            return type(exception).__name__
        trace = "".join(traceback.format_exception(exception))
        pytest.fail(f"an exception reached the user:\n{trace}\noutput:\n{result.output[-2000:]}")
    assert "Traceback" not in result.output, result.output[-2000:]
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output[-2000:])
    if result.exit_code == 2 and not report:
        lines = result.output.rstrip("\n").splitlines()
        errors = [line for line in lines if line.startswith("Error:")]
        assert len(errors) == 1 and lines[-1] == errors[0], f"not one final error line:\n{result.output[-2000:]}"
        named = any(name in errors[0] for name in names) or (any_path and re.search(r"(^|\s|')/\S", errors[0]))
        assert named, f"the error names none of {names}: {errors[0]}"
    return f"exit {result.exit_code}"


def count(target: str, outcome: str) -> None:
    """The case that `distinct` let through ended, this way."""
    SEEN[target].add(CURRENT.pop(target))
    OUTCOMES[target][outcome] += 1


def invoke(main, args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=True)


# --- strategies: text and JSON values with what real files hold, hostile bits included -----------------

TEXT = st.text(max_size=24)  # any code point but lone surrogates: controls, NUL, RTL overrides, emoji
WORDS = st.text(min_size=1, max_size=24).filter(str.strip)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)
# Raw JSON text no dict can produce: deep nesting, 5,000-digit numbers, NaN, lone surrogate escapes.
RAW_JSON = st.sampled_from(
    [
        "[" * 100_000 + "]" * 100_000,
        "[" * 990 + "]" * 990,
        '{"a":' * 3000 + "1" + "}" * 3000,
        "1" * 5000,
        "-" + "9" * 4301,
        "1e999",
        "NaN",
        "-Infinity",
        '"\\ud800"',
        '"\\udfff tail"',
        '"\\ud83d\\ude00"',
        '"\\u0000"',
        '"\\u202e reversed"',
        '"' + "x" * 100_000 + '"',
        '""',
        "[]",
        "{}",
    ]
)
SPLICE = "\ue000splice\ue000"  # a placeholder replaced by RAW_JSON after serialising


@st.composite
def chat_records(draw) -> dict:
    """A valid example: chat messages (optional system turn) or the prompt/completion layout."""
    if draw(st.integers(0, 3)) == 0:
        record = {"prompt": draw(WORDS), "completion": draw(WORDS)}
        if draw(st.booleans()):
            record["system"] = draw(WORDS)
    else:
        messages = [{"role": "system", "content": draw(WORDS)}] if draw(st.booleans()) else []
        for _ in range(draw(st.integers(1, 3))):
            messages += [{"role": "user", "content": draw(WORDS)}, {"role": "assistant", "content": draw(WORDS)}]
        record = {"messages": messages}
    if draw(st.booleans()):
        record["metadata"] = draw(st.dictionaries(TEXT, JSON_VALUES, max_size=3))
    return record


@st.composite
def mutated_record(draw) -> str:
    """One JSONL line: a valid record, then 0-3 structural mutations (missing fields, wrong types, ...)."""
    record = draw(chat_records())
    raw = draw(RAW_JSON)
    for _ in range(draw(st.integers(0, 3))):
        target = record
        if "messages" in record and isinstance(record["messages"], list) and record["messages"] and draw(st.booleans()):
            turn = draw(st.sampled_from(record["messages"]))
            target = turn if isinstance(turn, dict) else record
        keys = list(target)
        action = draw(st.sampled_from(["drop", "retype", "unknown", "splice", "huge", "nest"]))
        if action == "drop" and keys:
            del target[draw(st.sampled_from(keys))]
        elif action == "retype" and keys:
            target[draw(st.sampled_from(keys))] = draw(JSON_VALUES)
        elif action == "unknown":
            target[draw(TEXT)] = draw(JSON_VALUES)
        elif action == "splice" and keys:
            target[draw(st.sampled_from(keys))] = SPLICE
        elif action == "huge" and keys:
            target[draw(st.sampled_from(keys))] = draw(st.sampled_from(["x", "\u202e", "\x00", "é"])) * 100_000
        elif action == "nest" and keys:
            key = draw(st.sampled_from(keys))
            target[key] = {"nested": [target[key]] * 2}
    line = json.dumps(record, ensure_ascii=draw(st.booleans()))
    return line.replace(json.dumps(SPLICE, ensure_ascii=False), raw).replace(json.dumps(SPLICE), raw)


INSERTS = [b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\r", b"\n", b'"', b"{", b"\\", b"\x1f\x8b"]


@st.composite
def byte_mutations(draw, data: bytes) -> bytes:
    """Damage a file the way disks, editors and encodings do: truncate, flip, insert, BOM, CRLF, gzip."""
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["truncate", "flip", "insert", "bom", "crlf", "gzip", "blank"]))
        position = draw(st.integers(0, max(0, len(data))))
        if action == "truncate":
            data = data[:position]
        elif action == "flip" and data:
            index = min(position, len(data) - 1)
            data = data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1 :]
        elif action == "insert":
            data = data[:position] + draw(st.sampled_from(INSERTS) | st.binary(max_size=8)) + data[position:]
        elif action == "bom":
            data = b"\xef\xbb\xbf" + data
        elif action == "crlf":
            data = data.replace(b"\n", b"\r\n")
        elif action == "gzip":
            data = gzip.compress(data, mtime=0)
        elif action == "blank":
            data = data + b"\n  \n\t\n"
    return data


@st.composite
def jsonl_files(draw) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))  # no structure at all
    lines = draw(st.lists(mutated_record(), min_size=1, max_size=4))
    return draw(byte_mutations("".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")))


CSV_COLUMNS = ["prompt", "completion", "system", "messages", "metadata", "id", "question", "answer", "tags"]


@st.composite
def csv_files(draw) -> tuple[bytes, str, list[str]]:
    """(content, suffix, extra CLI args): header, rows of text or JSON text, maybe `--map`, then byte damage."""
    columns = draw(st.lists(st.sampled_from(CSV_COLUMNS) | TEXT, min_size=1, max_size=5))
    cells = st.one_of(
        TEXT, JSON_VALUES.map(json.dumps), mutated_record(), RAW_JSON, st.sampled_from(["", "x" * 200_000])
    )
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(columns) + 1), max_size=4))
    rows = [[cell.replace("\x00", "") for cell in row] for row in rows]  # csv cannot write NUL: bytes add it below
    suffix = draw(st.sampled_from([".csv", ".tsv"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if suffix == ".tsv" else ",")
    writer.writerow(columns)
    writer.writerows(rows)
    args = ["--map", "user=question,assistant=answer"] if draw(st.integers(0, 3)) == 0 else []
    data = buffer.getvalue().encode("utf-8", "surrogatepass")
    return draw(byte_mutations(data)), suffix, args


# --- ftdata import / validate / check on damaged data files ---------------------------------------------


@pytest.fixture(scope="module")
def data_project(tmp_path_factory) -> Path:
    """A project whose store already holds one example (see test_a_store_of_only_rejected_rows_stays_readable)."""
    root = tmp_path_factory.mktemp("fuzz-data")
    init_project(root / "project")
    seed = root / "seed.jsonl"
    seed.write_text(json.dumps({"prompt": "What is 2+2?", "completion": "4"}) + "\n")
    assert invoke(ftdata_main, ["import", "--project", str(root / "project"), str(seed)]).exit_code == 0
    (root / "inputs").mkdir()
    return root


IMPORT_JSONL = "ftdata import (JSONL)"


@fuzz(IMPORT_JSONL, 60)
@given(content=jsonl_files())
def test_import_mutated_jsonl(data_project, content):
    distinct(IMPORT_JSONL, content)
    source = data_project / "inputs" / f"case{next(_serial)}.jsonl"
    source.write_bytes(content)
    project = str(data_project / "project")
    outcome = check_outcome(invoke(ftdata_main, ["import", "--project", project, str(source)]), [str(source)])
    count(IMPORT_JSONL, outcome)


VALIDATE_JSONL = "ftdata validate (JSONL)"


@fuzz(VALIDATE_JSONL, 200)
@given(content=jsonl_files())
def test_validate_mutated_jsonl(tmp_path_factory, content):
    """`validate` reports every problem, one line each, all naming the file; exit 2 when it cannot be read."""
    distinct(VALIDATE_JSONL, content)
    source = tmp_path_factory.getbasetemp() / f"validate{next(_serial)}.jsonl"
    source.write_bytes(content)
    result = invoke(ftdata_main, ["validate", str(source)])
    outcome = check_outcome(result, [str(source)], report=True)
    assert all(line.startswith(str(source)) for line in result.output.splitlines() if line), result.output[-2000:]
    count(VALIDATE_JSONL, outcome)


IMPORT_CSV = "ftdata import (CSV/TSV)"


@fuzz(IMPORT_CSV, 60)
@given(case=csv_files())
def test_import_mutated_csv(data_project, case):
    distinct(IMPORT_CSV, case)
    content, suffix, args = case
    source = data_project / "inputs" / f"case{next(_serial)}{suffix}"
    source.write_bytes(content)
    result = invoke(ftdata_main, ["import", "--project", str(data_project / "project"), *args, str(source)])
    outcome = check_outcome(result, [str(source)])
    count(IMPORT_CSV, outcome)


CHECK_STORE = "ftdata check (fuzzed store)"


@fuzz(CHECK_STORE, 10)
@given(content=jsonl_files())
def test_check_after_fuzzed_imports(data_project, content):
    """The lint over a store that the fuzz above filled with hostile (but contract-valid) examples."""
    distinct(CHECK_STORE, content)
    source = data_project / "inputs" / f"case{next(_serial)}.jsonl"
    source.write_bytes(content)
    project = str(data_project / "project")
    check_outcome(invoke(ftdata_main, ["import", "--project", project, str(source)]), [str(source)])
    outcome = check_outcome(invoke(ftdata_main, ["check", "--project", project, "--json"]), [project])
    count(CHECK_STORE, outcome)


# --- YAML configs: ftdata.yaml, fttrain's and fteval's ---------------------------------------------------

YAML_SCALARS = st.one_of(
    SCALARS,
    st.sampled_from(["2024-13-45", "2024-02-30", "2001-12-14t21:59:43.10-25:00", "9" * 5000, ".nan", ".inf", "~"]),
)
YAML_VALUES = st.recursive(
    YAML_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
# Inserted as raw text: YAML syntax out of place, tags, aliases, control and BOM characters.
YAML_BITS = [":", ": ", "\t", "- ", "{", "}", "[", "]", "&a ", "*a", "*b", "!!python/object:os.system ", "!!binary ",
             "? ", "\x00", "\ufeff", "\x85", "\u2028", "'", '"', "#", "%YAML 1.1\n", "---\n", "...\n", "<<: *a\n",
             "[" * 3000]  # fmt: skip


def tree_paths(data: dict, prefix: tuple = ()) -> list[tuple]:
    paths = []
    for key, value in data.items():
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths.extend(tree_paths(value, (*prefix, key)))
    return paths


@st.composite
def yaml_configs(draw, valid: dict, values=YAML_VALUES) -> str:
    """A config text: `valid` with keys dropped, retyped, added or misspelt, then maybe raw text damage."""
    if draw(st.integers(0, 11)) == 0:
        return draw(st.text(max_size=200))
    data = json.loads(json.dumps(valid))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(tree_paths(data) or [("x",)]))
        parent = data
        for key in path[:-1]:
            parent = parent[key] if isinstance(parent.get(key), dict) else parent
        action = draw(st.sampled_from(["retype", "retype", "drop", "unknown", "misspell"]))
        if action == "retype":
            parent[path[-1]] = draw(values)
        elif action == "drop":
            parent.pop(path[-1], None)
        elif action == "unknown":
            parent[draw(TEXT)] = draw(values)
        elif action == "misspell" and path[-1] in parent:
            parent[str(path[-1])[:-1] + "_"] = parent.pop(path[-1])
    text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)
    damage = draw(st.integers(1, 2)) if draw(st.integers(0, 2)) == 0 else 0
    for _ in range(damage):
        position = draw(st.integers(0, len(text)))
        text = text[:position] + draw(st.sampled_from(YAML_BITS)) + text[position:]
    return text


def write_config(folder: Path, name: str, text: str, binary_damage: bytes | None = None) -> Path:
    path = folder / name
    path.write_bytes(binary_damage if binary_damage is not None else text.encode("utf-8", "surrogatepass"))
    return path


# ftdata.yaml: paths are only ever inside the project (a fuzzed `store: /` would write versions into /).
@st.composite
def project_configs(draw, root: Path) -> str:
    style = st.sampled_from([None, str(STYLE), "missing-style.yaml", "ftdata.yaml", ".", "style\x00.yaml"])
    inside = st.sampled_from([".ftdata/store", "ftdata.yaml", "", ".", "sub/store", "st\x00re"])
    valid = {
        "dataset": "fuzz",
        "style": draw(style),
        "store": draw(inside),
        "lint": {"max_seq_len": 2048, "near_duplicate_threshold": 0.8, "tokenizer": None},
        "split": {"ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}, "seed": 13},
        "export": {"quorum": 2, "min_examples": 1, "stratify_by": "source"},
    }
    ratios = st.dictionaries(st.sampled_from(["train", "test", "", "a/b", "../up", "x y", "dev"]), SCALARS, max_size=3)
    values = YAML_VALUES | ratios | style | inside | st.sampled_from([str(root / "no-tokenizer")])
    return draw(yaml_configs(valid, values))


OVERRIDES = st.lists(
    st.builds(
        lambda key, value: f"{key}={value}",
        st.sampled_from(["lint.max_seq_len", "split.seed", "export.quorum", "dataset", "lint", "nope.key", ""]) | TEXT,
        st.sampled_from(["4096", "[1, 2", "2024-13-45", "9" * 5000, "{a: 1}", "", "true"]) | TEXT,
    ).filter(lambda s: "\x00" not in s),  # the OS refuses NUL in argv: no user can pass one
    max_size=2,
)


@pytest.fixture(scope="module")
def export_project(tmp_path_factory, gsm8k_rows) -> Path:
    """A project with a 12-record snapshot on disk, as `ftdata pull` leaves it, for `ftdata export`."""
    root = tmp_path_factory.mktemp("fuzz-export") / "project"
    init_project(root)
    accepted = (
        Response("ana", "submitted", {"verdict": "accept"}),
        Response("ben", "submitted", {"verdict": "accept"}),
    )
    records = [
        SnapshotRecord(f"ex_{i:016x}", f"00000000-0000-0000-0000-{i:012d}", "completed",
                       [{"role": "user", "content": row["question"]}], row["answer"], {"source": "gsm8k"}, [], accepted)
        for i, row in enumerate(gsm8k_rows[:12])
    ]  # fmt: skip
    info = {"id": "20260101T000000Z-fuzz", "workspace": "ftkit", "dataset": "fuzz", "content_sha256": "0" * 64,
            "guideline_version": "", "pulled_at": "2026-01-01T00:00:00+00:00", "review_design": {}}  # fmt: skip
    _write_snapshot(root / ".ftdata" / "snapshots", info["id"], [_record_to_row(r) for r in records], info)
    return root


PROJECT_CONFIG = "ftdata.yaml under ftdata import, check and export"


@fuzz(PROJECT_CONFIG, 90)
@given(data=st.data())
def test_project_config_fuzz_import_check_export(data_project, export_project, data):
    """A fuzzed ftdata.yaml (and `--set`s) under import, check and export: always a clean outcome."""
    command = data.draw(st.sampled_from(["import", "check", "export"]))
    serial = next(_serial)
    project = export_project if command == "export" else data_project / f"config{serial}"
    # The project folder's own name is left out of the case: configs name it only through the root it gives.
    text = data.draw(project_configs(project)).replace(str(project), "<project>")
    damage = data.draw(st.none() | st.binary(max_size=64)) if data.draw(st.integers(0, 9)) == 0 else None
    overrides = [arg for item in data.draw(OVERRIDES) for arg in ("--set", item)]
    allow_small = data.draw(st.sampled_from([[], ["--allow-small"]])) if command == "export" else []
    distinct(PROJECT_CONFIG, command, text, damage, overrides, allow_small)
    if command != "export":
        project.mkdir()
    config = write_config(project, "ftdata.yaml", text.replace("<project>", str(project)), damage)
    args = [command, "--project", str(project), *overrides]
    if command == "import":
        good = data_project / "inputs" / "good.jsonl"
        good.write_text(json.dumps({"prompt": "Name a prime.", "completion": "7"}) + "\n")
        args.append(str(good))
    elif command == "check":
        args.append("--json")
    else:
        out = project / "exports" / "fuzz"
        args += ["--out", str(out), *allow_small]
    # Errors name the config, the project folder (store, snapshots, style) or a --set. Two name their setting
    # instead: too few examples (export.min_examples), and a tokenizer that does not load (ftdata.tokens).
    names = [str(config), str(project), "--set", "export.min_examples", "tokenizer '"]
    # any_path: a style spec the config points at, damaged into a path that exists nowhere, is named as itself.
    outcome = check_outcome(invoke(ftdata_main, args), names, any_path=True)
    count(PROJECT_CONFIG, f"ftdata {command}: {outcome}")
    if command == "export":
        leftovers = [p.name for p in (project / "exports").glob(".*")] if (project / "exports").exists() else []
        assert not leftovers, leftovers  # no staging folder left behind by a refused export


NO_SNAPSHOT = "ftdata export without a snapshot"


@fuzz(NO_SNAPSHOT, 15)
@given(snapshot=st.sampled_from(["", "latest", "../..", "20260101T000000Z-fuzz/..", "x" * 300, "-"]) | TEXT)
def test_export_without_a_usable_snapshot(tmp_path_factory, snapshot):
    """Projects with no snapshot, and snapshot ids that name none: exit 2 naming the snapshots folder."""
    distinct(NO_SNAPSHOT, snapshot)
    project = tmp_path_factory.mktemp("no-snapshot")
    init_project(project)
    result = invoke(ftdata_main, ["export", "--project", str(project), f"--snapshot={snapshot}", "--allow-small"])
    outcome = check_outcome(result, [str(project)])
    assert result.exit_code == 2
    count(NO_SNAPSHOT, outcome)


@pytest.fixture(scope="module")
def train_base(tmp_path_factory, tiny_model_dir, export_dir) -> dict:
    return {
        "base_model": {"path": str(tiny_model_dir), "dtype": "auto"},
        "data": str(export_dir),
        "output_dir": str(tmp_path_factory.mktemp("fuzz-train") / "run"),
        "method": "lora",
        "max_seq_len": 256,
        "epochs": 1,
        "batch_size": 8,
        "learning_rate": 3e-3,
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"},
        "quant": {"quant_type": "nf4", "double_quant": True},
    }


TRAIN_CONFIG = "fttrain run --dry-run (config)"


@fuzz(TRAIN_CONFIG, 100)
@given(data=st.data())
def test_train_config_fuzz_dry_run(train_base, tmp_path_factory, data):
    text = data.draw(yaml_configs(train_base))
    distinct(TRAIN_CONFIG, text)
    folder = tmp_path_factory.mktemp("train-config")
    config = write_config(folder, "train.yaml", text)
    result = invoke(fttrain_main, ["run", str(config), "--dry-run"])
    # A bad setting is named by its key or the file it points at; base_model errors name the model.
    names = [str(config), "base_model", "data:", "max_seq_len"]
    outcome = check_outcome(result, names, any_path=True)
    assert not Path(train_base["output_dir"]).exists()  # a dry run writes nothing
    count(TRAIN_CONFIG, outcome)


class ModelLoadReached(Exception):
    """Raised instead of loading a model: `fteval run` got past every check of its config."""


@pytest.fixture(scope="module")
def eval_base(tmp_path_factory, tiny_model_dir, export_dir) -> dict:
    from ftcore import ExportManifest
    from ftcore.run_folder import DataRecord

    run = tmp_path_factory.mktemp("fuzz-run")
    (run / "adapter_config.json").write_text("{}")  # read only after the model loads
    # What fteval checks before any model loads: the base model and the export the run was trained on.
    (run / "fttrain.resolved.yaml").write_text(yaml.safe_dump({"base_model": str(tiny_model_dir)}))
    DataRecord.of(ExportManifest.read(export_dir), export_dir).write(run / "data_manifest.json")
    return {
        "base_model": str(tiny_model_dir),
        "data": str(export_dir),
        "style": str(STYLE),
        "system_prompt": "Answer in the house format.",
        "run": str(run),
        "output_dir": str(tmp_path_factory.mktemp("fuzz-eval") / "eval"),
        "answer_pattern": r"^####\s*(.*?)\s*$",
        "max_new_tokens": 8,
        "limit": 2,
    }


EVAL_CONFIG = "fteval run (config, to the model load)"


@fuzz(EVAL_CONFIG, 150)
@given(data=st.data())
def test_eval_config_fuzz_load_and_run(eval_base, tmp_path_factory, data):
    """`load_eval_config` raises only ConfigError; `fteval run` either stops on bad input (exit 2) or gets to
    the model load, which is replaced by an exception here: no model is loaded for a config that is wrong."""
    import transformers

    # Any string, invalid regexes for answer_pattern included: the config check compiles it.
    values = YAML_VALUES | st.sampled_from([r"(\d+)", "####", "x", "(", "[a-"])
    text = data.draw(yaml_configs(eval_base, values))
    distinct(EVAL_CONFIG, text)
    config = write_config(tmp_path_factory.mktemp("eval-config"), "eval.yaml", text)
    try:
        load_eval_config(config)
        loaded = "loaded"
    except ConfigError as error:
        assert "\n" not in str(error) and str(config) in str(error), str(error)
        loaded = "ConfigError"

    def refuse(*args, **kwargs):
        raise ModelLoadReached

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
        patch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
        result = invoke(fteval_main, ["run", str(config)])
    names = [str(config), "run:", "previous_run:", "generator:"]
    outcome = check_outcome(result, names, allowed_exception=ModelLoadReached, any_path=True)
    assert not Path(eval_base["output_dir"]).exists()  # nothing written before the model would load
    count(EVAL_CONFIG, f"load_eval_config {loaded}, fteval run {outcome}")


# What test data holds that a model then reads, answers and a report escapes: anything, hostile bits included.
HOSTILE_TEXT = WORDS | st.sampled_from(
    ["\u202e#### 4", "<script>alert(1)</script>", "x" * 3000, "\x00\x1b[31m", "####"]
)


@st.composite
def eval_cases(draw, tiny_model_dir: Path, adapter: Path) -> tuple[list[dict], dict]:
    """(test rows, eval config): hostile questions and answers, and every setting that matters after the load,
    each kept small enough for a tiny model to answer in a second."""
    # Distinct rows: a snapshot never holds one conversation twice (Argilla keeps one record per example id).
    row = st.fixed_dictionaries({"question": HOSTILE_TEXT, "answer": HOSTILE_TEXT})
    rows = draw(st.lists(row, min_size=3, max_size=6, unique_by=lambda r: (r["question"], r["answer"])))
    patterns = st.none() | st.sampled_from([r"^####\s*(.*?)\s*$", r"(\d+)", "####", ".*", "(a)|(b)", "^$"])
    config = {
        "base_model": str(tiny_model_dir),
        "style": str(STYLE),
        "system_prompt": draw(HOSTILE_TEXT),
        "run": str(adapter),
        "previous_run": draw(st.sampled_from([None, str(adapter)])),
        "answer_pattern": draw(patterns),
        "max_new_tokens": draw(st.integers(1, 6)),
        "batch_size": draw(st.integers(1, 4)),
        "limit": draw(st.none() | st.integers(1, 3)),
        "seed": draw(st.integers(0, 2**31 - 1)),
        # lm-eval takes seconds a call: its suite in a few cases only, on one or two items.
        "capability_tasks": draw(st.sampled_from([[]] * 5 + [["ftkit_commonsense"]])),
        "capability_limit": draw(st.integers(1, 2)),
    }
    return rows, config


EVAL_RUN = "fteval run (tiny model, to results.json and the report)"


@pytest.fixture(scope="module")
def tiny_run_dir(tmp_path_factory, tiny_model_dir, tiny_adapter_dir, export_dir) -> Path:
    """A run folder as fttrain writes one, around the random adapter: the adapter, the resolved config naming its
    base model and the record of the export it was trained on (what fteval checks before it loads a model). Each
    case scores another export: fteval records that as a warning and goes on."""
    from ftcore import ExportManifest
    from ftcore.run_folder import DataRecord

    run = tmp_path_factory.mktemp("fuzz-adapter-run")
    shutil.copytree(tiny_adapter_dir, run, dirs_exist_ok=True)
    (run / "fttrain.resolved.yaml").write_text(yaml.safe_dump({"base_model": str(tiny_model_dir)}))
    DataRecord.of(ExportManifest.read(export_dir), export_dir).write(run / "data_manifest.json")
    return run


@fuzz(EVAL_RUN, 12)
@given(data=st.data())
def test_eval_run_fuzz_past_the_model_load(tiny_model_dir, tiny_run_dir, tmp_path_factory, data):
    """`fteval run` for real on the tiny model and an adapter: hostile test data and every setting that matters after
    the load. Whatever the case, a clean outcome, and on exit 0 a whole output folder: an answer per test example and
    contestant, results.json, and the report."""
    from ftdata.testing import accepted_export

    rows, settings_ = data.draw(eval_cases(tiny_model_dir, tiny_run_dir))
    distinct(EVAL_RUN, rows, settings_)
    folder = tmp_path_factory.mktemp("eval-run")
    ratios = "split.ratios={train: 0.0, validation: 0.0, test: 1.0}"
    export = accepted_export(folder / "project", rows, folder / "export", system="House.", overrides=(ratios,))
    output = folder / "eval"
    config = write_config(
        folder, "eval.yaml", yaml.safe_dump({**settings_, "data": str(export), "output_dir": str(output)})
    )
    result = invoke(fteval_main, ["run", str(config)])
    outcome = check_outcome(result, [str(config), str(export)])
    if result.exit_code == 0:
        results = json.loads((output / "results.json").read_text(encoding="utf-8"))
        n = results["data"]["n"]
        assert n == min(len(load_split(export, "test")), settings_["limit"] or n)
        expected = ["base", "base+prompt", "finetuned"] + (["previous"] if settings_["previous_run"] else [])
        assert list(results["contestants"]) == expected
        for name in expected:
            assert len(read_jsonl_lines(output / "answers" / f"{name}.jsonl")) == n, name
        assert {"report.md", "report.html"} <= {path.name for path in output.iterdir()}
        assert "<script>alert(1)</script>" not in (output / "report.html").read_text(encoding="utf-8")
    count(EVAL_RUN, outcome)


def read_jsonl_lines(path: Path) -> list[dict]:
    # split("\n"): an answer may hold U+2028, which JSON leaves unescaped and str.splitlines() would split on.
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


# --- bugs the fuzz above found, each pinned by a plain test ------------------------------------------------


def test_a_store_of_only_rejected_rows_stays_readable(tmp_path):
    """A first import whose every row is rejected commits a store with zero examples, which `datasets` 5 saves
    without a data file: later commands read it as empty, and a later import adds its rows as usual."""
    project = tmp_path / "project"
    init_project(project)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": 1}\n')
    first = invoke(ftdata_main, ["import", "--project", str(project), str(bad)])
    check_outcome(first, [str(bad)])
    again = invoke(ftdata_main, ["check", "--project", str(project)])
    check_outcome(again, [str(tmp_path)])
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "What is 2+2?", "completion": "4"}\n{"prompt": "And 3+3?", "completion": "6"}\n')
    check_outcome(invoke(ftdata_main, ["import", "--project", str(project), str(good)]), [str(good)])
    snapshot = Store(Project.open(project).store_path).read()
    assert len(snapshot.examples) == 2 and len(snapshot.rejected) == 1 and len(snapshot.imports) == 2


@pytest.mark.parametrize("key", ["4\nVs", "a\rb", "tab\there", "\x1b[31m", "\u2028"])
def test_an_unknown_key_with_a_line_break_is_still_one_error_line(tmp_path, key):
    """Found by the soak run (FTKIT_FUZZ_SCALE=15): a quoted YAML key holding a line break made the unknown-key error
    two lines long. The key is shown escaped."""
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"base_model": "m", key: 1}))
    with pytest.raises(ConfigError) as raised:
        load_eval_config(config)
    message = str(raised.value)
    assert message.splitlines() == [message] and str(config) in message and repr(key) in message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("snapshot.json", b'{"id": '),
        ("snapshot.json", b"[]"),
        ("snapshot.json", b"{}"),
        ("records.parquet", b"PAR1 not parquet PAR1"),
    ],
)
def test_a_damaged_snapshot_is_one_clean_error(export_project, tmp_path, name, content):
    project = tmp_path / "project"
    shutil.copytree(export_project, project)
    init_project(project, force=True)  # the fuzz above leaves any ftdata.yaml behind
    [snapshot] = (project / ".ftdata" / "snapshots").iterdir()
    (snapshot / name).chmod(0o644)
    (snapshot / name).write_bytes(content)
    result = invoke(ftdata_main, ["export", "--project", str(project), "--out", str(tmp_path / "out"), "--allow-small"])
    check_outcome(result, [str(snapshot / name)])
    assert result.exit_code == 2 and "run `ftdata pull` again" in result.output


@pytest.mark.parametrize(
    ("tool", "change"),
    [
        ("fttrain", {"seed": -1}),  # set_seed raised a ValueError
        ("fttrain", {"seed": 2**32}),
        ("fttrain", {"epochs": float("nan")}),  # passed `epochs <= 0`
        ("fttrain", {"learning_rate": float("inf")}),
        ("fteval", {"answer_pattern": "("}),  # was compiled only after generation
        ("fteval", {"seed": -1}),  # set_seed raised after the model loaded
    ],
    ids=[
        "fttrain-seed",
        "fttrain-seed-2**32",
        "fttrain-epochs-nan",
        "fttrain-lr-inf",
        "fteval-answer_pattern",
        "fteval-seed",
    ],
)
def test_bad_settings_stop_before_any_model_loads(train_base, eval_base, tmp_path, tool, change):
    """Settings the fuzz above found to pass the config checks, then fail with a traceback (or after the model
    loaded): each must be exit 2 naming the setting, before a model loads."""
    import transformers

    main, base = (fttrain_main, train_base) if tool == "fttrain" else (fteval_main, eval_base)
    config = write_config(tmp_path, f"{tool}.yaml", yaml.safe_dump({**base, **change, "output_dir": str(tmp_path)}))

    def refuse(*args, **kwargs):
        raise ModelLoadReached

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
        if tool == "fteval":  # fttrain loads the tokenizer for its data checks; fteval only with the model
            patch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
        result = invoke(main, ["run", str(config)])
    check_outcome(result, [str(config)])
    [key] = change
    assert result.exit_code == 2 and key in result.output.splitlines()[-1]


def test_zz_fuzz_case_counts():
    """Runs last in this module: the distinct fuzz cases per target and how they ended, for the record (`pytest -s`);
    each target's own test checked that it ran all it declared."""
    ran = {target: len(SEEN[target]) for target in DECLARED if target in SEEN}
    print(f"\nfuzz: {sum(ran.values())} distinct cases run, {sum(DECLARED.values())} declared (scale {SCALE})")
    for target, n in ran.items():
        print(f"  {n:5d}  {target}: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES[target].items())))
