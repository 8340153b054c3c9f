"""The only code that talks to Redis. The key schema lives in `keys`."""
