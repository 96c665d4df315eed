"""The style spec: the house format every assistant answer must hold, as a list of named checks.

The same registry lints the training data (`ftdata check`) and scores the model (fteval): a check
is a pure, deterministic function of the answer and explicit parameters, registered under a name
such as `format:json` or `length:max_words` together with the rules its parameters follow. A missing
or unknown parameter is an error, never a default.

- `registry`: `register`, the parameter rules, `REGISTRY` and `run_check`;
- `spec`: `StyleSpec`, a YAML list of configured checks;
- `house`: checks on the answer's text (patterns, last line, length, sections, phrases, case);
- `json_checks`: `format:json`, `format:json_schema` and the `json:` checks on one field of a JSON answer;
- `ifeval`: a check for each of IFEval's verifiable instructions, reading text as lm-eval's verifier does
  (`fteval.ifeval` maps an instruction and its kwargs onto them).

A spec file (YAML):

    name: gsm8k-house-format
    checks:
      - check: lines:last_matches
        pattern: '#### -?[0-9][0-9,]*(\\.[0-9]+)?'
      - check: regex:count_min
        pattern: '<<[^<>=]+=[^<>]+>>'
        min: 1
        id: calculator-notes          # optional: names the result when a check is used twice
      - check: phrases:forbidden
        phrases: ["great question", "as an ai"]

Usage:
    spec = StyleSpec.load("style.yaml")
    spec.evaluate("4\\n#### 4")["lines:last_matches"].passed
    # -> True
"""

# The check modules register their checks on import: all of them, before any spec is read.
from ftcore.style import house, ifeval, json_checks  # noqa: F401
from ftcore.style.ifeval import RELATIONS, split_sentences
from ftcore.style.json_checks import JsonPath, NotJson, read_json
from ftcore.style.registry import REGISTRY, CheckDefinition, CheckResult, Param, StyleSpecError, register, run_check
from ftcore.style.spec import ConfiguredCheck, StyleSpec

__all__ = [
    "REGISTRY",
    "RELATIONS",
    "CheckDefinition",
    "CheckResult",
    "ConfiguredCheck",
    "JsonPath",
    "NotJson",
    "Param",
    "StyleSpec",
    "StyleSpecError",
    "read_json",
    "register",
    "run_check",
    "split_sentences",
]
