"""Recording: one 768x576 camera at 10 frames/s (vtest.avi, served in real time by FFmpeg as
H.264 in MPEG-TS over loopback TCP) recorded by ``srcodec record``, lossless and with
``--quality``: frames in and stored, the recorder's CPU time (of one core), the latency from a
frame's reception to its group being fsynced, and the recorder's peak RSS.

Needs vtest.avi (opencv-doc): ``$SRCODEC_VTEST``, or data/ as
``python -m benchmarks.datasets.prepare`` makes it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import Benchmark, BenchmarkError, benchmark
from ..context import ROOT, Context, md_table
from .footage import vtest_path

#: label -> extra ``srcodec record`` arguments.
MODES = {"lossless (default)": [], "--quality 50": ["--quality", "50"]}
#: label -> (cameras recorded at once, extra arguments): the issue's four cameras on 2 cores.
MANY = {"4 cameras, --quality 50": (4, ["--quality", "50"])}
#: Segment length: the clip (79.5 s) makes three, so each mode pays its per-segment costs (the
#: lossy candidate choice) more than once.
SEGMENT = "30s"
QUICK_SECONDS = 12
#: A recorder is stopped this long after its server has sent the clip and exited (seconds),
#: and at the latest ``STOP_LIMIT`` seconds after the clip's length (``--duration``).
STOP_AFTER = 3.0
STOP_LIMIT = 60


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(video: Path, port: int, seconds: float | None) -> subprocess.Popen:
    """FFmpeg serving ``video`` at its real rate, H.264 (ultrafast, zerolatency: as a camera
    sends it) in MPEG-TS over TCP, to one client."""
    limit = ["-t", str(seconds)] if seconds else []
    return subprocess.Popen(
        [_ffmpeg(), "-loglevel", "quiet", "-re", *limit, "-i", str(video), "-c:v", "libx264",
         "-preset", "ultrafast", "-tune", "zerolatency", "-g", "20", "-flush_packets", "1",
         "-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts", f"tcp://127.0.0.1:{port}?listen=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _record(
    video: Path, seconds: float | None, extra: list[str], folder: Path, cameras: int = 1
) -> dict:
    """``cameras`` recordings at once, each of its own stream in its own process: frames in
    and stored, CPU seconds (all recorders together), latency and peak RSS (the largest of
    one recorder) from their JSON status lines and resource usage."""
    ports = [_port() for _ in range(cameras)]
    servers = [_serve(video, port, seconds) for port in ports]
    time.sleep(1.0)  # let the servers listen (each takes one client: no probing connection)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    start = time.perf_counter()
    limit = str((seconds or 80) + STOP_LIMIT)
    for k, port in enumerate(ports):
        name = "vtest" if cameras == 1 else f"cam{k + 1}"
        cmd = [sys.executable, "-m", "srcodec", "record", f"tcp://127.0.0.1:{port}", "-o",
               str(folder), "--name", name, "--segment", SEGMENT, "--json-status",
               "--timeout", "5s", "--duration", limit, *extra]  # fmt: skip
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env))
    # Each recorder is stopped (SIGTERM, as a service manager stops it) once its server has
    # sent the whole clip and exited, and the recorder had a moment to read the rest: frames
    # in are then every frame that reached it, however late it started or read.
    for server, proc in zip(servers, procs, strict=True):
        try:
            server.wait(timeout=(seconds or 80) + STOP_LIMIT)
        except subprocess.TimeoutExpired:
            pass
        time.sleep(STOP_AFTER)
        proc.send_signal(signal.SIGTERM)
    outs, usages = [], []
    for proc in procs:  # status lines are short: a pipe does not fill before the end
        _, status, usage = os.wait4(proc.pid, 0)
        usages.append(usage)
        out, err = proc.stdout.read().decode(), proc.stderr.read().decode()  # type: ignore[union-attr]
        if os.waitstatus_to_exitcode(status) != 0:
            raise BenchmarkError(f"record failed: {err.strip()}")
        outs.append(out)
    wall = time.perf_counter() - start
    for server in servers:
        server.kill()
        server.wait()
    return _summary(outs, usages, wall)


def _summary(outs: list[str], usages: list, wall: float) -> dict:
    lines = [[json.loads(line) for line in out.splitlines()] for out in outs]
    segments = [x for one in lines for x in _segments_of(one)]
    done = [one[-1] for one in lines]
    frames = sum(s["frames"] for s in segments)
    span = sum(
        _seconds(s["end"]) - _seconds(s["start"]) + 0.1 for s in segments
    )  # recorded seconds, all cameras
    latency = [s["latency_max_s"] for s in segments]
    # After each recorder's first segment (its start-up: the process loading its models and
    # making its choice while the others do too).
    later = [s["latency_max_s"] for one in lines for s in _segments_of(one)[1:]]
    mean = sum(s["latency_mean_s"] * s["frames"] for s in segments) / max(1, frames)
    cpu = sum(u.ru_utime + u.ru_stime for u in usages)
    choice = sum(s.get("choice_cpu_s", 0.0) for s in segments)
    pixels = 768 * 576 * frames
    size = sum(s["bytes"] for s in segments)
    return {
        "cameras": len(outs),
        "frames_in": sum(d["frames_in"] for d in done),
        "frames_stored": sum(d["frames_stored"] for d in done),
        "dropped": sum(d["dropped"] for d in done),
        "segments": len(segments),
        "gaps": sum(len(s["gaps"]) for s in segments),
        "archive_bytes": size,
        "bpp": 8 * size / max(1, pixels),
        "recorded_seconds": round(span, 2),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_per_frame_ms": round(1000 * cpu / max(1, frames), 2),
        "cpu_share_of_one_core": round(cpu / max(1e-9, span), 3),
        # The lossy candidate choice (on the first segment; kept for an hour) apart: the rest
        # is the steady state.
        "choice_cpu_seconds": round(choice, 2),
        "choices": sum(1 for s in segments if s.get("choice_cpu_s")),
        "steady_cpu_per_frame_ms": round(1000 * (cpu - choice) / max(1, frames), 2),
        "latency_mean_s": round(mean, 3),
        "latency_max_s": max(latency) if latency else None,
        "latency_max_after_first_segment_s": max(later) if later else None,
        "peak_rss_mb": round(max(u.ru_maxrss for u in usages) / 1024, 1),
        "candidates": sorted({s["candidate"] for s in segments if s["candidate"]}),
    }


def _segments_of(lines: list[dict]) -> list[dict]:
    return [x for x in lines if x["event"] == "segment"]


def _seconds(text: str) -> float:
    from srcodec.clock import from_iso

    return from_iso(text) / 1e6


@benchmark("record", section=9)
class Record(Benchmark):
    def run(self, ctx: Context) -> dict:
        video = vtest_path()
        seconds = QUICK_SECONDS if ctx.quick else None
        rows = []
        runs = {label: (1, extra) for label, extra in MODES.items()} | MANY
        for label, (cameras, extra) in runs.items():
            ctx.progress(f"record: {label}")
            with tempfile.TemporaryDirectory() as tmp:
                rows.append({"mode": label, **_record(video, seconds, extra, Path(tmp), cameras)})
        return {
            "video": video.name,
            "size": [768, 576],
            "fps": 10,
            "served_seconds": seconds or 79.5,
            "segment": SEGMENT,
            "cores": os.cpu_count(),
            "results": rows,
        }

    def render(self, result: dict) -> str:
        rows = result["results"]
        table = md_table(
            ["mode", "frames in", "stored", "dropped", "bpp", "CPU ms/frame (all)",
             "steady CPU ms/frame", "choice CPU s/segment", "one core, 10-min segments",
             "latency mean / max s (max after the first segment)", "peak RSS MB"],
            [
                [r["mode"], r["frames_in"], r["frames_stored"], r["dropped"], f"{r['bpp']:.3f}",
                 f"{r['cpu_per_frame_ms']:.1f}", f"{r['steady_cpu_per_frame_ms']:.1f}",
                 f"{r['choice_cpu_seconds'] / max(1, r['choices']):.1f}",
                 f"{ten_minute_share(r, result['fps']):.0%}",
                 f"{r['latency_mean_s']:.2f} / {r['latency_max_s']:.2f} "
                 f"({r['latency_max_after_first_segment_s']:.2f})", f"{r['peak_rss_mb']:.0f}"]
                for r in rows
            ],
            "lrrrrrrrrrr",
        )  # fmt: skip
        return "\n".join(
            [
                f"## 9. Recording: {result['video']} served live, {result['size'][0]}x"
                f"{result['size'][1]} at {result['fps']} fps",
                "",
                f"`srcodec record tcp://... --segment {result['segment']}` in its own process "
                f"while FFmpeg serves {result['served_seconds']} s of the clip in real time "
                "(H.264 in MPEG-TS over loopback TCP). CPU: the recorder's user + system time "
                "(all threads; steady: without the lossy candidate choice, made on the first "
                "group and kept for an hour); one core, 10-min segments: the share of one core "
                "a 10-minute segment needs (a choice + 6000 frames at the steady cost: an "
                "upper bound); latency: from a frame's reception to its group being fsynced "
                "(wall clock: it grows with the machine's load, recorded in the result's "
                "meta); the largest after the first segment leaves out each recorder's "
                "start-up.",
                "",
                *table,
            ]
        )


def ten_minute_share(row: dict, fps: float) -> float:
    """The share of one core a 10-minute segment takes: one choice and 600 s of frames."""
    choice = row["choice_cpu_seconds"] / max(1, row["choices"])
    return (choice + 600 * fps * row["steady_cpu_per_frame_ms"] / 1000) / 600
