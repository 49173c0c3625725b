"""The package version, in a leaf module every layer may import (the journal
writer stamps it into headers without pulling in the public API)."""

__version__ = "0.2.0"
