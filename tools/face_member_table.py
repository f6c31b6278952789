"""Print the face members' figure table of docs/models.md from models/ensemble.json.

    python tools/face_member_table.py [REGISTRY.json]

A test checks that the table in the docs is this output, so no figure goes stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gerec.config import models_dir
from gerec.emotion.figures import member_table
from gerec.emotion.registry import REGISTRY_FILE


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else models_dir() / REGISTRY_FILE
    print(member_table(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
