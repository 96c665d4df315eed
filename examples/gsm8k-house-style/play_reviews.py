"""Play the recorded reviews of ana, ben and chen into Argilla, through its API, as those three users.

    python examples/gsm8k-house-style/play_reviews.py [--ui-answers 5]

The review really happens on the server: the annotators are created in the project's workspace (their
credentials go to a private file), a few answers per annotator are sent exactly as Argilla's UI sends them
(`POST /api/v1/records/{id}/responses` with the annotator's own API key), and the rest are logged by the
owner on the annotators' behalf in bulk upserts keyed on user id: one answer at a time would take ~0.25 s
each (~8 minutes for this example). Re-running changes nothing: responses are upserted per record and user.
When the accounts existed already and their credentials file is missing, their passwords are reset (as the
owner) and written to it, so that you can sign in as them. Needs ARGILLA_API_URL / ARGILLA_API_KEY (the
owner), as every ftdata command. (`ftdata.testing.play_recorded_reviews` does the work.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftcore.errors import FtdataError
from ftdata.argilla_client import ArgillaConnection
from ftdata.project import Project
from ftdata.testing import play_recorded_reviews

HERE = Path(__file__).resolve().parent
CREDENTIALS = ".ftdata/credentials/demo-annotators.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=HERE, help="The ftdata project folder (default: this example)")
    parser.add_argument("--recorded", type=Path, default=HERE / "recorded_reviews.jsonl")
    parser.add_argument("--ui-answers", type=int, default=5, help="Answers per annotator sent the UI's way")
    args = parser.parse_args()
    try:
        project = Project.open(args.project)
        played = play_recorded_reviews(
            project, ArgillaConnection.from_env(), args.recorded, args.ui_answers, project.resolve(CREDENTIALS)
        )
    except FtdataError as error:
        raise SystemExit(f"play_reviews: {error}") from None
    if played.passwords_reset:
        print(
            f"the annotators existed already without a credentials file: their passwords were reset (as the owner) "
            f"and written to {played.credentials} (mode 600)",
            file=sys.stderr,
        )
    elif played.credentials is not None:
        print(f"annotator credentials (mode 600): {played.credentials}", file=sys.stderr)
    print(
        f"recorded reviews played: {played.via_ui} answers the UI's way (annotators' own keys), "
        f"{played.bulk} in bulk on their behalf; {played.already_answered} already on the server, "
        f"{played.not_in_dataset} for examples lint kept out of Argilla"
    )


if __name__ == "__main__":
    main()
