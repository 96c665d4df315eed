"""How fast is `ftdata push`, its lint included, next to the raw Argilla SDK logging the same records?

    .venv/bin/python bench/review.py                # 5,000 examples (~10 min here: Argilla logs ~70-90 records/s)
    .venv/bin/python bench/review.py --n 500        # a quick run
    .venv/bin/python bench/review.py --repeat 3     # medians of three rounds, ftdata and the SDK in alternating order

Builds N examples from GSM8K (MIT; beyond its 7,473 rows, questions are paired with other rows' answers) with a few
planted off-format answers, so that some records carry suggestions, in a temporary ftdata project and workspace
`ftkit-bench-<hex>`. Against one server, each round times:

- `ftdata push` itself, lint included: the command as a user runs it (a subprocess, `--json`), and the library
  call it makes (`ftdata.review.push`), whose lint stage is timed apart through its `progress` callback;
- the lint alone (`ftdata.lint.lint`, what `ftdata check` runs);
- the raw SDK logging the same records (the same fields, metadata and suggestions, built by
  `ftdata.review.review_records` as push builds them) into a dataset with the same settings: client,
  `rg.Dataset(...).create()`, then `dataset.records.log([rg.Record(...)], batch_size=200)`;
- a re-push of the unchanged records (an upsert) and the SDK logging them again; `ftdata pull` against the SDK
  reading the same dataset (`list(dataset.records(with_responses=True, with_suggestions=True))`), in turns;
- with --interleave, the logging path alone, batch by batch in turns into two more datasets (the steadiest
  figure on a busy machine).

The headline (issue 13's target): push, lint included, within 10 % of the SDK's log time plus the lint's own
time; the lint's share of push is printed apart. ftdata goes first in even rounds, the SDK in odd ones. The
server is the one ARGILLA_API_URL/ARGILLA_API_KEY name, or else the local one (started with
`scripts/argilla-local.sh up` if needed, and left running). Everything created in Argilla is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Set before anything imports datasets/transformers: offline, one thread (as the tests run), and no
# SDK progress bars in the printed figures.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from common import REPO, gsm8k_rows, load, machine

from ftdata.argilla_client import KEY_VARIABLE, URL_VARIABLE, ArgillaConnection
from ftdata.importers import ColumnMap, import_files
from ftdata.lint import LintReport, lint
from ftdata.project import Project, init_project
from ftdata.review import push, review_records, review_settings
from ftdata.snapshot import pull
from ftdata.store import Store

GUIDELINES = REPO / "annotation_guidelines" / "review.md"
STYLE = REPO / "examples" / "quickstart" / "style.yaml"
PLANT_EVERY = 50  # every 50th answer is made off-format: its record gets a `wrong-format` suggestion
SDK_BATCH = 200  # the same as ftdata's review.batch_size default
PULLS = 3  # pulls and SDK reads per round, in turns: each takes only seconds, so one alone is mostly noise


@dataclass(frozen=True)
class TimedConnection(ArgillaConnection):
    """A connection that notes when push or pull makes its first records request: the time before it
    is set-up (client, dataset, users), the time after it the logging or reading itself."""

    marks: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if path.endswith("/records/bulk") or (method == "GET" and path.endswith("/records")):
            self.marks.setdefault("first_records_request", time.perf_counter())
        return super().request(method, path, **kwargs)


@dataclass
class Timings:
    """Seconds per operation over the repeats, and the records each handled."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)

    def add(self, operation: str, seconds: float, records: int) -> None:
        self.seconds.setdefault(operation, []).append(seconds)
        self.records[operation] = records

    def median(self, operation: str) -> float:
        return statistics.median(self.seconds[operation])


def connect() -> ArgillaConnection:
    """The server ARGILLA_API_URL/KEY name, or the local one (started if it is not running)."""
    if os.environ.get(URL_VARIABLE) and os.environ.get(KEY_VARIABLE):
        return ArgillaConnection.from_env()
    script = REPO / "scripts" / "argilla-local.sh"
    result = subprocess.run(["bash", str(script), "up"], capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        sys.exit(f"scripts/argilla-local.sh up failed:\n{result.stderr[-3000:]}")
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines() if line.startswith("export ")
    )
    return ArgillaConnection.from_env(exports)


def build_rows(n: int) -> list[dict[str, str]]:
    """n distinct GSM8K conversations: row i's question with row i's answer, then (past the 7,473
    rows) with the answer of a row 7, 14, ... further on; every PLANT_EVERY-th answer off-format."""
    rows = gsm8k_rows()
    out = []
    for index in range(n):
        a = index % len(rows)
        b = (a + 7 * (index // len(rows))) % len(rows)
        answer = rows[b]["answer"]
        if index % PLANT_EVERY == PLANT_EVERY - 1:
            answer = f"Great question! The answer is {answer.rsplit('####', 1)[-1].strip()}."
        out.append({"question": rows[a]["question"], "answer": answer})
    return out


def make_project(root: Path, n: int, workspace: str) -> Project:
    init_project(root, dataset="bench-ftdata")
    config = (root / "ftdata.yaml").read_text(encoding="utf-8")
    config = (
        config.replace("workspace: ftkit", f"workspace: {workspace}")
        .replace("guidelines: guidelines.md", f"guidelines: {GUIDELINES}")
        .replace("style: null", f"style: {STYLE}")
    )
    (root / "ftdata.yaml").write_text(config, encoding="utf-8")
    raw = root / "raw.jsonl"
    raw.write_text("".join(json.dumps(row) + "\n" for row in build_rows(n)), encoding="utf-8")
    project = Project.open(root)
    import_files(project, [raw], mapping=ColumnMap.parse("user=question,assistant=answer"))
    return project


def sdk_payload(project: Project, report: LintReport) -> list[dict[str, Any]]:
    """What `push` sends, record for record (the same skips, fields, metadata and suggestions): built by
    `ftdata.review.review_records`, the function push itself calls, so the two paths log identical records."""
    known_metadata = {m.name for m in review_settings(project, with_tokens=False).metadata}
    examples = Store(project.store_path).read().examples
    items, _ = review_records(report, examples, {"issues": "issues"}, known_metadata)
    return items


def sdk_records(payload: list[dict[str, Any]]) -> list[Any]:
    import argilla as rg

    return [
        rg.Record(
            id=item["external_id"],
            fields=item["fields"],
            metadata=item["metadata"],
            suggestions=[
                rg.Suggestion(
                    question_name=s["question_id"], value=s["value"], score=s["score"], agent=s["agent"], type=s["type"]
                )
                for s in item["suggestions"]
            ],
        )
        for item in payload
    ]


def sdk_client(connection: ArgillaConnection) -> Any:
    import argilla as rg

    return rg.Argilla(api_url=connection.api_url, api_key=connection.api_key)


def time_push(project: Project, connection: ArgillaConnection, label: str, timings: Timings) -> None:
    """`push`, split at the lint's last progress stage and at the first bulk request."""
    timed = TimedConnection(connection.api_url, connection.api_key)
    start = time.perf_counter()
    lint_done = [start]

    def progress(stage: str, done: int, total: int) -> None:
        if stage != "pushing records":
            lint_done[0] = time.perf_counter()

    result = push(project, timed, progress=progress)
    end = time.perf_counter()
    first = timed.marks.get("first_records_request", end)
    timings.add(f"{label} (lint included)", end - start, result.pushed)
    timings.add(f"{label}: its lint", lint_done[0] - start, result.pushed)
    timings.add(f"{label} without its lint", end - lint_done[0], result.pushed)
    timings.add(f"{label}: bulk requests only", end - first, result.pushed)


def time_push_command(project: Project, connection: ArgillaConnection, dataset: str, timings: Timings) -> None:
    """`ftdata push --json` as a user runs it, in its own process (start-up, imports, lint, logging)."""
    env = {**os.environ, URL_VARIABLE: connection.api_url, KEY_VARIABLE: connection.api_key}
    command = [str(Path(sys.executable).parent / "ftdata"), "push", "--project", str(project.root), "--json"]
    start = time.perf_counter()
    result = subprocess.run([*command, "--set", f"dataset={dataset}"], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"ftdata push failed ({result.returncode}):\n{result.stderr[-3000:]}")
    timings.add("ftdata push, the command (lint included)", seconds, json.loads(result.stdout)["pushed"])


def time_lint(project: Project, timings: Timings) -> None:
    start = time.perf_counter()
    report = lint(project)
    timings.add("ftdata lint alone", time.perf_counter() - start, report.examples)


def time_sdk_log(
    project: Project,
    connection: ArgillaConnection,
    payload: list[dict[str, Any]],
    name: str,
    label: str,
    timings: Timings,
) -> None:
    """The SDK: client, workspace, dataset (created, or found for a re-log), then `records.log`."""
    import argilla as rg

    start = time.perf_counter()
    client = sdk_client(connection)
    workspace = client.workspaces(name=project.config.workspace)
    with warnings.catch_warnings():  # the SDK warns when a dataset is not found: a first log creates it
        warnings.simplefilter("ignore")
        dataset = client.datasets(name=name, workspace=workspace)
    if dataset is None:
        settings = review_settings(project, with_tokens=False, client=client)
        dataset = rg.Dataset(name=name, workspace=workspace, settings=settings, client=client).create()
    ready = time.perf_counter()
    dataset.records.log(sdk_records(payload), batch_size=SDK_BATCH)
    end = time.perf_counter()
    timings.add(f"{label} (client, dataset, log)", end - start, len(payload))
    timings.add(f"{label}: records.log only", end - ready, len(payload))


def time_pull(project: Project, connection: ArgillaConnection, timings: Timings) -> None:
    timed = TimedConnection(connection.api_url, connection.api_key)
    fetched = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        fetched[0] = time.perf_counter()

    start = time.perf_counter()
    snapshot = pull(project, timed, progress=progress)
    end = time.perf_counter()
    count = len(snapshot.records)
    timings.add("ftdata pull (snapshot written)", end - start, count)
    timings.add("ftdata pull: record pages only", fetched[0] - timed.marks["first_records_request"], count)


def time_sdk_read(project: Project, connection: ArgillaConnection, timings: Timings) -> None:
    start = time.perf_counter()
    client = sdk_client(connection)
    workspace = client.workspaces(name=project.config.workspace)
    dataset = client.datasets(name=project.config.dataset, workspace=workspace)
    ready = time.perf_counter()
    records = list(dataset.records(with_responses=True, with_suggestions=True))
    end = time.perf_counter()
    timings.add("SDK read (client, dataset, records)", end - start, len(records))
    timings.add("SDK read: records iteration only", end - ready, len(records))


def delete_workspace(connection: ArgillaConnection, name: str) -> None:
    """Every dataset in the workspace, then the workspace."""
    client = sdk_client(connection)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace = client.workspaces(name=name)
        if workspace is None:
            return
        for dataset in list(workspace.datasets):
            dataset.delete()
        workspace.delete()


def delete_dataset(connection: ArgillaConnection, workspace: str, name: str) -> None:
    client = sdk_client(connection)
    dataset = client.datasets(name=name, workspace=client.workspaces(name=workspace))
    if dataset is not None:
        dataset.delete()


def time_interleaved(
    project: Project, connection: ArgillaConnection, payload: list[dict[str, Any]], round_: int, timings: Timings
) -> None:
    """The logging path alone, batch by batch into two fresh datasets: the bulk request push's loop
    makes (`connection.request` with `review_records`' items) and the SDK's `records.log` of the same
    batch take turns, who goes first alternating. Outside load and the server's growth then hit both
    alike; timed one after the other, whole runs differ by up to 40 % on a shared 2-core machine."""
    import argilla as rg

    client = sdk_client(connection)
    workspace = client.workspaces(name=project.config.workspace)
    datasets = {
        who: rg.Dataset(
            name=f"bench-interleaved-{who}-{round_}",
            workspace=workspace,
            settings=review_settings(project, with_tokens=False, client=client),
            client=client,
        ).create()
        for who in ("ftdata", "sdk")
    }
    issues_id = str(datasets["ftdata"].settings.questions["issues"].id)
    items = [
        {**item, "suggestions": [{**s, "question_id": issues_id} for s in item["suggestions"]]} for item in payload
    ]
    path = f"/api/v1/datasets/{datasets['ftdata'].id}/records/bulk"

    def ftdata_batch(start: int) -> None:
        connection.request("PUT", path, json={"items": items[start : start + SDK_BATCH]})

    def sdk_batch(start: int) -> None:
        batch = payload[start : start + SDK_BATCH]
        datasets["sdk"].records.log(sdk_records(batch), batch_size=len(batch))  # the SDK warns about a short one

    for phase in ("log", "re-log"):
        seconds = {"ftdata": 0.0, "sdk": 0.0}
        for number, start in enumerate(range(0, len(payload), SDK_BATCH)):
            turns = [("ftdata", ftdata_batch), ("sdk", sdk_batch)]
            for who, send in turns if (number + round_) % 2 == 0 else turns[::-1]:
                began = time.perf_counter()
                send(start)
                seconds[who] += time.perf_counter() - began
        timings.add(f"interleaved {phase}: ftdata bulk requests", seconds["ftdata"], len(payload))
        timings.add(f"interleaved {phase}: SDK records.log", seconds["sdk"], len(payload))
    for dataset in datasets.values():
        dataset.delete()


def one_round(
    base: Project,
    connection: ArgillaConnection,
    payload: list[dict[str, Any]],
    round_: int,
    timings: Timings,
    interleave: bool,
) -> None:
    """The push command and SDK log, push (library call) and SDK log, the lint alone, re-push and SDK re-log, pull
    and SDK read (PULLS times each); ftdata first in even rounds, the SDK first in odd ones, so neither always meets
    a fuller server."""
    project = Project.open(base.root, overrides=(f"dataset=bench-ftdata-{round_}",))
    sdk_name = f"bench-sdk-{round_}"
    ftdata_first = round_ % 2 == 0

    def in_order(ftdata_step: Callable[[], None], sdk_step: Callable[[], None]) -> None:
        for step in (ftdata_step, sdk_step) if ftdata_first else (sdk_step, ftdata_step):
            step()

    command_dataset, command_sdk = f"bench-command-{round_}", f"bench-command-sdk-{round_}"
    in_order(
        lambda: time_push_command(project, connection, command_dataset, timings),
        lambda: time_sdk_log(project, connection, payload, command_sdk, "SDK log, for the command", timings),
    )
    delete_dataset(connection, project.config.workspace, command_dataset)
    delete_dataset(connection, project.config.workspace, command_sdk)
    time_lint(project, timings)
    in_order(
        lambda: time_push(project, connection, "ftdata push", timings),
        lambda: time_sdk_log(project, connection, payload, sdk_name, "SDK log", timings),
    )
    in_order(
        lambda: time_push(project, connection, "ftdata re-push", timings),
        lambda: time_sdk_log(project, connection, payload, sdk_name, "SDK re-log", timings),
    )
    for _ in range(PULLS):
        in_order(lambda: time_pull(project, connection, timings), lambda: time_sdk_read(project, connection, timings))
    delete_dataset(connection, project.config.workspace, project.config.dataset)
    delete_dataset(connection, project.config.workspace, sdk_name)
    if interleave:
        time_interleaved(project, connection, payload, round_, timings)


# (what, ftdata's operation, the SDK's): the other figures beside the headline, overhead against the SDK alone.
COMPARISONS = [
    ("push-logging", "ftdata push without its lint", "SDK log (client, dataset, log)"),
    ("bulk requests", "ftdata push: bulk requests only", "SDK log: records.log only"),
    ("re-push", "ftdata re-push without its lint", "SDK re-log (client, dataset, log)"),
    ("re-push bulk", "ftdata re-push: bulk requests only", "SDK re-log: records.log only"),
    ("pull", "ftdata pull (snapshot written)", "SDK read (client, dataset, records)"),
    ("pull pages", "ftdata pull: record pages only", "SDK read: records iteration only"),
    ("interleaved log", "interleaved log: ftdata bulk requests", "interleaved log: SDK records.log"),
    ("interleaved re-log", "interleaved re-log: ftdata bulk requests", "interleaved re-log: SDK records.log"),
]


def report(timings: Timings) -> None:
    width = max(len(op) for op in timings.seconds) + 2
    several = any(len(seconds) > 1 for seconds in timings.seconds.values())
    runs = "  runs (s)" if several else ""
    print(f"{'operation':<{width}} {'records':>8} {'seconds':>9} {'records/s':>10}{runs}")
    for operation, seconds in timings.seconds.items():
        median = timings.median(operation)
        records = timings.records[operation]
        line = f"{operation:<{width}} {records:>8} {median:>9.2f} {records / median:>10.1f}"
        if several:
            line += "  " + " ".join(f"{s:.1f}" for s in seconds)
        print(line)
    print()
    push, lint_alone, sdk = (timings.median(op) for op in ("ftdata push (lint included)", "ftdata lint alone",
                                                           "SDK log (client, dataset, log)"))  # fmt: skip
    command, command_sdk = (
        timings.median("ftdata push, the command (lint included)"),
        timings.median("SDK log, for the command (client, dataset, log)"),
    )
    own_lint = timings.median("ftdata push: its lint")
    print(f"headline: ftdata push, lint included, against the SDK's log plus the lint alone: "
          f"{push:.1f} s vs {sdk:.1f} + {lint_alone:.1f} s = {(push / (sdk + lint_alone) - 1) * 100:+.1f} % "
          f"(target <= +10 %)")  # fmt: skip
    print(f"  the lint's share of push: {own_lint:.1f} s of {push:.1f} s ({own_lint / push:.0%})")
    print(f"  the command (its own process: start-up and imports too): {command:.1f} s vs {command_sdk:.1f} + "
          f"{lint_alone:.1f} s = {(command / (command_sdk + lint_alone) - 1) * 100:+.1f} %")  # fmt: skip
    print("ftdata's overhead against the raw SDK alone, lint left out (positive: ftdata slower):")
    for what, ftdata, sdk_operation in COMPARISONS:
        if ftdata not in timings.seconds:
            continue
        percent = (timings.median(ftdata) / timings.median(sdk_operation) - 1) * 100
        print(f"  {what:<18} {percent:+6.1f} %   {ftdata}  vs  {sdk_operation}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="examples to push and pull (default 5000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the table shows medians (default 1)")
    parser.add_argument(
        "--interleave", action="store_true", help="also the interleaved logging (about doubles the run time)"
    )
    args = parser.parse_args()
    if args.n < 1 or args.repeat < 1:
        parser.error("--n and --repeat must be at least 1")

    import argilla as rg

    print(machine(), flush=True)
    connection = connect()
    workspace = f"ftkit-bench-{uuid.uuid4().hex[:8]}"
    timings = Timings()
    print(f"server {connection.api_url} (Argilla {connection.server_version()}), workspace {workspace}, ", end="")
    print(f"n={args.n}, repeat={args.repeat}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="ftkit-bench-") as tmp:
            # Also the SDK's default client, which `review_settings` needs: its metadata properties look one up.
            rg.Workspace(name=workspace, client=sdk_client(connection)).create()
            project = make_project(Path(tmp), args.n, workspace)
            payload = sdk_payload(project, lint(project))
            with_suggestions = sum(1 for item in payload if item["suggestions"])
            print(f"{len(payload)} records to log, {with_suggestions} with a suggestion", flush=True)
            for round_ in range(args.repeat):
                one_round(project, connection, payload, round_, timings, interleave=args.interleave)
    finally:
        delete_workspace(connection, workspace)
    print()
    report(timings)
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
