import subprocess
import sys
from itertools import pairwise

import pytest

from ftdata.pii import PII_KINDS, SECRET_KINDS, Finding, iban_valid, luhn_valid, scan_text, scan_texts

# Token-shaped test values are assembled from pieces so that this file never holds a literal that
# secret scanners (GitHub push protection, pre-commit hooks) would stop; none of them is real.
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documentation example
GITHUB_TOKEN = "ghp_" + "x7Yq2LmN9pQr4StUv" + "W1aB3cD5eF8gH0iJkZ4"
SLACK_TOKEN = "xoxb-" + "263594206564-2343594206574-" + "FGqddMF8t08v8N7Oq4i57vs1"
STRIPE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
SK_KEY = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh"
OPENAI_LEGACY = "sk-" + "Ab3dEf6hIj9kLm2nOp5q" + "T3Blbk" + "FJ" + "Rs8tUv1wXy4zAb7cDe0f"
HF_TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"
GOOGLE_KEY = "AIza" + "SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"
GITLAB_TOKEN = "glpat-" + "Xy7Ab3Cd9Ef2Gh5Ij8Kl"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PRIVATE_KEY = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAvx9Lq3lZ0fA7tW2mQ8pYcR1sN4uV6kX0bH3jD5gF7eI9oL2n\n"
    "Qa8rT1yU4iO7pA0sD3fG6hJ9kL2zX5cV8bN1mQ4wE7rT0yU3iO6pA9sD2fG5hJ8k\n"
    "-----END RSA " + "PRIVATE KEY-----"
)
BASIC_AUTH_URL = "postgres://admin:" + "s3cretPass" + "@db.example.com:5432/app"

# (text around the value, kind, detail, value): each must be found, with exactly the value's offsets.
PLANTED = [
    ("Write to {} for help.", "email", "email", "jane.doe@example.com"),
    ("Contact: {}", "email", "email", "first.last+ml@sub.example.co.uk"),
    ("(cc {})", "email", "email", "J_Smith99@company.org"),
    ("Call {} today.", "phone", "GB", "+44 20 7946 0958"),
    ("Call {}.", "phone", "US", "(415) 555-2671"),
    ("cell: {}", "phone", "US", "415-555-2671"),
    ("Phone {}, ext 4", "phone", "US", "415.555.2671"),
    ("tel {}", "phone", "US", "+1 (415) 555-2671"),
    ("Ring {} (office)", "phone", "GB", "020 7946 0958"),
    # Ofcom's drama range: phonenumbers calls it unassigned, yet it is a UK mobile as written (and stands in for one)
    ("Text me on {} after six.", "phone", "GB", "07700 900461"),
    ("WhatsApp: {}", "phone", "GB", "+44 7700 900461"),
    ("Portable {}", "phone", "FR", "06 12 34 56 78"),
    ("Mobil {} (Büro)", "phone", "DE", "0151 23456789"),
    ("Ring {} any time", "phone", "AU", "0412 345 678"),
    ("Berlin office {}", "phone", "DE", "+49 30 901820"),
    ("Paris: {}.", "phone", "FR", "+33 1 42 68 53 00"),
    ("WhatsApp {}", "phone", "IN", "+91 98765 43210"),
    ("Toll free {}", "phone", "US", "1-800-555-0199"),
    ("Card {} exp 12/27", "credit_card", "Visa", "4111 1111 1111 1111"),
    ("card no. {}", "credit_card", "Visa", "4111-1111-1111-1111"),
    ("Paid with {}.", "credit_card", "Mastercard", "5555555555554444"),
    ("Amex {}", "credit_card", "Amex", "3782 822463 10005"),
    ("Discover {}", "credit_card", "Discover", "6011 1111 1111 1117"),
    ("JCB {}", "credit_card", "JCB", "3530 1113 3330 0000"),
    ("MC 2-series {}", "credit_card", "Mastercard", "2223 0031 2200 3222"),
    ("IBAN {}.", "iban", "DE", "DE89 3704 0044 0532 0130 00"),
    ("Pay to {}", "iban", "GB", "GB82WEST12345698765432"),
    ("IBAN: {} (Barclays)", "iban", "GB", "GB82 WEST 1234 5698 7654 32"),
    ("Virement {}", "iban", "FR", "FR14 2004 1010 0505 0001 3M02 606"),
    ("Rekening {} TO ME", "iban", "NL", "NL91ABNA0417164300"),
    ("The server is {}.", "ip_address", "IPv4", "192.168.1.20"),
    ("ssh root@{} -p 22", "ip_address", "IPv4", "10.0.0.1"),
    ("dns {}:53", "ip_address", "IPv4", "203.0.113.7"),
    ("Login from {} was blocked", "ip_address", "IPv4", "81.2.69.160"),
    ("see {} in the log", "ip_address", "IPv4", "172.16.254.3"),  # private range: an address without a cue too
    ("The firewall blocked {} twice", "ip_address", "IPv4", "52.14.3.9"),  # public, small octets: the cue decides
    ("Host {} answers", "ip_address", "IPv6", "2001:db8::1"),
    ("link-local {}", "ip_address", "IPv6", "fe80::1ff:fe23:4567:890a"),
    ("full {}", "ip_address", "IPv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("url http://[{}]:8080/", "ip_address", "IPv6", "2001:db8::1"),
    ("aws_access_key_id = {}", "secret", "AWS Access Key", AWS_KEY),
    ("export GITHUB_TOKEN={}", "secret", "GitHub Token", GITHUB_TOKEN),
    ("Slack bot token: {}", "secret", "Slack Token", SLACK_TOKEN),
    ("stripe.api_key = '{}'", "secret", "Stripe Access Key", STRIPE_KEY),
    ("OPENAI_API_KEY={}", "secret", "API Key (sk-)", SK_KEY),
    ("openai.api_key = '{}'", "secret", "OpenAI Token", OPENAI_LEGACY),
    ("huggingface-cli login --token {}", "secret", "Hugging Face Token", HF_TOKEN),
    ("key={}&q=x", "secret", "Google API Key", GOOGLE_KEY),
    ("GITLAB_TOKEN: {}", "secret", "GitLab Token", GITLAB_TOKEN),
    ("Authorization: Bearer {}", "secret", "JSON Web Token", JWT),
    ("Here is my key:\n{}\nthanks", "secret", "Private Key", PRIVATE_KEY),
    ("DATABASE_URL=postgres{}/app", "secret", "Basic Auth Credentials", "://admin:s3cretPass@"),
]


@pytest.mark.parametrize(("template", "kind", "detail", "value"), PLANTED, ids=[p[3][:24] for p in PLANTED])
def test_planted_value_is_found_with_its_offsets(template, kind, detail, value):
    text = template.format(value)
    findings = scan_text(text)
    assert [(f.kind, f.detail, text[f.start : f.end]) for f in findings] == [(kind, detail, value)]


@pytest.mark.parametrize(("template", "kind", "detail", "value"), PLANTED, ids=[p[3][:24] for p in PLANTED])
def test_preview_never_shows_the_whole_value(template, kind, detail, value):
    text = template.format(value)
    (finding,) = scan_text(text)
    preview = finding.preview(text)
    assert "*" in preview
    assert value not in preview
    if kind in ("phone", "credit_card", "iban"):  # at least half of the digits are masked
        shown = sum(char.isalnum() for char in preview)
        assert shown <= sum(char.isalnum() for char in value) // 2


@pytest.mark.parametrize(
    ("text", "preview"),
    [
        ("mail john.smith@example.com", "j***@e***.com"),
        ("4111 1111 1111 1111", "4111 **** **** 1111"),
        ("4111111111111111", "4111********1111"),
        (AWS_KEY, "AKIA****************"),
        ("(415) 555-2671", "(***) ***-**71"),
        ("DE89 3704 0044 0532 0130 00", "DE89 **** **** **** **** 00"),
        ("host 192.168.1.20", "192.*.*.*"),
        ("host 2001:db8::1", "2001:***"),
        (PRIVATE_KEY, "-----BEGIN RSA PRIVATE KEY-----****************..."),
        (GITHUB_TOKEN, "ghp_****************..."),
    ],
)
def test_preview_format(text, preview):
    (finding,) = scan_text(text)
    assert finding.preview(text) == preview


# Look-alikes that must not be flagged: near-miss checksums, math, dates, prices, versions,
# placeholders, and what detect-secrets' keyword/entropy plugins (left out) would flag in prose.
CLEAN = [
    "4111 1111 1111 1112",  # Luhn fails
    "4111111111111112",
    "1234 5678 9012 3456",
    "5555 5555 5555 5555",
    "DE89 3704 0044 0532 0130 01",  # mod-97 fails
    "DE88 3704 0044 0532 0130 00",
    "XX89 3704 0044 0532 0130 00",  # no such country
    "GB82 WEST 1234 5698 7654",  # too short for GB
    "version 1.2.3",
    "v1.2.3.4.5 released",
    "See step 1.2.3.4 of section 2.1.3.1.",
    "pi is 3.14159",
    "3.1415926535897932",
    "999.168.1.20",
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
    "28980 - 18480 = <<28980-18480=10500>>10500",
    "100 - 50 - 30 - 15 = $<<100-50-30-15=5>>5 more",
    "He earns $1,200 a week and $62,400 a year.",
    "It costs $1,000,000.50 in total.",
    "They met at 12:30 and left at 12:30:45.",
    "Born on 2024-01-15, 01/15/2024 or 15.01.2024.",
    "In 2019, 2020 and 2021 sales grew; in 2019 2020 2021 2022 too.",
    "The answer is 100000 or 1234567890123.",
    "2 345 678 901 people live there.",
    "The ratio is 1:2:3:4:5:6:7:8.",
    "Take x[1::2] and dead::beef.",
    "Call 555-0100 later.",  # no area code: not a valid number
    "ISBN 978-3-16-148410-0",
    "Use logo@2x.png, user@localhost and @property.",
    "Set OPENAI_API_KEY=sk-your-api-key-goes-here-please",
    "token hf_" + "x" * 34,
    'Her secret = "always be kind" to others.',
    'Commit "d41d8cd98f00b204e9800998ecf8427e" fixed it.',
    "Use the model meta-llama/Llama-3.1-8B-Instruct here.",
    # Four-part build and version numbers, from Debian changelogs and package metadata (real text)
    "XFree86 4.3.99.16 Bring the tree up to date",
    "p11-kit (0.23.18.1-2) unstable; urgency=medium",
    "2015-07-29 (3.8.11.1)",
    "Requires xextproto 7.0.99.2",
    "Bump to 1.2.99.1",
    "Released 3.6.11.1 including missing files",
    "erate ragel-generated files using ragel 7.0.0.11 May 2018",
    "Requires-Dist: brotlicffi>=1.2.0.2; platform_python_implementation",
    "Upgraded the firmware to 10.2.0.4 on the server.",  # the nearest cue decides: firmware
    "Build 11.2.0.4 fixes the crash.",
    # year ranges, dates, ISSNs and ZIP+4 codes that national phone formats would read
    "Copyright (c) 1999-2004 Just van Rossum",
    "09.11.2017 Release V0.19.1",
    "issn = {0891-2017}",
    "51 Franklin Street, Fifth Floor, Boston, MA 02110-1301, USA.",
    "programs of 32768-65535 bytes compile",
    "playwright-cli resize 1920 1080",
]


@pytest.mark.parametrize("text", CLEAN)
def test_clean_look_alike_is_not_flagged(text):
    assert scan_text(text) == []


def _gsm8k_texts(rows):
    for row in rows:
        yield row["question"]
        yield row["answer"]
        yield row["question"] + "\n" + row["answer"]


def test_gsm8k_scans_clean(gsm8k_rows):
    """All 7,473 GSM8K training rows (well under a second): arithmetic, prices, times, years."""
    flagged = [(text[:80], f) for text in _gsm8k_texts(gsm8k_rows) for f in scan_text(text)]
    assert flagged == []


def test_planted_in_gsm8k_text_is_all_that_is_found(gsm8k_rows):
    for index, (template, kind, detail, value) in enumerate(PLANTED):
        row = gsm8k_rows[index * 37]
        prefix = row["question"] + " " + template.format(value).split(value)[0]
        text = prefix + value + template.format(value).split(value, 1)[1] + "\n" + row["answer"]
        findings = scan_text(text)
        assert [(f.kind, f.detail, f.start, f.end) for f in findings] == [
            (kind, detail, len(prefix), len(prefix) + len(value))
        ]


def test_overlapping_matches_give_one_finding_of_the_specific_kind():
    # The URL's "s3cretPass@db.example.com" looks like an e-mail; the card is digits in groups too.
    text = f"{BASIC_AUTH_URL} and card 4111 1111 1111 1111"
    assert [(f.kind, f.detail) for f in scan_text(text)] == [
        ("secret", "Basic Auth Credentials"),
        ("credit_card", "Visa"),
    ]


def test_findings_are_sorted_and_do_not_overlap():
    text = " ".join(template.format(value) for template, _, _, value in PLANTED)
    findings = scan_text(text)
    assert len(findings) == len(PLANTED)
    assert {f.kind for f in findings} == PII_KINDS | SECRET_KINDS
    for before, after in pairwise(findings):
        assert before.end <= after.start


def test_phone_regions_are_configurable():
    """National formats count for the regions asked for; "+" numbers for every country whatever the regions."""
    text = "Appelez le 06 12 34 56 78 ou le +44 7700 900461."
    assert [(f.detail, text[f.start : f.end]) for f in scan_text(text, phone_regions=("US", "GB"))] == [
        ("GB", "+44 7700 900461")
    ]
    assert [f.detail for f in scan_text(text, phone_regions=("FR",))] == ["FR", "GB"]
    assert [f.detail for f in scan_texts([text], phone_regions=("FR",))[0]] == ["FR", "GB"]


def test_lint_reads_the_regions_from_the_project(tmp_path):
    from ftdata import Example
    from ftdata.lint import lint_snapshot
    from ftdata.project import LintConfig, Project, init_project
    from ftdata.store import StoreSnapshot

    example = Example.from_prompt_completion("Mon numéro: 06 12 34 56 78", "Merci.")
    found = lint_snapshot(StoreSnapshot([example]), LintConfig(phone_regions=["fr"]))
    assert found.issues["pii"][0].ids == [example.id]
    assert lint_snapshot(StoreSnapshot([example]), LintConfig(phone_regions=["US"])).issues["pii"] == []
    init_project(tmp_path)
    with pytest.raises(Exception, match=r"lint: phone_regions: 'XX' is not a region phonenumbers knows"):
        Project.open(tmp_path, ("lint.phone_regions=[US, XX]",))


def test_scan_texts_matches_scan_text_and_is_deterministic():
    texts = [template.format(value) for template, _, _, value in PLANTED] + CLEAN + [""]
    assert scan_texts(texts) == [scan_text(text) for text in texts]
    assert scan_texts(iter(texts)) == scan_texts(texts)


def test_finding_is_a_frozen_value():
    finding = Finding("email", "email", 0, 5)
    with pytest.raises(AttributeError):
        finding.start = 1
    assert finding == Finding("email", "email", 0, 5)


def test_checksums():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("GB82WEST12345698765432")
    assert not iban_valid("GB82WEST1234569876543")  # wrong length for GB
    assert not iban_valid("GB01WEST12345698765432")  # check digits 00/01/99 are never issued


def test_import_leaves_warnings_alone():
    # detect-secrets calls logging.captureWarnings(True) when imported; ftdata.pii undoes it.
    probe = "import warnings; before = warnings.showwarning; import ftdata.pii; print(warnings.showwarning is before)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
