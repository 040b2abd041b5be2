"""Benchmark tables: markdown rows, ours/upstream ratios, growth with video length."""

from __future__ import annotations

from pathlib import Path

from sam2_enhanced.benchmark.cases import COLUMNS, CaseResult


def mib(num_bytes: float | None) -> str:
    return "-" if num_bytes is None else f"{num_bytes / 2**20:,.2f}"


def ratio(ours: float | None, upstream: float | None) -> str:
    return "-" if ours is None or not upstream else f"{ours / upstream:.3g}"


HEADER = (
    "| method | model | px | objects | frames | frame ms | encoder | memory attention | decoders "
    "| memory encoder | other | after encoder | state MiB | total_bytes MiB | peak RSS MiB "
    "| RSS before video MiB | init s |"
)


def model_label(r: CaseResult) -> str:
    """The config's name, ``+tiles`` when detection tiles were on."""
    return Path(r.model).stem + ("+tiles" if r.use_tiles else "")


def result_row(r: CaseResult) -> str:
    stages = " | ".join(f"{r.stage_ms[c]:.1f}" for c in COLUMNS)
    return (
        f"| {r.method} | {model_label(r)} | {r.image_size} | {r.num_objects} | {r.num_frames} "
        f"| {r.frame_ms:.1f} | {stages} | {mib(r.state_bytes)} | {mib(r.footprint_bytes)} "
        f"| {mib(r.peak_rss_bytes)} | {mib(r.rss_before_bytes)} | {r.init_s:.2f} |"
    )


def ratio_row(ours: CaseResult, up: CaseResult) -> str:
    """ours / upstream for every number; total_bytes is compared with upstream's state bytes."""
    stages = " | ".join(ratio(ours.stage_ms[c], up.stage_ms[c]) for c in COLUMNS)
    px = f"{ours.image_size}/{up.image_size}"
    return (
        f"| **ours/upstream** | {model_label(ours)} | {px} | {ours.num_objects} "
        f"| {ours.num_frames} | {ratio(ours.frame_ms, up.frame_ms)} | {stages} "
        f"| {ratio(ours.state_bytes, up.state_bytes)} "
        f"| {ratio(ours.footprint_bytes, up.state_bytes)} "
        f"| {ratio(ours.peak_rss_bytes, up.peak_rss_bytes)} "
        f"| {ratio(ours.rss_before_bytes, up.rss_before_bytes)} | {ratio(ours.init_s, up.init_s)} |"
    )


def format_table(results: list[CaseResult]) -> str:
    """Markdown table: every case, then ours/upstream ratio rows of each (objects, frames)."""
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    lines += [result_row(r) for r in results]
    for r in results:
        for up in results:
            same = (up.num_objects, up.num_frames) == (r.num_objects, r.num_frames)
            if r.method == "ours" and up.method == "upstream" and same:
                lines.append(ratio_row(r, up))
    return "\n".join(lines)


def format_growth(results: list[CaseResult]) -> str:
    """State bytes and peak RSS at each frame count per (method, model, objects), and the
    ratio of the longest video's to the shortest's."""
    groups: dict[tuple[str, str, int], list[CaseResult]] = {}
    for r in results:
        groups.setdefault((r.method, model_label(r), r.num_objects), []).append(r)
    lines = [
        "| method | model | objects | state MiB by frames | last / first "
        "| peak RSS MiB by frames | last / first |",
        "|---|---|---|---|---|---|---|",
    ]
    for (method, model, objects), rs in groups.items():
        if len(rs) < 2:
            continue  # one video length: nothing to compare
        rs.sort(key=lambda r: r.num_frames)
        state = ", ".join(f"{r.num_frames}: {mib(r.state_bytes)}" for r in rs)
        rss = ", ".join(f"{r.num_frames}: {mib(r.peak_rss_bytes)}" for r in rs)
        lines.append(
            f"| {method} | {model} | {objects} | {state} "
            f"| {ratio(rs[-1].state_bytes, rs[0].state_bytes)} "
            f"| {rss} | {ratio(rs[-1].peak_rss_bytes, rs[0].peak_rss_bytes)} |"
        )
    return "\n".join(lines)
