#!/usr/bin/env python3
"""Where a lavapipe kernel's time goes, instruction by instruction.

lavapipe compiles each pipeline to machine code at run time (LLVM's JIT), so a profiler sees only addresses
without symbols, and the code is gone when the process ends. This runs a command, samples it and the processes it
started with `perf` for a while, copies the JIT code the samples fell in out of the running processes
(/proc/PID/mem), disassembles it with objdump and says which instructions the samples landed on:

    bench/jit_profile.py [--delay S] [--seconds S] [--top N] [--asm FILE] -- COMMAND [ARGS...]

e.g. the 16-lane matmul of one bench_gemm product (with --shape, the only JIT code that runs is that product's):

    LP_NATIVE_VECTOR_WIDTH=512 OPENBLAS_CORETYPE=SkylakeX bench/jit_profile.py --delay 4 -- \\
        build/bench/bench_gemm --shape 128x1024x1024 --samples 400

Needs perf (Debian: linux-perf) with kernel.perf_event_paranoid <= 2 or root, and objdump (binutils); reading a
child's memory needs nothing more under Yama's default (ptrace_scope 1). Samples come from the `cpu-clock`
software event, so it works in VMs without hardware counters; a timer sample lands where execution stood, often
just after a slow instruction, so read the shares of single instructions as those of their neighbourhood. The
command runs to its end after the sample is taken (it is stopped if profiling fails).
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

VECTOR_OPERAND = re.compile(r"%[xyz]mm\d|%k[0-7]")
# What each vector instruction does, to read the mix at a glance (AT&T mnemonics, as objdump prints them).
VECTOR_CLASSES = [
    ("lane moves (insert, extract, permute, broadcast, widen)",
     re.compile(r"^v?p?(insr|insert|extr|extract|perm|shuf|broadcast|unpck|align|movzx|movsx|compress|expand)\w*$|"
                r"^v?(movs[lh]dup|movddup|movhlps|movlhps)$")),
    ("float arithmetic",
     re.compile(r"^v?(fn?m(add|sub)\w+|(mul|add|sub|div|min|max|sqrt|rcp(14|28)?|rsqrt(14|28)?|round|rndscale|scalef|"
                r"getexp|getmant|hadd|hsub|addsub|dp)[ps][sd]|cvt\w+)$")),
    ("masks, compares and selects",
     re.compile(r"^v?(p?ternlog[dq]|p?blend\w*|p?cmp\w*|k\w+|pmovm2\w|pmov\w2m|p?andn?\w*|p?x?or\w*|p?test\w*)$")),
    ("integer arithmetic", re.compile(r"^v?p(add|sub|mul|sll|srl|sra|min|max|abs|sign|avg|madd|sad)\w*$")),
    ("moves (register or memory) and gathers", re.compile(r"^v?p?(mov\w*|maskmov\w*|gather\w*|scatter\w*)$")),
]


def classify(mnemonic, operands):
    if not VECTOR_OPERAND.search(operands):
        return "scalar (addresses, loop control)"
    for name, pattern in VECTOR_CLASSES:
        if pattern.match(mnemonic):
            return name
    return "other vector"


class Failure(Exception):
    pass


def descendants(pid):
    """pid and every process it started, still running (a benchmark may run itself again with other settings)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in os.listdir(f"/proc/{p}/task") if os.path.isdir(f"/proc/{p}/task") else []:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return found


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


def sample(process, args, work):
    """{(pid, start): code bytes} of the JIT mappings the samples fell in, {(pid, ip): samples}, all samples."""
    time.sleep(args.delay)
    if process.poll() is not None:
        raise Failure(f"the command ended (status {process.returncode}) before sampling began: a shorter --delay?")
    pids = descendants(process.pid)
    data = os.path.join(work, "perf.data")
    record = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-p", ",".join(map(str, pids)),
                             "-o", data, "--", "sleep", str(args.seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if record.returncode != 0:
        raise Failure(f"perf record failed: {record.stderr.strip()} (kernel.perf_event_paranoid may forbid it)")
    if process.poll() is not None:
        raise Failure("the command ended while it was sampled, and its JIT code with it: a shorter --delay or "
                      "--seconds?")
    script = subprocess.run(["perf", "script", "-i", data, "-F", "pid,ip"], capture_output=True, text=True)
    if script.returncode != 0:
        raise Failure(f"perf script failed: {script.stderr.strip()}")
    samples = collections.Counter()
    for line in script.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2:
            samples[(int(fields[0]), int(fields[1], 16))] += 1
    total = sum(samples.values())
    code, jit = {}, collections.Counter()
    for pid in {pid for pid, _ in samples}:
        try:
            maps = executable_anonymous_maps(pid)
        except OSError:
            continue  # a process that has ended since
        hits = {(p, ip): n for (p, ip), n in samples.items() if p == pid and any(a <= ip < b for a, b in maps)}
        if not hits:
            continue
        jit.update(hits)
        try:
            with open(f"/proc/{pid}/mem", "rb") as mem:
                for start, end in maps:
                    if any(start <= ip < end for _, ip in hits):
                        mem.seek(start)
                        code[(pid, start)] = mem.read(end - start)
        except OSError as error:
            raise Failure(f"cannot read process {pid}'s memory ({error}): run as root, or as its parent under "
                          "kernel.yama.ptrace_scope <= 1") from error
    if not jit:
        raise Failure(f"none of the {total} samples fell in JIT code: is the command running a kernel then?")
    return code, jit, total


def disassemble(code, work):
    """Sorted [(pid, address, mnemonic, operands)] of every mapping copied."""
    instructions = []
    for (pid, start), blob in code.items():
        path = os.path.join(work, f"{pid}-{start:x}.bin")
        with open(path, "wb") as f:
            f.write(blob)
        # --insn-width: every instruction on one line (EVEX ones with a displacement are longer than 7 bytes).
        listing = subprocess.run(["objdump", "-D", "--insn-width=16", "-b", "binary", "-mi386:x86-64",
                                  f"--adjust-vma={start:#x}", path], capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(\S+)\s*(.*)", line)
            if m:
                instructions.append((pid, int(m.group(1), 16), m.group(2), m.group(3)))
    instructions.sort()
    return instructions


def report(command, code, jit, total, instructions, args):
    keys = [(pid, address) for pid, address, _, _ in instructions]
    per_instruction = collections.Counter()
    off_start = 0
    for (pid, ip), n in jit.items():
        i = bisect.bisect_right(keys, (pid, ip)) - 1
        if i >= 0 and keys[i][0] == pid:
            per_instruction[i] += n
            off_start += n if keys[i][1] != ip else 0
    jit_samples = sum(jit.values())

    def share(n):
        return f"{100 * n / jit_samples:5.1f} %"

    print(f"{total} samples of {' '.join(command)}; {jit_samples} ({100 * jit_samples / total:.0f} %) in JIT code, "
          f"{sum(len(b) for b in code.values()) // 1024} KiB of it copied")
    if off_start:
        print(f"({off_start} samples fell inside an instruction as disassembled: the mapping holds data too)")
    print("\nsamples by mapping:")
    per_mapping = collections.Counter()
    for (pid, ip), n in jit.items():
        per_mapping[next(key for key in code if key[0] == pid and key[1] <= ip < key[1] + len(code[key]))] += n
    for (pid, start), n in per_mapping.most_common():
        print(f"  {share(n)}  process {pid}, {start:#x} (+{len(code[(pid, start)]) // 1024} KiB)")
    kinds, mnemonics = collections.Counter(), collections.Counter()
    touches_memory = 0
    for i, n in per_instruction.items():
        _, _, mnemonic, operands = instructions[i]
        kinds[classify(mnemonic, operands)] += n
        mnemonics[mnemonic] += n
        touches_memory += n if "(" in operands else 0
    print("\nsamples by kind of instruction:")
    for name, n in kinds.most_common():
        print(f"  {share(n)}  {name}")
    print(f"  ({share(touches_memory).strip()} on instructions with a memory operand, of every kind)")
    print("\nsamples by mnemonic:")
    for mnemonic, n in mnemonics.most_common(args.top):
        print(f"  {share(n)}  {mnemonic}")
    print("\nhottest instructions:")
    for i, n in per_instruction.most_common(args.top):
        _, address, mnemonic, operands = instructions[i]
        print(f"  {share(n)}  {address:#x}  {mnemonic} {operands}")
    if args.asm:
        with open(args.asm, "w") as f:
            for i, (pid, address, mnemonic, operands) in enumerate(instructions):
                f.write(f"{per_instruction.get(i, 0):6d} {pid} {address:#x} {mnemonic} {operands}\n")
        print(f"\nannotated disassembly (samples, process, address, instruction): {args.asm}")


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
            print(f"jit_profile: {tool} is not installed (Debian: apt-get install "
                  f"{'linux-perf' if tool == 'perf' else 'binutils'})", file=sys.stderr)
            return 2

    work = tempfile.mkdtemp(prefix="jit_profile.")
    try:
        try:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        except OSError as error:
            raise Failure(f"cannot run {command[0]}: {error}") from error
        try:
            code, jit, total = sample(process, args, work)
        except BaseException:
            process.terminate()
            process.wait()
            raise
        print("jit_profile: sample taken; waiting for the command to end", file=sys.stderr)
        process.wait()
        report(command, code, jit, total, disassemble(code, work), args)
        return 0
    except Failure as failure:
        print(f"jit_profile: {failure}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
