"""Command line: `tessera serve`, `tessera dev`, and the admin commands."""
