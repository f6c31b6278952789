"""Print the face members' figure table of docs/models.md from models/ensemble.json.

    python tools/face_member_table.py [REGISTRY.json]

A test checks that the table in the docs is this output, so no figure goes stale.
"""

from __future__ import annotations

import argparse
import sys

from gerec.cli.common import add_registry_option
from gerec.emotion.figures import member_table
from gerec.emotion.registry import registry_from_json
from gerec.errors import GerecError
from gerec.fileio import read_model_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_registry_option(parser, positional=True)
    args = parser.parse_args(argv)
    try:  # a registry that cannot be read or is not one: a usage error (exit 2)
        doc = read_model_json(args.registry, "ensemble registry")
        registry_from_json(doc, args.registry)
    except GerecError as exc:
        parser.error(str(exc))
    print(member_table(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
