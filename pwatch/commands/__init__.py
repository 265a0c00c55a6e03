"""Command groups of the `pwatch` CLI; each module exposes `register(subparsers, common)`."""
