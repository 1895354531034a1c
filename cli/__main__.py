import sys

from interleaf.cli import main

sys.exit(main())
