"""Build of gaussmix's optional C extensions; everything else is in pyproject.toml.

``gaussmix._kernels`` fuses the element-wise work of the pass (see src/gaussmix/_kernels.c),
``gaussmix._hierarchy`` runs the hierarchical agglomeration (src/gaussmix/_hierarchy.c),
``gaussmix._jacobi`` the rotations of the common orientation of EVE and VVE
(src/gaussmix/_jacobi.c).  All are optional: where no C compiler is found the build goes on
without them, and gaussmix runs the same work in numpy (``gaussmix.engine.compiled_kernels()``,
``gaussmix.hierarchy.compiled()`` and ``gaussmix.covariance._orientation.compiled()`` say
which one is in use).
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
        ),
        Extension(
            "gaussmix._hierarchy",
            ["src/gaussmix/_hierarchy.c"],
            extra_compile_args=["-O3", "-fno-math-errno"] if unix else [],
            optional=True,
        ),
        Extension(
            "gaussmix._jacobi",
            ["src/gaussmix/_jacobi.c"],
            extra_compile_args=["-O3", "-fno-math-errno"] if unix else [],
            optional=True,
        ),
    ]
)
