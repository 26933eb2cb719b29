"""``python -m fastann.benchmarks``: the same as ``fastann bench``."""
import sys

from .cli import main

sys.exit(main(prog="python -m fastann.benchmarks"))
