"""Test and demo identity providers (the other party of federation). `app` never imports
this package; tests import it from the repository root and `tessera dev` loads it as data."""
