#!/usr/bin/env python3
"""Where a running process's resident memory is: the tables of docs/benchmarks.md.

    scripts/resident-memory.py PID              # resident memory by mapping, largest first
    scripts/resident-memory.py PID --program    # the program file's resident pages by ELF
                                                # section, and its code by crate

The first reads /proc/PID/smaps. The second reads /proc/PID/pagemap (root only), keeps the pages
of the process's own executable that are present, places each in its ELF section (readelf), and
shares each page of `.text` among the symbols it holds (nm) in proportion to their bytes, grouped
by the first `crate::` of the demangled name (generic code is counted under the crate that
defines it, `core` and `alloc` included). The program must still have its symbols.
"""
import bisect
import collections
import os
import re
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")


def by_mapping(pid):
    rss, anon, name = collections.Counter(), collections.Counter(), None
    for line in open(f"/proc/{pid}/smaps"):
        parts = line.split()
        if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
            name = parts[5] if len(parts) > 5 else "[anon]"
            name = f"{name} {parts[1]}" if name.startswith("/") else name
        elif parts[0] == "Rss:":
            rss[name] += int(parts[1])
        elif parts[0] == "Anonymous:":
            anon[name] += int(parts[1])
    print(f"resident {sum(rss.values()) / 1024:.1f} MiB, of which anonymous {sum(anon.values()) / 1024:.1f} MiB")
    for n, v in rss.most_common(15):
        print(f"{v / 1024:8.1f} MiB  (anonymous {anon[n] / 1024:.1f})  {n}")


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def crate_of(symbol):
    m = re.search(r"([a-z_][a-z0-9_]*)::", symbol)
    return m.group(1) if m else "(C or unnamed)"


def program(pid):
    exe = os.readlink(f"/proc/{pid}/exe")
    sections = []  # (name, address, file offset, size)
    for line in run("readelf", "-S", "-W", exe).splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and int(m.group(2), 16):
            sections.append((m.group(1), *(int(m.group(i), 16) for i in (2, 3, 4))))
    symbols = []
    for line in run("nm", "-S", "-C", "--defined-only", exe).splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2] in "tT":
            symbols.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    symbols.sort()
    starts = [s[0] for s in symbols]
    by_section, by_crate, code_size = collections.Counter(), collections.Counter(), collections.Counter()
    for start, size, name in symbols:
        code_size[crate_of(name)] += size
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in open(f"/proc/{pid}/maps"):
            f = line.split()
            if len(f) < 6 or f[5] != exe:
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            offset = int(f[2], 16)
            pagemap.seek(lo // PAGE * 8)
            entries = pagemap.read((hi - lo) // PAGE * 8)
            for i in range(0, len(entries), 8):
                if not int.from_bytes(entries[i : i + 8], "little") >> 63:
                    continue  # not present
                at = offset + i // 8 * PAGE
                section = next((s for s in sections if s[2] <= at < s[2] + s[3]), None)
                by_section[section[0] if section else "(no section)"] += 1
                if section is None or section[0] != ".text":
                    continue
                address = section[1] + at - section[2]
                j = max(bisect.bisect_right(starts, address) - 1, 0)
                while j > 0 and symbols[j][0] + symbols[j][1] > address:
                    j -= 1
                held = collections.Counter()
                while j < len(symbols) and symbols[j][0] < address + PAGE:
                    start, size, name = symbols[j]
                    overlap = min(start + size, address + PAGE) - max(start, address)
                    if overlap > 0:
                        held[crate_of(name)] += overlap
                    j += 1
                total = sum(held.values()) or 1
                for crate, n in held.items():
                    by_crate[crate] += n / total
    mib = PAGE / 2**20
    print(f"{exe}: {sum(by_section.values()) * mib:.1f} MiB resident")
    for name, n in by_section.most_common(6):
        print(f"  {name:24} {n * mib:6.1f} MiB")
    print("code by crate: resident MiB / size in the file MiB")
    for crate, n in by_crate.most_common(25):
        print(f"  {crate:32} {n * mib:6.2f} / {code_size[crate] / 2**20:6.2f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    (program if "--program" in sys.argv[2:] else by_mapping)(sys.argv[1])
