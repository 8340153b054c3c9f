"""The leaf vocabulary of Tessera: ARNs, frozen records, error classes, clock, ids.

Imports only the standard library.
"""
