"""``python -m factoryos.worker``: run one workload (see ``factoryos.worker.main``)."""

import sys

from factoryos.worker.main import main

sys.exit(main())
