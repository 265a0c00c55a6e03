"""Acting on what the pipeline found: sending takedown notices (HTTP, retries, delivery status)
and recording analyst review decisions.

The only package that sends anything over the network to a platform or writes a review decision.
It builds on `storage` (the writers) and on `reports` (what a notice says, read from the
database); `reports` never imports it. Layers: docs/ARCHITECTURE.md.
"""
