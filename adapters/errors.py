"""The one error type the adapters raise for models or files they cannot handle."""


class HeadError(ValueError):
    """No usable classification layer was found, or the one found cannot be extended.

    The message names the model or file and says what to do (e.g. pass ``--head-key``).
    """
