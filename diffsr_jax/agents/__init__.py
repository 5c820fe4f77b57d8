"""Agents. Each is a static object (sizes from config) with pure ``init`` / ``act`` / ``update``."""
