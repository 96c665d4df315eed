"""Find personal data and credentials in training-example text, for `ftdata check`.

Training data must never carry an e-mail address, phone number, card number, IBAN, IP address or a
credential: a fine-tuned model can repeat them verbatim. Phone numbers are validated by
`phonenumbers` and credentials are found by the `detect-secrets` plugins; only what those
libraries do not do (Luhn, IBAN mod-97, the candidate regexes, masking) is written here.

>>> text = "Mail jane.doe@example.com or call (415) 555-2671."
>>> [(f.kind, f.detail, f.preview(text)) for f in scan_text(text)]
[('email', 'email', 'j***@e***.com'), ('phone', 'US', '(***) ***-**71')]
"""

from __future__ import annotations

import ipaddress
import logging
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers

from ftdata.project import DEFAULT_PHONE_REGIONS  # (the project config's default: defined there, cheap to import)

if TYPE_CHECKING:
    from detect_secrets.plugins.base import RegexBasedDetector

PII_KINDS: frozenset[str] = frozenset({"email", "phone", "credit_card", "iban", "ip_address"})
SECRET_KINDS: frozenset[str] = frozenset({"secret"})


# When two findings overlap, the more specific kind wins: a card number is also a string of digits
# that may pass as a phone number, an IBAN's digits may hold a Luhn-valid 16-digit run, and a
# Basic-auth URL contains something that looks like an e-mail.
_PRIORITY = {"secret": 0, "iban": 1, "credit_card": 2, "email": 3, "ip_address": 4, "phone": 5}


@dataclass(frozen=True)
class Finding:
    """One piece of personal data or one credential in a text: its kind, finer type and offsets.

    >>> text = "key AKIAIOSFODNN7EXAMPLE"
    >>> finding = scan_text(text)[0]
    >>> finding.kind, finding.detail, text[finding.start : finding.end]
    ('secret', 'AWS Access Key', 'AKIAIOSFODNN7EXAMPLE')
    >>> finding.preview(text)
    'AKIA****************'
    """

    kind: str  # one of PII_KINDS | SECRET_KINDS
    detail: str  # finer type: "IPv4", "Visa", "AWS Access Key", the phone's region, ...
    start: int
    end: int

    def preview(self, text: str) -> str:
        """A masked form of the match, safe to print in a report: never the whole value."""
        return _MASKS[self.kind](text[self.start : self.end])


def scan_text(text: str, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> list[Finding]:
    """Every e-mail, phone, card number, IBAN, IP address and credential in `text`, by start.

    Overlapping matches are resolved to one finding (the more specific kind, then the longer one).
    `phone_regions` are the regions whose national formats count (ISO 3166 codes, e.g. ["GB", "DE"]).

    >>> [(f.kind, f.detail) for f in scan_text("Pay DE89 3704 0044 0532 0130 00 from 192.168.1.20")]
    [('iban', 'DE'), ('ip_address', 'IPv4')]
    >>> scan_text("Natalia sold 48/2 = <<48/2=24>>24 clips in May, $1,200 at 12:30.")
    []
    """
    found: list[Finding] = []
    # Each scanner sits behind a cheap test (a substring, or one fast regex pass) so that clean
    # prose costs a few passes at most; the precise regexes and validators see only candidates.
    if "@" in text:
        found += _scan_emails(text)
    for run in _DIGIT_RUN.finditer(text):
        found += _scan_digit_run(text, run.start(), run.end(), phone_regions)
    if _IPV4_HINT.search(text):
        found += _scan_ipv4(text)
    if "::" in text or text.count(":") >= 7:
        found += _scan_ipv6(text)
    found += _scan_ibans(text)
    if _may_hold_secret(text):
        found += _scan_secrets(text)
    return _resolve_overlaps(found)


def scan_texts(texts: Iterable[str], phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> list[list[Finding]]:
    """`scan_text` over many texts, one list of findings per text, in order.

    >>> [len(findings) for findings in scan_texts(["no PII here", "mail a@example.org"])]
    [0, 1]
    """
    # A plain loop: each scan is a few C-level regex passes, and joining texts into one string
    # would save only the per-call overhead (about a microsecond) for a lot of offset bookkeeping.
    return [scan_text(text, phone_regions) for text in texts]


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: a known country, that country's length, and the mod-97 check digits.

    >>> iban_valid("DE89370400440532013000"), iban_valid("DE89370400440532013001")
    (True, False)
    """
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit() or not iban.isalnum():
        return False
    if not "02" <= iban[2:4] <= "98":  # 00, 01 and 99 are never issued
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# ---------------------------------------------------------------------------------------------
# e-mail

_DIGIT = re.compile(r"\d")
# Local part and dot-separated domain labels ending in an alphabetic TLD: "user@localhost",
# "pkg@1.2.3" and "@property" are not addresses.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# Retina image names ("logo@2x.png") have the shape of an address.
_IMAGE_SUFFIX = re.compile(r"@\d+x\.", re.IGNORECASE)


def _scan_emails(text: str) -> Iterator[Finding]:
    for match in _EMAIL.finditer(text):
        if not _IMAGE_SUFFIX.search(match.group()):
            yield Finding("email", "email", match.start(), match.end())


# ---------------------------------------------------------------------------------------------
# payment cards

# 13-19 digits written together or in groups with one separator throughout. The groups are checked
# in code (4-4-4-4[-3], 4-6-5, 4-6-4), which is easier to read than one regex for every layout.
# Not glued to a decimal point, a sign, a fraction or a word: "3.1415926535897932" is not a card.
_CARD = re.compile(r"(?<![\w.,+/-])(?:\d{13,19}|\d{4}([ -])\d{1,6}(?:\1\d{1,6}){0,4})(?![\w]|[.,/-]\d)")

# (brand, IIN prefix ranges as (low, high) over the first len(low) digits, allowed lengths).
# Only numbers with a known issuer count: a random 16-digit number passes Luhn one time in ten.
_CARD_BRANDS: tuple[tuple[str, tuple[tuple[str, str], ...], frozenset[int]], ...] = (
    ("Amex", (("34", "34"), ("37", "37")), frozenset({15})),
    ("Diners Club", (("300", "305"), ("36", "36"), ("38", "39")), frozenset({14, 15, 16, 17, 18, 19})),
    ("JCB", (("3528", "3589"),), frozenset({16, 17, 18, 19})),
    ("Visa", (("4", "4"),), frozenset({13, 16, 19})),
    ("Mastercard", (("51", "55"), ("2221", "2720")), frozenset({16})),
    (
        "Maestro",
        (("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"), ("6304", "6304")),
        frozenset(range(13, 20)),
    ),
    ("Discover", (("6011", "6011"), ("644", "649"), ("65", "65")), frozenset({16, 17, 18, 19})),
    ("UnionPay", (("62", "62"),), frozenset({16, 17, 18, 19})),
)


def card_brand(digits: str) -> str | None:
    """The card network a Luhn-valid number of the right length belongs to, else None.

    >>> card_brand("4111111111111111"), card_brand("378282246310005"), card_brand("1234567812345670")
    ('Visa', 'Amex', None)
    """
    if not luhn_valid(digits):
        return None
    for brand, ranges, lengths in _CARD_BRANDS:
        if len(digits) in lengths and any(low <= digits[: len(low)] <= high for low, high in ranges):
            return brand
    return None


# Seven or more digits in groups: every card and phone number is one; most of arithmetic is not.
_DIGIT_RUN = re.compile(r"\d[\d .()-]{5,}\d")


def _scan_digit_run(text: str, start: int, end: int, phone_regions: Sequence[str]) -> Iterator[Finding]:
    """Cards and phone numbers inside one digit run. The precise regexes run on the full text
    between `pos` and `endpos` so that their look-behinds and look-aheads see the context."""
    if start and text[start - 1] in "+(":
        start -= 1
    endpos = min(len(text), end + 2)  # the look-aheads read up to two characters past the run
    if end - start >= 13:
        yield from _scan_cards(text, start, endpos)
    yield from _scan_phones(text, start, endpos, phone_regions)


def _scan_cards(text: str, pos: int = 0, endpos: int | None = None) -> Iterator[Finding]:
    for match in _CARD.finditer(text, pos, len(text) if endpos is None else endpos):
        raw = match.group()
        if raw.isdigit():
            brand = card_brand(raw)
            if brand:
                yield Finding("credit_card", brand, match.start(), match.end())
            continue
        separator = match.group(1)
        groups = raw.split(separator)
        # The regex may have taken a trailing number ("... 1111 12/27"): try the longest grouping
        # that is a card, dropping groups from the end.
        for count in range(len(groups), 1, -1):
            head = groups[:count]
            if not _card_grouping(head):
                continue
            brand = card_brand("".join(head))
            if brand:
                end = match.start() + len(separator.join(head))
                yield Finding("credit_card", brand, match.start(), end)
                break


def _card_grouping(groups: list[str]) -> bool:
    sizes = [len(group) for group in groups]
    if not 13 <= sum(sizes) <= 19:
        return False
    if sizes[:2] == [4, 6] and len(sizes) == 3:  # Amex and Diners: 4-6-5, 4-6-4
        return sizes[2] in (4, 5)
    return all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4  # 4-4-4-4, 4-4-4-4-3, ...


# ---------------------------------------------------------------------------------------------
# phone numbers

_OPERATORS = r"=*/<>+×÷^%"
# Phone-shaped candidates: "+" and digit groups, a "(415)" area code, or national groups with
# single separators. phonenumbers decides; this regex only keeps its work small. Arithmetic is the
# main source of look-alikes ("28980-18480=10500", "100-50-30-15"), so a candidate next to an
# operator, a decimal point or a currency sign is not one.
_PHONE = re.compile(
    rf"(?<![\w.,/$€£{_OPERATORS}-])(?<![{_OPERATORS}] )"
    r"(?:"
    # international: +44 20 7946 0958, +1 (415) 555-2671; atomic, so that a long run of digits
    # cannot make the engine try every way of splitting it into groups
    r"\+\d{1,3}(?>(?:[ .-]?\(?\d{1,6}\)?){1,6})"
    r"|(?:1[ .-]?)?\(\d{2,5}\)[ .-]?\d{2,5}(?:[ .-]\d{2,6}){0,3}"  # (415) 555-2671
    r"|\d{1,5}(?:[ .-]\d{2,8}){1,4}"  # 415-555-2671, 020 7946 0958, 1-800-555-0199, 0151 23456789
    r")"
    rf"(?![\w]|[.,/-]\d)(?!\s?[{_OPERATORS}])"
)


def _scan_phones(
    text: str, pos: int = 0, endpos: int | None = None, regions: Sequence[str] = DEFAULT_PHONE_REGIONS
) -> Iterator[Finding]:
    for match in _PHONE.finditer(text, pos, len(text) if endpos is None else endpos):
        raw = match.group()
        # The candidate may run on into a following number ("+1 512 389 4253 3 boys"): try it
        # whole, then ending at each earlier digit group, longest first.
        for cut in reversed([group.end() for group in _GROUPS.finditer(raw)]):
            finding = _phone_number(raw[:cut], match.start(), regions)
            if finding:
                yield finding
                break


def _phone_number(raw: str, offset: int, regions: Sequence[str]) -> Finding | None:
    digits = sum(char.isdigit() for char in raw)
    if not 7 <= digits <= 15 or (raw[0] != "+" and not _national_grouping(raw)):
        return None
    # "+": the country code says where it is from; the region only matters for national formats.
    tried = ("US",) if raw[0] == "+" else tuple(regions)
    # PhoneNumberMatcher on the candidate alone: it parses and validates against the metadata of
    # every country, and costs ~1 ms per text when run on whole texts instead. A national number can be
    # valid in several regions ("06 12 34 56 78" in France and Germany): the region that writes it in
    # these very groups names it, else the first in the project's order.
    first = None
    for region in tried:
        if raw[0] != "+" and not _has_trunk_prefix(raw, region):
            continue
        for number in phonenumbers.PhoneNumberMatcher(raw, region):
            detail = phonenumbers.region_code_for_number(number.number) or "international"
            finding = Finding("phone", detail, offset + number.start, offset + number.end)
            if raw[0] == "+" or _written_as(raw, number.number, phonenumbers.PhoneNumberFormat.NATIONAL):
                return finding
            first = first or finding
            break
        else:
            detail = _reserved_range_number(raw, region)
            if detail:
                return first or Finding("phone", detail, offset, offset + len(raw))
    return first


def _written_as(raw: str, number: phonenumbers.PhoneNumber, layout: int) -> bool:
    """Whether `raw` has the digit groups of `number` formatted in `layout` (NATIONAL, INTERNATIONAL)."""
    written = [len(group) for group in _GROUPS.findall(raw)]
    return written == [len(group) for group in _GROUPS.findall(phonenumbers.format_number(number, layout))]


def _has_trunk_prefix(raw: str, region: str) -> bool:
    """Where national numbers are dialled with a trunk "0" (GB, AU, DE, FR, IN, ...), they are written with it:
    without it, "1920 1080" is a screen size, not an Australian number. (North America's "1" is optional, and
    Italy and Spain have none.)"""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return metadata is None or metadata.national_prefix != "0" or raw.lstrip("(").startswith("0")


def _reserved_range_number(raw: str, region: str) -> str | None:
    """The region of a number phonenumbers calls invalid only because its range is unassigned or reserved
    (the UK's 07700 900xxx for drama, 01632 960xxx), yet written exactly as that region writes its numbers:
    a complete number (not a local-only one) whose digit groups are the region's own format. Such numbers
    stand in for real ones in data (and are still a number a model learns to write); a look-alike in other
    groups ("12345 678901") is not one."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    layout = phonenumbers.PhoneNumberFormat.INTERNATIONAL if raw[0] == "+" else phonenumbers.PhoneNumberFormat.NATIONAL
    if not _written_as(raw, number, layout):
        return None
    return phonenumbers.region_code_for_country_code(number.country_code)


_GROUPS = re.compile(r"\d+")


def _national_grouping(raw: str) -> bool:
    """Digit groups the way people write phone numbers: "3.14.15", "12 100", a range "1999-2004" or a date
    "09.11.2017" are not."""
    groups = _GROUPS.findall(raw)
    if "(" not in raw and len(groups) < 2:
        return False
    if _range_or_date(raw, groups):
        return False
    if "." in raw and (len(groups) < 3 or any(len(g) > 4 for g in groups)):
        return False  # 415.555.2671, but not a decimal
    if len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]) and "(" not in raw:
        return False  # "2 345 678 901": thousands separators (SI, German), not a phone number
    # Only a leading trunk/country "1" may be a single digit; the subscriber part is 3+ digits, or pairs
    # all through ("06 12 34 56 78" in France, Belgium, the Netherlands).
    pairs = len(groups) >= 4 and all(len(g) == 2 for g in groups)
    return all(len(g) >= 2 for g in groups[1:]) and (len(groups[-1]) >= 3 or pairs)


def _range_or_date(raw: str, groups: list[str]) -> bool:
    """ "1992-2003" and "32768-65535" (ranges: two groups of one length, rising), "02110-1301" (a US ZIP+4),
    "09.11.2017" and "2008-12-15" (dates): digit groups that read as a phone number in some region."""
    if len(groups) == 2 and "-" in raw:
        first, second = groups
        if len(first) == len(second) and first < second:
            return True
        if (len(first), len(second)) == (5, 4):
            return True
    if len(groups) == 3:
        numbers = [int(g) for g in groups]
        if len(groups[0]) == 4 and 1900 <= numbers[0] <= 2099:
            return 1 <= numbers[1] <= 12 and 1 <= numbers[2] <= 31
        if len(groups[2]) == 4 and 1900 <= numbers[2] <= 2099:
            day_first = 1 <= numbers[1] <= 12 and 1 <= numbers[0] <= 31
            return day_first or (1 <= numbers[0] <= 12 and 1 <= numbers[1] <= 31)
    return False


# ---------------------------------------------------------------------------------------------
# IBAN

# ISO 13616 registry lengths (SWIFT IBAN registry); an unknown country is not an IBAN.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# Country, check digits, then alphanumerics written together or in space-separated groups. The
# regex may run on into following capitals ("... 00 TO ME"): the country's length decides the end.
# The look-behind comes after the first letter: a pattern that starts with a character class lets
# re skip quickly to the next capital, one that starts with a look-behind tries every position.
_IBAN = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]){11,30}(?!\w)")


def _scan_ibans(text: str) -> Iterator[Finding]:
    for match in _IBAN.finditer(text):
        raw = match.group()
        length = IBAN_LENGTHS.get(raw[:2])
        if length is None:
            continue
        # Offsets (in raw) of the alphanumerics, to cut the candidate at the country's length.
        positions = [i for i, char in enumerate(raw) if char != " "]
        if len(positions) < length:
            continue
        end = positions[length - 1] + 1
        if end < len(raw) and raw[end] != " ":
            continue  # the IBAN would end inside a group
        if iban_valid(raw[:end].replace(" ", "")):
            yield Finding("iban", raw[:2], match.start(), match.start() + end)


# ---------------------------------------------------------------------------------------------
# IP addresses

_IPV4_HINT = re.compile(r"\.\d{1,3}\.\d{1,3}\.")
# Four dotted numbers, not part of a longer dotted run: "1.2.3" (a version) and "1.2.3.4.5" are not.
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# Hex groups with colons, optionally ending in a dotted IPv4 ("::ffff:192.0.2.1"); ipaddress decides.
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:]|\.\d)")
_HEX_LETTER = re.compile(r"[A-Fa-f]")


def _scan_ipv4(text: str) -> Iterator[Finding]:
    for match in _IPV4.finditer(text):
        if len(match.group()) == 7:
            continue  # "1.2.3.4" is section numbering far more often than someone's address
        try:
            address = ipaddress.IPv4Address(match.group())  # rejects octets over 255 and leading zeros
        except ValueError:
            continue
        if _reads_as_address(text, match.start(), match.end(), address):
            yield Finding("ip_address", "IPv4", match.start(), match.end())


# Four dotted numbers are also build and version numbers ("4.3.0.1", "brotlicffi>=1.2.0.2", "2.1.8.2-1"):
# the words around them, and their shape, tell the two apart.
_IP_WORDS = re.compile(
    r"\b(?:ip|ipv4|ips|address(?:es)?|addr|host(?:name)?s?|server|gateway|router|dns|nameserver|subnet|netmask"
    r"|broadcast|ping|ssh|proxy|vpn|lan|wan|wi-?fi|client|remote|peer|bind|listen(?:ing|s)?|inet|firewall"
    r"|blocked|banned|allow-?list|deny-?list|whitelist(?:ed)?|blacklist(?:ed)?|connect(?:ed|ing|ion|s)?"
    r"|logged\s+in|login|sign-?in|visitor|laddr|raddr)\b",
    re.IGNORECASE,
)
_VERSION_WORDS = re.compile(
    r"\b(?:v|ver|version(?:s|ed)?|release[sd]?|build|firmware|driver|update[sd]?|upgrade[sd]?|patch(?:ed|es)?"
    r"|upstream|bump(?:ed|s)?|changelog|kb|sdk|rev|revision|tag(?:ged)?|snapshot|package|pkg|requires?"
    r"|dependency|dependencies|pinned|backport(?:ed)?|debian|ubuntu)\b",
    re.IGNORECASE,
)
# A version's own punctuation: a requirement operator before it, a release suffix after it ("-1", "~rc1", "+dfsg").
_VERSION_BEFORE = re.compile(r"(?:[<>=!~]=?|[vV]|[\w][-_])$")
_VERSION_AFTER = re.compile(r"[-~+][0-9A-Za-z]")
# An address's own punctuation: a port or prefix length after it, a URL scheme or user@ before it.
_ADDRESS_AFTER = re.compile(r":\d{1,5}(?!\d)|/\d{1,2}(?![\d.])")
_ADDRESS_BEFORE = re.compile(r"(?://|@|\[)$")
CONTEXT_CHARS = 40  # how far around the match a word counts as context (about one clause)


def _reads_as_address(text: str, start: int, end: int, address: ipaddress.IPv4Address) -> bool:
    """Whether four dotted numbers are an IPv4 address rather than a build or version number.

    Its own punctuation decides first (a port or URL: an address; a version operator or release suffix: a
    version), then the nearest telling word within a clause (server, ssh, blocked ... or version, build,
    release ...). With neither, only a private, loopback or link-local address, or one with an octet of 100
    or more, counts: versions keep small numbers, and a random public address has all four below 100 only
    2 % of the time.
    """
    before, after = text[max(0, start - CONTEXT_CHARS) : start], text[end : end + CONTEXT_CHARS]
    if address.is_loopback or _ADDRESS_AFTER.match(after) or _ADDRESS_BEFORE.search(before):
        return True  # (no version is 127.x.y.z: "listen-on-127.0.0.1.patch" names an address)
    if _VERSION_BEFORE.search(before) or _VERSION_AFTER.match(after):
        return False
    # The nearest cue wins: "upgraded to 4.3.0.1 on the server" is a version.
    cues = [(len(before) - m.end(), True) for m in _IP_WORDS.finditer(before)]
    cues += [(len(before) - m.end(), False) for m in _VERSION_WORDS.finditer(before)]
    cues += [(m.start(), True) for m in _IP_WORDS.finditer(after)]
    cues += [(m.start(), False) for m in _VERSION_WORDS.finditer(after)]
    if cues:
        return min(cues)[1]
    if str(address).startswith("0."):
        return False  # "this network": nobody's address, but "0.1.99.2" is many a version
    special = address.is_private or address.is_loopback or address.is_link_local
    return special or any(int(octet) >= 100 for octet in str(address).split("."))


def _scan_ipv6(text: str) -> Iterator[Finding]:
    for match in _IPV6.finditer(text):
        raw = match.group()
        try:
            ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        # "::", "1::2" (a slice), "1:2:3:4:5:6:7:8" (a ratio) and "dead::beef" are valid IPv6 too;
        # a real address has a decimal digit, a hex letter (or a dotted tail) and some length.
        hex_digits = sum(char not in ":." for char in raw)
        if hex_digits >= 5 and _DIGIT.search(raw) and (_HEX_LETTER.search(raw) or "." in raw):
            yield Finding("ip_address", "IPv6", match.start(), match.end())


# ---------------------------------------------------------------------------------------------
# credentials


# detect-secrets plugins with a fixed, distinctive token shape: near-zero false positives on prose.
# Left out: KeywordDetector and the high-entropy plugins (they flag 'secret = "always be kind"',
# placeholders and every quoted git hash), IPPublicDetector (IPs are handled above), Artifactory
# (its password pattern, "AP" + a hex digit + 8 alphanumerics, matches "APAC2024region" and
# all-caps words such as "APDEVELOPMENT"), and the IBM Cloud, IBM COS, Cloudant and SoftLayer
# plugins: their assignment regexes ("key = " + 44 characters) would call any such key an IBM one.
def _load_plugins() -> tuple[RegexBasedDetector, ...]:
    # Importing detect-secrets sets up its logger, which calls logging.captureWarnings(True): every
    # warning of the process would then go through logging. Importing ftdata.pii must not change
    # how the rest of a program reports warnings, so that is undone.
    showwarning = warnings.showwarning
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.square_oauth import SquareOAuthDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    if warnings.showwarning is not showwarning:
        logging.captureWarnings(False)
    return (
        AWSKeyDetector(),
        AzureStorageKeyDetector(),
        BasicAuthDetector(),
        DiscordBotTokenDetector(),
        GitHubTokenDetector(),
        GitLabTokenDetector(),
        JwtTokenDetector(),
        MailchimpDetector(),
        NpmDetector(),
        OpenAIDetector(),
        PrivateKeyDetector(),
        PypiTokenDetector(),
        SendGridDetector(),
        SlackDetector(),
        SquareOAuthDetector(),
        StripeDetector(),
        TelegramBotTokenDetector(),
        TwilioKeyDetector(),
    )


_PLUGINS = _load_plugins()


def _mixed_key(body: str) -> bool:
    """A generated key mixes cases and digits (or is lowercase hex); "sk-your-key-here" does not."""
    return (_mixed_case(body) and any(c.isdigit() for c in body)) or _LOWER_HEX.fullmatch(body) is not None


def _mixed_case(body: str) -> bool:
    return any(c.isupper() for c in body) and any(c.islower() for c in body)


_LOWER_HEX = re.compile(r"[0-9a-f]{32,}")

# Formats detect-secrets 1.5.0 lacks: current OpenAI/Anthropic-style "sk-" keys (its OpenAI plugin
# only knows the legacy "...T3BlbkFJ..." form), Hugging Face tokens and Google API keys. Each
# body must look generated, so that placeholders ("hf_xxxx...", "sk-your-api-key...") pass.
_EXTRA_SECRETS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool]], ...] = (
    (
        "API Key (sk-)",
        re.compile(r"(?<![\w-])sk-(?:[a-z][a-z0-9]{1,9}-){0,2}([A-Za-z0-9_-]{32,})"),
        _mixed_key,
    ),
    ("Hugging Face Token", re.compile(r"(?<![\w-])hf_([A-Za-z]{34})(?![\w-])"), _mixed_case),
    ("Google API Key", re.compile(r"(?<![\w-])AIza([0-9A-Za-z_-]{35})(?![\w-])"), _mixed_case),
)

# Every credential above has a run of 20+ token characters, a URL with "://" (Basic auth, Slack
# webhooks, npm) or a key header: texts without one skip the ~20 plugin regexes. (One regex with
# the literals as alternatives would be twice as slow: re can then no longer skip ahead.)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_+/=.-]{20}")


def _may_hold_secret(text: str) -> bool:
    return "://" in text or "PRIVATE KEY" in text or "PuTTY" in text or _LONG_TOKEN.search(text) is not None


_JWT_TAIL = re.compile(r"[A-Za-z0-9_.+/=-]*")
# A private key is the whole armoured block, not just the "BEGIN ... PRIVATE KEY" the plugin matches.
_KEY_BLOCK_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")


def _scan_secrets(text: str) -> Iterator[Finding]:
    for plugin in _PLUGINS:
        for start, end in _plugin_spans(plugin, text):
            # (secret_type is the plugins' stable public name: detect-secrets baselines key on it)
            if plugin.secret_type == "Private Key":
                start, end = _private_key_block(text, start, end)
            elif plugin.secret_type == "JSON Web Token":
                # Its regex ends in a lazy `*?`, so the match stops before the signature.
                end = _JWT_TAIL.match(text, end).end()
            yield Finding("secret", plugin.secret_type, start, end)
    for detail, pattern, looks_generated in _EXTRA_SECRETS:
        for match in pattern.finditer(text):
            if looks_generated(match.group(1)):
                yield Finding("secret", detail, match.start(), match.end())


def _plugin_spans(plugin: RegexBasedDetector, text: str) -> Iterator[tuple[int, int]]:
    """Where a plugin's secrets are: the spans of its `denylist` matches whose values its
    `analyze_string` yields (that applies a plugin's own checks, such as the JWT one).

    The whole match, not the group `analyze_string` reports: for some plugins the group is the
    secret (Basic auth: the password), for others only a prefix (GitHub: "ghp").
    """
    values = set(plugin.analyze_string(text))
    if not values:
        return
    for regex in plugin.denylist:
        for match in regex.finditer(text):
            # The values `findall` gives for this match, as in `RegexBasedDetector.analyze_string`.
            found = match.groups() if regex.groups else (match.group(),)
            if any(value in values for value in found if value):
                yield match.span()


def _private_key_block(text: str, start: int, end: int) -> tuple[int, int]:
    if text.startswith("-----", start - 5):
        start -= 5
    footer = _KEY_BLOCK_END.search(text, end)
    if footer:
        return start, footer.end()
    line_end = text.find("\n", end)
    return start, len(text) if line_end < 0 else line_end


# ---------------------------------------------------------------------------------------------
# overlaps and previews


def _resolve_overlaps(found: list[Finding]) -> list[Finding]:
    """Keep one finding per stretch of text: the most specific kind, then the longest match."""
    if len(found) < 2:
        return found
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (_PRIORITY[f.kind], f.start - f.end, f.start)):
        if all(finding.end <= other.start or other.end <= finding.start for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: (f.start, f.end))


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    tld = domain.rsplit(".", 1)[-1]
    return f"{local[0]}***@{domain[0]}***.{tld}"


def _mask_digits(value: str, keep_head: int, keep_tail: int) -> str:
    """Star every digit/letter but the first `keep_head` and last `keep_tail`; keep separators."""
    total = sum(char.isalnum() for char in value)
    keep_head, keep_tail = min(keep_head, total // 3), min(keep_tail, total // 4)
    out, seen = [], 0
    for char in value:
        if char.isalnum():
            seen += 1
            out.append(char if seen <= keep_head or seen > total - keep_tail else "*")
        else:
            out.append(char)
    return "".join(out)


def _mask_ip(value: str) -> str:
    if "." in value and ":" not in value:
        return value.split(".", 1)[0] + ".*.*.*"
    return value.split(":", 1)[0] + ":***"


# Known, non-secret prefixes of token formats ("AKIA", "ghp_", "xoxb-", "sk_live_", "-----BEGIN RSA
# PRIVATE KEY-----"): they tell the reader what leaked without revealing any of the secret part.
_SECRET_PREFIX = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d:"
    r"|A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AIza|eyJ|SG\.|AC|SK|(?:[a-z][a-z0-9]{1,6}[_-]){1,3}"
)


def _mask_secret(value: str) -> str:
    prefix = _SECRET_PREFIX.match(value)
    visible = min(prefix.end() if prefix else 0, len(value) // 2)
    hidden = len(value) - visible
    return value[:visible] + "*" * min(hidden, 16) + ("..." if hidden > 16 else "")


_MASKS: dict[str, Callable[[str], str]] = {
    "email": _mask_email,
    "phone": lambda value: _mask_digits(value, 0, 2),
    "credit_card": lambda value: _mask_digits(value, 4, 4),
    "iban": lambda value: _mask_digits(value, 4, 2),
    "ip_address": _mask_ip,
    "secret": _mask_secret,
}
