"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class NeurorlError(Exception):
    """Bad input or a state the user must act on (never a bug)."""


class ConfigError(NeurorlError):
    """An unknown config key, a value of the wrong type, or an impossible setting."""


class CheckpointError(NeurorlError):
    """A missing, corrupted or truncated checkpoint."""


class NotExportableError(NeurorlError):
    """The policy has no equivalent in the export format (e.g. a ReLU network in NIR)."""


class DivergedError(NeurorlError):
    """Training produced NaN or inf; the last good checkpoint is kept."""


def os_error_line(error: OSError) -> str:
    """An OS error the user must fix (an unwritable --out, a full disk) as one line."""
    return f"{error.strerror or error}: {error.filename or ''}"
