"""The progress bar of long fits."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, Any

from .errors import _INSTALL_HINT

if TYPE_CHECKING:
    from ..multistart import FitEvent


class Progress:
    """A tqdm progress bar on standard error: a fit's EM iterations (the fit callback) or a
    selection's candidates (:meth:`candidate`, its ``candidate_callback``).

    Shown only when standard error is a terminal, ``--quiet`` is not given and the fit runs
    longer than about a second.
    """

    #: the bar on screen, if any (warnings are printed around it)
    active: Progress | None = None

    def __init__(
        self, args: argparse.Namespace, description: str, candidates: int | None = None
    ) -> None:
        """``candidates``: a model selection's number of candidates; the bar then counts
        candidates ("candidate i of N") instead of EM iterations."""
        self.bar: Any = None
        self.description = description
        self.candidates = candidates
        if getattr(args, "quiet", False) or not sys.stderr.isatty():
            return
        try:
            tqdm = importlib.import_module("tqdm").tqdm
        except ImportError:
            print(f"gaussmix: note: no progress bar without tqdm: {_INSTALL_HINT}", file=sys.stderr)
            return
        self.bar = tqdm(
            desc=description,
            total=candidates,
            unit=" it" if candidates is None else " candidates",
            delay=1.0,
            leave=False,
            file=sys.stderr,
            mininterval=0.2,
        )
        Progress.active = self

    def candidate(self, index: int, total: int, n_components: int, covariance_type: str) -> None:
        """A model selection starts fitting candidate ``index`` (from 0) of ``total``."""
        if self.bar is None:
            return
        self.bar.n = index
        self.bar.set_description_str(
            f"{self.description}: candidate {index + 1} of {total} "
            f"(k={n_components}, {covariance_type})",
            refresh=True,
        )

    def __call__(self, event: FitEvent) -> None:
        if self.bar is None:
            return
        self.bar.set_postfix_str(
            f"start {event.start + 1}/{event.n_starts} ({event.phase}), "
            f"log-lik {event.log_likelihood:.5g}",
            refresh=False,
        )
        self.bar.update(1)  # an EM iteration

    def write(self, line: str) -> None:
        """Print a line on standard error without garbling the bar."""
        self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            if self.candidates is not None:
                self.bar.n = self.candidates
            self.bar.close()
            self.bar = None
        if Progress.active is self:
            Progress.active = None
