"""Subcommands of `koord`, one module each."""
