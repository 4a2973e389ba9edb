"""nova-snapshot-hook: Nova backup images of this VM, before apt changes packages and on schedule."""

__version__ = "0.1.0"
