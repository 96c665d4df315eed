import json

import pytest

from ftcore import Example, ExampleFileError, read_examples, write_examples
from ftcore.jsonl import validate_files


def good_line(question="What is 2+2?", answer="4"):
    return json.dumps({"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]})


@pytest.fixture
def broken_file(tmp_path):
    """A malformed line, a wrong role, an empty assistant turn and a non-UTF-8 byte, among good lines."""
    path = tmp_path / "broken.jsonl"
    lines = [
        good_line().encode(),
        b'{"messages": [{"role": "user", "content": "Q"}',  # line 2: malformed JSON
        json.dumps({"messages": [{"role": "human", "content": "Q"}, {"role": "assistant", "content": "A"}]}).encode(),
        json.dumps({"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": ""}]}).encode(),
        b'{"messages": [{"role": "user", "content": "caf\xe9"}, {"role": "assistant", "content": "A"}]}',
        good_line("Another?", "Yes").encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_reports_all_four_problems_with_line_numbers(broken_file):
    with pytest.raises(ExampleFileError) as raised:
        read_examples(broken_file)
    problems = raised.value.problems
    by_line = {p.line: p for p in problems}
    assert sorted(by_line) == [2, 3, 4, 5]
    assert "not valid JSON" in by_line[2].reason
    assert by_line[3].field == "messages[0].role" and "'human'" in by_line[3].reason
    assert by_line[4].field == "messages[1].content" and "empty assistant turn" in by_line[4].reason
    assert "not valid UTF-8" in by_line[5].reason and "0xe9" in by_line[5].reason
    assert all(p.path == str(broken_file) for p in problems)
    assert str(by_line[3]).startswith(f"{broken_file}:3: messages[0].role:")


def test_validate_writes_nothing_when_any_line_is_bad(broken_file, tmp_path):
    out = tmp_path / "clean.jsonl"
    report = validate_files([broken_file], out=out)
    assert report.problem_count == 4 and report.files[0].valid_examples == 2
    assert report.written is None and not out.exists()
    assert list(tmp_path.iterdir()) == [broken_file]  # no temporary file left behind either


def test_write_then_read_round_trip(tmp_path):
    examples = [Example.from_prompt_completion(f"Q{i} — é", f"A{i}", metadata={"row": i}) for i in range(5)]
    path = tmp_path / "out" / "examples.jsonl"
    assert write_examples(path, examples) == 5
    again = read_examples(path)
    assert again == examples and [e.metadata for e in again] == [{"row": i} for i in range(5)]
    assert "—" in path.read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_blank_lines_and_bom_are_tolerated(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + good_line().encode() + b"\n\n   \n" + good_line("B?", "b").encode())
    assert len(read_examples(path)) == 2


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "examples.jsonl"
    write_examples(path, [Example.from_prompt_completion("Q", "A")])
    before = path.read_bytes()

    def exploding():
        yield Example.from_prompt_completion("Q2", "A2")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        write_examples(path, exploding())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["examples.jsonl"]


def test_missing_file_is_one_problem(tmp_path):
    report = validate_files([tmp_path / "nope.jsonl"])
    assert not report.all_readable
    assert "cannot read" in report.files[0].problems[0].reason


def test_read_json_objects_keeps_unicode_line_separators_and_names_a_broken_line(tmp_path):
    from ftcore.jsonl import UnreadableFile, read_json_objects

    path = tmp_path / "answers.jsonl"
    # U+2028 and U+0085 are line breaks to str.splitlines() but not to JSONL: the answer must come back whole.
    path.write_text('{"answer": "a\u2028b\u0085c"}\n\n{"answer": "d"}\n', encoding="utf-8")
    assert read_json_objects(path) == [{"answer": "a\u2028b\u0085c"}, {"answer": "d"}]
    path.write_text('{"answer": "a"}\n{"answer": \n', encoding="utf-8")
    with pytest.raises(UnreadableFile, match=r"answers\.jsonl:2: not valid JSON"):
        read_json_objects(path)
    path.write_text('{"answer": "a"}\n["a list"]\n', encoding="utf-8")
    with pytest.raises(UnreadableFile, match=r"answers\.jsonl:2: a JSON object was expected, not list"):
        read_json_objects(path)
