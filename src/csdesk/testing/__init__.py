"""Helpers for testing code that uses csdesk: a fault-injecting shop API server.

`csdesk.testing.shop_server` needs the ``testing`` extra (Starlette and uvicorn); nothing else in
csdesk imports this package.
"""
