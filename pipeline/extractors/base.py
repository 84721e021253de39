"""Errors of text extraction."""


class ExtractionError(Exception):
    """The source's text could not be extracted.

    The message is shown to the user on the source. `transient` says whether
    trying again later may help (a network error), as with ProviderError.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
