"""fteval's IFEval mapping agrees with lm-eval's own IFEval verifier, answer by answer, for every supported instruction.

The reference is lm-eval's checker classes (`INSTRUCTION_DICT[id](id)`, `build_description(**kwargs)`,
`check_following(answer)`), run on the same answers as the ftdata checks that `checks_for_instruction` maps the
instruction onto: hand-written edge cases, plus answers assembled at random (seeded) from tricky fragments and from
single characters.

Two instructions cannot run lm-eval's code as it is here, because it needs NLTK's punkt data, which is not available
offline (lm-eval tries to download it at import and raises LookupError later):
- length_constraints:number_sentences counts sentences with punkt: fteval is held to its own documented expectations
  (`ftcore.style.split_sentences`) instead.
- change_case:capital_word_frequency tokenizes with NLTK's word_tokenize, which splits sentences with punkt first: the
  reference runs lm-eval's checker with NLTK's real word tokenizer, and a plain stand-in for punkt (a sentence ends
  at '.', '!' or '?', with closing brackets or quotes, before white space). For capital words, sentence ends matter
  only in detaching a final period (and a contraction before it: "CAN'T." is CA + N'T + .).
"""

from __future__ import annotations

import json
import random
import re

import langdetect
import nltk
import pytest
from lm_eval.tasks.ifeval import instructions_util
from lm_eval.tasks.ifeval import utils as lm_eval_ifeval  # not its names: pytest would collect test_instruction_...
from lm_eval.tasks.ifeval.instructions_registry import INSTRUCTION_DICT

from ftcore.style import StyleSpec
from fteval.ifeval import (
    SUPPORTED_INSTRUCTIONS,
    UNSUPPORTED_INSTRUCTIONS,
    IFEvalError,
    IFEvalPrompt,
    UnsupportedInstruction,
    checks_for_instruction,
    load_ifeval_prompts,
    score_ifeval,
    spec_from_ifeval,
)

langdetect.DetectorFactory.seed = 0  # langdetect samples at random; lm-eval does not seed it

ENGLISH_UPPER = "THE WEATHER TODAY IS SUNNY AND WARM, SO WE WILL WALK TO THE PARK AFTER LUNCH."
ENGLISH_LOWER = "the weather today is sunny and warm, so we will walk to the park after lunch."

# instruction id -> [(kwargs, [answers])]: hand-written answers, edge cases first in mind.
CASES: dict[str, list[tuple[dict, list[str]]]] = {
    "keywords:existence": [
        (
            {"keywords": ["risk", "plan"]},
            ["Risk and plan.", "RISKY PLANS", "riskplan", "the plan", "no", "", "r i s k plan", "Plan\nrisk\n"],
        ),
        ({"keywords": ["naïve"]}, ["a naïve view", "NAÏVE", "naive", "naïveté", " ", "naï ve"]),
    ],
    "keywords:frequency": [
        (
            {"keyword": "cat", "frequency": 2, "relation": "at least"},
            ["cat cat", "Cat category", "CAT", "concatenate cat", "", "ccatcat", "c a t cat", "cat\ncat\n"],
        ),
        (
            {"keyword": "the", "frequency": 3, "relation": "less than"},
            ["the the", "The theme there", "THE THE THE THE", "", "none here", "tHe"],
        ),
    ],
    "keywords:forbidden_words": [
        (
            {"forbidden_words": ["cat", "dog"]},
            [
                "category",
                "Cat!",
                "hotdog",
                "dog-friendly",
                "dogs",
                "",
                "CAT",
                "cat_food",
                "café cat",
                "a bird",
                "(dog)",
                "catdog",
            ],
        ),
    ],
    "keywords:letter_frequency": [
        (
            {"letter": "e", "let_frequency": 3, "let_relation": "at least"},
            ["eee", "EeE", "é é é", "", "ee", "Excellent", "E\nE\nE", "beekeeper"],
        ),
        ({"letter": "Z", "let_frequency": 2, "let_relation": "less than"}, ["zz", "Zebra", "ZZZ", "", "buzz", "z"]),
    ],
    "length_constraints:number_paragraphs": [
        (
            {"num_paragraphs": 3},
            [
                "a *** b *** c",
                "a\n***\nb\n***\nc",
                "***a***b***c***",
                "a ****** b *** c",
                "a **** b *** c",
                "a\n\nb\n\nc",
                "",
                "a *** b",
                "a***b***c***d",
                "a\n\n***\n\nb\n\n***\n\nc\n",
                "* a *** b *** c",
                "a *** *** c",
            ],
        ),
    ],
    "length_constraints:number_words": [
        (
            {"num_words": 5, "relation": "at least"},
            [
                "one two three four five",
                "don't stop",
                "state-of-the-art tool",
                "1,000 items here",
                "😊 😊 😊 😊 😊",
                "",
                "naïve café résumé über straße",
                "a_b c d e",
                "e.g. i.e. ok",
                "one\ttwo\nthree  four\r\nfive",
            ],
        ),
        ({"num_words": 4, "relation": "less than"}, ["a b c", "a b c d", "— — — —", "", "x-y-z", "it's ok"]),
    ],
    "length_constraints:nth_paragraph_first_word": [
        (
            {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "however"},
            [
                "Intro.\n\nHowever, x.\n\nEnd.",
                "Intro.\n\n\n\nHowever, x.\n\nEnd.",
                "Intro.\n\n\nHowever x\n\nEnd",
                "Intro.\n\n'However' he said.\n\nEnd.",
                'Intro.\n\n"However," he said.\n\nEnd.',
                "Intro.\n\n**However** x\n\nEnd.",
                "Intro.\n\nhowever.\n\nEnd\n\n",
                "Intro.\n\nHoweverish x\n\nEnd.",
                "Intro.\n\nHowever x",
                "",
                "\n\nIntro.\n\nHowever x\n\nEnd.",
                "Intro.\n\nHOWEVER!\n\nEnd.\n\nMore.",
                "Intro.\n\n  However x  \n\nEnd.",
            ],
        ),
        (
            {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "Hello"},
            ["Hello world.\n\nBye.", "hello\n\nbye", "Hello?\n\nBye", "Hi hello\n\nBye", "Hello", "Hello-there\n\nx"],
        ),
    ],
    "detectable_content:number_placeholders": [
        (
            {"num_placeholders": 2},
            [
                "[name] and [address]",
                "[]  []",
                "[a\nb] [c]",
                "[[x]] [y]",
                "[link](url) [x]",
                "",
                "[only one]",
                "[a] [b] [c]",
                "[ ] [\t]",
                "]x[ [y]",
            ],
        ),
    ],
    "detectable_content:postscript": [
        (
            {"postscript_marker": "P.S."},
            [
                "Hi\nP.S. x",
                "p.s. lower",
                "P. S. spaced",
                "P.P.S. double",
                "PS no dots",
                "",
                "P.\nS. split",
                "Mid text P.S. here",
                "P.S",
                "help.s. odd",
            ],
        ),
        ({"postscript_marker": "P.P.S"}, ["P.P.S. x", "p. p. s", "P.S. only", "", "PP.S", "P.P.S"]),
        ({"postscript_marker": "Note"}, ["Note: x", "note", "NOTE", "", "N o t e", "Footnote here"]),
    ],
    "detectable_format:number_bullet_lists": [
        (
            {"num_bullets": 2},
            [
                "* a\n* b",
                "- a\n- b",
                "* a\n- b",
                "**bold**\n* a\n* b",
                "---\n* a",
                "  * nested\n* b",
                "*\n* a",
                "+ a\n+ b",
                "1. a\n2. b",
                "",
                "*a*\n* b",
                "* a\n\n\n* b",
                "-5 degrees\n- b",
                "* a\n* b\n* c",
                "\t- a\n\t- b\n",
            ],
        ),
        ({"num_bullets": 3}, ["* a\n* b\n* c", "- a\n- b\n-", "* a * b * c", "", "•a\n•b\n•c", "*\n*\n*\n*"]),
    ],
    "detectable_format:constrained_response": [
        (
            {},
            [
                "My answer is yes.",
                "my answer is yes.",
                "My answer is yes",
                "  My answer is maybe.  ",
                "Well... My answer is no. Because",
                "",
                "My answer is Yes.",
                "My answer is no.My answer is yes.",
                "My  answer is no.",
                "My answer is maybe..",
            ],
        ),
    ],
    "detectable_format:number_highlighted_sections": [
        (
            {"num_highlights": 2},
            [
                "*a* *b*",
                "**a** **b**",
                "**a**",
                "* *",
                "*a\nb*",
                "a * b * c",
                "***x***",
                "",
                "*a* and **b**",
                "*a*b*c*",
                "** **",
                "*ü* *ß*",
            ],
        ),
        ({"num_highlights": 1}, ["*x*", "**", "***", "", "no highlight", "*\n*"]),
    ],
    "detectable_format:multiple_sections": [
        (
            {"section_spliter": "Section", "num_sections": 2},
            [
                "Section 1\na\nSection 2\nb",
                "Section1 Section2",
                "section 1 section 2",
                "Sections 1 and 2",
                "SubSection 1 Section 2",
                "Section  1 Section 2",
                "Section 12",
                "",
                "Section 1 Section 2 Section 3",
                "Section A Section B",
            ],
        ),
        ({"section_spliter": "SECTION", "num_sections": 3}, ["SECTION 1 SECTION 2 SECTION 3", "SECTION 1", ""]),
    ],
    "detectable_format:json_format": [
        (
            {},
            [
                '{"a": 1}',
                '```json\n{"a": 1}\n```',
                "```JSON\n[1]\n```",
                "```\n{}\n```",
                "```python\n{}\n```",
                ' \u00a0{"a": 1}\u00a0 ',
                '{"a": 1} trailing',
                "",
                '"just a string"',
                "42",
                "```json```",
                "NaN",
                "{'a': 1}",
                '```json\n{"a": 1}\n```\nDone.',
                '```Json\n{"ü": "ß"}\n```  \n',
            ],
        ),
    ],
    "detectable_format:title": [
        (
            {},
            [
                "<<Title>>",
                "<< >>",
                "<<>>",
                "<<a\nb>>",
                "<<<x>>>",
                "no title",
                "<<a>> and <<>>",
                "<< Ünïcödé >>",
                "",
                "< <x> >",
                "text <<Poem of Joy>> text",
            ],
        ),
    ],
    "combination:two_responses": [
        (
            {},
            [
                "A\n******\nB",
                "A******A",
                "******A******B******",
                "A************B",
                "A\n******\nB\n******\nC",
                "A *** B",
                "",
                "A******",
                " A ****** A ",
                "A*******B",
            ],
        ),
    ],
    "combination:repeat_prompt": [
        (
            {"prompt_to_repeat": "Write a poem about cats."},
            [
                "Write a poem about cats. Here it is.",
                "write a poem about cats.",
                "  Write a poem about cats.",
                "Sure! Write a poem about cats.",
                "",
                "Write a poem about cats",
                "WRITE A POEM ABOUT CATS.\nCats...",
                "Write a poem about cats.",
                '"Write a poem about cats."',
                "Write  a poem about cats.",
            ],
        ),
    ],
    "startend:end_checker": [
        (
            {"end_phrase": "Any other questions?"},
            [
                "Thanks. Any other questions?",
                "thanks. any other questions?",
                '"Thanks. Any other questions?"',
                "Any other questions?  \n",
                "Any other questions? Thanks",
                "",
                "Any other questions",
                '"Any other questions?"""',
                "Any other questions?'",
                "Any other questions?”",
            ],
        ),
    ],
    "startend:quotation": [
        ({}, ['"x"', ' "x" ', '"', '""', "“x”", "'x'", '"x', "", '"a"b"', '\n"multi\nline"\n']),
    ],
    "change_case:capital_word_frequency": [
        (
            {"capital_frequency": 3, "capital_relation": "at least"},
            [
                "I LOVE NASA",
                "DON'T STOP",
                "U.S.A. IS",
                "STATE-OF-THE-ART",
                "ÉCOLE NORMALE SUPÉRIEURE",
                "CANNOT",
                "Hello World",
                "AND/OR",
                "OK, OK, OK",
                "",
                "I'M HERE",
                "DON’T GO",
                "WE'LL SEE.",
                "GONNA WIN",
                '"QUOTED" WORDS (HERE)',
                "A1 B2 C3",
                "x--Y--Z--W",
                "WAIT...WHAT?NO",
                "IT'S, NASA'S",
                "A;B;C",
                "123 456 789",
                "I CAN'T. NEXT ONE",
                "(WE CAN'T.) OK",
                "HI.THERE YOU",
                "cats.NASA ESA",
                "WON'T.* GO",
                "THE U.S. ARMY",
                "IT IS MINE'",
            ],
        ),
        ({"capital_frequency": 2, "capital_relation": "less than"}, ["I", "I AM", "OK", "", "DON'T", "AI is here"]),
    ],
    "change_case:english_capital": [
        ({}, [ENGLISH_UPPER, ENGLISH_LOWER, "", "123", ENGLISH_UPPER.capitalize(), ENGLISH_UPPER + " 42!"]),
        ({}, [f"  {ENGLISH_UPPER}\n\n{ENGLISH_UPPER}  ", ENGLISH_UPPER.replace("PARK", "Park"), "* " + ENGLISH_UPPER]),
        ({}, [ENGLISH_UPPER.replace("WEATHER", "WEATHER Ⅷ"), ENGLISH_UPPER.replace("WEATHER", "WEATHER ß")]),
    ],
    "change_case:english_lowercase": [
        ({}, [ENGLISH_LOWER, ENGLISH_UPPER, "", "123", ENGLISH_LOWER.capitalize(), ENGLISH_LOWER + " 42!"]),
        ({}, [f"  {ENGLISH_LOWER}\n\n{ENGLISH_LOWER}  ", ENGLISH_LOWER.replace("park", "Park"), "* " + ENGLISH_LOWER]),
        ({}, [ENGLISH_LOWER.replace("weather", "weather ⅷ"), ENGLISH_LOWER.replace("weather", "weather Ⅷ")]),
    ],
    "punctuation:no_comma": [
        ({}, ["no commas here", "one, two", "fullwidth，comma", "", "arabic ، comma", ",", "a\n,\n", "1.000", "‚low"]),
        ({}, ["1,000", "trailing,", "  ", "😊"]),
    ],
}

# Fragments that trip the readers up: markdown markers, brackets, quotes, unicode, the kwargs' own words.
FRAGMENTS = [
    "* item", "- item", "**bold**", "*italic*", "***", "*", "<<Title>>", "<< >>", "[name]", "[]", "P.S. note",
    "p. s.", "P.P.S", "Section 1", "SECTION 2", "Section", "My answer is yes.", '"', "“", "```json", '{"a": 1}', "```",
    "Any other questions?", "ÉCOLE", "don't", "DON'T", "I'M", "state-of-the-art", "1,000", "cat", "category", "Cat",
    "Risk", "plan", "dog-friendly", "hotdog", "😊", "——", "…", "However,", "however", "the", "The", "e", "EEE", "zz",
    "Hello", "NASA", "U.S.A.", "AND/OR", "OK,", "Write a poem about cats.", "******", "", "   ", "\t", "Note:",
]  # fmt: skip
JOINERS = [" ", "\n", "\n\n", "\n\n\n", "", " *** ", "\n***\n", ", "]


def _random_answers(seed: str, count: int) -> list[str]:
    rng = random.Random(seed)
    answers = []
    for _ in range(count):
        parts = rng.choices(FRAGMENTS, k=rng.randint(1, 9))
        answer = parts[0]
        for part in parts[1:]:
            answer += rng.choice(JOINERS) + part
        if rng.random() < 0.2:
            answer = rng.choice(['"', "  ", "\n"]) + answer + rng.choice(['"', "  ", "\n"])
        answers.append(answer)
    return answers


CHARACTERS = [*"ABNTSDEÉßⅧaenstdéⅷ'’.,:;-/_*[]<>()\"“”!?1 \t\n", "N'T", "'S", "'LL", "CANNOT", "...", "--", "**"]


def _random_character_answers(seed: str, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(CHARACTERS, k=rng.randint(0, 30))) for _ in range(count)]


# number_sentences has no runnable reference here; English case is lm-eval's langdetect, not text shape.
NOT_FUZZED = {"length_constraints:number_sentences", "change_case:english_capital", "change_case:english_lowercase"}
RANDOM_ANSWERS_PER_KWARGS = 60


def _agreement_cases(instruction_id: str) -> list[tuple[dict, str]]:
    cases = [(kwargs, answer) for kwargs, answers in CASES[instruction_id] for answer in answers]
    if instruction_id not in NOT_FUZZED:
        for index, (kwargs, _) in enumerate(CASES[instruction_id]):
            seed = f"{instruction_id}/{index}"  # a str seed is stable across runs (unlike hash())
            cases += [(kwargs, answer) for answer in _random_answers(seed, RANDOM_ANSWERS_PER_KWARGS)]
            cases += [(kwargs, answer) for answer in _random_character_answers(seed, RANDOM_ANSWERS_PER_KWARGS)]
    return cases


@pytest.fixture
def lm_eval_without_punkt(monkeypatch):
    """NLTK's word_tokenize as lm-eval calls it, with punkt (not available offline) replaced by a plain stand-in."""

    nltk_word_tokenize = nltk.word_tokenize

    def word_tokenize(text):
        sentences = re.split(r"(?<=[.!?])\s+|(?<=[.!?][)\]}>\"'”’»])\s+", text)
        return [token for sentence in sentences for token in nltk_word_tokenize(sentence, preserve_line=True)]

    monkeypatch.setattr(instructions_util.nltk, "word_tokenize", word_tokenize)


def _lm_eval_verdict(instruction_id: str, kwargs: dict, answer: str) -> bool:
    checker = INSTRUCTION_DICT[instruction_id](instruction_id)
    checker.build_description(**kwargs)
    return bool(checker.check_following(answer))


def _fteval_verdict(instruction_id: str, kwargs: dict, answer: str) -> bool:
    checks = checks_for_instruction(instruction_id, kwargs)
    spec = StyleSpec.from_dict({"checks": [{**check, "id": str(i)} for i, check in enumerate(checks)]})
    return all(result.passed for result in spec.evaluate(answer).values())


AGREEMENT_INSTRUCTIONS = sorted(set(SUPPORTED_INSTRUCTIONS) - {"length_constraints:number_sentences"})


@pytest.mark.usefixtures("lm_eval_without_punkt")
@pytest.mark.parametrize("instruction_id", AGREEMENT_INSTRUCTIONS)
def test_fteval_agrees_with_lm_eval(instruction_id):
    cases = _agreement_cases(instruction_id)
    verdicts = [(_lm_eval_verdict(instruction_id, k, a), _fteval_verdict(instruction_id, k, a)) for k, a in cases]
    disagreements = [
        f"{kwargs} {answer!r}: lm-eval {theirs}, fteval {ours}"
        for (kwargs, answer), (theirs, ours) in zip(cases, verdicts, strict=True)
        if theirs != ours
    ]
    assert not disagreements, "\n".join(disagreements)
    # The cases must exercise both verdicts, or agreement says little.
    assert len(CASES[instruction_id][0][1]) >= 6 and {theirs for theirs, _ in verdicts} == {True, False}


def test_every_supported_instruction_has_cases_and_every_lm_eval_instruction_is_covered():
    assert set(CASES) | {"length_constraints:number_sentences"} == set(SUPPORTED_INSTRUCTIONS)
    assert set(SUPPORTED_INSTRUCTIONS) | set(UNSUPPORTED_INSTRUCTIONS) == set(INSTRUCTION_DICT)
    assert all(sum(len(answers) for _, answers in CASES[i]) >= 10 for i in CASES)


# number_sentences: lm-eval counts with punkt, which raises LookupError offline. fteval's count follows
# `ftcore.style.split_sentences`; these are its documented expectations.
SENTENCE_COUNTS = [
    ("", 0),
    ("   \n", 0),
    ("...", 0),
    ("One sentence without a period", 1),
    ("One. Two. Three.", 3),
    ("Is it? Yes! Sure.", 3),
    ("Wait... what?!", 2),
    ("Dr. Smith met Mr. Jones. They talked.", 2),
    ("We use e.g. tests and i.e. checks. Done.", 2),
    ("J. K. Rowling wrote it. Yes.", 2),
    ("Pi is 3.14 or so. Right?", 2),
    ("It costs $5.00. Cheap.", 2),
    ('"Stop." He left.', 2),
    ("(See above.) Then go.", 2),
    ("1. Buy milk.\n2. Call mom.", 2),
    ("I have 3. You have 4.", 2),
    ("Line one\nline two\nline three.", 1),
    ("Ünïcode. Ça va? Oui.", 3),
    ("Title\n\nFirst. Second.", 2),
    ("The U.S. is big. Canada too.", 2),
]


@pytest.mark.parametrize(("answer", "sentences"), SENTENCE_COUNTS)
def test_number_sentences_follows_documented_expectations(answer, sentences):
    for relation, count, expected in [
        ("at least", sentences, True),
        ("at least", sentences + 1, False),
        ("less than", sentences + 1, True),
        ("less than", sentences, False),
    ]:
        kwargs = {"num_sentences": count, "relation": relation}
        if count:  # lm-eval drops a 0 kwarg (and would pick a random number); fteval refuses it
            assert _fteval_verdict("length_constraints:number_sentences", kwargs, answer) is expected


@pytest.mark.parametrize(
    ("instruction_id", "answer"),
    [
        ("change_case:english_lowercase", "le chat est sur la table et il dort toute la journée au soleil."),
        ("change_case:english_capital", "ДОБРОЕ УТРО, КАК ДЕЛА? СЕГОДНЯ ХОРОШАЯ ПОГОДА."),
        ("change_case:english_capital", "I AGREE WITH YOU."),  # English, but langdetect says Somali
    ],
)
def test_english_case_checks_ignore_the_language_on_purpose(instruction_id, answer):
    # Documented difference: ftdata has no language detector, so only the case is checked.
    assert _lm_eval_verdict(instruction_id, {}, answer) is False
    assert _fteval_verdict(instruction_id, {}, answer) is True


# --- prompt level: IFEval-format rows, scored like lm-eval's strict mode -----------------------------------------

ALL_KWARGS_NULL = {  # the Hugging Face IFEval rows list every kwarg of every instruction, mostly null
    key: None
    for key in [
        "num_highlights", "relation", "num_words", "num_placeholders", "prompt_to_repeat", "num_paragraphs",
        "nth_paragraph", "first_word", "num_bullets", "section_spliter", "num_sections", "capital_relation",
        "capital_frequency", "keywords", "keyword", "frequency", "forbidden_words", "letter", "let_frequency",
        "let_relation", "end_phrase", "postscript_marker", "language", "num_sentences",
    ]
}  # fmt: skip


def _row(key, instructions):
    return {
        "key": key,
        "prompt": f"prompt {key}",
        "instruction_id_list": [instruction_id for instruction_id, _ in instructions],
        "kwargs": [ALL_KWARGS_NULL | kwargs for _, kwargs in instructions],
    }


ROWS = [
    _row(1, [("punctuation:no_comma", {}), ("startend:quotation", {})]),
    _row(2, [("detectable_format:number_bullet_lists", {"num_bullets": 2}), ("change_case:english_lowercase", {})]),
    _row(3, [("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2,
                                                               "first_word": "then"})]),
    _row(4, [("detectable_format:json_format", {}), ("keywords:existence", {"keywords": ["risk"]})]),
    _row(5, [("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"}),
             ("startend:end_checker", {"end_phrase": "Is there anything else I can help with?"})]),
]  # fmt: skip
ANSWERS = [
    ['"no commas at all"', '"one, two"', "no quotes", "   ", ""],
    ["* one\n* two", "- one\n- two\n- three", "* ONE\n* TWO", "* the weather is warm\n* we walk to the park"],
    ["First.\n\nThen more.", "First.\n\n\n\nThen more.", "First.\n\nThen.\n\nAgain."],
    ['```json\n{"risk": "low"}\n```', '{"Risk": 1}', "risk: low", "\n"],
    ["NASA AND ESA. Is there anything else I can help with?", "NASA. is there anything else i can help with?"],
]


@pytest.mark.usefixtures("lm_eval_without_punkt")
def test_score_ifeval_agrees_with_lm_eval_strict_mode():
    rows, answers, expected = [], [], []
    for row, row_answers in zip(ROWS, ANSWERS, strict=True):
        for answer in row_answers:
            rows.append(row)
            answers.append(answer)
            example = lm_eval_ifeval.InputExample(row["key"], row["instruction_id_list"], row["prompt"], row["kwargs"])
            expected.append(lm_eval_ifeval.test_instruction_following_strict(example, answer).follow_instruction_list)
    scores = score_ifeval(rows, answers)
    assert [entry["follow_instruction_list"] for entry in scores["per_prompt"]] == expected
    followed = [ok for oks in expected for ok in oks]
    assert scores["inst_level_strict_acc"] == pytest.approx(sum(followed) / len(followed))
    assert scores["prompt_level_strict_acc"] == pytest.approx(sum(all(oks) for oks in expected) / len(expected))
    assert scores["n_prompts"] == len(answers) and scores["mode"] == "strict" and scores["higher_is_better"]
    assert 0 < scores["prompt_level_strict_acc"] < 1


def test_load_ifeval_prompts_gives_one_spec_per_prompt(tmp_path):
    path = tmp_path / "ifeval.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n", encoding="utf-8")
    prompts = load_ifeval_prompts(path)
    assert [p.key for p in prompts] == [1, 2, 3, 4, 5]
    assert [c.id for c in prompts[2].spec.checks] == [
        "length_constraints:nth_paragraph_first_word/paragraphs:blank_line_count",
        "length_constraints:nth_paragraph_first_word/paragraphs:nth_first_word",
    ]
    assert prompts[0].follows('"plain"') == [True, True] and prompts[0].follows(" ") == [False, False]
    spec = spec_from_ifeval(ROWS[0])
    assert [c.id for c in spec.checks] == ["punctuation:no_comma", "startend:quotation"]
    assert spec.evaluate("a, b")["punctuation:no_comma"].passed is False


def test_bad_files_list_every_problem(tmp_path):
    path = tmp_path / "bad.jsonl"
    rows = [
        ROWS[0],
        _row(2, [("language:response_language", {"language": "de"})]),
        {"key": 3, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []},
        _row(4, [("keywords:frequency", {"keyword": "x", "relation": "at least"})]),
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(IFEvalError) as raised:
        load_ifeval_prompts(path)  # unsupported instructions are skipped: three real problems remain
    message = str(raised.value)
    assert message.startswith("3 problem(s):\n")
    assert f"{path}:3: 1 instruction ids but 0 kwargs" in message
    assert f"{path}:4: keywords:frequency: missing (or null, empty, 0) kwarg 'frequency'" in message
    assert f"{path}:5: not JSON" in message
    with pytest.raises(IFEvalError) as raised:
        load_ifeval_prompts(path, unsupported="error")
    message = str(raised.value)
    assert message.startswith("4 problem(s) (to leave unsupported instructions out instead: ifeval_unsupported: skip):")
    assert f"{path}:2: language:response_language: unsupported: needs language identification" in message
    assert "Supported" not in message and len(message.splitlines()) == 5  # one line per problem, no list of ids


def test_unsupported_instructions_are_skipped_and_counted(tmp_path):
    # The shapes of IFEval's official input_data.jsonl (keys 1108, 1122, 1129): a language-only prompt, and
    # letter_frequency with '#' or '!' beside an instruction fteval checks.
    rows = [
        _row(1108, [("language:response_language", {"language": "kn"})]),
        _row(1122, [("change_case:english_lowercase", {}),
                    ("keywords:letter_frequency", {"let_relation": "at least", "letter": "#", "let_frequency": 4})]),
        _row(1129, [("keywords:letter_frequency", {"let_relation": "at least", "letter": "!", "let_frequency": 6}),
                    ("startend:quotation", {})]),
        ROWS[0],
    ]  # fmt: skip
    path = tmp_path / "ifeval.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    prompts = load_ifeval_prompts(path)
    assert [p.key for p in prompts] == [1122, 1129, 1]
    assert prompts[0].instruction_ids == ("change_case:english_lowercase",)
    assert prompts[0].skipped == ("keywords:letter_frequency",)
    assert prompts.skipped_instructions == {"keywords:letter_frequency": 2, "language:response_language": 1}
    assert prompts.summary() == (
        "3 unsupported instruction(s) skipped (keywords:letter_frequency 2, language:response_language 1); "
        "1 prompt(s) with no other instruction not scored"
    )
    with pytest.raises(IFEvalError, match=r":2: keywords:letter_frequency: '#' is not a letter \(IFEval's verifier"):
        load_ifeval_prompts(path, unsupported="error")
    with pytest.raises(UnsupportedInstruction, match="no instruction fteval checks: language:response_language"):
        IFEvalPrompt.from_row(rows[0], skip_unsupported=True)


def test_scores_carry_the_failing_reason_per_instruction():
    row = _row(7, [("punctuation:no_comma", {}), ("length_constraints:number_words", {"relation": "at least",
                                                                                      "num_words": 5})])  # fmt: skip
    scores = score_ifeval([row], ["one, two"])
    assert scores["per_prompt"][0]["reasons"] == {"0": "found ','", "1": "2 word(s), need at least 5"}
    prompt = IFEvalPrompt.from_row(row)
    assert prompt.failed("one, two") == {"punctuation:no_comma": "found ','",
                                         "length_constraints:number_words": "2 word(s), need at least 5"}  # fmt: skip
    assert prompt.failed("") == dict.fromkeys(prompt.instruction_ids, "empty answer")


@pytest.mark.parametrize(
    ("instruction_id", "kwargs", "message"),
    [
        ("keywords:made_up", {}, r"^keywords:made_up: unknown instruction id \(not one of IFEval's 24 supported ones: "
                                 r"fteval.ifeval.SUPPORTED_INSTRUCTIONS\)$"),
        ("startend:quotation", {"end_phrase": "x"}, "unknown kwarg 'end_phrase'"),
        ("keywords:frequency", {"keyword": "x", "frequency": "2", "relation": "at least"}, "count must be an integer"),
        ("keywords:frequency", {"keyword": "x", "frequency": 2, "relation": "at most ever"}, "relation must be one of"),
        ("keywords:existence", {"keywords": "risk"}, "phrases must be a list"),
        ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 2, "let_relation": "at least"}, "a single"),
        ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "x"},
         "beyond num_paragraphs"),
        ("detectable_content:postscript", {"postscript_marker": 5}, "marker must be a string, got 5"),
        ("keywords:frequency", {"keyword": 5, "frequency": 2, "relation": "at least"}, "bad kwargs"),
    ],
)  # fmt: skip
def test_checks_for_instruction_refuses_what_it_cannot_map(instruction_id, kwargs, message):
    with pytest.raises(IFEvalError, match=message):
        checks_for_instruction(instruction_id, kwargs)


def test_score_ifeval_refuses_mismatched_answers():
    prompts = [IFEvalPrompt.from_row(ROWS[0])]
    with pytest.raises(IFEvalError, match="1 prompts but 2 answers"):
        score_ifeval(prompts, ["a", "b"])
