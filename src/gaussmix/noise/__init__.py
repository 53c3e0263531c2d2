"""A noise component: mclust's Poisson noise, a uniform density over the data's region
with its own weight, beside the Gaussian components.

``GaussianMixture(noise=True)`` fits it: the region is fixed before EM
(:mod:`~gaussmix.noise.region`, mclust's ``hypvol`` rule), the pass sees the component as a
background column (:mod:`~gaussmix.noise.background`), EM swaps in its strategy
(:mod:`~gaussmix.noise.strategy`), and its start comes from nearest-neighbour clutter
removal (:mod:`~gaussmix.noise.start`, Byers & Raftery 1998).
"""

from .region import NoiseRegion

__all__ = ["NoiseRegion"]
