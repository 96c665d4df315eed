from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from ftcore.config import ConfigError, commented_yaml, load_config, option, write_config


@dataclass
class Inner:
    rate: float = option(0.5, "a rate")
    names: list[str] = option(["a"], "names")


@dataclass
class Outer:
    name: str = option("x", "a name")
    count: int = option(3, "a count")
    flag: bool = option(False, "a flag")
    path: str | None = option(None, "an optional path")
    inner: Inner = field(default_factory=Inner, metadata={"help": "nested"})


def test_defaults_then_yaml_then_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("count: 5\ninner:\n  rate: 1\n")
    config = load_config(Outer, path, ["inner.names=[b, c]", "flag=true", "path=some/where"])
    assert config == Outer(name="x", count=5, flag=True, path="some/where", inner=Inner(rate=1.0, names=["b", "c"]))
    assert isinstance(config.inner.rate, float)


@pytest.mark.parametrize(("written", "value"), [("1e-7", 1e-7), ("2E+3", 2000.0), ("-1.5e-2", -0.015), (".5e1", 5.0)])
def test_a_number_in_exponent_notation_is_a_number(tmp_path, written, value):
    """PyYAML (YAML 1.1) reads 1e-7 as a string, where JSON and YAML 1.2 read a number: `--set rate=1e-7` works."""
    path = tmp_path / "c.yaml"
    path.write_text(f"inner:\n  rate: {written}\n")
    assert load_config(Outer, path).inner.rate == value
    assert load_config(Outer, tmp_path / "c.yaml", [f"inner.rate={written}"]).inner.rate == value
    with pytest.raises(ConfigError, match=r"inner\.rate: expected a number, got '1e'"):
        load_config(Outer, path, ["inner.rate=1e"])


def test_mutable_defaults_are_not_shared():
    a, b = Outer(), Outer()
    a.inner.names.append("z")
    assert b.inner.names == ["a"]


@pytest.mark.parametrize(
    ("yaml_text", "overrides", "message"),
    [
        ("cont: 5\n", [], r"c.yaml: cont: unknown key \(did you mean 'count'\?\)"),
        ("inner:\n  rat: 1\n", [], r"c.yaml: inner.rat: unknown key"),
        ("count: five\n", [], r"c.yaml: count: expected an integer, got 'five'"),
        ("count: true\n", [], r"count: expected an integer"),
        ("flag: 1\n", [], r"flag: expected true or false"),
        ("inner: 3\n", [], r"inner: expected a mapping"),
        ("- a\n", [], r"expected a mapping of settings at the top"),
        ("count: [\n", [], r"c.yaml:\d+: not valid YAML"),
        ("", ["count"], r"--set 'count': expected key=value"),
        ("", ["name.sub=1"], r"name is not a section|name: expected a string"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, yaml_text, overrides, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, path, overrides)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "nope.yaml")


def test_commented_yaml_round_trips(tmp_path):
    text = commented_yaml(Outer())
    assert "# a count\ncount: 3" in text and "  # a rate\n  rate: 0.5" in text
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert load_config(Outer, path) == Outer()


def test_write_config_resolved(tmp_path):
    path = write_config(Outer(count=9), tmp_path / "out" / "resolved.yaml")
    assert load_config(Outer, path).count == 9


@dataclass
class SharedSection:
    url: str = option("", "where")
    temperature: float = option(0.0, "how")


@dataclass
class OwnSection(SharedSection):
    """A section that inherits a shared one but takes `temperature` from its parent config."""

    SET_ELSEWHERE: ClassVar[dict[str, str]] = {"temperature": "tool.temperature (one setting for both backends)"}


@dataclass
class Tool:
    temperature: float = option(0.7, "how, for every backend")
    remote: OwnSection | None = option(None, "a remote backend")


def test_a_key_set_elsewhere_is_refused_and_the_right_one_named(tmp_path):
    path = tmp_path / "tool.yaml"
    path.write_text("remote:\n  url: http://x\n")
    assert load_config(Tool, path).remote == OwnSection(url="http://x")  # the inherited default stays
    path.write_text("remote:\n  url: http://x\n  temperature: 0.2\n")
    with pytest.raises(ConfigError) as error:
        load_config(Tool, path)
    assert str(error.value) == (
        f"{path}: remote.temperature: not set here: set tool.temperature (one setting for both backends) instead"
    )
    with pytest.raises(ConfigError, match=r"--set|remote\.temperature: not set here"):
        load_config(Tool, None, ["remote.url=http://y", "remote.temperature=0.5"])
