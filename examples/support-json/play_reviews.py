"""Play the recorded reviews of ana and ben into Argilla, through its API, as those two users.

    python examples/support-json/play_reviews.py [--project DIR] [--ui-answers 5]

As the GSM8K example's script does (`ftdata.testing.play_recorded_reviews`): the annotators are created in the
project's workspace, a few answers each go the way Argilla's UI sends them (their own API keys), the rest in bulk
upserts on their behalf; re-running sends nothing twice. Their sign-in goes to
`.ftdata/credentials/support-annotators.json` (mode 600); when the accounts existed already without that file,
their passwords are reset as the owner and written there. Needs ARGILLA_API_URL / ARGILLA_API_KEY (the owner).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1] / "core"), str(HERE.parents[1] / "curate")]  # this checkout's ftdata

from ftcore.errors import FtdataError  # noqa: E402
from ftdata.argilla_client import ArgillaConnection  # noqa: E402
from ftdata.project import Project  # noqa: E402
from ftdata.testing import play_recorded_reviews  # noqa: E402

CREDENTIALS = ".ftdata/credentials/support-annotators.json"


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
    if played.credentials is not None:
        reset = " (passwords reset: the accounts existed already)" if played.passwords_reset else ""
        print(f"annotator credentials (mode 600): {played.credentials}{reset}", file=sys.stderr)
    print(
        f"recorded reviews played: {played.via_ui} the UI's way, {played.bulk} in bulk on the annotators' behalf; "
        f"{played.already_answered} already on the server, {played.not_in_dataset} for examples kept out of Argilla"
    )


if __name__ == "__main__":
    main()
