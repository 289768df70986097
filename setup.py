"""The compiled inner loops of queries and of analysis (idsearch/_kernel.c). Optional: when no C compiler is
at hand the package installs without them and the same arithmetic runs in numpy (same results, slower)."""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-ffp-contract=off"]  # no fused multiply-add: numpy's bits

setup(ext_modules=[Extension("idsearch._kernel", ["idsearch/_kernel.c"], extra_compile_args=flags, optional=True)])
