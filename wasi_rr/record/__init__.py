"""Recording: run a guest and journal every syscall (the record layer's one home).

``record(config, path)`` is the API; ``JournalRecorder`` is what the adapter's
generated RECORD callbacks append to; ``journal_header`` describes a run.
"""

from .api import PID, RecordError, end_interrupted, record
from .header import journal_header
from .recorder import JournalRecorder, placeholder

__all__ = ["PID", "JournalRecorder", "RecordError", "end_interrupted", "journal_header",
           "placeholder", "record"]
