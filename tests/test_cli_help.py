"""`pwatch --help` lists the commands in the order a user meets them, `run` first."""

from __future__ import annotations

import re

from precursor_watch.cli import HELP_ORDER, build_parser


def listed_commands(help_text: str) -> list[str]:
    section = help_text.split("COMMAND\n", 1)[1].split("\noptions:", 1)[0]
    return re.findall(r"^    (\S+)", section, flags=re.M)


def test_help_lists_every_command_in_the_order_a_user_meets_them():
    parser = build_parser()
    listed = listed_commands(parser.format_help())
    assert listed[:8] == ["run", "crawl", "flag", "review", "notices", "stats", "report", "audit"]
    assert listed == [name for name in HELP_ORDER if name in listed]
    registered = set(parser._subparsers._group_actions[0].choices)
    assert set(listed) == registered  # every command is placed in HELP_ORDER, none is hidden
    assert registered <= set(HELP_ORDER)
