"""Builds the compiled module (`oracle_monitor_speedups.otlp`) from its Cython source."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("oracle_monitor_speedups.otlp", ["src/oracle_monitor_speedups/otlp.pyx"])],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False},
    )
)
