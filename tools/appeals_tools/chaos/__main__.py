"""`python -m appeals_tools.chaos`."""

import sys

from appeals_tools.chaos.cli import main

sys.exit(main())
