import pytest

from ftcore.style import REGISTRY, StyleSpec, StyleSpecError, run_check, split_sentences

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


JSON_CHECKS = [
    ("format:json", {}),
    ("format:json_fenced", {}),
    ("format:json_schema", {"schema": {"type": "object"}}),
    ("format:json_schema", {"schema": {"items": {"$ref": "#"}}}),  # recursive: validating walks every level
]


@pytest.mark.parametrize(("name", "params"), JSON_CHECKS, ids=["json", "json_fenced", "json_schema", "recursive"])
@pytest.mark.parametrize(
    "answer",
    [
        "1" * 5000,  # past Python's int digit limit: a ValueError from json.loads
        '{"total": -' + "9" * 4301 + "}",
        "```json\n" + "1" * 5000 + "\n```",
        "[" * 100_000 + "]" * 100_000,  # past the parser's recursion limit: a RecursionError
        '{"a":' * 3000 + "1" + "}" * 3000,
    ],
    ids=["5000-digits", "4301-digits-in-object", "fenced-5000-digits", "deep-array", "deep-object"],
)
def test_json_checks_fail_unreadable_json_without_raising(name, params, answer):
    result = run_check(name, answer, **params)
    assert not result.passed and result.detail.startswith("not JSON") and len(result.detail) <= 100, result.detail


def test_a_value_too_deep_to_validate_fails_the_schema_check():
    answer = "[" * 400 + "]" * 400  # Python reads it; a recursive schema needs several frames per level
    assert run_check("format:json", answer).passed
    result = run_check("format:json_schema", answer, schema={"items": {"$ref": "#"}})
    assert not result.passed and result.detail == "nested too deeply to validate"


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


# --- checks for IFEval's instructions (fteval.ifeval maps onto them; tests/evaluate/test_ifeval.py holds them to
# lm-eval's verifier). Each: a passing answer, a failing one, and the edges: empty, fenced, trailing space, unicode.

AT_LEAST_2 = {"relation": "at least", "count": 2}
EXACTLY_2 = {"relation": "exactly", "count": 2}


@pytest.mark.parametrize(
    ("name", "answer", "params", "passed"),
    [
        ("format:json_fenced", '{"a": 1}', {}, True),
        ("format:json_fenced", '```json\n{"a": 1}\n```', {}, True),
        ("format:json_fenced", '```\n["ü"]\n```  \n', {}, True),
        ("format:json_fenced", '\u00a0{"a": 1}\u00a0', {}, True),  # format:json refuses the no-break spaces
        ("format:json_fenced", '```python\n{"a": 1}\n```', {}, False),
        ("format:json_fenced", '```json\n{"a": 1}\n```\nHope this helps!', {}, False),
        ("format:json_fenced", "", {}, False),
        ("markdown:bullet_count", "* one\n* two", EXACTLY_2, True),
        ("markdown:bullet_count", "- one\n  - two\n", EXACTLY_2, True),
        ("markdown:bullet_count", "**Bold**\n* one\n* two", EXACTLY_2, True),
        ("markdown:bullet_count", "* one\n* two\n---", EXACTLY_2, False),  # a '---' rule counts, as in IFEval
        ("markdown:bullet_count", "+ one\n+ two", EXACTLY_2, False),
        ("markdown:bullet_count", "", {"relation": "less than", "count": 1}, True),
        ("markdown:highlight_count", "*one* and **two**", AT_LEAST_2, True),
        ("markdown:highlight_count", "*ünï* *çødé*", AT_LEAST_2, True),
        ("markdown:highlight_count", "** ** and *one*", AT_LEAST_2, False),
        ("markdown:highlight_count", "*across\nlines*", {"relation": "at least", "count": 1}, False),
        ("title:double_angle_brackets", "<<Poem of Joy>>\nRoses...", {}, True),
        ("title:double_angle_brackets", "<<  >>", {}, False),
        ("title:double_angle_brackets", "", {}, False),
        ("sections:count", "Section 1\nIntro\nSection 2\nMore", {"marker": "Section", **AT_LEAST_2}, True),
        ("sections:count", "SECTION 1\nSECTION 2", {"marker": "Section", **AT_LEAST_2}, False),  # case-sensitive
        ("sections:count", "Section 1 only", {"marker": "Section", **AT_LEAST_2}, False),
        (
            "phrases:contains_any",
            "Well. My answer is no.",
            {"phrases": ["My answer is yes.", "My answer is no."]},
            True,
        ),
        ("phrases:contains_any", "my answer is no.", {"phrases": ["My answer is no."]}, False),
        ("phrases:required", "A RISKY plan", {"phrases": ["risk", "plan"]}, True),
        ("phrases:required", "A plan", {"phrases": ["risk", "plan"]}, False),
        ("phrases:required", "C++ and naïve", {"phrases": ["c++", "NAÏVE"]}, True),  # literal text, not a regex
        ("phrases:count", "cat, Cat, category", {"phrase": "cat", "relation": "exactly", "count": 3}, True),
        ("phrases:count", "", {"phrase": "cat", "relation": "less than", "count": 1}, True),
        ("words:forbidden", "A category of hotdogs", {"words": ["cat", "dog"]}, True),
        ("words:forbidden", "My Cat!", {"words": ["cat"]}, False),
        ("words:forbidden", "", {"words": ["cat"]}, True),
        ("letters:count", "Excellent", {"letter": "e", "relation": "at least", "count": 3}, True),
        ("letters:count", "é è ê", {"letter": "e", "relation": "at least", "count": 1}, False),
        ("casing:all_lower", "all lower, 42.  \n", {}, True),
        ("casing:all_lower", "ünïcode lower", {}, True),
        ("casing:all_lower", "42", {}, False),  # casing:style lower passes it: no cased character at all
        ("casing:all_lower", "", {}, False),
        ("casing:all_upper", "LOUD, 42!", {}, True),
        ("casing:all_upper", "LOUD ⅷ", {}, False),  # a lower-case roman numeral is cased
        ("casing:upper_word_count", "I LOVE NASA", {"relation": "exactly", "count": 3}, True),
        ("casing:upper_word_count", "DON'T", EXACTLY_2, True),  # DO + N'T, as NLTK splits it
        ("casing:upper_word_count", "STATE-OF-THE-ART AND/OR U.S.A.", {"relation": "exactly", "count": 3}, True),
        ("casing:upper_word_count", "ÉCOLE Normale", {"relation": "exactly", "count": 1}, True),
        ("casing:upper_word_count", "", {"relation": "exactly", "count": 0}, True),
        ("length:word_count", "don't stop", {"relation": "exactly", "count": 3}, True),  # don, t, stop
        ("length:word_count", "naïve café 😊", EXACTLY_2, True),
        # Hindi and Thai: a vowel sign (a combining mark) stays inside its word, as in nltk's `regex`-engine \w+
        ("length:word_count", "नमस्ते दुनिया", EXACTLY_2, True),
        ("length:word_count", "สวัสดี ชาวโลก", EXACTLY_2, True),
        ("length:word_count", "", {"relation": "at least", "count": 1}, False),
        ("sentences:count", "One. Two! Three?", {"relation": "exactly", "count": 3}, True),
        ("sentences:count", "Dr. Who met J. Smith at 3.30 p.m. today.", {"relation": "exactly", "count": 1}, True),
        ("sentences:count", "", {"relation": "exactly", "count": 0}, True),
        ("paragraphs:divider_count", "One\n***\nTwo", EXACTLY_2, True),
        ("paragraphs:divider_count", "***\nOne\n***\nTwo\n***  ", EXACTLY_2, True),
        ("paragraphs:divider_count", "One\n***\n***\nTwo", EXACTLY_2, False),  # an empty paragraph between
        ("paragraphs:divider_count", "One\n\nTwo", EXACTLY_2, False),
        ("paragraphs:blank_line_count", "One\n\nTwo\n\n", EXACTLY_2, True),
        ("paragraphs:blank_line_count", "One\nTwo", EXACTLY_2, False),
        ("paragraphs:nth_first_word", "Intro.\n\nHowever, no.", {"n": 2, "word": "however"}, True),
        ("paragraphs:nth_first_word", 'Intro.\n\n"Über" alles', {"n": 2, "word": "über"}, True),
        ("paragraphs:nth_first_word", "Intro.\n\n\n\nHowever, no.", {"n": 2, "word": "however"}, False),
        ("paragraphs:nth_first_word", "Intro.", {"n": 2, "word": "however"}, False),
        ("placeholders:count", "Dear [name], at [address]", AT_LEAST_2, True),
        ("placeholders:count", "Dear [name]", AT_LEAST_2, False),
        ("postscript:present", "Bye.\nP.S. See you", {"marker": "P.S."}, True),
        ("postscript:present", "Bye.\np. s. see you", {"marker": "P.S."}, True),
        ("postscript:present", "Bye. PS see you", {"marker": "P.S."}, False),
        ("postscript:present", "Bye.\nP.P.S. more", {"marker": "P.P.S"}, True),
        ("postscript:present", "Note: x", {"marker": "note:"}, True),
        ("text:starts_with", "  write a poem. Roses...", {"phrase": "Write a poem."}, True),
        ("text:starts_with", "Sure! Write a poem.", {"phrase": "Write a poem."}, False),
        ("text:ends_with", "Thanks. Any other questions?  \n", {"phrase": "any other questions?"}, True),
        ("text:ends_with", '"Thanks. Any other questions?"', {"phrase": "Any other questions?"}, True),
        ("text:ends_with", "Any other questions? Bye", {"phrase": "Any other questions?"}, False),
        ("text:ends_with", "", {"phrase": "Any other questions?"}, False),
        ("text:wrapped_in_quotes", ' "Quoted ünïcode." \n', {}, True),
        ("text:wrapped_in_quotes", "“Curly.”", {}, False),
        ("text:wrapped_in_quotes", '"', {}, False),
        ("text:two_responses", "Yes.\n******\nNo.", {"separator": "******"}, True),
        ("text:two_responses", "Yes.\n******\nYes. ", {"separator": "******"}, False),
        ("text:two_responses", "Yes.\n******\n******\nNo.", {"separator": "******"}, False),
    ],
)
def test_each_ifeval_check(name, answer, params, passed):
    assert run_check(name, answer, **params).passed is passed


@pytest.mark.parametrize(
    ("relation", "passed"),
    [("less than", False), ("at most", True), ("exactly", True), ("at least", True), ("more than", False)],
)
def test_every_relation(relation, passed):
    assert run_check("length:word_count", "one two", relation=relation, count=2).passed is passed


def test_a_failing_count_says_what_it_found():
    result = run_check("markdown:bullet_count", "* one", relation="exactly", count=3)
    assert result.detail == "1 bullet(s), need exactly 3"


def test_split_sentences():
    # Each expectation is what NLTK's punkt (English, IFEval's sentence counter) gives.
    assert split_sentences("Dr. Who arrived. Did he? Yes!!\n1. Go on") == [
        "Dr. Who arrived.",
        "Did he?",
        "Yes!!",
        "1.",
        "Go on",
    ]
    assert split_sentences("1. buy milk") == ["1. buy milk"]  # a number before a lower-case word ends nothing
    assert split_sentences("I. Intro\nII. Body") == ["I.", "Intro\nII.", "Body"]  # outline numerals, as list numbers
    assert split_sentences("J. K. Rowling wrote it.") == ["J. K. Rowling wrote it."]  # initials
    assert split_sentences("**Bold.** Next one.") == ["**Bold.**", "Next one."]  # markdown emphasis closes it
    assert split_sentences('{"a": "One.", "b": "Two."}') == ['{"a": "One.', '", "b": "Two."}']  # '."' inside JSON
    assert split_sentences("You look... comfortable. Fine.") == ["You look... comfortable.", "Fine."]  # an ellipsis
    assert split_sentences("See e.g. this. And U.S. law.") == ["See e.g.", "this.", "And U.S. law."]
    assert split_sentences('He said "Go." Then left.') == ['He said "Go."', "Then left."]
    assert split_sentences("Line one\nline two") == ["Line one\nline two"]  # line breaks alone end nothing
    assert split_sentences("Hi.\n}") == ["Hi.\n}"]  # closing brackets that open a stretch belong to the sentence before
    assert split_sentences("") == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"check": "markdown:bullet_count", "count": 2}, "missing parameter 'relation'"),
        ({"check": "markdown:bullet_count", "relation": "about", "count": 2}, "relation must be one of less than"),
        ({"check": "markdown:bullet_count", "relation": "exactly", "count": -1}, "count must be 0 or more"),
        ({"check": "paragraphs:nth_first_word", "n": 0, "word": "x"}, "n 1 or more"),
        ({"check": "letters:count", "letter": "ab", "relation": "exactly", "count": 1}, "letter must be a single"),
        ({"check": "text:ends_with", "phrase": "  "}, "phrase must be a non-empty string"),
        ({"check": "words:forbidden", "words": ["cat", ""]}, "words must be a list of non-empty strings"),
        ({"check": "sections:count", "marker": "Section", "relation": "at least", "count": True}, "count must be"),
    ],
)
def test_ifeval_check_parameters_are_validated(entry, message):
    with pytest.raises(StyleSpecError, match=message):
        StyleSpec.from_dict({"checks": [entry]})
