"""Typed errors shared by every provider, so callers (the cniqs tool, the tests) recognise them by type."""

from __future__ import annotations


class WaitTimeout(TimeoutError):
    """A setup wait gave up; the message says what it waited for, how long, and what it saw last."""


class NotYet(Exception):
    """Raised by a wait's probe to say "not yet", with what it saw (shown if the wait gives up)."""


class Fatal(Exception):
    """Raised by a wait's probe when waiting longer cannot help (the process it waits for died)."""


class NodeGone(RuntimeError):
    """A recorded node or cluster is not running any more."""


class ParseError(ValueError):
    """Output did not have the expected shape; the message says which output and why."""


class InstallError(Exception):
    """A node is not in a state the installer understands (nothing was changed), or a copy did not arrive intact."""


class Refused(Exception):
    """A request a provider will not carry out, with the reason and what to do instead (for the user)."""
