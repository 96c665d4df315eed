"""ftcore: what ftdata, fttrain and fteval share, and imports none of them.

The contract is the example record (`Example`), its JSONL reader/writer and the export manifest
(`ExportManifest`); beside it live the errors, atomic writes, the typed config loader, the CLI
helpers and the style spec with its registry of checks, and what more than one tool does the same way:
`chat` (a conversation rendered with its assistant spans), `models` (the base model section and its
loaders), `generate` (answers from a local model behind the `Generator` interface), `endpoint` (the same
interface over any OpenAI-compatible server, with `answer_cache`), `run_folder` (a training run's records),
`training` (the settings curation shares with training, and the cost estimate) and `versions`.

>>> from ftcore import Example
>>> ex = Example.create([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}])
>>> ex.id
'ex_...'
"""

from importlib.metadata import PackageNotFoundError, version

from ftcore.errors import ExampleFileError, FtdataError, ManifestError, Problem
from ftcore.example import ROLES, Example, Message
from ftcore.jsonl import read_examples, write_examples
from ftcore.manifest import MANIFEST_NAME, ExportManifest, SplitFile, load_split

try:
    __version__ = version("ftkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "MANIFEST_NAME",
    "ROLES",
    "Example",
    "ExampleFileError",
    "ExportManifest",
    "FtdataError",
    "ManifestError",
    "Message",
    "Problem",
    "SplitFile",
    "__version__",
    "load_split",
    "read_examples",
    "write_examples",
]
