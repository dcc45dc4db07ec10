"""The errors a user can fix: the CLI prints them as one line and exits with code 2, without a traceback."""


class InputError(ValueError):
    """Bad user input; the message names what is wrong and where (file, line, record, column or field)."""


class SpecError(InputError):
    """A pipeline definition (YAML, `--set` override or Python dict) that does not validate."""
