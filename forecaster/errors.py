"""The errors the library raises on purpose.

Every message is meant for the person at the terminal: it names the file, the column and
the row where it can, and says what to do. The CLI prints it as one line and exits 1.
"""


class ForecasterError(Exception):
    """Base class of every error the user can fix."""


class DataError(ForecasterError):
    """The input CSV cannot be used as it is."""


class ConfigError(ForecasterError):
    """An option, or a combination of options, cannot work."""


class ArtifactError(ForecasterError):
    """The model directory is missing, incomplete or unreadable."""
