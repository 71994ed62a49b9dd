"""A local stand-in for the three push services (FCM HTTP v1, APNs, Web Push), one process.

It speaks each protocol at its own paths and checks what it receives as the real service
would (`checks.py`), plays the phones and browsers (`/_devices` mints tokens and Web Push
subscriptions), and records every delivery (`/_log`, `invoke push-log`). `app.py` is the
ASGI app, `__main__.py` serves it with hypercorn (HTTP/1.1 and HTTP/2, which APNs needs).
"""
