"""Generate this example's data: `python examples/support-json/build.py`.

A support team's own export, as a new user brings it: `tickets.csv` as Excel saves it (a byte-order mark,
CRLF line ends, cells spanning lines), with the team's own column names (ticket_id, created_at, channel,
product, customer_message, agent_reply, agent), and the answers the assistant must give in strict JSON,
`{"category", "priority", "reply"}`. Deterministic: the same seed gives byte-identical files.

Writes:
- tickets.csv: 600 clean tickets written from templates with seeded variety (each message and reply
  composed of several independently chosen sentences, so that two tickets rarely share much text), and the
  planted problems a real export holds (see `planted.json`);
- planted.json: what was planted, by kind, as example ids (or ticket ids for rows the import rejects);
- recorded_reviews.jsonl: the reviews of two annotators, ana and ben, written by the rules in
  guidelines.md with a seeded share of human disagreement; `play_reviews.py` plays them into Argilla.

The generator checks its own output with ftdata's near-duplicate search: a clean ticket that happens to
come out too close to another (by conversation, or by answer alone) is drawn again, so the only clusters
are the planted ones.
"""

from __future__ import annotations

import csv
import io
import json
import random
import string
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT / "core"), str(ROOT / "curate")]  # ftcore and ftdata from this checkout

from ftcore import Example  # noqa: E402
from ftdata.duplicates import near_duplicate_clusters  # noqa: E402

SEED = 17
CLEAN_TICKETS = 600
THRESHOLD = 0.8  # the project's lint.near_duplicate_threshold
COLUMNS = ["ticket_id", "created_at", "channel", "product", "customer_message", "agent_reply", "agent"]
CATEGORIES = ("billing", "shipping", "returns", "account", "technical", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "chat", "web form", "phone transcript")
AGENTS = ("Priya", "Tom", "Marta", "Kwame", "Lena", "Jo")
PRODUCTS = (
    "Ridgeline 40L backpack", "Stormshell rain jacket", "Ember two-burner stove", "Lumen 400 headlamp",
    "Driftwood down sleeping bag", "ClearFlow water filter", "Granite hiking boots", "Nomad 2-person tent",
    "Carbon trekking poles", "Thermo 1L bottle", "Summit snow gaiter", "Basecamp folding chair",
)  # fmt: skip
CITIES = ("Leeds", "Bristol", "Glasgow", "Cardiff", "Belfast", "Norwich", "York", "Brighton", "Exeter", "Dundee")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")

# --- customer messages: an opening, the problem, a detail, a closing; each drawn on its own ----------------

OPENINGS = ["Hi,", "Hello,", "Hi there,", "Good morning,", "Hello team,", "Hey,", "Dear support,", "", "", ""]
CLOSINGS = ["Thanks.", "Thank you!", "Cheers", "Many thanks,", "Regards", "Please advise.", "Thanks in advance.",
            "Appreciate the help.", "", ""]  # fmt: skip

# Each problem: what the customer writes, how urgent the team files it, and what an agent does about it.
PROBLEMS = {
    "shipping": [
        ("My order {order} was supposed to arrive on {day} {month} and it still hasn't turned up.", "normal",
         ["I've opened a trace with the courier for order {order}.",
          "Order {order} is now booked for delivery on {day} {month}."]),
        ("The tracking for order {order} hasn't moved since {day} {month}.", "normal",
         ["I've asked the courier to scan order {order} again; it was held at their depot.",
          "I've opened a trace with the courier for order {order}."]),
        ("I paid for next-day delivery on order {order} but it took {n} days.", "normal",
         ["I've refunded the next-day delivery charge on order {order}."]),
        ("The courier says order {order} was delivered but there is nothing at my door in {city}.", "high",
         ["I've opened a claim with the courier and a replacement {product} ships today.",
          "The courier's photo shows a different door, so I've sent a replacement {product}."]),
        ("Can you ship order {order} to my work address in {city} instead of home?", "low",
         ["I've updated the address on order {order}; it hasn't left the warehouse yet."]),
        ("Only half of order {order} arrived, the {product} is missing from the box.", "normal",
         ["The missing {product} ships today on a separate tracking number."]),
        ("The box for order {order} arrived crushed and the {product} inside is dented.", "normal",
         ["I've sent a replacement {product}; please keep the dented one."]),
        ("Is there any way to get order {order} before the weekend? I leave for a trip on {day} {month}.", "high",
         ["I've upgraded order {order} to next-day delivery at no cost."]),
    ],
    "billing": [
        ("I was charged twice for order {order}, two payments of £{amount} on my card.", "high",
         ["I've refunded the duplicate payment of £{amount} on order {order}."]),
        ("The invoice for order {order} shows £{amount} but the checkout said less.", "normal",
         ["The checkout total left out delivery; I've refunded that part, £{amount}."]),
        ("My discount code didn't apply to order {order} and I paid full price.", "normal",
         ["I've applied the discount to order {order} and refunded the difference."]),
        ("I need a VAT invoice for order {order} for my company.", "low",
         ["A VAT invoice for order {order} is attached to this reply."]),
        ("Why was I charged £{amount} for delivery on order {order} when it said free over £50?", "normal",
         ["The delivery charge of £{amount} has been refunded."]),
        ("The refund for order {order} was promised {n} days ago and I haven't seen it.", "high",
         ["Your refund of £{amount} was issued on {day} {month}; your bank shows it within five days."]),
        ("My card was declined three times on the {product} but the bank says it's fine.", "high",
         ["I've checked with payments: no charge was taken for the declined attempts."]),
        ("Can I split the payment for order {order} across two cards?", "low",
         ["We can take two cards over the phone; I've booked a call for {day} {month}."]),
    ],
    "returns": [
        ("I'd like to return the {product} from order {order}, it's the wrong size.", "normal",
         ["I've emailed you a returns label for the {product}.", "Your return for order {order} is now booked."]),
        ("How do I send back the {product}? The returns page gives an error.", "normal",
         ["I've emailed you a returns label for the {product}; the page is fixed now too."]),
        ("I sent the {product} back on {day} {month} and have heard nothing since.", "normal",
         ["We received the {product} and the refund is on its way."]),
        ("Can I exchange the {product} for a different colour instead of a refund?", "low",
         ["I've set up an exchange for the {product} in the colour you asked for."]),
        ("The {product} stopped working after {n} weeks. Is this covered by warranty?", "high",
         ["The {product} is under warranty, so I've arranged a replacement."]),
        ("I returned order {order} but only got part of the money back.", "high",
         ["I've refunded the remaining £{amount} for order {order}."]),
        ("The returns label for order {order} won't print, the PDF is blank.", "normal",
         ["I've sent the label again as a PNG; it prints from any phone too."]),
        ("It's been more than 30 days, can I still return the {product}?", "low",
         ["As a one-off I've extended the return window for the {product} by two weeks."]),
    ],
    "account": [
        ("I can't log in, the password reset email never arrives.", "high",
         ["I've sent a new reset link to the address on your account."]),
        ("Please change the email address on my account, I no longer use the old one.", "normal",
         ["Your email address has been updated; a confirmation went to both addresses."]),
        ("How do I delete my account and all my data?", "normal",
         ["I've started the deletion of your account; it completes within 30 days."]),
        ("My account shows someone else's order history, that's worrying.", "urgent",
         ["I've locked the account and our security team is looking into it now."]),
        ("I keep getting marketing emails even though I unsubscribed in {month}.", "low",
         ["I've removed you from every marketing list."]),
        ("The app logs me out every time I open it.", "normal",
         ["I've cleared your sessions; please sign in once more and it will stay signed in."]),
        ("I want to merge my two accounts, I used different emails by mistake.", "low",
         ["I've merged your two accounts under the newer email."]),
        ("Two-factor codes aren't arriving by text any more.", "high",
         ["I've reset two-factor on your account so you can set it up again."]),
    ],
    "technical": [
        ("The {product} won't turn on even after charging it overnight.", "normal",
         ["Please hold the power button for ten seconds to reset the {product}."]),
        ("The app crashes when I try to register my {product}.", "normal",
         ["Our app team fixed the registration crash in this week's update."]),
        ("The instructions for the {product} are missing a page, step {n} makes no sense.", "low",
         ["I've sent you the full manual for the {product} as a PDF."]),
        ("The seam on the {product} leaks after {n} hours of rain.", "high",
         ["A replacement {product} is on its way under warranty."]),
        ("The firmware update for the {product} fails halfway.", "normal",
         ["I've logged the fault with the {product} team and sent a prepaid return label."]),
        ("The zip on the {product} came off the first time I used it.", "normal",
         ["A replacement {product} is on its way; no need to send the old one back."]),
        ("My {product} gets very hot at the base, is that normal?", "urgent",
         ["Please stop using the {product} now; I've sent a prepaid label and a replacement."]),
        ("The website checkout freezes on the payment step in every browser I tried.", "high",
         ["Our web team fixed the payment step this morning; your basket is saved."]),
    ],
    "other": [
        ("Do you have a shop in {city} where I can try the {product} on?", "low",
         ["Our {city} store stocks the {product} and is open until six."]),
        ("Are you hiring for the warehouse in {city}?", "low",
         ["Our {city} warehouse posts its jobs on the careers page every Monday."]),
        ("Can you recommend a {product} for a trip to Scotland in {month}?", "low",
         ["The {product} is rated for wet and windy weather, so it suits Scotland in {month}."]),
        ("I'd like to leave feedback about the driver who delivered order {order}, he was great.", "low",
         ["I've passed your kind words to the driver's team."]),
        ("Do you offer discounts for scout groups?", "low",
         ["Scout groups get 15% off with the code we'll email you."]),
        ("Is the {product} made with recycled materials?", "low", ["The {product} uses 70% recycled fabric."]),
        ("Will the {product} be back in stock before {month}?", "low",
         ["The {product} is due back in stock in {month}."]),
        ("Can I collect order {order} from your depot in {city}?", "low",
         ["Collection from our {city} depot is free; bring the order email."]),
    ],
}  # fmt: skip
DETAILS = {
    "shipping": ["I need it for a trip next week.", "It was a present for my daughter.", "It says dispatched online.",
                 "My neighbour hasn't got anything either.", "I live in {city} if that matters."],
    "billing": ["I used PayPal for this one.", "The reference on my bank statement is {order}.",
                "My bank says it's still pending.", "I've got a screenshot of the checkout."],
    "returns": ["The size chart said medium would fit.", "I still have the original box.",
                "I'm happy to send pictures.", "I used the tracked service at the post office."],
    "account": ["I've checked my spam folder already.", "I ordered through the app.", "I'm on an iPhone.",
                "I've tried two different browsers."],
    "technical": ["I followed the manual exactly.", "I'm happy to send pictures.", "It's only a few weeks old.",
                  "I'm on the latest version of the app."],
    "other": ["I've been a customer for years.", "I'm asking for a friend as well.", "No rush at all."],
}  # fmt: skip
GENERAL_DETAILS = [
    "This is the second time this has happened.", "Your chat was closed when I tried earlier.",
    "I tried calling but the line was busy for an hour.", "Nobody has replied to my last two emails.",
    "I ordered it a while ago.", "It's quite urgent, sorry.", "", "", "",
]  # fmt: skip

# --- agent replies: an acknowledgement, the action for the problem, the next step, a sign-off ----------

ACKS = [
    "Thanks for getting in touch, {name}.", "Sorry about this, {name}.", "Thank you for your patience.",
    "I'm sorry for the trouble.", "Thanks for letting us know.", "Apologies for the wait.",
    "Thank you for the details.", "I understand how frustrating this is.", "Thanks for your message, {name}.",
]  # fmt: skip
NEXT_STEPS = {
    "shipping": ["You'll get an email as soon as it moves.", "Tracking will update within 24 hours.",
                 "I'll check back with you on {day} {month}."],
    "billing": ["It can take 3-5 working days to show on your statement.", "Keep the receipt in case you need it."],
    "returns": ["It can take 3-5 working days to show on your statement.", "No need to send anything else back.",
                "Let me know if the label doesn't print."],
    "account": ["Let me know if the link doesn't work.", "You'll get a confirmation email shortly."],
    "technical": ["No need to send anything back.", "Let me know if that doesn't sort it."],
    "other": ["Hope that helps.", "Have a great trip."],
}  # fmt: skip
GENERAL_NEXT_STEPS = ["Reply here if anything else comes up.", "", ""]
SIGN_OFFS = ["", "Best wishes,", "Kind regards,", "Thanks again,", "All the best,"]
NAMES = ("Sam", "Alex", "Chris", "Jamie", "Robin", "Morgan", "Taylor", "Jordan", "Casey", "Riley", "Avery", "Drew")

# Canned replies ("macros") agents paste to different customers: identical answers to different questions.
MACROS = [
    ("shipping", "normal", "Thanks for reaching out. Parcels can take up to five working days; the tracking link "
     "updates once the courier scans it. We'll write again if it is late."),
    ("account", "high", "For your security we can't change account details over chat. Please use the link in "
     "Settings > Account, or reply from the email address on the account."),
    ("returns", "normal", "You can return anything within 30 days from the Returns page in your account. Print "
     "the label, drop the parcel at any post office, and the refund follows in 3-5 days."),
    ("billing", "high", "A pending charge from a declined payment drops off within 3 working days; it is a hold "
     "by your bank, not a payment to us. If it's still there after that, send us a screenshot."),
    ("technical", "normal", "Please update the app to the latest version, restart your phone and try again. If "
     "it still fails, reply with your phone model and app version."),
    ("other", "low", "Thanks for your message. Our team reads every suggestion and passes them to the product "
     "team each month."),
    ("shipping", "high", "We're sorry your parcel is late. Our courier has a backlog in your area this week; "
     "your order is safe and will arrive within two working days."),
    ("billing", "normal", "Refunds go back to the card you paid with and take 3-5 working days to appear, "
     "depending on your bank."),
    ("returns", "low", "Exchanges are free. Start one from the Returns page and choose 'exchange'; we send the "
     "new item as soon as the old one is scanned."),
    ("account", "normal", "The reset email can take up to ten minutes. Check your spam folder, and make sure "
     "the address you typed is the one on the account."),
    ("technical", "high", "That sounds like a fault. Please stop using it and send us the order number; we'll "
     "arrange a replacement straight away."),
    ("other", "low", "Our stores open 9-6 Monday to Saturday and 10-4 on Sundays."),
]  # fmt: skip
MACRO_TICKETS = 3  # tickets that got each canned reply


class Writer:
    """Seeded draws of ticket text; every value a ticket needs comes from here."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def slots(self) -> dict[str, str]:
        r = self.rng
        return {
            "order": f"NW-{r.randint(100000, 999999)}",
            "day": str(r.randint(1, 28)),
            "month": r.choice(MONTHS),
            "n": str(r.randint(2, 9)),
            "amount": f"{r.randint(8, 240)}.{r.choice(['00', '49', '95', '99'])}",
            "city": r.choice(CITIES),
            "product": r.choice(PRODUCTS),
            "name": r.choice(NAMES),
        }

    def ticket(self, category: str, slots: dict[str, str]) -> tuple[str, str, str]:
        """(customer message, agent reply text, priority) for one problem of `category`."""
        r = self.rng
        problem, priority, actions = r.choice(PROBLEMS[category])
        problem = problem.format(**slots)
        if problem.endswith(".") and r.random() < 0.15:
            problem = problem[:-1] + r.choice(["!", "..."])
        details = [r.choice(DETAILS[category] + GENERAL_DETAILS).format(**slots), r.choice(GENERAL_DETAILS)]
        body = " ".join(p for p in [problem, *dict.fromkeys(details)] if p)
        opening, closing = r.choice(OPENINGS), r.choice(CLOSINGS)
        if r.random() < 0.45:  # an email: greeting and sign-off on lines of their own (cells spanning lines)
            message = "\n".join(line for line in (opening, body, closing) if line)
        else:  # a chat line: "Hi, my order ..." (but "Hi, I ...")
            if opening and not body.startswith(("I ", "I'")):
                body = body[0].lower() + body[1:]
            message = " ".join(p for p in (opening, body, closing) if p)
        sentences = [r.choice(ACKS), r.choice(actions), r.choice(NEXT_STEPS[category] + GENERAL_NEXT_STEPS)]
        reply = " ".join(s.format(**slots) for s in sentences if s)
        sign_off = r.choice(SIGN_OFFS)
        if sign_off:
            reply = f"{reply} {sign_off} {r.choice(AGENTS)}"
        if r.random() < 0.2:  # agents file a ticket one step up or down now and then
            priority = PRIORITIES[max(0, min(3, PRIORITIES.index(priority) + r.choice([-1, 1])))]
        return message, reply, priority

    def created_at(self, index: int) -> str:
        month, day = 1 + index * 10 // CLEAN_TICKETS, self.rng.randint(1, 28)
        return f"2025-{month:02d}-{day:02d} {self.rng.randint(8, 19):02d}:{self.rng.randint(0, 59):02d}"


def answer(category: str, priority: str, reply: str) -> str:
    """The house format: one JSON object, these three keys in this order, nothing around it."""
    return json.dumps({"category": category, "priority": priority, "reply": reply}, ensure_ascii=False)


def example_id(message: str, reply: str) -> str:
    messages = [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
    return Example.create(messages).id


def clean_tickets(writer: Writer) -> list[dict[str, str]]:
    """CLEAN_TICKETS tickets, none of them a near-duplicate of another by conversation or by answer."""
    tickets: list[dict[str, str]] = []
    while len(tickets) < CLEAN_TICKETS:
        while len(tickets) < CLEAN_TICKETS:
            category = writer.rng.choice(CATEGORIES)
            slots = writer.slots()
            message, reply, priority = writer.ticket(category, slots)
            tickets.append(
                {
                    "category": category,  # (not a column: which canned replies fit it)
                    "created_at": writer.created_at(len(tickets)),
                    "channel": writer.rng.choice(CHANNELS),
                    "product": slots["product"],
                    "customer_message": message,
                    "agent_reply": answer(category, priority, reply),
                    "agent": writer.rng.choice(AGENTS),
                }
            )
        # Drawn again: every member but the first of any cluster (the near-duplicate search of `ftdata check`,
        # and of export's grouping on answers).
        too_close = set()
        for texts in (
            [(str(i), t["customer_message"] + "\n" + t["agent_reply"]) for i, t in enumerate(tickets)],
            [(str(i), t["agent_reply"]) for i, t in enumerate(tickets)],
            [(str(i), t["customer_message"]) for i, t in enumerate(tickets)],
        ):
            for cluster in near_duplicate_clusters(texts, threshold=THRESHOLD - 0.1):
                too_close.update(int(i) for i in cluster.ids[1:])
        tickets = [t for i, t in enumerate(tickets) if i not in too_close]
    return tickets


def aws_key(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))


def build() -> tuple[str, dict, list[dict]]:
    writer = Writer(SEED)
    rng = writer.rng
    tickets = clean_tickets(writer)
    planted: dict[str, list] = {
        "exact_copy_rows": [],  # ticket ids of rows exported twice: stored once, "already in store" at import
        "exact_duplicate": [],  # example ids of copies differing only in case and spacing, with their originals
        "near_duplicate": [],  # example ids of a ticket and its lightly edited resubmission
        "pii": [],
        "secret": [],
        "off_format": [],
        "off_format_how": {},  # example id -> how its answer breaks the format
        "schema": [],  # ticket ids the import rejects: empty answers, broken quoting
        "macro_reply_clusters": [],  # example ids that share one canned reply, per reply
        "look_alikes": [],  # example ids with build numbers and order numbers that are not personal data
    }
    extra: list[dict[str, str]] = []

    def variant(base: dict[str, str], **changes: str) -> dict[str, str]:
        return {**base, "created_at": writer.created_at(rng.randint(0, CLEAN_TICKETS - 1)), **changes}

    picks = rng.sample(range(len(tickets)), 80)
    for i in picks[:6]:  # the same row exported twice
        extra.append(variant(tickets[i]))
    for i in picks[6:10]:  # pasted again with different spacing and capitals: the same conversation
        base = tickets[i]
        copy = variant(base, customer_message="  " + base["customer_message"].upper().replace(" ", "  ") + " ")
        extra.append(copy)
        planted["exact_duplicate"] += [example_id(base["customer_message"], base["agent_reply"]),
                                       example_id(copy["customer_message"], copy["agent_reply"])]  # fmt: skip
    for i in picks[10:18]:  # the customer wrote again with a small change; the agent pasted the same reply
        base = tickets[i]
        edited = base["customer_message"].replace(".", ". Any update?", 1)
        if edited == base["customer_message"]:
            edited = base["customer_message"] + " Any update?"
        extra.append(variant(base, customer_message=edited))
        planted["near_duplicate"] += [example_id(base["customer_message"], base["agent_reply"]),
                                      example_id(edited, base["agent_reply"])]  # fmt: skip

    pii_messages = [
        "Please call me back on 07700 900461, I can't get through on chat.",
        "My email is jo.harper@example.co.uk if you need to send the label there.",
        "Card ending in 1111 was charged twice: the number is 4111 1111 1111 1111.",
        "You can reach me on +44 20 7946 0321 during office hours.",
        "I logged in from 81.2.69.160 and got a security warning, was that you?",
        "Pay the refund to GB82 WEST 1234 5698 7654 32 please.",
        "Text me on (415) 555-2671 when the courier is close.",
        "My partner's number is 07700 900118 if I'm out.",
    ]
    for i, sentence in zip(picks[18:26], pii_messages, strict=True):
        base = tickets[i]
        message = base["customer_message"] + "\n" + sentence
        tickets[i] = {**base, "customer_message": message}
        planted["pii"].append(example_id(message, base["agent_reply"]))
    for i in picks[26:28]:  # a credential pasted into a ticket
        base = tickets[i]
        message = (
            f"{base['customer_message']}\nOur integration uses access key {aws_key(rng)} with the orders API, "
            "is that the right one?"
        )
        tickets[i] = {**base, "customer_message": message}
        planted["secret"].append(example_id(message, base["agent_reply"]))
    look_alikes = [
        "The app says version 4.12.0.3 at the bottom of the settings page.",
        "Firmware 2.1.8.2 is what the headlamp shows.",
        "My order reference is NW-2024-0419-7731.",
        "I tried on 12.04.2025 and again on 2025-04-19.",
    ]
    for i, sentence in zip(picks[28:32], look_alikes, strict=True):
        base = tickets[i]
        message = base["customer_message"] + " " + sentence
        tickets[i] = {**base, "customer_message": message}
        planted["look_alikes"].append(example_id(message, base["agent_reply"]))

    def breaks(data: dict) -> list[tuple[str, str]]:
        text = json.dumps(data, ensure_ascii=False)
        return [
            ("plain text, no JSON", data["reply"]),
            ("wrapped in a ``` fence", f"```json\n{text}\n```"),
            ("text after the JSON", f"{text}\nLet me know if you need anything else!"),
            ("a category outside the list", json.dumps({**data, "category": "delivery"}, ensure_ascii=False)),
            ("priority missing", json.dumps({k: v for k, v in data.items() if k != "priority"}, ensure_ascii=False)),
            ("a Python dict, not JSON", repr(data)),
            ("an empty reply", json.dumps({**data, "reply": ""}, ensure_ascii=False)),
            ("priority in capitals", json.dumps({**data, "priority": data["priority"].upper()}, ensure_ascii=False)),
        ]

    for n, i in enumerate(picks[32:48]):  # answers off the format, two of each way
        base = tickets[i]
        reason, broken = breaks(json.loads(base["agent_reply"]))[n % 8]
        tickets[i] = {**base, "agent_reply": broken}
        planted["off_format"].append(example_id(base["customer_message"], broken))
        planted["off_format_how"][planted["off_format"][-1]] = reason

    taken = set(picks[:48])
    for category, priority, reply in MACROS:  # pasted into tickets of their category
        free = [i for i in range(len(tickets)) if i not in taken and tickets[i]["category"] == category]
        cluster = []
        for i in rng.sample(free, MACRO_TICKETS):
            taken.add(i)
            canned = answer(category, priority, reply)
            tickets[i] = {**tickets[i], "agent_reply": canned}
            cluster.append(example_id(tickets[i]["customer_message"], canned))
        planted["macro_reply_clusters"].append(cluster)

    rows = tickets + extra
    rng.shuffle(rows)
    for n, row in enumerate(rows, start=1):
        row["ticket_id"] = f"T-{10000 + n * 7}"
    by_key = {}
    for row in rows:
        key = (row["customer_message"], row["agent_reply"])
        if key in by_key:
            planted["exact_copy_rows"].append(row["ticket_id"])
        by_key.setdefault(key, row["ticket_id"])

    text = io.StringIO(newline="")
    writer_csv = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\r\n", extrasaction="ignore")
    writer_csv.writeheader()
    # Rows the import rejects are drawn among the plain ones: no planted problem, no copy, no canned reply.
    kinds = ("exact_duplicate", "near_duplicate", "pii", "secret", "off_format", "look_alikes")
    special = {i for kind in kinds for i in planted[kind]}
    special |= {i for cluster in planted["macro_reply_clusters"] for i in cluster}
    counts = Counter((row["customer_message"], row["agent_reply"]) for row in rows)
    plain = [
        n for n, row in enumerate(rows)
        if counts[(row["customer_message"], row["agent_reply"])] == 1
        and example_id(row["customer_message"], row["agent_reply"]) not in special
    ]  # fmt: skip
    chosen = rng.sample(plain, 5)
    empty_at, broken_at = set(chosen[:3]), set(chosen[3:])
    for n, row in enumerate(rows):
        if n in empty_at:  # the agent closed the ticket without replying
            row = {**row, "agent_reply": ""}
            planted["schema"].append(row["ticket_id"])
        if n in broken_at:  # a hand-edited line: the message's commas without quotes around it
            message = row["customer_message"].replace("\n", " ").replace('"', "") + ", please, asap"
            cells = [row["ticket_id"], row["created_at"], row["channel"], row["product"], message]
            tail = io.StringIO(newline="")
            csv.writer(tail, lineterminator="\r\n").writerow([row["agent_reply"], row["agent"]])
            text.write(",".join(cells) + "," + tail.getvalue())
            planted["schema"].append(row["ticket_id"])
            continue
        writer_csv.writerow(row)
    planted["schema"].sort()
    reviews = recorded_reviews(rows, planted, empty_at | broken_at, random.Random(SEED + 1))
    return "\ufeff" + text.getvalue(), planted, reviews


def recorded_reviews(rows: list[dict], planted: dict[str, list], rejected_rows: set[int], rng) -> list[dict]:
    """Two annotators' verdicts, by the rules in guidelines.md: each record once (copies collapse onto one id)."""
    pii, secret = set(planted["pii"]), set(planted["secret"])
    off = set(planted["off_format"])
    near_copies = set(planted["near_duplicate"][1::2])  # the resubmissions: the originals are accepted
    exact_copies = set(planted["exact_duplicate"][1::2])
    seen, reviews = set(), []
    for n, row in enumerate(rows):
        if n in rejected_rows:
            continue
        ex = example_id(row["customer_message"], row["agent_reply"])
        if ex in seen or ex in secret or ex in exact_copies:  # not pushed: a credential, an extra copy
            continue
        seen.add(ex)
        for annotator in ("ana", "ben"):
            values = verdict(row, ex, annotator, pii, off, near_copies, rng)
            reviews.append({"example_id": ex, "annotator": annotator, "status": "submitted", "values": values})
    return reviews


def verdict(row, ex, annotator, pii, off, near_copies, rng) -> dict:
    if ex in pii:  # personal data in the question: reject (guidelines, section 6)
        return {"verdict": "reject", "issues": ["contains-PII"], "style_score": 4}
    if ex in near_copies:
        return {"verdict": "reject", "issues": ["duplicate"], "style_score": 4}
    if ex in off:
        fixed = corrected(row["agent_reply"])
        if fixed is None or (annotator == "ben" and rng.random() < 0.25):  # ben sometimes leaves the fix to ana
            return {"verdict": "needs-edit", "issues": ["wrong-format"], "style_score": 2}
        return {"verdict": "needs-edit", "issues": ["wrong-format"], "style_score": 2, "corrected": fixed}
    if rng.random() < 0.04:  # ordinary disagreement: a dissenting reject on a clean ticket
        return {"verdict": "reject", "issues": ["other"], "style_score": 3}
    return {"verdict": "accept", "style_score": rng.choice([4, 5, 5, 5])}


def corrected(broken: str) -> str | None:
    """The answer an annotator writes back in the house format, or None when they cannot tell what it meant."""
    text = broken.strip().removeprefix("```json").removesuffix("```").strip().split("\nLet me know")[0]
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = json.loads(text.replace("'", '"'))
        except ValueError:
            return None
    if not isinstance(data, dict) or not data.get("reply"):
        return None
    category = data.get("category") if data.get("category") in CATEGORIES else "shipping"
    priority = str(data.get("priority", "normal")).lower()
    return answer(category, priority if priority in PRIORITIES else "normal", data["reply"])


def main() -> None:
    csv_text, planted, reviews = build()
    (HERE / "tickets.csv").write_text(csv_text, encoding="utf-8", newline="")
    (HERE / "planted.json").write_text(json.dumps(planted, indent=2) + "\n", encoding="utf-8")
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reviews)
    (HERE / "recorded_reviews.jsonl").write_text(lines, encoding="utf-8")
    print(f"{csv_text.count(chr(10))} lines in tickets.csv, {len(reviews)} recorded reviews")


if __name__ == "__main__":
    main()
