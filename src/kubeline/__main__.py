"""``python -m kubeline`` is the ``kubeline`` command."""

import sys

from kubeline.cli.launch import main

sys.exit(main())
