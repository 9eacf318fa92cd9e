"""`python -m appeals_tools.stack`."""

import sys

from appeals_tools.stack.cli import main

sys.exit(main())
