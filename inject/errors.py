"""The one error type for bad user input: the CLI prints its message on one line and exits non-zero."""


class InjectError(ValueError):
    """Bad input to ``inject``: the message names the input and says what to do."""
