#!/usr/bin/env python3
"""thread_cpu.py: the CPU time of each thread of a command, for finding the critical path of a
run on a loaded machine (issue 16, item 4). Runs CMD, reads /proc/PID/task/*/stat every 20 ms
(the last reading of a thread that ends is kept; a thread shorter than that may be missed, its
time still counts in the process total), and prints each thread's user + system CPU seconds with
its name, then the process total from wait4's rusage (children included). Wall time on a
machine shared with other work is noise; CPU time is not.

usage: bench/thread_cpu.py CMD [ARGS...]
"""
import os
import sys
import time


def read_threads(pid, seen):
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        cpu = (int(rest[11]) + int(rest[12])) / tick  # utime, stime (fields 14, 15)
        seen[int(tid)] = (name, cpu)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pid = os.fork()
    if pid == 0:
        os.execvp(sys.argv[1], sys.argv[1:])
    seen = {}
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            break
        read_threads(pid, seen)
        time.sleep(0.02)
    total = ru.ru_utime + ru.ru_stime
    for tid in sorted(seen):
        name, cpu = seen[tid]
        role = "main" if tid == pid else "thread"
        print(f"{role:6} {tid:8d} {name:16s} {cpu:8.2f} s  {100 * cpu / total if total else 0:5.1f} %")
    print(f"process total {total:.2f} s CPU (user {ru.ru_utime:.2f} + sys {ru.ru_stime:.2f}), exit {os.waitstatus_to_exitcode(status)}")


if __name__ == "__main__":
    main()
