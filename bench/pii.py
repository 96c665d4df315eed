"""Speed, recall and false positives of `ftdata.pii.scan_texts` on GSM8K text with planted PII.

Builds N examples of about 600 characters cut from GSM8K (question + answer, real human-written
text), plants one e-mail, phone, card, IBAN, IP address or credential in a known fraction of them,
scans them all in one process, and prints seconds, examples/s, peak memory, recall per kind on the
planted examples and false positives on the clean ones. No timed assertions: it prints figures.

    OMP_NUM_THREADS=1 .venv/bin/python bench/pii.py --n 100000
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import platform
import random
import resource
import string
import sys
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import phonenumbers

from ftdata.pii import PII_KINDS, SECRET_KINDS, scan_texts

REPO = Path(__file__).resolve().parent.parent
GSM8K = REPO / "tests" / "data" / "gsm8k" / "train.jsonl"  # MIT, bundled
KINDS = sorted(PII_KINDS | SECRET_KINDS)
ALNUM = string.ascii_letters + string.digits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="examples to build and scan")
    parser.add_argument("--fraction", type=float, default=0.02, help="share of examples with a planted value")
    parser.add_argument("--chars", type=int, default=600, help="approximate length of an example")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=GSM8K, help="GSM8K train.jsonl")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    texts = clean_examples(args.data, args.n, args.chars)
    planted: dict[int, tuple[str, int, int]] = {}  # example index -> (kind, start, end)
    for index in sorted(rng.sample(range(args.n), round(args.n * args.fraction))):
        kind = KINDS[len(planted) % len(KINDS)]
        texts[index], start, end = plant(texts[index], kind, rng)
        planted[index] = (kind, start, end)
    rss_before = peak_rss_mib()

    started = time.perf_counter()
    results = scan_texts(texts)
    seconds = time.perf_counter() - started

    chars = sum(map(len, texts))
    print(
        f"python {platform.python_version()}, phonenumbers {version('phonenumbers')}, "
        f"detect-secrets {version('detect-secrets')}, one process"
    )
    print(f"examples        {args.n:,} ({chars / args.n:.0f} chars on average, {chars / 1e6:.1f} M chars)")
    print(f"planted         {len(planted):,} ({args.fraction:.1%}), seed {args.seed}")
    print(f"scan time       {seconds:.2f} s")
    print(f"throughput      {args.n / seconds:,.0f} examples/s, {chars / seconds / 1e6:.1f} M chars/s")
    print(f"peak RSS        {peak_rss_mib():.0f} MiB ({rss_before:.0f} MiB before scanning, texts included)")
    print()
    report_recall(results, planted)
    report_false_positives(texts, results, planted)


def clean_examples(path: Path, n: int, chars: int) -> list[str]:
    """N texts of about `chars` characters, cut at whitespace from GSM8K question+answer pairs
    read in order (and again from the start when N needs more text than the file holds)."""
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    stream = "\n".join(row["question"] + "\n" + row["answer"] for row in rows)
    texts, offset = [], 0
    while len(texts) < n:
        cut = stream.find(" ", offset + chars)
        if cut < 0:  # wrap around
            texts.append(stream[offset:])
            offset = 0
            continue
        texts.append(stream[offset:cut])
        offset = cut + 1
    return texts


# ---------------------------------------------------------------------------------------------
# planted values: random, valid, in the formats people write them


def plant(text: str, kind: str, rng: random.Random) -> tuple[str, int, int]:
    """Insert one value of `kind`, in a short sentence, after a random sentence of `text`."""
    value, template = PLANTERS[kind](rng)
    sentence = template.format(value)
    # Sentence ends only: a "." followed by a digit is a decimal point ("$2.50"), and splitting it
    # would glue the planted value to a number.
    stops = [i + 1 for i, char in enumerate(text) if char in ".\n" and text[i + 1 : i + 2] in (" ", "\n", "")]
    stops = stops or [len(text)]
    at = rng.choice(stops)
    text = text[:at] + " " + sentence + " " + text[at:]
    start = at + 1 + sentence.index(value)
    return text, start, start + len(value)


def email(rng: random.Random) -> tuple[str, str]:
    first = rng.choice(["jane", "john", "maria", "wei", "amit", "olga", "sam", "lea"])
    last = rng.choice(["doe", "smith", "garcia", "chen", "kumar", "ivanova", "lee", "martin"])
    local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}_{last}"])
    domain = rng.choice(["example.com", "mail.example.org", "company.co.uk", "uni-example.edu"])
    return f"{local}@{domain}", rng.choice(["Email me at {}.", "Contact: {}", "(send it to {})"])


PHONE_REGIONS = ["GB", "DE", "FR", "IN", "AU", "JP", "BR", "ES", "IT", "NL", "MX", "CN"]
US_AREA_CODES = ["212", "312", "415", "617", "206", "303", "512", "702", "404", "305"]


def phone(rng: random.Random) -> tuple[str, str]:
    template = rng.choice(["Call me on {}.", "My number is {}", "phone: {}", "Text {} after 6pm."])
    while True:
        if rng.random() < 0.5:  # US national or +1
            area, exchange, line = rng.choice(US_AREA_CODES), rng.randint(200, 999), rng.randint(0, 9999)
            layout = rng.choice(["({}) {}-{:04d}", "{}-{}-{:04d}", "{}.{}.{:04d}", "+1 {} {} {:04d}"])
            value = layout.format(area, exchange, line)
            number = phonenumbers.parse(value, "US")
        else:  # international format, from the metadata's example number with new last digits
            example = phonenumbers.example_number(rng.choice(PHONE_REGIONS))
            digits = str(example.national_number)
            example.national_number = int(digits[:-2] + f"{rng.randint(0, 99):02d}")
            number = example
            value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if phonenumbers.is_valid_number(number):
            return value, template


CARD_PREFIXES = [("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]


def credit_card(rng: random.Random) -> tuple[str, str]:
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = body + str(next(d for d in range(10) if luhn_ok(body + str(d))))
    separator = rng.choice([" ", "-", ""])
    sizes = [4, 6, 5] if length == 15 else [4, 4, 4, 4]
    groups, at = [], 0
    for size in sizes:
        groups.append(number[at : at + size])
        at += size
    template = rng.choice(["Card number {} exp 09/28.", "pay with {}", "My card: {}"])
    return separator.join(groups), template


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


# country -> BBAN layout: "n" a digit, "a" a capital letter, "c" either
IBAN_LAYOUTS = {
    "DE": "n" * 18,
    "GB": "aaaa" + "n" * 14,
    "FR": "n" * 10 + "c" * 11 + "nn",
    "NL": "aaaa" + "n" * 10,
    "ES": "n" * 20,
    "IT": "a" + "n" * 10 + "c" * 12,
}


def iban(rng: random.Random) -> tuple[str, str]:
    country = rng.choice(sorted(IBAN_LAYOUTS))
    pools = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
    bban = "".join(rng.choice(pools[slot]) for slot in IBAN_LAYOUTS[country])
    check = 98 - int("".join(str(int(char, 36)) for char in bban + country + "00")) % 97
    value = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value, rng.choice(["IBAN {}.", "Transfer it to {} please", "account: {}"])


def ip_address(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.6:
        value = str(ipaddress.IPv4Address(rng.randint(1 << 24, (224 << 24) - 1)))
    else:
        groups = [rng.randint(0, 0xFFFF) for _ in range(8)]
        for zero in range(rng.randint(2, 4), rng.randint(4, 6)):  # a run of zeros, so "::" appears
            groups[zero] = 0
        value = str(ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups)))
    return value, rng.choice(["The server is at {}.", "ssh admin@{}", "blocked {} yesterday"])


def random_text(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def secret(rng: random.Random) -> tuple[str, str]:
    makers = [
        lambda: "AKIA" + random_text(rng, string.ascii_uppercase + string.digits, 16),
        lambda: "ghp_" + random_text(rng, ALNUM, 36),
        lambda: "xoxb-" + f"{rng.randint(10**11, 10**12)}-{rng.randint(10**12, 10**13)}-" + random_text(rng, ALNUM, 24),
        lambda: "sk_" + "live_" + random_text(rng, ALNUM, 24),
        lambda: "sk-" + "proj-" + random_text(rng, ALNUM, 48),
        lambda: "hf_" + random_text(rng, string.ascii_letters, 34),
        lambda: "AIza" + random_text(rng, ALNUM + "_-", 35),
        lambda: jwt(rng),
        lambda: private_key(rng),
        lambda: "://admin:" + random_text(rng, ALNUM, 12) + "@",
    ]
    value = rng.choice(makers)()
    if value.startswith("://"):
        return value, "DATABASE_URL=postgres{}db.example.com/app"
    return value, rng.choice(["token = {}", "export API_KEY={}", "here is the key:\n{}\n"])


def private_key(rng: random.Random) -> str:
    body = "\n".join(random_text(rng, ALNUM + "+/", 64) for _ in range(4))
    # Split literals: the file itself should not look like it holds a key.
    return "-----BEGIN RSA " + "PRIVATE KEY-----\n" + body + "\n-----END RSA " + "PRIVATE KEY-----"


def jwt(rng: random.Random) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {"sub": str(rng.randint(1, 10**9)), "name": rng.choice(["Jane", "John"]), "iat": 1700000000}
    return part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims) + "." + random_text(rng, ALNUM + "_-", 43)


PLANTERS = {
    "email": email,
    "phone": phone,
    "credit_card": credit_card,
    "iban": iban,
    "ip_address": ip_address,
    "secret": secret,
}


# ---------------------------------------------------------------------------------------------
# report


def report_recall(results, planted) -> None:
    total, exact, overlapping = Counter(), Counter(), Counter()
    for index, (kind, start, end) in planted.items():
        total[kind] += 1
        same_kind = [f for f in results[index] if f.kind == kind]
        exact[kind] += any(f.start == start and f.end == end for f in same_kind)
        overlapping[kind] += any(f.start < end and start < f.end for f in same_kind)
    print(f"{'recall':12s} {'planted':>8s} {'exact span':>12s} {'overlapping':>12s}")
    for kind in KINDS:
        n = total[kind] or 1
        print(
            f"{kind:12s} {total[kind]:8d} {exact[kind] / n:11.1%} {overlapping[kind] / n:12.1%}"
            f"   ({total[kind] - overlapping[kind]} missed)"
        )
    all_total = sum(total.values()) or 1
    print(f"{'all':12s} {sum(total.values()):8d} {sum(exact.values()) / all_total:11.1%}")
    print()


def report_false_positives(texts, results, planted) -> None:
    clean = [i for i in range(len(texts)) if i not in planted]
    flagged = [i for i in clean if results[i]]
    by_kind = Counter(f.kind for i in flagged for f in results[i])
    extra = sum(
        1
        for index, (kind, start, end) in planted.items()
        for f in results[index]
        if not (f.kind == kind and f.start < end and start < f.end)
    )
    print(f"false positives: {len(flagged)} of {len(clean):,} clean examples flagged {dict(by_kind) or ''}")
    print(f"                 {extra} findings besides the planted value in the {len(planted):,} planted ones")
    for index in flagged[:10]:
        for f in results[index]:
            print(f"  example {index}: {f.kind} {f.detail} {f.preview(texts[index])!r}")


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


if __name__ == "__main__":
    main()
