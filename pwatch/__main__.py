import sys

from pwatch.cli import main

sys.exit(main())
