import pytest

from ftcore import Example, Message
from ftcore.example import InvalidExample, normalise_content


def chat(*turns):
    return [{"role": role, "content": content} for role, content in turns]


def issues_of(record):
    with pytest.raises(InvalidExample) as raised:
        Example.from_dict(record)
    return raised.value.issues


def test_id_is_stable_across_whitespace_line_ends_and_metadata():
    a = Example.create(chat(("user", "What is 2+2?"), ("assistant", "4")), {"source": "a.csv", "row": 1})
    b = Example.create(chat(("user", "  What is 2+2?\r\n"), ("assistant", "4\n")), {"source": "b.csv", "row": 9})
    assert a.id == b.id and a.id.startswith("ex_") and len(a.id) == 19
    assert a == b  # metadata is provenance, not identity


def test_id_changes_with_content_and_role():
    base = Example.create(chat(("user", "Hi"), ("assistant", "Hello.")))
    assert Example.create(chat(("user", "Hi"), ("assistant", "Hello!"))).id != base.id
    with_system = Example.create(chat(("system", "Be terse."), ("user", "Hi"), ("assistant", "Hello.")))
    assert with_system.id != base.id


def test_content_keeps_compatibility_characters():
    # NFKC would rewrite x² as x2 in the training text; only canonical (NFC) folding is applied.
    assert normalise_content("x² ﬁle") == "x² ﬁle"
    assert normalise_content("e\u0301") == "\u00e9"


def test_prompt_completion_is_a_two_message_example():
    ex = Example.from_prompt_completion("Q?", "A.")
    assert ex.messages == (Message("user", "Q?"), Message("assistant", "A."))
    assert Example.from_dict({"prompt": "Q?", "completion": "A."}) == ex
    with_system = Example.from_dict({"system": "S", "prompt": "Q?", "completion": "A."})
    assert [m.role for m in with_system.messages] == ["system", "user", "assistant"]
    assert with_system.system == "S" and with_system.completion == "A."


def test_round_trip_and_given_id_checked():
    ex = Example.create(chat(("system", "S"), ("user", "U1"), ("assistant", "A1"), ("user", "U2"), ("assistant", "A2")))
    assert Example.from_dict(ex.to_dict()) == ex
    assert [m.content for m in ex.prompt_messages] == ["S", "U1", "A1", "U2"]
    tampered = {**ex.to_dict(), "id": "ex_0000000000000000"}
    assert issues_of(tampered)[0][0] == "id"


@pytest.mark.parametrize(
    ("messages", "field", "reason_part"),
    [
        (chat(("user", "Q")), "messages[0].role", "last turn must be the assistant"),
        (chat(("assistant", "A")), "messages[0].role", "expected 'user'"),
        (chat(("user", "Q"), ("user", "Q2"), ("assistant", "A")), "messages[1].role", "expected 'assistant'"),
        (chat(("user", "Q"), ("assistant", "A"), ("system", "S")), "messages[2].role", "only come first"),
        (chat(("system", "S")), "messages", "only a system turn"),
        (chat(("user", "Q"), ("bot", "A")), "messages[1].role", "'bot' is not one of"),
        (chat(("user", "Q"), ("assistant", "   ")), "messages[1].content", "empty assistant turn"),
        ([], "messages", "is empty"),
        ("hello", "messages", "must be a list"),
        ([{"role": "user", "content": 3}], "messages[0].content", "must be a string"),
        (
            [{"role": "user", "content": "Q", "name": "x"}, {"role": "assistant", "content": "A"}],
            "messages[0].name",
            "unknown field",
        ),
    ],
)
def test_contract_violations_name_the_field(messages, field, reason_part):
    issues = issues_of({"messages": messages})
    assert any(f == field and reason_part in r for f, r in issues), issues


def test_every_problem_of_a_record_is_reported():
    issues = issues_of({"messages": chat(("user", ""), ("robot", "A")), "metadata": [], "extra": 1})
    fields = {f for f, _ in issues}
    assert {"extra", "messages[0].content", "messages[1].role", "metadata"} <= fields


def test_not_an_object():
    assert issues_of([1, 2]) == [(None, "expected a JSON object, got array")]
