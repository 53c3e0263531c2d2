"""Incomplete data: rows with values missing at random, fitted and scored exactly.

The E-step of a row uses the marginal density of its observed coordinates; the M-step uses
the conditional expectations of its missing coordinates and their conditional covariance
(Ghahramani & Jordan 1994), so the observed-data log-likelihood never decreases.  Rows are
grouped by missingness pattern (:mod:`~gaussmix.incomplete.patterns`); each pattern's
marginal densities and the map that lifts its observed statistics to all coordinates come
from the components' covariances (:mod:`~gaussmix.incomplete.marginal`);
:class:`~gaussmix.incomplete.source.IncompleteSource` is the row source that runs the
engine's pass over the patterns and returns complete-data statistics, so that EM, its
strategies and initialisation need no change.
"""
