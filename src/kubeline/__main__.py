"""``python -m kubeline`` is the ``kubeline`` command."""

import sys

from kubeline.cli.app import main

sys.exit(main())
