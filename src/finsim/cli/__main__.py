"""``python -m finsim.cli``: the ``finsim`` command."""

import sys

from finsim.cli import main

sys.exit(main())
