"""``colorize serve``: one shared colouring service, an HTTP API and a web page over the
same API as the command (an optional extra: starlette, uvicorn, python-multipart)."""
