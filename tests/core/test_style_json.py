"""JSON answers: `format:json`'s messages name the real problem, and the `json:` checks read one field by a JSON path
and fail, never pass, on an answer that is not JSON (issue 17: a text rule passed 100 % of a base model's prose)."""

import re
from pathlib import Path

import pytest
import yaml

from ftcore.style import REGISTRY, StyleSpec, StyleSpecError, run_check
from ftcore.style.json_checks import JsonPath, PathProblem

README = Path(__file__).resolve().parents[2] / "README.md"

GOOD = '{"category": "billing", "priority": "high", "reply": "Sorry about the double charge: it is refunded."}'
PROSE = "Thanks for reaching out! I have refunded the double charge; expect it within 5 days."


def readme_support_spec() -> StyleSpec:
    """The support-assistant spec the README shows, as written there."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    [block] = [b for b in blocks if "name: support-json" in b]
    return StyleSpec.from_dict(yaml.safe_load(block), source="README.md")


def failed(spec: StyleSpec, answer: str) -> dict[str, str]:
    return {check_id: r.detail for check_id, r in spec.evaluate(answer).items() if not r.passed}


def test_the_readme_support_spec_passes_a_good_answer_and_names_each_fault():
    spec = readme_support_spec()
    assert failed(spec, GOOD) == {}
    sixty_one = " ".join(["word"] * 61)
    assert failed(spec, GOOD.replace("Sorry about the double charge: it is refunded.", sixty_one)) == {
        "reply-length": "reply: 61 words, max 60"
    }
    assert failed(spec, GOOD.replace('"billing"', '"Billing"')) == {
        "category": 'category: "Billing" is not one of "billing", "shipping", "returns", "account", "technical", '
        '"other"'
    }
    assert failed(spec, GOOD.replace('"high"', '"critical"')) == {
        "priority": 'priority: "critical" is not one of "low", "normal", "high", "urgent"'
    }
    no_reply = '{"category": "billing", "priority": "low", "confidence": 0.9}'
    assert failed(spec, no_reply) == {
        "json:required_fields": "reply: missing",
        "json:only_fields": "the answer: unexpected field(s) 'confidence'",
        "reply-length": "reply: missing",
        "reply-no-placeholders": "reply: missing",
    }
    placeholder = GOOD.replace("Sorry", "Dear [NAME], sorry")
    assert failed(spec, placeholder) == {"reply-no-placeholders": "reply: found '[NAME]'"}


def test_every_check_of_the_spec_fails_prose_where_a_text_rule_passes_it():
    """The issue's case: a 60-word rule written as a regex over the text passes an answer that is not JSON at all."""
    spec = readme_support_spec()
    text_rule = r'"reply":\s*"(\S+\s+){60,}'
    assert run_check("regex:must_not_match", PROSE, pattern=text_rule).passed  # vacuous: nothing to find
    results = spec.evaluate(PROSE)
    assert {check_id: r.passed for check_id, r in results.items()} == dict.fromkeys(results, False)
    assert {r.detail for r in results.values()} == {"not JSON: starts with 'Thanks for reaching out! I ha…'"}


# Hand-built answers and the message each must give (lines and columns counted by hand).
MESSAGES = [
    ('```json\n{"category": "billing"}\n```', "not JSON: wrapped in a ```json fence"),
    ('~~~\n{"a": 1}\n~~~', "not JSON: wrapped in a ~~~ fence"),
    ('{"category": "billing"}\n\nHope this helps!', "not JSON: text after the JSON (line 3: 'Hope this helps!')"),
    ('{"a": 1}{"a": 2}', "not JSON: text after the JSON (line 1: '{\"a\": 2}')"),
    ('Sure! Here it is:\n{"category": "billing"}', "not JSON: text before the JSON (line 1: 'Sure! Here it is:')"),
    ('\n\nSure:\n["a"]\nBye', "not JSON: text before and after the JSON (line 3: 'Sure:')"),
    ('{"category": "billing"\n    "priority": "low"}', "not JSON: expecting ',' delimiter at line 2 column 5"),
    ("{'category': 'billing'}", "not JSON: expecting property name enclosed in double quotes at line 1 column 2"),
    ('{"reply": "unterminated}', "not JSON: unterminated string starting at line 1 column 11"),
    ("Billing, high priority. We are on it.", "not JSON: starts with 'Billing, high priority. We ar…'"),
    ("", "not JSON: the answer is empty"),
    (" \n\t", "not JSON: the answer is empty"),
    ('{"score": NaN}', "not JSON: NaN is not a JSON number"),
    ("[1, -Infinity]", "not JSON: -Infinity is not a JSON number"),
    ('{"category": "billing", "category": "other"}', "not JSON: key 'category' twice in one object"),
    ('{"a": {"b": 1, "b": 2}}', "not JSON: key 'b' twice in one object"),
]


@pytest.mark.parametrize(("answer", "message"), MESSAGES)
def test_format_json_names_the_real_problem(answer, message):
    result = run_check("format:json", answer)
    assert (result.passed, result.detail) == (False, message)


@pytest.mark.parametrize("answer", ['{"a": 1}', ' \n[1, 2.5, "x", null, true]\n', '"just a string"', "0"])
def test_format_json_passes_json_with_json_white_space_around(answer):
    assert run_check("format:json", answer).passed


def test_format_json_schema_gives_the_same_messages():
    schema = {"type": "object", "required": ["reply"]}
    result = run_check("format:json_schema", '```json\n{"reply": "x"}\n```', schema=schema)
    assert result.detail == "not JSON: wrapped in a ```json fence"
    result = run_check("format:json_schema", '{"reply": NaN}', schema=schema)
    assert result.detail == "not JSON: NaN is not a JSON number"


@pytest.mark.parametrize(
    ("answer", "passed", "message"),
    [
        ('```json\n{"a": 1,\n "b" 2}\n```', False, "not JSON: expecting ':' delimiter at line 3 column 6"),
        ('```python\n{"a": 1}\n```', False, "not JSON: text before the JSON (line 1: 'python')"),
        ("```json\n```", False, "not JSON: nothing inside the fence"),
        ('  ```json\n{"a": 1}\n```\nThanks', False, "not JSON: text after the JSON (line 3: '```')"),
        ('```json\n{"a": NaN, "a": 2}\n```', True, ""),  # Python's json, as IFEval reads it
        ('```json\u00a0{"a": 1}\u00a0```', True, ""),  # IFEval strips Unicode white space inside the fence too
    ],
)
def test_json_fenced_counts_lines_in_the_answer_and_reads_as_ifeval(answer, passed, message):
    result = run_check("format:json_fenced", answer)
    assert (result.passed, result.detail) == (passed, message)


DOCUMENT = {
    "reply": "Hi",
    "customer": {"email": "a@example.com", "first name": "Ana", "a.b": 1},
    "items": [{"sku": "A1"}, {"sku": "B2"}],
    "empty": [],
}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("reply", [("reply", "Hi")]),
        ("$.reply", [("reply", "Hi")]),
        ("customer.email", [("customer.email", "a@example.com")]),
        ('customer["first name"]', [('customer["first name"]', "Ana")]),
        ('customer["a.b"]', [('customer["a.b"]', 1)]),
        ('["reply"]', [("reply", "Hi")]),
        ("items[0].sku", [("items[0].sku", "A1")]),
        ("items[-1].sku", [("items[-1].sku", "B2")]),
        ("items[*].sku", [("items[0].sku", "A1"), ("items[1].sku", "B2")]),
        ("empty[*]", []),
        ("$", [("", DOCUMENT)]),
    ],
)
def test_json_paths_find_their_values(path, found):
    assert JsonPath.parse(path).find(DOCUMENT) == found


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("missing", "missing: missing"),
        ("customer.phone", "customer.phone: missing"),
        ("reply.text", "reply is a string, not an object"),
        ("customer[0]", "customer is an object, not an array"),
        ("items[2]", "items[2]: missing (items has 2 item(s))"),
        ("items[*].price", "items[0].price: missing"),
    ],
)
def test_a_path_that_leads_nowhere_says_where_it_stopped(path, problem):
    with pytest.raises(PathProblem, match=re.escape(problem)):
        JsonPath.parse(path).find(DOCUMENT)
    with pytest.raises(PathProblem, match="the answer is an array, not an object"):
        JsonPath.parse(path).find([DOCUMENT])


# One valid parameter set per json: check; a check added without an entry here fails the next test.
JSON_CHECK_PARAMETERS = {
    "json:required_fields": {"fields": ["reply"]},
    "json:only_fields": {"path": "$", "fields": ["reply"]},
    "json:field_type": {"path": "reply", "type": "string"},
    "json:field_enum": {"path": "reply", "values": ["Hi"]},
    "json:field_must_match": {"path": "reply", "pattern": "H"},
    "json:field_must_not_match": {"path": "reply", "pattern": "x"},
    "json:field_max_words": {"path": "reply", "max": 5},
    "json:field_min_words": {"path": "reply", "min": 1},
}


def test_every_json_check_is_covered_here():
    assert {name for name in REGISTRY if name.startswith("json:")} == set(JSON_CHECK_PARAMETERS)


@pytest.mark.parametrize("name", sorted(JSON_CHECK_PARAMETERS))
@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ('{"reply": "Hi"}', None),
        ('```json\n{"reply": "Hi"}\n```', "not JSON: wrapped in a ```json fence"),
        ('{"reply": "Hi"}\nAnything else?', "not JSON: text after the JSON (line 2: 'Anything else?')"),
        ("Hi", "not JSON: starts with 'Hi'"),
        ("", "not JSON: the answer is empty"),
    ],
    ids=["json", "fenced", "text-after", "prose", "empty"],
)
def test_json_checks_fail_on_answers_that_are_not_json(name, answer, detail):
    result = run_check(name, answer, **JSON_CHECK_PARAMETERS[name])
    assert (result.passed, result.detail or None) == (detail is None, detail)


@pytest.mark.parametrize(
    ("name", "answer", "params", "detail"),
    [
        ("json:field_type", '{"n": 3}', {"path": "n", "type": "integer"}, None),
        ("json:field_type", '{"n": 3.0}', {"path": "n", "type": "integer"}, None),  # JSON Schema's reading too
        ("json:field_type", '{"n": 3.5}', {"path": "n", "type": "integer"}, "n: a number, not an integer"),
        ("json:field_type", '{"n": 3}', {"path": "n", "type": "number"}, None),
        ("json:field_type", '{"n": true}', {"path": "n", "type": "number"}, "n: a boolean, not a number"),
        ("json:field_type", '{"n": null}', {"path": "n", "type": "string"}, "n: null, not a string"),
        ("json:field_type", '{"n": null}', {"path": "n", "type": "null"}, None),
        ("json:field_type", '{"n": []}', {"path": "n", "type": "object"}, "n: an array, not an object"),
        ("json:field_enum", '{"n": 1.0}', {"path": "n", "values": [1]}, None),
        ("json:field_enum", '{"n": true}', {"path": "n", "values": [1]}, "n: true is not one of 1"),
        ("json:field_enum", '{"n": 1}', {"path": "n", "values": [True]}, "n: 1 is not one of true"),
        ("json:field_enum", '{"n": "1"}', {"path": "n", "values": [1]}, 'n: "1" is not one of 1'),
        ("json:field_enum", '{"n": null}', {"path": "n", "values": [None, "x"]}, None),
        ("json:field_enum", '{"n": {"a": 1}}', {"path": "n", "values": ["a"]}, 'n: {"a": 1} is not one of "a"'),
        ("json:field_max_words", '{"r": "one two  three\\nfour"}', {"path": "r", "max": 4}, None),
        ("json:field_max_words", '{"r": "one two three"}', {"path": "r", "max": 2}, "r: 3 words, max 2"),
        ("json:field_max_words", '{"r": 5}', {"path": "r", "max": 2}, "r: a number, not a string"),
        ("json:field_min_words", '{"r": ""}', {"path": "r", "min": 1}, "r: 0 words, min 1"),
        ("json:field_must_match", '{"id": "T-12"}', {"path": "id", "pattern": r"^T-\d+$"}, None),
        (
            "json:field_must_match",
            '{"id": "t-12"}',
            {"path": "id", "pattern": r"^T-\d+$"},
            r"id: no match for '^T-\\d+$'",
        ),
        ("json:field_must_not_match", '{"r": 7}', {"path": "r", "pattern": "x"}, "r: a number, not a string"),
        (
            "json:field_must_match",
            '{"items": [{"sku": "A1"}, {"sku": "b2"}]}',
            {"path": "items[*].sku", "pattern": "^[A-Z]"},
            "items[1].sku: no match for '^[A-Z]'",
        ),
        ("json:field_must_match", '{"items": []}', {"path": "items[*].sku", "pattern": "^[A-Z]"}, None),
        ("json:required_fields", '{"a": null, "b": {"c": 0}}', {"fields": ["a", "b.c"]}, None),
        ("json:required_fields", '{"b": {}}', {"fields": ["a", "b.c"]}, "a: missing; b.c: missing"),
        ("json:only_fields", '{"a": 1}', {"path": "$", "fields": ["a", "b"]}, None),
        ("json:only_fields", '{"m": {"x": 1, "y": 2}}', {"path": "m", "fields": ["x"]}, "m: unexpected field(s) 'y'"),
        ("json:only_fields", '{"m": 1}', {"path": "m", "fields": ["x"]}, "m: a number, not an object"),
    ],
)
def test_json_field_checks(name, answer, params, detail):
    result = run_check(name, answer, **params)
    assert (result.passed, result.detail or None) == (detail is None, detail)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"check": "json:field_max_words", "path": "reply"}, "json:field_max_words: missing parameter 'max'"),
        ({"check": "json:field_max_words", "max": 60}, "json:field_max_words: missing parameter 'path'"),
        ({"check": "json:field_max_words", "path": "reply", "max": -1}, "max must be 0 or more, got -1"),
        ({"check": "json:field_max_words", "path": "reply", "max": 6, "min": 1}, "unknown parameter 'min'"),
        (
            {"check": "json:field_enum", "path": "reply ", "values": ["a"]},
            r"path 'reply ' cannot be read at character 6",
        ),
        (
            {"check": "json:field_enum", "path": ".reply", "values": ["a"]},
            "path '.reply' cannot be read at character 1",
        ),
        ({"check": "json:field_enum", "path": "a[x]", "values": ["a"]}, r"path 'a\[x\]' cannot be read at character 2"),
        ({"check": "json:field_enum", "path": "", "values": ["a"]}, "path '' is empty"),
        ({"check": "json:field_enum", "path": 'a["\\q"]', "values": ["a"]}, "has a key that is not a JSON string"),
        ({"check": "json:field_enum", "path": "a", "values": []}, "values must be a non-empty list"),
        ({"check": "json:field_enum", "path": "a", "values": [["x"]]}, "values must be a non-empty list"),
        ({"check": "json:field_type", "path": "a", "type": "list"}, "type must be one of string, number, integer"),
        ({"check": "json:required_fields", "fields": []}, "fields must name at least one path"),
        ({"check": "json:required_fields", "fields": ["a", "b..c"]}, "fields item 'b..c' cannot be read"),
        ({"check": "json:required_fields", "fields": "a"}, "fields must be a list"),
        ({"check": "json:field_must_match", "path": "a", "pattern": "("}, "pattern is not a valid regex"),
    ],
)
def test_json_check_parameters_are_refused_with_the_check_and_parameter_named(entry, message):
    with pytest.raises(StyleSpecError, match=message) as raised:
        StyleSpec.from_dict({"checks": [entry]}, source="style.yaml")
    assert str(raised.value).startswith(f"style.yaml: checks[0]: {entry['check']}: ")
