"""`python -m bot.cli`: the `triage-bot` command."""

import sys

from bot.cli import main

sys.exit(main())
