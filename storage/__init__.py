"""The tracking database: what auditors count.

Models (`models`) and the closed sets of values they store (`kinds`), engine and migrations
(`db`, `migrations/`), the state machine (`state`) and the only event writer (`events`), and the
functions other stages call with a Session they own: `crawls` (open/close a crawl run), `ingest`
(items -> observations, snapshots, listings), `detections`, `reviews`, `notices`, `queries`
(revisit targets), `reconcile` (a logical date -> removals, reappearances, closures,
`relisting`) and `stats` (numbers and their drill-down).
Imports nothing of ours but `precursor_watch.contract` (the items crawlers hand over); the
layers are in docs/ARCHITECTURE.md and checked by tests/test_layers.py.
"""
