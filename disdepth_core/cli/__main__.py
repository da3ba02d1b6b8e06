"""``python -m disdepth_core.cli`` runs the ``disdepth`` command."""

import sys

from . import main

sys.exit(main())
