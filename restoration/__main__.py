"""``python -m restoration``: see :mod:`restoration.cli`."""

import sys

from .cli import main

sys.exit(main())
