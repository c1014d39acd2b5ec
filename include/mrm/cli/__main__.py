"""``python -m mrm.cli``: the ``mrm`` command."""

import sys

from mrm.cli import main

sys.exit(main())
