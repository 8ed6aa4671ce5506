"""`python -m upid` runs the CLI."""

import sys

from upid.cli.app import main

sys.exit(main())
