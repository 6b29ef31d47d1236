#!/usr/bin/env python3
"""statefile.py - read a segalert state_dir the way the daemon does:
state.json (the snapshot) plus the save records of state.journal, for the
integration tests.  A second, independent reading of the format documented
in include/daemon/state.h.

    python3 statefile.py STATE_DIR      print the document as JSON
    import statefile; S = statefile.load(STATE_DIR)

An incomplete last record (a save being written, or interrupted) is
ignored; damage before the end raises ValueError.
"""
import json
import os
import sys
import zlib

HEADER = 28         # "@LLLLLLLL PPPPPPPP HHHHHHHH\n"


def frames(buf):
    """The payloads of the complete records of a journal, in order."""
    pos = 0
    while pos < len(buf):
        left = len(buf) - pos
        if left < HEADER:
            return                                  # torn header
        h = buf[pos:pos + HEADER]
        ok = h[0:1] == b"@" and h[9:10] == b" " and h[18:19] == b" " \
            and h[27:28] == b"\n"
        try:
            n, pcrc, hcrc = int(h[1:9], 16), int(h[10:18], 16), int(h[19:27], 16)
        except ValueError:
            ok = False
        if not ok or zlib.crc32(h[:18]) != hcrc:
            if buf[pos:].strip(b"\0") == b"":
                return                              # zero-filled tail
            raise ValueError("bad record header at byte %d" % pos)
        end = pos + HEADER + n + 1
        if end > len(buf):
            return                                  # torn record
        payload = buf[pos + HEADER:pos + HEADER + n]
        if zlib.crc32(payload) != pcrc or buf[end - 1:end] != b"\n":
            if end == len(buf):
                return                              # torn last record
            raise ValueError("record at byte %d fails its checksum" % pos)
        yield json.loads(payload)
        pos = end


def _parent(doc, path):
    names = path.split(".")
    node = doc
    for name in names[:-1]:
        node = node.setdefault(name, {})
    return node, names[-1]


def apply(doc, record):
    for ch in record["changes"]:
        if "set" in ch:
            parent, last = _parent(doc, ch["set"])
            parent[last] = ch["v"]
            continue
        path = ch.get("put", ch.get("del"))
        parent, last = _parent(doc, path)
        arr = parent.setdefault(last, [])
        by = ch["by"]
        key = ch["v"][by] if "put" in ch else ch["k"]
        at = [i for i, e in enumerate(arr) if e.get(by) == key]
        if "put" in ch:
            if at:
                arr[at[0]] = ch["v"]
            else:
                arr.append(ch["v"])
        elif at:
            del arr[at[0]]
    doc["saved_at"] = record["saved_at"]


def load(state_dir):
    try:
        with open(os.path.join(state_dir, "state.json")) as f:
            doc = json.load(f)
        found = True
    except FileNotFoundError:
        doc, found = {"version": 1}, False
    try:
        with open(os.path.join(state_dir, "state.journal"), "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        return doc
    records = frames(buf)
    header = next(records, None)
    if not found or header is None or \
            header.get("generation") != doc.get("generation", 0):
        return doc                                  # another snapshot's
    for record in records:
        apply(doc, record)
    return doc


if __name__ == "__main__":
    json.dump(load(sys.argv[1]), sys.stdout, indent=1)
    print()
