import sys

from experiments.view.cli import main

sys.exit(main())
