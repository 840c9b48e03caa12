"""Domain exceptions: messages written for people, raised instead of stack traces."""


class KoordError(Exception):
    """Base class: the command line prints the message and exits non-zero, without a traceback."""


class ContractViolation(KoordError):
    """A file or table breaks its contract (missing column, unreadable file, wrong grain)."""


class DeliveryRefused(KoordError):
    """The whole delivery is refused (e.g. it holds personal identity numbers); nothing is written."""


class StudyDefinitionError(KoordError):
    """The study file is invalid; the message lists every error found."""


class ConvergenceError(KoordError):
    """A model did not converge."""


class DisclosureError(KoordError):
    """An output failed, or did not pass through, disclosure control."""
