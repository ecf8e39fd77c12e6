"""The edge: storage and HTTP. Only this package and `csdesk.scripts` open files or sockets."""

__all__: list[str] = []
