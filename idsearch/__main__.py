"""``python -m idsearch``: the same command line as the ``idsearch`` console script."""

import sys

from idsearch.cli import main

sys.exit(main())
