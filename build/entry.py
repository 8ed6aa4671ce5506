"""The frozen binary's entry point: the same main() as the `upid` console script."""

import sys

from upid.cli.app import main

sys.exit(main())
