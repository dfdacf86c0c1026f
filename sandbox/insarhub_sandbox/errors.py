"""The sandbox's one error: it was misused (a bad event, a job it cannot render, ...)."""


class SandboxError(ValueError):
    """The offline sandbox was misused or is not running."""
