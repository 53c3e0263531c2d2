"""Build of gaussmix's optional C extension; everything else is in pyproject.toml.

``gaussmix._kernels`` fuses the element-wise work of the pass (see src/gaussmix/_kernels.c).
It is optional: where no C compiler is found the build goes on without it, and gaussmix
runs the same pass in numpy (``gaussmix.engine.compiled_kernels()`` says which one is in use).
"""

import os

from setuptools import Extension, setup

unix = os.name == "posix"
setup(
    ext_modules=[
        Extension(
            "gaussmix._kernels",
            ["src/gaussmix/_kernels.c"],
            depends=["src/gaussmix/_kernel_body.h"],
            extra_compile_args=["-O3", "-ffp-contract=fast", "-fno-math-errno"] if unix else [],
            optional=True,
        )
    ]
)
