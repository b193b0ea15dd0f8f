#!/usr/bin/env python3
"""Where a lavapipe kernel's time goes, instruction by instruction.

lavapipe compiles each pipeline to machine code at run time (LLVM's JIT), so a profiler sees only addresses
without symbols, and the code is gone when the process ends. This runs a command, samples it with `perf` for a
while, copies the JIT code the samples fell in out of the running process (/proc/PID/mem), disassembles it with
objdump and says which instructions the samples landed on:

    bench/jit_profile.py [--delay S] [--seconds S] [--top N] [--asm FILE] -- COMMAND [ARGS...]

e.g. the 16-lane matmul of one bench_gemm product:

    LP_NATIVE_VECTOR_WIDTH=512 OPENBLAS_CORETYPE=SkylakeX bench/jit_profile.py --delay 4 -- \\
        build/bench/bench_gemm --shape 128x1024x1024 --samples 400

Needs perf (Debian: linux-perf), objdump (binutils), and the right to read the command's memory (root, or
kernel.yama.ptrace_scope = 0). Samples are counted by the `cpu-clock` software event, so it works in VMs
without hardware counters. The command runs to its end after the sample is taken.
"""
import argparse
import bisect
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# Mnemonic classes, to read the mix at a glance.
CLASSES = [
    ("float arithmetic", re.compile(r"^v?(fn?m(add|sub)\w*|mul[ps][sd]|add[ps][sd]|sub[ps][sd]|div[ps][sd]|"
                                    r"min[ps][sd]|max[ps][sd]|sqrt\w*)$")),
    ("lane moves (insert, extract, permute, broadcast)",
     re.compile(r"^v?(p?insr\w*|insert\w*|p?extr\w*|extract\w*|perm\w*|shuf\w*|pbroadcast\w*|broadcast\w*|"
                r"unpck\w*|punpck\w*|alignd|alignq|palignr|movs[lh]dup|movddup)$")),
    ("vector loads and stores", re.compile(r"^v?(mov(aps|ups|apd|upd|dqa\d*|dqu\d*|d|q|ss|sd)|movnt\w*|"
                                           r"p?gather\w*|p?scatter\w*|maskmov\w*)$")),
    ("masks and selects", re.compile(r"^v?(pternlog\w|blend\w*|pblend\w*|pcmp\w*|cmp[ps][sd]|pmovm2\w|pmov\w2m|"
                                     r"k\w+|pand\w*|pandn\w*|por\w*|pxor\w*|and[np]?[sd]|or[ps][sd]|xor[ps][sd])$")),
    ("integer vector arithmetic", re.compile(r"^vp(add|sub|mul|sll|srl|sra|min|max)\w*$")),
    ("scalar (addresses, loop control)", re.compile(r".*")),
]


def classify(mnemonic):
    for name, pattern in CLASSES:
        if pattern.match(mnemonic):
            return name
    return CLASSES[-1][0]


def fail(message):
    print(f"jit_profile: {message}", file=sys.stderr)
    sys.exit(2)


def executable_anonymous_maps(pid):
    """(start, end) of the process's executable mappings that belong to no file: where a JIT puts its code."""
    maps = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if "x" in fields[1] and (len(fields) < 6 or fields[5].startswith("[anon")):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                maps.append((start, end))
    return maps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", type=float, default=3.0, help="seconds to wait before sampling (default 3)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds to sample (default 2)")
    parser.add_argument("--top", type=int, default=12, help="hottest instructions to print (default 12)")
    parser.add_argument("--asm", help="write the whole annotated disassembly here")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to profile (put it after --)")
    if args.delay < 0 or args.seconds <= 0:
        parser.error("--delay must be >= 0 and --seconds > 0")
    for tool in ("perf", "objdump"):
        if shutil.which(tool) is None:
            fail(f"{tool} is not installed (Debian: apt-get install {'linux-perf' if tool == 'perf' else 'binutils'})")

    work = tempfile.mkdtemp(prefix="jit_profile.")
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    except OSError as error:
        fail(f"cannot run {command[0]}: {error}")
    try:
        time.sleep(args.delay)
        if process.poll() is not None:
            fail(f"the command ended (status {process.returncode}) before sampling began: a shorter --delay?")
        data = os.path.join(work, "perf.data")
        record = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-p", str(process.pid),
                                 "-o", data, "--", "sleep", str(args.seconds)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if record.returncode != 0:
            fail(f"perf record failed: {record.stderr.strip()} (kernel.perf_event_paranoid may forbid it)")
        if process.poll() is not None:
            fail("the command ended while it was sampled, and its JIT code with it: a shorter --delay or --seconds?")
        maps = executable_anonymous_maps(process.pid)
        script = subprocess.run(["perf", "script", "-i", data, "-F", "ip"], capture_output=True, text=True)
        ips = collections.Counter(int(x, 16) for x in script.stdout.split())
        total = sum(ips.values())
        jit = {ip: n for ip, n in ips.items() if any(a <= ip < b for a, b in maps)}
        if not jit:
            fail(f"none of the {total} samples fell in JIT code: is the command running a kernel then?")
        # Copy the mappings the samples fell in while the process still has them.
        code = []
        try:
            with open(f"/proc/{process.pid}/mem", "rb") as mem:
                for start, end in maps:
                    if any(start <= ip < end for ip in jit):
                        mem.seek(start)
                        code.append((start, mem.read(end - start)))
        except OSError as error:
            fail(f"cannot read the command's memory ({error}): run as root or set kernel.yama.ptrace_scope = 0")
    finally:
        if process.poll() is None:
            print("jit_profile: sample taken; waiting for the command to end", file=sys.stderr)
        process.wait()

    # Disassemble each mapping and attribute the samples to instructions.
    instructions = []  # (address, text)
    for start, blob in code:
        path = os.path.join(work, f"{start:x}.bin")
        with open(path, "wb") as f:
            f.write(blob)
        listing = subprocess.run(["objdump", "-D", "-b", "binary", "-mi386:x86-64", f"--adjust-vma={start:#x}", path],
                                 capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(\S.*)", line)
            if m:
                instructions.append((int(m.group(1), 16), m.group(2)))
    instructions.sort()
    addresses = [a for a, _ in instructions]
    per_instruction = collections.Counter()
    for ip, n in jit.items():
        i = bisect.bisect_right(addresses, ip) - 1
        if i >= 0:
            per_instruction[i] += n
    jit_samples = sum(jit.values())

    print(f"{total} samples of {' '.join(command)}; {jit_samples} ({100 * jit_samples / total:.0f} %) in JIT code, "
          f"{sum(len(b) for _, b in code) // 1024} KiB of it copied")
    mix = collections.Counter()
    by_class = collections.Counter()
    for i, n in per_instruction.items():
        mnemonic = instructions[i][1].split()[0]
        mix[mnemonic] += n
        by_class[classify(mnemonic)] += n
    print("\nsamples by kind of instruction:")
    for name, n in by_class.most_common():
        print(f"  {100 * n / jit_samples:5.1f} %  {name}")
    print("\nsamples by mnemonic:")
    for mnemonic, n in mix.most_common(args.top):
        print(f"  {100 * n / jit_samples:5.1f} %  {mnemonic}")
    print("\nhottest instructions:")
    for i, n in per_instruction.most_common(args.top):
        address, text = instructions[i]
        print(f"  {100 * n / jit_samples:5.1f} %  {address:#x}  {text}")
    if args.asm:
        with open(args.asm, "w") as f:
            for i, (address, text) in enumerate(instructions):
                f.write(f"{per_instruction.get(i, 0):6d} {address:#x} {text}\n")
        print(f"\nannotated disassembly (samples, address, instruction): {args.asm}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
