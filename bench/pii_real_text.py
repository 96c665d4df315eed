"""What `ftdata.pii` flags in real text nobody wrote for it: the false positives a project would see.

Three corpora, each split into paragraphs (blank-line separated, at most 2,000 characters):

- `gsm8k`: GSM8K's training questions and answers (arithmetic, prices, times, years);
- `debian`: the Debian changelogs and NEWS files under /usr/share/doc (version and build numbers
  everywhere: "2.1.8.2-1", "4.3.99.16", upstream release notes);
- `packages`: the docs shipped inside this Python environment's site-packages (each distribution's
  METADATA with its README and changelog, and the .md/.rst files of the packages).

For each corpus it prints the paragraphs and characters scanned, the findings per kind and detail,
and, with `--show KIND`, every finding of that kind in its context, to be judged by eye. With
`--per-region`, it scans phone numbers once per national region alone, to show what each region
adds (the cost of putting it in `lint.phone_regions`).

    .venv/bin/python bench/pii_real_text.py --corpus debian --show ip_address
    .venv/bin/python bench/pii_real_text.py --corpus packages --per-region
    .venv/bin/python bench/pii_real_text.py --ftkit ../ftkit-before   # another checkout's scanner, to compare
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GSM8K = REPO.parent / "shared" / "data" / "gsm8k" / "train.jsonl"
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
MAX_PARAGRAPH = 2000
CANDIDATE_REGIONS = ("US", "GB", "IE", "AU", "NZ", "IN", "DE", "FR", "ES", "NL", "IT", "BR", "JP", "CN", "MX")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=["gsm8k", "debian", "packages", "all"], default="all")
    parser.add_argument("--max-chars", type=float, default=20e6, help="characters to read per corpus (a sample)")
    parser.add_argument("--regions", help="phone regions, comma-separated (default: lint.phone_regions' default)")
    parser.add_argument("--show", help="print every finding of this kind (email, phone, ip_address, ...) in context")
    parser.add_argument("--per-region", action="store_true", help="phone findings per single national region")
    parser.add_argument("--ftkit", type=Path, help="scan with the ftdata of this checkout instead (core/, curate/)")
    args = parser.parse_args(argv)
    if args.ftkit is not None:
        sys.path[:0] = [str(args.ftkit / "core"), str(args.ftkit / "curate")]
    import inspect

    from ftdata import pii

    regions = tuple(r.strip() for r in (args.regions or "").split(",") if r.strip())
    regions = regions or tuple(getattr(pii, "DEFAULT_PHONE_REGIONS", ()))
    if "phone_regions" in inspect.signature(pii.scan_texts).parameters:
        scan_texts = pii.scan_texts
    else:  # a checkout from before `lint.phone_regions`: its regions were fixed
        regions = tuple(getattr(pii, "NATIONAL_REGIONS", ()))
        scan_texts = lambda texts, _regions: pii.scan_texts(texts)  # noqa: E731
    print(f"scanner: {pii.__file__}")
    names = ["gsm8k", "debian", "packages"] if args.corpus == "all" else [args.corpus]
    for name in names:
        paragraphs = list(CORPORA[name](int(args.max_chars)))
        chars = sum(map(len, paragraphs))
        print(f"\n== {name}: {len(paragraphs):,} paragraphs, {chars / 1e6:.1f} M characters")
        started = time.perf_counter()
        results = scan_texts(paragraphs, regions)
        print(f"scanned in {time.perf_counter() - started:.1f} s with phone regions {','.join(regions)}")
        counts = Counter((f.kind, f.detail) for findings in results for f in findings)
        for (kind, detail), n in sorted(counts.items()):
            print(f"  {kind:12} {detail:24} {n:6,}  ({n / len(paragraphs) * 1000:.2f} per 1,000 paragraphs)")
        if not counts:
            print("  nothing found")
        if args.show:
            for text, findings in zip(paragraphs, results, strict=True):
                for f in findings:
                    if f.kind == args.show:
                        context = text[max(0, f.start - 50) : f.end + 30].replace("\n", " ")
                        print(f"    [{f.detail}] …{context}…")
        if args.per_region:
            for region in CANDIDATE_REGIONS:
                found = sum(f.kind == "phone" for findings in scan_texts(paragraphs, (region,)) for f in findings)
                print(f"  phone numbers found with national region {region} alone: {found}")


def _paragraphs(text: str):
    for paragraph in PARAGRAPH_BREAK.split(text):
        paragraph = paragraph.strip()
        for start in range(0, len(paragraph), MAX_PARAGRAPH):
            yield paragraph[start : start + MAX_PARAGRAPH]


def gsm8k(max_chars: int):
    if not GSM8K.is_file():
        sys.exit(f"{GSM8K} is missing (the shared data folder beside the repository)")
    read = 0
    with GSM8K.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for text in (row["question"], row["answer"]):
                read += len(text)
                yield text
            if read >= max_chars:
                return


def debian(max_chars: int):
    """Every k-th changelog/NEWS file (sorted by path), k chosen so that the sample spreads over all packages."""
    docs = Path("/usr/share/doc").rglob("*")
    files = sorted(p for p in docs if re.match(r"(changelog|NEWS)", p.name) and p.is_file())
    if not files:
        sys.exit("/usr/share/doc holds no changelogs on this machine")
    sizes = {p: p.stat().st_size for p in files}
    compressed_budget = max_chars / 4  # changelogs compress about 4:1
    step = max(1, round(sum(sizes.values()) / compressed_budget))
    read = 0
    for path in files[::step]:
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        read += len(text)
        yield from _paragraphs(text)
        if read >= max_chars:
            return


def packages(max_chars: int):
    site = Path(sysconfig.get_paths()["purelib"])
    files = sorted(site.glob("*.dist-info/METADATA")) + sorted(site.rglob("*.md")) + sorted(site.rglob("*.rst"))
    read = 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        read += len(text)
        yield from _paragraphs(text)
        if read >= max_chars:
            return


CORPORA = {"gsm8k": gsm8k, "debian": debian, "packages": packages}

if __name__ == "__main__":
    main()
