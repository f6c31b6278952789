"""Print the calibration table of docs/calibration.md from models/scene_bn_tuned.report.json.

    python tools/calibration_table.py [REPORT.json]

A test checks that the table in the docs is this output, so no figure goes stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gerec.bn import TUNED_FILE
from gerec.bn.calibrate import markdown_table
from gerec.config import models_dir
from gerec.errors import GerecError
from gerec.fileio import read_model_json, report_path

REPORT_FILE = report_path(Path(TUNED_FILE)).name
"""The report ``tune --report`` wrote beside the tuned network: ``scene_bn_tuned.report.json``."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "report",
        nargs="?",
        type=Path,
        default=models_dir() / REPORT_FILE,
        help="the full CV report written by `python -m gerec tune --report` (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:  # a file that cannot be read, or is no tune report: a usage error (exit 2)
        table = markdown_table(read_model_json(args.report, "calibration report"))
    except GerecError as exc:
        parser.error(str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        parser.error(f"{args.report}: not a `tune --report` file: no calibration figures ({type(exc).__name__}: {exc})")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
