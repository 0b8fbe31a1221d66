"""The one exception type users see from textcls.

Every problem with a user's input (data, arguments, checkpoints) is raised as a `TextclsError`
whose message is a single line naming the problem and the fix. The command line prints just
that line (the traceback only with `--debug` or `TEXTCLS_DEBUG=1`).
"""


class TextclsError(ValueError):
    """A user-facing error: one line that says what is wrong and how to fix it."""


class DataError(TextclsError):
    """A dataset, file or column the user pointed at cannot be used as given."""


class CheckpointError(TextclsError):
    """A model checkpoint is missing, incomplete, corrupt or does not fit the data."""


class TrainingInterrupted(TextclsError):
    """Ctrl-C stopped training after a checkpoint was saved; the same command resumes."""
