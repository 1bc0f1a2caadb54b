"""``python -m losskit``: the same as the ``losskit`` command."""

import sys

from .cli import main

sys.exit(main())
