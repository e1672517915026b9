"""Writes the summary table of a side-by-side run folder (bench/side-by-side.sh) to stdout.

usage: summarize.py RUN_DIR      (reads RUN_DIR/raw.csv and RUN_DIR/memory.csv)

One markdown table: figure, moatd, libvirtd, ratio, target (DESIGN.md "Performance"), met?.
Every ratio is moatd ÷ libvirtd. Loop figures are the median over repetitions with the range
(min–max) in brackets; the ratio of the loop figures is the ratio of medians, with the range of
the per-repetition ratios (repetitions alternate between the daemons, so rep i of one daemon ran
next to rep i of the other). Latency figures (the lifecycle case: define → running, destroy) are
the median latency over repetitions with the range, and the same ratio of medians with the range
of per-repetition ratios. To grow the run, add a case to side-by-side.sh and its figures to
LOOP_FIGURES, LATENCY_FIGURES or MEMORY_FIGURES here.
"""

import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# (case, label, target text, predicate on the moatd ÷ libvirtd ratio) — targets from DESIGN.md.
LOOP_FIGURES = [
    ("lookup_info_root", "`lookupByName`+`info()` loop, no ACL, root client", "≥ 2×",
     lambda r: r >= 2.0),
    ("lookup_info_nobody", "`lookupByName`+`info()` loop, no ACL, unprivileged client", "≥ 2×",
     lambda r: r >= 2.0),
    # Issue 7 (side-by-side.sh --acl): moatd's rules driver against libvirtd's polkit driver.
    ("acl_lookup_info", "`lookupByName`+`info()` loop, ACL on (rules vs polkit), as nobody",
     "≥ 20×", lambda r: r >= 20.0),
    ("acl_list_all", "`listAllDomains` over 1,000 guests, per-guest ACL filter, as nobody",
     "≥ 50×", lambda r: r >= 50.0),
    # Issue 12: many clients at once; DESIGN.md sets no target (None: reported, not judged).
    ("concurrent", "concurrent clients, `info()` calls: throughput of all clients", "—", None),
]

# Rate units other than iterations per second.
UNITS = {"acl_list_all": "calls/s", "concurrent": "calls/s"}

# (column of latency.csv, label) — the concurrent case's per-call latency, lower is better.
CONCURRENT_LATENCY = [
    ("p50_ms", "concurrent clients: p50 latency of one `info()` call"),
    ("p99_ms", "concurrent clients: p99 latency of one `info()` call"),
]

# (case, label, target text, predicate on (ratio, moatd median seconds)) — from DESIGN.md: define →
# running ≤ 0.5× libvirtd (aim 0.2×); destroy aim ≤ 50 ms (libvirtd ~208 ms). Lower is better.
LATENCY_FIGURES = [
    ("define_running", "define → running (`defineXML`+`create()`, TCG guest)", "≤ 0.5×",
     lambda r, m: r <= 0.5),
    ("define_running", "define → running, DESIGN.md's aim", "aim 0.2×", lambda r, m: r <= 0.2),
    ("destroy", "destroy (`destroy()` of a running guest)", "aim ≤ 50 ms (moatd)",
     lambda r, m: m <= 0.050),
]

# (when, column, label, target text, predicate) — DESIGN.md sets ≤ ¼ on RSS; Pss and private
# memory are held to the same bar, as most of libvirtd's RSS is shared libraries.
MEMORY_FIGURES = [
    ("idle", "vmrss_kib", "idle VmRSS", "≤ ¼", lambda r: r <= 0.25),
    ("idle", "pss_kib", "idle Pss", "≤ ¼ (RSS bar)", lambda r: r <= 0.25),
    ("idle", "private_kib", "idle private (clean+dirty)", "≤ ¼ (RSS bar)", lambda r: r <= 0.25),
    # --acl runs: after defining the guests, before the cases (libvirtd alone; polkitd, dbus-daemon
    # and virtlogd in the notes).
    ("with_guests", "vmrss_kib", "VmRSS with the guests defined, idle", "≤ ¼", lambda r: r <= 0.25),
    ("with_guests", "pss_kib", "Pss with the guests defined, idle", "≤ ¼ (RSS bar)",
     lambda r: r <= 0.25),
    # The concurrent case: the highest VmRSS sample while the clients ran (over all repetitions).
    ("loaded", "vmrss_kib", "VmRSS loaded (peak during the concurrent case)", "≤ ¼",
     lambda r: r <= 0.25),
    ("loaded", "pss_kib", "Pss loaded (at that peak)", "≤ ¼ (RSS bar)", lambda r: r <= 0.25),
]

# Helper processes reported beside the daemons, never added to them.
HELPERS = ("virtlogd", "polkitd", "dbus-daemon")

DAEMONS = ("moatd", "libvirtd")


def fmt_rate(value):
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def fmt_us(value):
    return f"{value:,.1f}"


def fmt_ms(value):
    return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def cell(values, fmt, unit):
    med = statistics.median(values)
    if len(values) == 1:
        return f"{fmt(med)} {unit}", med
    return f"{fmt(med)} {unit} ({fmt(min(values))}–{fmt(max(values))})", med


def met(predicate, ratio):
    if predicate is None:
        return "—"
    return "yes" if predicate(ratio) else "**no**"


def summarize(run):
    """The table's lines and the notes under it for run folder `run` (a Path)."""
    reps = defaultdict(dict)  # (case, daemon) -> rep -> row
    with open(run / "raw.csv", newline="") as f:
        for row in csv.DictReader(f):
            reps[(row["case"], row["daemon"])][int(row["rep"])] = row
    memory = {}
    with open(run / "memory.csv", newline="") as f:
        for row in csv.DictReader(f):
            key = (row["when"], row["daemon"])
            # Several `loaded` rows (one per repetition): the highest VmRSS counts.
            if key not in memory or int(row["vmrss_kib"]) > int(memory[key]["vmrss_kib"]):
                memory[key] = row
    latency = defaultdict(list)  # daemon -> rows of latency.csv
    if (run / "latency.csv").exists():
        with open(run / "latency.csv", newline="") as f:
            for row in csv.DictReader(f):
                latency[row["daemon"]].append(row)

    lines = [
        "| figure | moatd | libvirtd | ratio moatd ÷ libvirtd | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    notes = []
    for case, label, target, predicate in LOOP_FIGURES:
        if not all((case, d) in reps for d in DAEMONS):
            continue
        rate = {d: [float(r["it_per_s"]) for r in reps[(case, d)].values()] for d in DAEMONS}
        cpu = {
            d: [float(r["daemon_cpu_s"]) / int(r["iterations"]) * 1e6
                for r in reps[(case, d)].values() if r["daemon_cpu_s"]]
            for d in DAEMONS
        }
        client = {
            d: [float(r["client_cpu_s"]) / int(r["iterations"]) * 1e6
                for r in reps[(case, d)].values()]
            for d in DAEMONS
        }
        paired = [
            float(reps[(case, "moatd")][i]["it_per_s"]) / float(reps[(case, "libvirtd")][i]["it_per_s"])
            for i in sorted(set(reps[(case, "moatd")]) & set(reps[(case, "libvirtd")]))
        ]
        unit = UNITS.get(case, "it/s")
        (m_text, m_med), (l_text, l_med) = (cell(rate[d], fmt_rate, unit) for d in DAEMONS)
        ratio = m_med / l_med
        spread = f" ({min(paired):.2f}–{max(paired):.2f})" if len(paired) > 1 else ""
        lines.append(f"| {label} | {m_text} | {l_text} | {ratio:.2f}×{spread} | {target} | "
                     f"{met(predicate, ratio)} |")
        if all(cpu[d] for d in DAEMONS):
            (m_text, m_med), (l_text, l_med) = (cell(cpu[d], fmt_us, "µs") for d in DAEMONS)
            short = case.removeprefix("lookup_info_")
            lines.append(f"| daemon CPU per iteration, same loop ({short}) | "
                         f"{m_text} | {l_text} | {m_med / l_med:.2f}× | — | — |")
        c = {d: statistics.median(client[d]) for d in DAEMONS}
        notes.append(f"- {case}: the client itself used {c['moatd']:.0f} µs of CPU per iteration "
                     f"against moatd and {c['libvirtd']:.0f} µs against libvirtd (median); "
                     f"{len(paired)} repetitions per daemon.")

    if all(latency[d] for d in DAEMONS):
        for column, label in CONCURRENT_LATENCY:
            ms = {d: [float(r[column]) for r in latency[d]] for d in DAEMONS}
            (m_text, m_med), (l_text, l_med) = (cell(ms[d], fmt_ms, "ms") for d in DAEMONS)
            lines.append(f"| {label} | {m_text} | {l_text} | {m_med / l_med:.2f}× | — | — |")

    for case, label, target, predicate in LATENCY_FIGURES:
        if not all((case, d) in reps for d in DAEMONS):
            continue
        ms = {d: [float(r["seconds"]) * 1e3 for r in reps[(case, d)].values()] for d in DAEMONS}
        paired = [
            float(reps[(case, "moatd")][i]["seconds"]) / float(reps[(case, "libvirtd")][i]["seconds"])
            for i in sorted(set(reps[(case, "moatd")]) & set(reps[(case, "libvirtd")]))
        ]
        (m_text, m_med), (l_text, l_med) = (cell(ms[d], fmt_us, "ms") for d in DAEMONS)
        ratio = m_med / l_med
        spread = f" ({min(paired):.2f}–{max(paired):.2f})" if len(paired) > 1 else ""
        lines.append(f"| {label} | {m_text} | {l_text} | {ratio:.2f}×{spread} | {target} | "
                     f"{met(lambda r: predicate(r, m_med / 1e3), ratio)} |")
        if target.startswith("aim 0.2"):
            continue
        cpu = {d: [float(r["daemon_cpu_s"]) for r in reps[(case, d)].values() if r["daemon_cpu_s"]]
               for d in DAEMONS}
        if all(cpu[d] for d in DAEMONS):
            mean = {d: sum(cpu[d]) / len(cpu[d]) * 1e3 for d in DAEMONS}
            notes.append(f"- {case}: daemon CPU per operation (mean of 10 ms ticks over "
                         f"{len(paired)} repetitions): moatd {mean['moatd']:.0f} ms, "
                         f"libvirtd {mean['libvirtd']:.0f} ms (QEMU's own CPU not included).")

    for when, column, label, target, predicate in MEMORY_FIGURES:
        if not all((when, d) in memory for d in DAEMONS):
            continue
        kib = {d: int(memory[(when, d)][column]) for d in DAEMONS}
        ratio = kib["moatd"] / kib["libvirtd"]
        lines.append(f"| {label} | {kib['moatd'] / 1024:.1f} MiB | {kib['libvirtd'] / 1024:.1f} MiB | "
                     f"{ratio:.2f}× | {target} | {met(predicate, ratio)} |")
    for when in ("idle", "with_guests"):
        helpers = [(h, memory[(when, h)]) for h in HELPERS if (when, h) in memory]
        if helpers:
            parts = ", ".join(f"{h} VmRSS {int(v['vmrss_kib']) / 1024:.1f} MiB, "
                              f"Pss {int(v['pss_kib']) / 1024:.1f} MiB" for h, v in helpers)
            notes.append(f"- libvirtd's helpers ({when}), not counted in libvirtd's rows: {parts}.")
    notes.append("- DESIGN.md's libvirtd anchors for this kind of machine: ~3,460 it/s (root), "
                 "~3,810 it/s (unprivileged), ~25.5 MB idle RSS; "
                 "define → running ~428 ms (KVM, SeaBIOS guest), destroy ~208 ms.")

    return lines, notes


def main():
    lines, notes = summarize(Path(sys.argv[1]))
    print("\n".join(lines))
    print()
    print("\n".join(notes))


if __name__ == "__main__":
    main()
