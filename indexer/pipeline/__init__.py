"""The event pipeline: intake, booking links, dead letters, the stream entry format, the worker and
its Lua scripts, counters, the horizon roll."""
