"""Webhook intake benchmark: gunicorn (2 workers) on loopback, wrk against a bare
endpoint and against /webhooks/facebook with signed, unique bodies (1-5 events each);
then wait for processing and check every acknowledged event was ingested exactly once.

The two run back to back in rounds (this machine's speed drifts from minute to
minute), and each round's backlog is processed before the next bare run, so that
the worker's catching up never slows the bare endpoint. Prints req/s, p50 and p99
of each run, the ratio of each round, and the medians.

Run by `make bench`; BENCH_ROUNDS, BENCH_ROUND (wrk's -d) and BENCH_CONNECTIONS tune it.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PAGE_ID = "200000000000001"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DURATION = os.environ.get("BENCH_ROUND", "4s")
BODIES = int(os.environ.get("BENCH_BODIES", "20000"))  # per round
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "16")
WARMUP = 40  # deliveries, one at a time, before the measured runs
# Each worker takes at most half the connections: left to the kernel, one of them
# sometimes gets 14 of the 16, and a run measures one process instead of two.
GUNICORN = ["--workers", "2", "--worker-class", "gthread", "--threads", "6",
            "--worker-connections", str(int(CONNECTIONS) // 2)]  # fmt: skip

LUA = """
local bodies, sigs, i, step = {}, {}, 0, 1
local count = 0
function setup(thread)
  count = count + 1
  thread:set("offset", count)
end
function init(args)
  for line in io.lines(os.getenv("BENCH_FILE")) do
    local sig, body = line:match("([^\\t]+)\\t(.*)")
    sigs[#sigs + 1] = sig
    bodies[#bodies + 1] = body
  end
  i = tonumber(offset) or 1
  step = 2
end
function request()
  local n = i
  i = i + step
  if n > #bodies then n = ((n - 1) % #bodies) + 1 end
  return wrk.format("POST", "/webhooks/facebook",
    {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = sigs[n]}, bodies[n])
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args], env=env, cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip


def make_bodies(path: Path, secret: str, count: int = BODIES, name: str = "bench") -> int:
    """Signed bodies in Facebook's shape, each with 1-5 message events of unique mids."""
    sys.path.insert(0, str(ROOT))
    from webapp.facebook.webhooks import sign

    rng, events = random.Random(7), 0
    with path.open("w") as out:
        for n in range(count):
            batch = []
            for k in range(rng.randint(1, 5)):
                psid = f"70000010000{rng.randint(0, 199):04d}"
                batch.append({
                    "sender": {"id": psid}, "recipient": {"id": PAGE_ID},
                    "timestamp": 1790000000000 + n * 10 + k,
                    "message": {"mid": f"m_{name}_{n}_{k}", "text": f"Where is my order {n}-{k}? Grüße"},
                })  # fmt: skip
            events += len(batch)
            body = {
                "object": "page",
                "entry": [{"id": PAGE_ID, "time": 1790000000000 + n, "messaging": batch}],
            }
            raw = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()
            out.write(f"{sign(raw, secret)}\t{raw.decode()}\n")
    return events


def wrk(url: str, script: Path | None, env: dict[str, str]) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run(
        [*command, url], env=env, capture_output=True, text=True, check=True
    ).stdout

    def grab(pattern: str) -> str:
        match = re.search(pattern, output)
        return match.group(1) if match else "0"

    def ms(value: str) -> float:
        number, unit = float(re.match(r"[\d.]+", value).group()), re.sub(r"[\d.]+", "", value)
        return number * {"us": 0.001, "ms": 1, "s": 1000}.get(unit, 1)

    return {
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)")),
        "p50": ms(grab(r"\s50%\s+(\S+)")),
        "p99": ms(grab(r"\s99%\s+(\S+)")),
        "requests": int(grab(r"(\d+) requests in")),
        "non2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)")),
        "errors": sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)),
    }


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="pagedesk-bench-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{scratch}/bench.db", "SECRET_KEY": "bench",
           "SCHEDULER": "off", "BASE_URL": "http://127.0.0.1:1"}  # fmt: skip
    flask(env, "db", "upgrade")
    code = (
        "from webapp.extensions import db; from webapp.models import Channel; from flask import current_app as a;"
        f"db.session.add(Channel(page_id='{PAGE_ID}', name='Bench page')); db.session.commit();"
        "print(a.config['FACEBOOK_APP_SECRET'])"
    )
    secret = subprocess.run([str(BIN / "python"), "-c", f"from wsgi import app\nwith app.app_context():\n    exec({code!r})"],
                            env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]  # fmt: skip
    for n in range(ROUNDS):
        make_bodies(scratch / f"round{n}.tsv", secret, name=f"round{n}")
    make_bodies(scratch / "warmup.tsv", secret, WARMUP, "warmup")
    (scratch / "post.lua").write_text(LUA)
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", *GUNICORN, "--log-level", "warning",
         "wsgi:app"], env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        # Warm both workers up first (imports, engine, first connections): not what we measure.
        subprocess.run(
            ["wrk", "-t2", "-c16", "-d2s", f"{base}/webhooks/healthz"], capture_output=True
        )
        warm_up(f"{base}/webhooks/facebook", scratch / "warmup.tsv", env)
        print(
            f"Webhook intake: gunicorn {' '.join(GUNICORN)}; SQLite; {CONNECTIONS} connections;"
            f" {ROUNDS} rounds of {DURATION} each"
        )
        rounds = []
        for n in range(ROUNDS):
            bare = wrk(f"{base}/webhooks/healthz", None, env)
            hooks = wrk(f"{base}/webhooks/facebook", scratch / "post.lua",
                        {**env, "BENCH_FILE": str(scratch / f"round{n}.tsv")})  # fmt: skip
            rounds.append((bare, hooks))
            print(f"  round {n + 1}: ratio b/a {hooks['rps'] / bare['rps']:.2f}")
            for name, r in (("(a) bare endpoint     ", bare), ("(b) /webhooks/facebook", hooks)):
                print(
                    f"    {name}: {r['rps']:6.0f} req/s   p50 {r['p50']:6.2f} ms   p99 {r['p99']:6.2f} ms"
                    f"   non-2xx {r['non2xx']}   socket errors {r['errors']}"
                )
            if hooks["requests"] > BODIES:
                print(
                    f"    note: {hooks['requests']} requests > {BODIES} unique bodies; raise BENCH_BODIES"
                )
            if n + 1 < ROUNDS:
                print(f"    backlog processed in {processed(env):.0f} s")
        ratios = [hooks["rps"] / bare["rps"] for bare, hooks in rounds]
        print(
            f"  median of {ROUNDS} rounds: ratio b/a {statistics.median(ratios):.2f};"
            f" (b) p99 {statistics.median(h['p99'] for _, h in rounds):.2f} ms"
            f" (worst {max(h['p99'] for _, h in rounds):.2f}),"
            f" (a) p99 {statistics.median(a['p99'] for a, _ in rounds):.2f} ms"
        )
        acknowledged = sum(int(h["requests"] - h["non2xx"]) for _, h in rounds)
        return check(env, acknowledged)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def warm_up(url: str, bodies: Path, env: dict[str, str]) -> None:
    """A trickle of deliveries, processed: each worker's first turn (its Graph client,
    its statements compiled) is not what we measure."""
    for row in bodies.read_text().splitlines():
        signature, body = row.split("\t", 1)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        httpx.post(url, content=body.encode(), headers=headers, timeout=10).raise_for_status()
        time.sleep(0.05)
    processed(env)


def processed(env: dict[str, str], *, longest: float = 600) -> float:
    """Wait until nothing is pending (``longest`` seconds at most); how long it took."""
    started = time.monotonic()
    while pending(env) and time.monotonic() - started < longest:
        time.sleep(0.5)
    return time.monotonic() - started


# Events not yet processed, and deliveries not yet unpacked into events.
WAITING = (
    "c(select(func.count(WebhookEvent.id)).where(WebhookEvent.status.in_(['pending','processing'])))"
    " + c(select(func.count(WebhookDelivery.id)).where(WebhookDelivery.unpacked_at.is_(None)))"
)


def pending(env: dict[str, str]) -> int:
    code = (
        "from sqlalchemy import func, select\n"
        "from webapp.extensions import db\n"
        "from webapp.models import WebhookDelivery, WebhookEvent\n"
        "with app.app_context():\n"
        "    c = lambda q: db.session.scalar(q)\n"
        f"    print({WAITING})\n"
    )
    return int(subprocess.run([str(BIN / "python"), "-c", "from wsgi import app\n" + code], env=env, cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout)  # fmt: skip


def check(env: dict[str, str], acknowledged: int) -> int:
    """Wait until nothing is pending, then count: stored once, ingested once."""
    code = (
        "from sqlalchemy import func, select\n"
        "from webapp.extensions import db\n"
        "from webapp.models import Message, WebhookDelivery, WebhookEvent\n"
        "with app.app_context():\n"
        "    c = lambda q: db.session.scalar(q)\n"
        "    print(c(select(func.count(WebhookDelivery.id))), c(select(func.sum(WebhookDelivery.event_count))),"
        f" {WAITING},"
        " c(select(func.count(Message.id))), c(select(func.count(func.distinct(Message.facebook_id)))),"
        " c(select(func.count(WebhookEvent.id)).where(WebhookEvent.status == 'done')))\n"
    )
    started = time.monotonic()
    while True:
        out = subprocess.run([str(BIN / "python"), "-c", "from wsgi import app\n" + code], env=env, cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.split()  # fmt: skip
        deliveries, events, waiting, messages, unique, done = (int(x or 0) for x in out)
        if waiting == 0 or time.monotonic() - started > 120 + (events or 0) / 40:
            break
        time.sleep(1)
    acknowledged += WARMUP
    print(f"  processing finished {time.monotonic() - started:.1f} s after the load stopped")
    print(
        f"  acknowledged {acknowledged} deliveries; stored {deliveries} with {events} events;"
        f" {done} events done; {messages} messages, {unique} distinct"
    )
    ok = deliveries >= acknowledged and waiting == 0 and messages == unique == events == done
    print("  exactly once: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
