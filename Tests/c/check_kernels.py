#!/usr/bin/env python3
"""Checks that the AVX-512 code of libsimloss.so can only run after the CPU check.

Usage: check_kernels.py LIBRARY

Every function that holds an EVEX-encoded (AVX-512) instruction must be one
of SimLossAVX512's: its demangled name mentions that module (its own entry
points, or kernels specialised for its `AVX512` kernel target). A function
shared by name with the baseline code (a specialisation both modules emit,
of which the linker keeps one copy) would otherwise run AVX-512
instructions on any CPU. See Sources/SimLossCore/Support/KernelTarget.swift.
"""
import re
import subprocess
import sys

# In 64-bit mode the byte 0x62 after the legacy prefixes opens an EVEX
# instruction (it was BOUND, invalid in long mode).
LEGACY_PREFIXES = {"66", "67", "f0", "f2", "f3", "2e", "36", "3e", "26", "64", "65"}


def evex_functions(library):
    out = subprocess.run(["objdump", "-d", "--no-addresses", "--insn-width=15", library],
                         check=True, capture_output=True, text=True).stdout
    found, current = set(), None
    for line in out.splitlines():
        header = re.match(r"^<(.+)>:$", line)
        if header:
            current = header.group(1)
            continue
        insn = re.match(r"^\s*((?:[0-9a-f]{2} )+)\s*(\S.*)$", line)
        if not insn or current is None:
            continue
        octets = insn.group(1).split()
        i = 0
        while i < len(octets) and octets[i] in LEGACY_PREFIXES:
            i += 1
        if i < len(octets) and octets[i] == "62":
            found.add(current)
    return found


def main():
    library = sys.argv[1]
    functions = sorted(evex_functions(library))
    names = subprocess.run(["swift", "demangle", "--compact"], input="\n".join(functions), check=True,
                           capture_output=True, text=True).stdout.splitlines()
    outside = [(f, n) for f, n in zip(functions, names) if "SimLossAVX512" not in n]
    print(f"{len(functions)} functions hold AVX-512 instructions")
    for mangled, name in outside:
        print(f"FAIL {mangled}\n     {name[:300]}")
    if not functions:
        print("FAIL no AVX-512 code at all: SimLossAVX512 was not compiled for it")
    ok = functions and not outside
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
