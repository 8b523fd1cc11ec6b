"""Pacing: how many calls to launch now. Pure code, shared by the engine and the benchmarks."""
