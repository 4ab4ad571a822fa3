import sys

from perturbation.cli import main

sys.exit(main())
