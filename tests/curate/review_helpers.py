"""Review projects on the real Argilla for the integration tests: set up in a unique workspace, torn down whole."""

import json
import uuid
from pathlib import Path

from ftdata.annotators import list_annotators
from ftdata.importers import ColumnMap, import_files
from ftdata.project import Project, init_project
from ftdata.review import find_dataset

REPO = Path(__file__).resolve().parents[2]
GUIDELINES = REPO / "annotation_guidelines" / "review.md"


def make_review_project(root: Path, rows: list[dict], *overrides: str) -> Project:
    """A project in its own workspace `ftkit-test-<hex>`, with the repo's guidelines, `rows` imported."""
    init_project(root, dataset="review-test")
    config = (root / "ftdata.yaml").read_text()
    config = config.replace("workspace: ftkit", f"workspace: ftkit-test-{uuid.uuid4().hex[:8]}")
    (root / "ftdata.yaml").write_text(config.replace("guidelines: guidelines.md", f"guidelines: {GUIDELINES}"))
    (root / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    project = Project.open(root, overrides)
    import_files(project, [root / "raw.jsonl"], mapping=ColumnMap.parse("user=question,assistant=answer"))
    return project


def remove_review_project(project: Project, connection) -> None:
    """Delete the project's dataset, its annotators and its workspace from the server."""
    client = connection.client()
    dataset = find_dataset(project, client)
    if dataset is not None:
        dataset.delete()
    workspace = client.workspaces(name=project.config.workspace)
    if workspace is None:
        return
    for user in list_annotators(project, connection):
        if user.role == "annotator":
            connection.request("DELETE", f"/api/v1/users/{user.user_id}")
    workspace.delete()
