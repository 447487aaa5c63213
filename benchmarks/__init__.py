"""Benchmarks of async-compositions against the official SDKs and raw aiohttp (not tests)."""
