"""``python -m disdepth_cli`` runs the ``disdepth`` command."""

import sys

from . import main

sys.exit(main())
