import pytest

from ftdata.style import REGISTRY, StyleSpec, StyleSpecError, run_check

GSM8K_ANSWER = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nShe sold 48+24 = <<48+24=72>>72 clips.\n#### 72"

GSM8K_SPEC = {
    "name": "gsm8k",
    "checks": [
        {"check": "lines:last_matches", "pattern": r"#### -?[0-9][0-9,]*(\.[0-9]+)?"},
        {"check": "regex:count_min", "pattern": r"<<[^<>=]+=[^<>]+>>", "min": 1, "id": "calculator-notes"},
        {"check": "phrases:forbidden", "phrases": ["great question", "as an AI"]},
        {"check": "length:max_words", "max": 200},
    ],
}


def test_gsm8k_house_format():
    spec = StyleSpec.from_dict(GSM8K_SPEC)
    assert all(r.passed for r in spec.evaluate(GSM8K_ANSWER).values())
    chatty = "Great question! She sold 72 clips. 😊"
    results = spec.evaluate(chatty)
    assert [check_id for check_id, r in results.items() if not r.passed] == [
        "lines:last_matches",
        "calculator-notes",
        "phrases:forbidden",
    ]
    assert results["phrases:forbidden"].detail == "contains 'great question'"


@pytest.mark.parametrize(
    ("name", "answer", "params", "passed"),
    [
        ("format:json", '{"a": 1}', {}, True),
        ("format:json", "{'a': 1}", {}, False),
        ("format:json_schema", '{"a": 1}', {"schema": {"type": "object", "required": ["a"]}}, True),
        ("format:json_schema", '{"b": 1}', {"schema": {"type": "object", "required": ["a"]}}, False),
        ("regex:must_match", "Total: 4", {"pattern": r"^Total: \d+$"}, True),
        ("regex:must_not_match", "I'm sorry, but", {"pattern": r"(?i)\bsorry\b"}, False),
        ("length:min_words", "one two", {"min": 3}, False),
        ("sections:required", "## Summary\ntext\n## Steps\n1.", {"headings": ["## Summary", "## Steps"]}, True),
        ("sections:required", "## Steps\n1.\n## Summary\n", {"headings": ["## Summary", "## Steps"]}, False),
        ("casing:style", "all lower, 42.", {"style": "lower"}, True),
        ("casing:style", "First line.\nsecond line.", {"style": "sentence"}, False),
        ("casing:style", "LOUD", {"style": "upper"}, True),
    ],
)
def test_each_check(name, answer, params, passed):
    assert run_check(name, answer, **params).passed is passed


def test_every_registered_check_has_a_description():
    assert all(definition.description for definition in REGISTRY.values())
    assert {"format:json", "length:max_words", "regex:must_match", "sections:required"} <= set(REGISTRY)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"check": "length:max_words"}, "missing parameter 'max'"),
        ({"check": "length:max_words", "max": "ten"}, "max must be an integer"),
        ({"check": "length:max_words", "max": 5, "min": 1}, "unknown parameter 'min'"),
        ({"check": "format:yaml"}, "unknown check 'format:yaml'"),
        ({"check": "regex:must_match", "pattern": "("}, "not a valid regex"),
        ({"check": "casing:style", "style": "camel"}, "style must be one of"),
        ({"check": "format:json_schema", "schema": {"type": 5}}, "invalid schema"),
        ({"max": 5}, "with a 'check' name"),
    ],
)
def test_spec_errors_name_the_file_and_entry(entry, message):
    with pytest.raises(StyleSpecError, match=message) as raised:
        StyleSpec.from_dict({"checks": [entry]}, source="style.yaml")
    assert str(raised.value).startswith("style.yaml: checks[0]") or "style.yaml" in str(raised.value)


def test_duplicate_ids_and_empty_spec(tmp_path):
    twice = {"checks": [{"check": "format:json"}, {"check": "format:json"}]}
    with pytest.raises(StyleSpecError, match="used twice"):
        StyleSpec.from_dict(twice)
    with pytest.raises(StyleSpecError, match="non-empty list"):
        StyleSpec.from_dict({"checks": []})
    path = tmp_path / "style.yaml"
    path.write_text("name: x\nchecks:\n  - check: format:json\n  - check: lengthh:max_words\n    max: 3\n")
    with pytest.raises(StyleSpecError, match=rf"{path}: checks\[1\]: unknown check"):
        StyleSpec.load(path)


def test_run_check_validates_parameters_like_a_spec():
    with pytest.raises(StyleSpecError, match="missing parameter 'pattern'"):
        run_check("regex:must_match", "x")
