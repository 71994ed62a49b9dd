"""Talking to a running stack like a user would: a small JSON-protocol client (client), used by
the tests too, and `invoke demo`'s scripted conversation across two edges (chat).
"""
