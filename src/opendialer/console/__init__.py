"""The agent console: the web face people work in (pages, their JSON calls, pushed state)."""
