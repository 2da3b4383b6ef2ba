import sys

from hpablate.cli import main

sys.exit(main())
