"""``python -m saliencyaug.cli``."""

import sys

from saliencyaug.cli import main

sys.exit(main())
