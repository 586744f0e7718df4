"""``python -m devnode``."""

import sys

from devnode.cli import main

sys.exit(main())
