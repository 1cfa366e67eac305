"""`eventdesk`: the command-line companion that keeps the agenda offline."""

__version__ = "0.1.0"
