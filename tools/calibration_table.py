"""Print the calibration table of docs/calibration.md from models/scene_bn_tuned.report.json.

    python tools/calibration_table.py [REPORT.json]

A test checks that the table in the docs is this output, so no figure goes stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gerec.bn.calibrate import markdown_table
from gerec.config import models_dir


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else models_dir() / "scene_bn_tuned.report.json"
    print(markdown_table(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
