"""The shared store: every world kept in Redis, so that several sandbox processes (on one machine
or many) serve the same worlds. ``records`` is the one mechanism underneath: an object kept in
Redis as a document, changed only under its lock. The features keep their own objects with it
(``faults/shared.py``, ``webhooks/shared.py``): the store imports no feature."""
