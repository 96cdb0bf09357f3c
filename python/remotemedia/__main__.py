"""`python -m remotemedia`: see `remotemedia.cli`."""

import sys

from remotemedia.cli import main

sys.exit(main())
