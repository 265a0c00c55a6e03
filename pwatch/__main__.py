import sys

from precursor_watch.cli import main

sys.exit(main())
