"""``python -m gerec``."""

import sys

from gerec.cli import main

sys.exit(main())
