"""The project's own error types.

Readers of untrusted input (annotation files, feature files, pickles, configs) raise only
these, so callers can tell bad data from bugs: ``except DataError`` catches every problem
with a file and its message names the file (and line or key).
"""

from __future__ import annotations


class MMFImgtuneError(Exception):
    """Base class of every error mmf_imgtune raises on purpose."""


class DataError(MMFImgtuneError, ValueError):
    """A data file is missing, malformed or unsafe; the message names the file."""
