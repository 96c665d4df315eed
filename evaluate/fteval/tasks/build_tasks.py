"""Writes the data of fteval's capability suite: the JSONL files beside this script, the same bytes on every run.

    .venv/bin/python evaluate/fteval/tasks/build_tasks.py [--gsm8k tests/data/gsm8k/train.jsonl]

- `arithmetic.jsonl`: 100 sums and products drawn with a fixed seed (the project's own, Apache-2.0);
- `gsm8k_mc.jsonl`: the last 100 rows of GSM8K's train split (lines 7374-7473 of train.jsonl, MIT), each
  question with its `#### n` answer among 3 wrong numbers taken from its own worked solution;
- `commonsense.jsonl`: 60 questions written by hand for this project (Apache-2.0), listed below.

The last GSM8K rows are used so that nothing overlaps the examples and tests, which take rows from the start.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
GSM8K = REPO / "tests" / "data" / "gsm8k" / "train.jsonl"  # bundled with its MIT licence
# The file whose line numbers the README names: openai/grade-school-math at 3101c7d, unmodified.
GSM8K_SHA256 = "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465"
GSM8K_ROWS = 100
ARITHMETIC_PER_KIND = 25
SEED = 20240601

# Hand-written: (question, the right answer, three wrong ones). Shuffled below with a fixed seed.
COMMONSENSE = [
    ("What is the capital of France?", "Paris", "Lyon", "Marseille", "Nice"),
    ("How many days are there in a week?", "seven", "five", "ten", "twelve"),
    ("Which planet is known as the Red Planet?", "Mars", "Venus", "Jupiter", "Saturn"),
    ("What do bees make?", "honey", "milk", "cotton", "wool"),
    ("At what temperature in degrees Celsius does water freeze?", "0", "100", "50", "37"),
    ("What is the largest ocean on Earth?", "the Pacific Ocean", "the Atlantic Ocean", "the Indian Ocean",
     "the Arctic Ocean"),
    ("Which gas do plants take in from the air to make their food?", "carbon dioxide", "oxygen", "helium", "neon"),
    ("How many legs does a spider have?", "eight", "six", "four", "ten"),
    ("Which animal is known for its very long neck?", "the giraffe", "the hippo", "the pig", "the sheep"),
    ("What colour do you get by mixing blue and yellow paint?", "green", "purple", "orange", "red"),
    ("Who wrote the play Romeo and Juliet?", "William Shakespeare", "Charles Dickens", "Jane Austen", "Mark Twain"),
    ("What is the chemical symbol for gold?", "Au", "Ag", "Fe", "Pb"),
    ("Which organ pumps blood through the body?", "the heart", "the liver", "the lungs", "the stomach"),
    ("What is the highest mountain on Earth above sea level?", "Mount Everest", "Mount Kilimanjaro", "Mont Blanc",
     "Mount Fuji"),
    ("If you drop a glass on a stone floor, what most likely happens?", "It breaks.", "It bounces back up.",
     "It floats.", "It melts."),
    ("Where would you keep ice cream at home so that it stays frozen?", "in the freezer", "in the oven",
     "in a drawer", "on the windowsill"),
    ("What do people usually use an umbrella for?", "to stay dry in the rain", "to cut bread", "to boil water",
     "to write letters"),
    ("It is dark outside and the stars are out. What time of day is it most likely?", "night", "noon",
     "lunchtime", "mid-afternoon"),
    ("What should you do before crossing a busy street?", "look both ways", "close your eyes",
     "run without looking", "sit down in the road"),
    ("Which weighs more, a kilogram of iron or a kilogram of feathers?", "They weigh the same.", "The iron.",
     "The feathers.", "It depends on the weather."),
    ("What is the main language spoken in Brazil?", "Portuguese", "Spanish", "French", "Italian"),
    ("How many hours are there in a day?", "24", "12", "60", "100"),
    ("What is the largest planet in our solar system?", "Jupiter", "Earth", "Mars", "Mercury"),
    ("Which musical instrument has black and white keys?", "the piano", "the trumpet", "the drum", "the violin"),
    ("What does a caterpillar turn into?", "a butterfly", "a spider", "a frog", "a bird"),
    ("Which sense do you use your nose for?", "smell", "hearing", "sight", "touch"),
    ("What is the capital of Japan?", "Tokyo", "Kyoto", "Osaka", "Beijing"),
    ("A person who is very tired usually wants to do what?", "sleep", "run a marathon", "shout", "dance"),
    ("What is frozen water called?", "ice", "steam", "sand", "glass"),
    ("How many minutes are there in an hour?", "60", "100", "30", "24"),
    ("What do you call a baby cat?", "a kitten", "a puppy", "a calf", "a foal"),
    ("Which metal is liquid at room temperature?", "mercury", "iron", "copper", "aluminium"),
    ("What is the square root of 81?", "9", "8", "18", "27"),
    ("What force pulls objects toward the ground?", "gravity", "magnetism", "friction", "wind"),
    ("Where does the Sun rise?", "in the east", "in the west", "in the north", "in the south"),
    ("Which of these animals lays eggs?", "a chicken", "a dog", "a cow", "a horse"),
    ("What do you need to light a candle?", "a flame", "a glass of water", "a spoon", "a pillow"),
    ("What is the capital of Italy?", "Rome", "Milan", "Venice", "Florence"),
    ("Which of these is a mammal?", "a whale", "a shark", "a salmon", "a tuna"),
    ("How many sides does a triangle have?", "three", "four", "five", "six"),
    ("What is the opposite of hot?", "cold", "warm", "loud", "tall"),
    ("What is the main ingredient of bread?", "flour", "chocolate", "cheese", "honey"),
    ("If a plant gets no water for many weeks, what most likely happens?", "It wilts and dies.",
     "It grows faster.", "It turns into a tree.", "It starts to glow."),
    ("Which body part do you hear with?", "the ears", "the eyes", "the knees", "the elbows"),
    ("What is the longest river in Africa?", "the Nile", "the Congo", "the Niger", "the Zambezi"),
    ("What do you call a shape with four equal sides and four right angles?", "a square", "a triangle", "a circle",
     "a pentagon"),
    ("How many players does one team have on the pitch in a football (soccer) match?", "eleven", "nine", "five",
     "fifteen"),
    ("Which of these is the hardest natural material?", "diamond", "gold", "chalk", "wood"),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong", "Yuri Gagarin", "Buzz Aldrin",
     "John Glenn"),
    ("What do you wear on your feet?", "shoes", "gloves", "hats", "scarves"),
    ("What happens to ice that is left in a warm room?", "It melts.", "It grows bigger.", "It turns into stone.",
     "It gets colder."),
    ("What is the smallest prime number?", "2", "1", "3", "0"),
    ("What is the currency of the United Kingdom?", "the pound sterling", "the euro", "the dollar", "the yen"),
    ("A glass falls off a table. Which way does it move?", "down", "up", "in a circle", "it stays where it was"),
    ("What do fish use to breathe under water?", "gills", "lungs", "fins", "scales"),
    ("Which of these is a fruit?", "an apple", "a carrot", "a potato", "an onion"),
    ("What is the capital of Australia?", "Canberra", "Sydney", "Melbourne", "Perth"),
    ("Which of these vehicles runs on rails?", "a train", "a bicycle", "a boat", "a helicopter"),
    ("What is H2O more commonly called?", "water", "salt", "air", "sugar"),
    ("Someone is shivering and their teeth are chattering. How do they most likely feel?", "cold", "hot",
     "sleepy", "proud"),
]  # fmt: skip


def arithmetic_rows(per_kind: int = ARITHMETIC_PER_KIND, seed: int = SEED) -> list[dict]:
    """Like lm-eval's arithmetic tasks: 'What is 48 plus 76?' scored on the exact answer (greedy loglikelihood)."""
    rng = random.Random(seed)
    kinds = {
        "2-digit addition": lambda: _pair(rng, 10, 99, "plus", lambda a, b: a + b),
        "2-digit subtraction": lambda: _pair(rng, 10, 99, "minus", lambda a, b: a - b, larger_first=True),
        "3-digit addition": lambda: _pair(rng, 100, 999, "plus", lambda a, b: a + b),
        "2-digit by 1-digit multiplication": lambda: _product(rng),
    }
    by_kind = {}
    for kind, draw in kinds.items():
        questions: dict[str, str] = {}
        while len(questions) < per_kind:
            question, answer = draw()
            questions.setdefault(question, answer)
        by_kind[kind] = [{"question": q, "answer": a, "kind": kind} for q, a in questions.items()]
    # Kinds taken in turn, so that lm-eval's `limit` (the first N rows) still sees every kind.
    return [row for rows in zip(*by_kind.values(), strict=True) for row in rows]


def _pair(rng: random.Random, low: int, high: int, word: str, op, larger_first: bool = False) -> tuple[str, str]:
    a, b = rng.randint(low, high), rng.randint(low, high)
    if larger_first and a < b:
        a, b = b, a
    return f"What is {a} {word} {b}?", str(op(a, b))


def _product(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(10, 99), rng.randint(2, 9)
    return f"What is {a} times {b}?", str(a * b)


def gsm8k_rows(path: Path, count: int = GSM8K_ROWS, seed: int = SEED) -> list[dict]:
    """The last `count` rows of GSM8K train: the final answer among three numbers from the row's own solution."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != GSM8K_SHA256:
        raise SystemExit(f"{path}: not the GSM8K train.jsonl the README names (sha256 differs)")
    lines = data.decode("utf-8").splitlines()
    first_line = len(lines) - count + 1  # 1-based, as an editor shows it
    rows = []
    for line_number, line in enumerate(lines[-count:], start=first_line):
        record = json.loads(line)
        solution, final = record["answer"].rsplit("####", 1)
        answer = final.strip().replace(",", "")  # '36,000' -> '36000': no choice may stand out by its commas
        wrong = _distractors(solution, int(answer))
        choices = [answer, *wrong]
        random.Random(seed + line_number).shuffle(choices)
        rows.append({"question": record["question"], "choices": choices, "label": choices.index(answer),
                     "source_line": line_number})  # fmt: skip
    return rows


def _distractors(solution: str, answer: int) -> list[str]:
    """Three wrong numbers: the solution's own intermediate results, latest first (the answer one step short),
    then near misses of the answer (double, half, off by ten or one) where the solution has too few."""
    intermediate = []
    for value in reversed(re.findall(r"<<[^<>]*=([^<>=]*)>>", solution)):
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            continue
        if number.is_integer() and number >= 0:
            intermediate.append(int(number))
    near = [answer * 2, answer // 2, answer + 10, answer - 10, answer + 1, answer + 2, answer + 3]
    picked: list[int] = []
    for number in [*intermediate, *near]:
        if number >= 0 and number != answer and number not in picked:
            picked.append(number)
    return [str(n) for n in picked[:3]]


def commonsense_rows(seed: int = SEED) -> list[dict]:
    rows = []
    for index, (question, right, *wrong) in enumerate(COMMONSENSE):
        choices = [right, *wrong]
        random.Random(seed + index).shuffle(choices)
        rows.append({"question": question, "choices": choices, "label": choices.index(right)})
    return rows


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gsm8k", type=Path, default=GSM8K, help="GSM8K's train.jsonl (MIT)")
    args = parser.parse_args()
    write_jsonl(HERE / "arithmetic.jsonl", arithmetic_rows())
    write_jsonl(HERE / "gsm8k_mc.jsonl", gsm8k_rows(args.gsm8k))
    write_jsonl(HERE / "commonsense.jsonl", commonsense_rows())
    print(f"wrote arithmetic.jsonl, gsm8k_mc.jsonl and commonsense.jsonl in {HERE}")


if __name__ == "__main__":
    main()
