"""dissector: a TLS-aware network traffic analyzer."""

__version__ = "0.1.0"
