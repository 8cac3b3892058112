#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Helpers shared by gr-amc's Python blocks (modulation_source, radioml_channel): the tag_interval parameter, the
periodic stream tags it asks for, and a large output buffer set without GNU Radio's info-level log line."""
import numpy as np

#: Minimum output buffer of the generator blocks, in items: they produce in blocks of up to this many samples.
OUTPUT_BUFFER_ITEMS = 1 << 16


def check_tag_interval(tag_interval):
    """tag_interval as an int; ValueError unless it is an integer >= 0 (0: one tag at offset 0 only)."""
    if isinstance(tag_interval, bool) or not isinstance(tag_interval, (int, np.integer)) or tag_interval < 0:
        raise ValueError(f"tag_interval: must be an integer >= 0 (0: one tag at offset 0 only), "
                         f"got {tag_interval!r}")
    return int(tag_interval)


def add_periodic_tags(block, start, n, interval, key, value, srcid):
    """Tag output 0 of `block` with (key, value) at every multiple of `interval` in [start, start + n); with
    interval 0 only at offset 0."""
    if interval == 0:
        if start == 0 and n > 0:
            block.add_item_tag(0, 0, key, value, srcid)
        return
    first = -(-start // interval) * interval
    for off in range(first, start + n, interval):
        block.add_item_tag(0, off, key, value, srcid)


def large_output_buffer(block, items=OUTPUT_BUFFER_ITEMS):
    """set_min_output_buffer(items) without GNU Radio's info-level log line for it."""
    level = block.logger.get_string_level()
    block.logger.set_level("warn")
    try:
        block.set_min_output_buffer(items)
    finally:
        block.logger.set_level(level)
