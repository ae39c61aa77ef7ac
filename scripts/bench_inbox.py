"""Inbox benchmark (issue 5): the ticket list, a card, polling and replying at scale.

For SQLite (a scratch file) and PostgreSQL (a throwaway server, as the tests
start one): migrate, connect Acme Support to the built-in Facebook through the
real login flow, let the customer simulator send Cora's message, then bulk-insert
100,000 conversations and 1,000,000 messages across 3 pages. gunicorn (2 gthread
workers) serves the app on loopback; each case's requests go one after another
from a keep-alive httpx client, and p50 / p95 of the server's time (gunicorn's
access log, %(D)s) are held against the target, the client's shown beside. For a
case over its target, the same request runs in-process: its SELECTs timed alone,
the plans of the costliest (SQLite: EXPLAIN QUERY PLAN; PostgreSQL: EXPLAIN
ANALYZE), and a profile of Pagedesk's functions when SQL is not most of the time.

Run by `make bench`. Scale down with BENCH_INBOX_CONVERSATIONS / BENCH_INBOX_MESSAGES
(default 100000 / 1000000); BENCH_INBOX_SAMPLES (200) requests per case, at most
BENCH_INBOX_CASE_SECONDS (30) per case; BENCH_INBOX_ENGINES (sqlite,postgresql);
BENCH_INBOX_KEEP=1 keeps the scratch folder (SQLite database, gunicorn logs). Like the
webhook benchmark it fails only when something is wrong (a reply that did not reach the
sandbox), not when a figure misses its target: those are printed as SLOW.
"""

from __future__ import annotations

import cProfile
import html
import itertools
import json
import math
import os
import pstats
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

CONVERSATIONS = int(os.environ.get("BENCH_INBOX_CONVERSATIONS", "100000"))
MESSAGES = int(os.environ.get("BENCH_INBOX_MESSAGES", "1000000"))
SAMPLES = int(os.environ.get("BENCH_INBOX_SAMPLES", "200"))
CASE_SECONDS = float(os.environ.get("BENCH_INBOX_CASE_SECONDS", "30"))
ENGINES = os.environ.get("BENCH_INBOX_ENGINES", "sqlite,postgresql").split(",")
KEEP = os.environ.get("BENCH_INBOX_KEEP", "") == "1"  # leave the scratch folder for a look
SIGN_IN_PHRASE = "quiet harbour 42"  # every bench user's password
ADMIN_EMAIL = "bench@example.com"
MIA = "10000000000000001"  # the sandbox person who fully administers Acme Support
ACME_SUPPORT = "200000000000001"
CORA = "700000100000001"  # Cora Customer's PSID on Acme Support
OTHER_PAGES = [("200000000000004", "Otto's Bakery"), ("200000000000101", "Paula's Shop 1")]
SEARCH_WORD = "warranty"
SEARCH_SHARE = 0.003  # of messages: 3,000 of a million
CARD_MESSAGES = 200
READ_MS, REPLY_MS, POLL_MS = 30.0, 60.0, 3.0

# fmt: off
FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kira", "Liam", "Mona", "Nils", "Olga", "Pavel", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Diego", "Elif", "Femi", "Hana"]
LAST = ["Almeida", "Brandt", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad",
    "Ivanova", "Jensen", "Kowalski", "Laurent", "Moreau", "Novak", "Okafor", "Petrov", "Quinn",
    "Rossi", "Silva", "Tanaka", "Ueda", "Vargas", "Weber", "Xu", "Yilmaz", "Zimmermann"]
ITEMS = ["order", "parcel", "jacket", "blender", "subscription", "invoice", "booking", "voucher",
    "laptop", "sofa", "ticket", "refund"]
# fmt: on
ASKS = [
    "Hi, where is my {item} #{n}? It was due on Monday.",
    "Hello! Can I change the delivery address for {item} #{n}?",
    "My {item} arrived damaged, what can I do? Order {n}.",
    "Do you ship to Lisbon? I'd like a {item} before Friday.",
    "I was charged twice for {item} {n}, please check.",
    "Is the shop open on Sunday? Looking for a {item}.",
    "Thanks, the {item} is great 😊",
    "Can I cancel {item} {n}? I ordered the wrong size.",
    "Still waiting for an answer about my {item}…",
    "Could you send me the invoice for {item} {n}?",
]
ANSWERS = [
    "Hi {name}, thanks for writing! Your {item} #{n} left our warehouse yesterday.",
    "Sorry about that, {name}. I've asked the courier to check {item} {n}.",
    "Done: the address on {item} #{n} is updated.",
    "We're open 10:00–16:00 on Sundays. See you soon!",
    "I've refunded the duplicate charge on {item} {n}; it takes 3–5 days.",
    "You can return the {item} within 30 days, no questions asked.",
]
NOTES = ["Customer called too; see {item} {n}.", "Escalated to billing.", "VIP: be quick."]
SEARCHED = "Is the {item} #{n} still under " + SEARCH_WORD + "? It stopped working."


# --- Processes -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Engine:
    """One engine's scratch database, instance folder and server settings."""

    name: str
    url: str
    instance: Path
    port: int = field(default_factory=free_port)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app_ref(self) -> str:
        return f"webapp:create_app(instance_path={str(self.instance)!r})"

    def settings(self) -> dict[str, Any]:
        return {
            "DATABASE_URL": self.url, "SECRET_KEY": "bench", "SCHEDULER": "off",
            "BASE_URL": self.base, "WEBHOOK_WORKER": True,
        }  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACEBOOK_")}
        env.update(
            {k: str(int(v) if isinstance(v, bool) else v) for k, v in self.settings().items()}
        )
        return env


def migrate(engine: Engine) -> None:
    subprocess.run(
        [str(BIN / "flask"), "--app", engine.app_ref, "db", "upgrade"],
        env=engine.env(), cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip


class Server:
    """gunicorn on loopback, as scripts/bench starts it; its log kept for errors."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.log = engine.instance / "gunicorn.log"
        self.access = engine.instance / "access.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.engine.port}", "--workers", "2",
                 "--worker-class", "gthread", "--threads", "4", "--timeout", "300",
                 "--log-level", "warning", "--access-logfile", str(self.access),
                 "--access-logformat", "%({x-bench-case}i)s %(s)s %(D)s", self.engine.app_ref],
                env=self.engine.env(), cwd=ROOT, stdout=log, stderr=log,
            )  # fmt: skip
        for _ in range(200):
            try:
                httpx.get(f"{self.engine.base}/webhooks/healthz", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def timings(self, tag: str, status: int) -> list[float]:
        """Milliseconds gunicorn spent on each request tagged so (its access log's %(D)s)."""
        time.sleep(0.2)  # the last line is written after the response has gone
        result = []
        for line in self.access.read_text().splitlines():
            seen, code, micros = line.split()
            if seen == tag and int(code) == status:
                result.append(int(micros) / 1000)
        return result

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


# --- A signed-in browser ----------------------------------------------------------

FORM_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
HX_HEADERS = re.compile(r"hx-headers='([^']+)'")


class Browser:
    """An httpx client on one keep-alive connection, posting with the page's CSRF token."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=300, follow_redirects=False)
        self.token = ""

    def page(self, url: str) -> str:
        response = self.http.get(url)
        response.raise_for_status()
        if match := HX_HEADERS.search(response.text):
            self.token = json.loads(html.unescape(match.group(1)))["X-CSRFToken"]
        elif match := FORM_TOKEN.search(response.text):
            self.token = match.group(1)
        return response.text

    def post(self, url: str, data: dict[str, Any]) -> httpx.Response:
        return self.http.post(url, data={"csrf_token": self.token, **data})

    def sign_in(self) -> None:
        self.page("/login")
        answer = self.post("/login", {"email": ADMIN_EMAIL, "password": SIGN_IN_PHRASE})
        assert answer.status_code == 302, answer.text  # noqa: S101
        self.page("/inbox")

    def connect_acme_support(self) -> None:
        """Continue with Facebook → the sandbox dialog as Mia → tick Acme Support."""
        start = self.http.get("/channels/facebook/connect")
        dialog = urlsplit(start.headers["location"])
        self.page(f"{dialog.path}?{dialog.query}")
        allowed = self.post(
            dialog.path, {**dict(parse_qsl(dialog.query)), "allow": "1", "user_id": MIA}
        )
        back = urlsplit(allowed.headers["location"])
        pages = self.http.get(f"{back.path}?{back.query}").headers["location"]
        self.page(pages)
        done = self.post(pages, {"page_id": ACME_SUPPORT})
        assert done.status_code == 302, done.text  # noqa: S101

    def cora_writes(self, text: str) -> None:
        """The simulator: Cora messages Acme Support; the sandbox posts the webhook."""
        self.page(f"/sandbox/facebook/simulator?page={ACME_SUPPORT}&customer={CORA}")
        answer = self.post(
            "/sandbox/facebook/simulator",
            {"page_id": ACME_SUPPORT, "customer": CORA, "action": "text", "text": text},
        )
        assert answer.status_code == 302, answer.text  # noqa: S101


# --- Seeding ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One seeded conversation: enough to write its row, then its messages."""

    id: int
    channel_id: int
    contact_id: int
    source: str
    created: datetime
    last: datetime
    count: int
    customer_last: bool

    def times(self) -> list[datetime]:
        if self.count == 1:
            return [self.last]
        step = (self.last - self.created) / (self.count - 1)
        return [self.created + step * k for k in range(self.count)]

    def customer_at(self) -> datetime:
        """The customer speaks last, or just before the agent's last answer."""
        times = self.times()
        return times[-1] if self.customer_last or self.count == 1 else times[-2]


def message_counts(rng: random.Random, conversations: int, messages: int) -> list[int]:
    """About ``messages / conversations`` each (1 at least), summing exactly to ``messages``."""
    average = max(messages // max(conversations, 1), 1)
    counts = [rng.randint(1, 2 * average - 1) for _ in range(conversations)]
    missing = messages - sum(counts)
    while missing:
        i = rng.randrange(conversations)
        if missing > 0:
            counts[i], missing = counts[i] + 1, missing - 1
        elif counts[i] > 1:
            counts[i], missing = counts[i] - 1, missing + 1
    return counts


@dataclass
class World:
    """What the benchmark seeded and needs afterwards."""

    admin_id: int
    channels: list[int]
    cora_conversation: int
    card: int = 0
    comment_card: int = 0
    seconds: float = 0.0


def plans(rng: random.Random, world: World, first: dict[str, int], now: datetime) -> list[Plan]:
    """Every seeded conversation; the first two are the 200-message cards."""
    total = max(CONVERSATIONS - 1, 2)  # Cora's conversation counts as one
    existing = MESSAGES - 2 * CARD_MESSAGES - 1
    counts = [
        CARD_MESSAGES,
        CARD_MESSAGES,
        *message_counts(rng, total - 2, max(existing, total - 2)),
    ]
    acme, *others = world.channels
    result = []
    for n, count in enumerate(counts):
        channel = acme if n < 2 or rng.random() < 0.5 else rng.choice(others)
        source = "comment" if n == 1 or (n > 1 and rng.random() < 0.3) else "messenger"
        age = (
            timedelta(hours=rng.uniform(0, 24))
            if rng.random() < 0.1
            else timedelta(days=rng.uniform(1, 30))
        )
        last = now - (timedelta(minutes=30 + n) if n < 2 else age)
        created = last - timedelta(hours=rng.uniform(0.2, 72))
        result.append(Plan(
            first["conversations"] + n, channel, first["contacts"] + n, source, created, last, count,
            customer_last=rng.random() < 0.6,
        ))  # fmt: skip
    return result


def contact_rows(rng: random.Random, plans: list[Plan]) -> Iterator[dict[str, Any]]:
    for plan in plans:
        external = f"7{plan.id:014d}" if plan.source == "messenger" else f"1{plan.id:015d}"
        picture = f"https://platform-lookaside.fbsbx.com/platform/profilepic/?psid={external}"
        yield {
            "id": plan.contact_id, "channel_id": plan.channel_id, "external_id": external,
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "picture_url": picture if rng.random() < 0.5 else None,
            "profile_fetched_at": plan.created, "created_at": plan.created,
        }  # fmt: skip


def conversation_rows(
    rng: random.Random, plans: list[Plan], agents: list[int], chat_id: int
) -> Iterator[dict[str, Any]]:
    for plan in plans:
        status = (
            "open"
            if plan.id - plans[0].id < 2
            else rng.choices(("open", "pending", "closed"), (3, 2, 5))[0]
        )
        chat = plan.id - plans[0].id >= 2 and rng.random() < 0.05
        post = f"{plan.channel_id:03d}{plan.id % 997:06d}"
        comment = plan.source == "comment"
        yield {
            "id": plan.id, "channel_id": plan.channel_id, "contact_id": plan.contact_id,
            "source": plan.source, "thread_id": f"{post}_{plan.id}" if comment else None,
            "post_id": post if comment else None,
            "post_url": f"https://www.facebook.com/{post}" if comment else None,
            "mode": "chat" if chat else "ticket", "chat_channel_id": chat_id if chat else None,
            "status": status, "assignee_id": rng.choice(agents) if rng.random() < 0.6 else None,
            "last_customer_message_at": plan.customer_at(), "last_activity_at": plan.last,
            "delivered_watermark": None, "read_watermark": None,
            "unread_count": rng.randint(1, 3) if status == "open" and plan.customer_last else 0,
            "updated_at": plan.last, "created_at": plan.created,
        }  # fmt: skip


def direction_of(rng: random.Random, plan: Plan, k: int) -> str:
    if k == plan.count - 1:
        return "in" if plan.customer_last or plan.count == 1 else "out"
    if k == plan.count - 2:
        return "out" if plan.customer_last else "in"
    if rng.random() < 0.05:
        return "internal"
    return "in" if k % 2 == 0 else "out"


def text_for(rng: random.Random, direction: str) -> str:
    words = {"item": rng.choice(ITEMS), "n": rng.randint(10000, 99999), "name": rng.choice(FIRST)}
    if direction == "in" and rng.random() < SEARCH_SHARE * 2:  # about half the messages come in
        return SEARCHED.format(**words)
    pool = {"in": ASKS, "out": ANSWERS, "internal": NOTES}[direction]
    return rng.choice(pool).format(**words)


def message_rows(
    rng: random.Random, plans: list[Plan], agents: list[int], first_id: int
) -> Iterator[dict[str, Any]]:
    ids = itertools.count(first_id)
    for plan in plans:
        comment = plan.source == "comment"
        for k, at in enumerate(plan.times()):
            mid = next(ids)
            direction = direction_of(rng, plan, k)
            inbound, outbound = direction == "in", direction == "out"
            from_facebook = outbound and rng.random() < 0.05
            yield {
                "id": mid, "conversation_id": plan.id, "channel_id": plan.channel_id,
                "facebook_id": (f"{plan.id}_{mid}" if comment else f"m_seed{mid:012d}") if direction != "internal" else None,
                "direction": direction,
                "author_user_id": rng.choice(agents) if direction == "internal" or (outbound and not from_facebook) else None,
                "sent_from_facebook": from_facebook, "system": False, "text": text_for(rng, direction),
                "previous_texts": [], "reactions": {}, "quick_reply": None, "reply_to": None,
                "attachments": [{"type": "image", "url": f"https://scontent.xx.fbcdn.net/v/{mid}.jpg"}] if inbound and rng.random() < 0.03 else [],
                "status": "read" if outbound else None,
                "kind": "note" if direction == "internal" else "standard",
                "route": ("comment_reply" if comment else "messenger") if outbound and not from_facebook else None,
                "target_comment_id": None, "attempts": 1 if outbound else 0, "next_attempt_at": None,
                "lease_until": None, "failure": None, "failure_code": None, "client_key": None,
                "privately_replied_at": None, "hidden": False, "deleted_at": None,
                "sent_at": at, "created_at": at,
            }  # fmt: skip


def write(connection: Any, table: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Bulk insert: COPY on PostgreSQL, executemany in chunks on SQLite."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    rows, count = itertools.chain([first], rows), 0
    if connection.dialect.name != "postgresql":
        while chunk := list(itertools.islice(rows, 20000)):
            connection.execute(table.insert(), chunk)
            count += len(chunk)
        return count
    columns = list(first)
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    raw = connection.connection.dbapi_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
            count += 1
    return count


def seed(app: Any, world: World) -> None:
    """Two more pages, then contacts, conversations and messages in one transaction."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Channel, ChatChannel, Contact, Conversation, Message, User

    started, rng, now = time.monotonic(), random.Random(5), datetime.now(UTC)
    with app.app_context():
        for page_id, name in OTHER_PAGES:
            db.session.add(Channel(page_id=page_id, name=name, connected_at=now))
        chat = ChatChannel(name="Support chat")
        db.session.add(chat)
        db.session.commit()
        world.channels += [
            c.id
            for c in db.session.scalars(
                select(Channel).where(Channel.page_id.in_([p for p, _ in OTHER_PAGES]))
            )
        ]
        agents = list(db.session.scalars(select(User.id)))
        first = {
            name: (db.session.scalar(select(func.max(model.id))) or 0) + 1
            for name, model in (("contacts", Contact), ("conversations", Conversation), ("messages", Message))
        }  # fmt: skip
        chat_id = chat.id
        db.session.remove()
        planned = plans(rng, world, first, now)
        world.card, world.comment_card = planned[0].id, planned[1].id
        with db.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA cache_size=-400000")
            write(connection, Contact.__table__, contact_rows(rng, planned))
            write(
                connection, Conversation.__table__, conversation_rows(rng, planned, agents, chat_id)
            )
            write(
                connection, Message.__table__, message_rows(rng, planned, agents, first["messages"])
            )
            if connection.dialect.name == "postgresql":  # explicit ids: move the sequences on
                for table in (Contact.__table__, Conversation.__table__, Message.__table__):
                    latest = select(func.max(table.c.id)).scalar_subquery()
                    connection.execute(
                        select(func.setval(func.pg_get_serial_sequence(table.name, "id"), latest))
                    )
        if db.engine.dialect.name == "sqlite":
            with (
                db.engine.connect() as connection
            ):  # the WAL folded in, as the app's own checkpoints do
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does within a minute of a bulk load: statistics, visibility map.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
    world.seconds = time.monotonic() - started


def prepare(app: Any, engine: Engine) -> World:
    """Users, the real Acme Support connection and Cora's message, then the bulk seed."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.helpdesk import accounts
    from webapp.models import Channel, Contact, Conversation, Role

    with app.app_context():
        admin = accounts.create_user(
            db.session,
            email=ADMIN_EMAIL,
            name="Bench Admin",
            role=Role.ADMIN,
            password=SIGN_IN_PHRASE,
        )
        admin_id = admin.id
        for n in range(1, 6):
            accounts.create_user(
                db.session,
                email=f"agent{n}@example.com",
                name=f"Agent {n}",
                role=Role.AGENT,
                password=SIGN_IN_PHRASE,
            )
    with Server(engine):
        browser = Browser(engine.base)
        browser.sign_in()
        browser.connect_acme_support()
        browser.cora_writes("Hi! My order 10234 hasn't arrived, can you help?")
        query = (
            select(Conversation.id, Conversation.channel_id).join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.external_id == CORA)
        )  # fmt: skip
        for _ in range(300):
            with app.app_context():
                found = db.session.execute(query).first()
                acme = db.session.scalar(select(Channel.id).where(Channel.page_id == ACME_SUPPORT))
            if found:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("Cora's message never reached the inbox")
    world = World(admin_id=admin_id, channels=[acme], cora_conversation=found.id)
    seed(app, world)
    return world


# --- Measuring --------------------------------------------------------------------


@dataclass
class Case:
    name: str
    target: float | None
    request: Callable[[Browser, dict[str, str]], httpx.Response]
    expect: int = 200
    explain: tuple[str, str | Poll, dict[str, Any]] | None = None  # method, path, test client's
    samples: list[float] = field(default_factory=list)  # client side, keep-alive over loopback
    server: list[float] = field(default_factory=list)  # gunicorn's own request time

    @staticmethod
    def percentile(samples: list[float], share: float) -> float:
        ordered = sorted(samples) or [math.nan]
        return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]

    @property
    def slow(self) -> bool:
        return self.target is not None and not self.percentile(self.server, 0.95) <= self.target


def get(path: str, *, htmx: bool = False) -> Callable[[Browser, dict[str, str]], httpx.Response]:
    headers = {"HX-Request": "true"} if htmx else {}
    return lambda browser, tag: browser.http.get(path, headers={**headers, **tag})


def poll_url(page: str, block_id: str) -> str:
    match = re.search(rf'id="{block_id}"[^>]*?hx-get="([^"]+)"', page, re.S)
    assert match, f"no hx-get on #{block_id}"  # noqa: S101
    return html.unescape(match.group(1))


class Poll:
    """HTMX polling with nothing new; the marker moves on each minute, so it is re-read then."""

    def __init__(self, page: str, block_id: str) -> None:
        self.page, self.block_id, self.url = page, block_id, ""

    def __call__(self, browser: Browser, tag: dict[str, str]) -> httpx.Response:
        if not self.url:
            self.url = poll_url(browser.page(self.page), self.block_id)
        response = browser.http.get(self.url, headers={"HX-Request": "true", **tag})
        if response.status_code == 200:  # a new minute: not what this case measures
            self.url = ""
        return response


def reply(conversation_id: int) -> Callable[[Browser, dict[str, str]], httpx.Response]:
    def send(browser: Browser, tag: dict[str, str]) -> httpx.Response:
        return browser.http.post(
            f"/inbox/{conversation_id}/reply",
            data={"text": f"Thanks, we're on it ({secrets.token_hex(3)}).", "kind": "standard",
                  "client_key": secrets.token_urlsafe(24)},
            headers={"HX-Request": "true", "X-CSRFToken": browser.token, **tag},
        )  # fmt: skip

    return send


def cases(world: World, browser: Browser) -> list[Case]:
    lists = [
        ("list: first page (open, activity)", ""),
        ("list: status=pending", "status=pending"),
        ("list: status=closed", "status=closed"),
        ("list: status=all", "status=all"),
        ("list: who=mine", "who=mine"),
        ("list: who=unassigned", "who=unassigned"),
        ("list: page_id (one page)", f"page_id={world.channels[1]}"),
        ("list: source=messenger", "source=messenger"),
        ("list: source=comment", "source=comment"),
        ("list: sort=window", "sort=window"),
        (f"list: search q={SEARCH_WORD}", f"q={SEARCH_WORD}"),
    ]
    result = [Case("floor: GET /webhooks/healthz", None, get("/webhooks/healthz"))]
    for name, query in lists:
        path = f"/inbox?{query}" if query else "/inbox"
        result.append(Case(name, READ_MS, get(path), explain=("GET", path, {})))
    for name, conversation in (("card: Messenger, 200 messages", world.card),
                               ("card: comments, 200 messages", world.comment_card)):  # fmt: skip
        path = f"/inbox/{conversation}"
        result.append(Case(name, READ_MS, get(path), explain=("GET", path, {})))
    hx = {"headers": {"HX-Request": "true"}}
    for name, poll in (
        ("poll: list, nothing new (204)", Poll("/inbox", "ticket-list")),
        ("poll: card, nothing new (204)", Poll(f"/inbox/{world.card}", "thread")),
    ):
        result.append(Case(name, POLL_MS, poll, 204, ("GET", poll, hx)))  # fmt: skip
    browser.page(f"/inbox/{world.cora_conversation}")
    result.append(Case("reply: Messenger, sandbox on loopback", REPLY_MS, reply(world.cora_conversation),
                       explain=("POST", f"/inbox/{world.cora_conversation}/reply", {"headers": {"HX-Request": "true"}})))  # fmt: skip
    return result


def measure(case: Case, browser: Browser, server: Server) -> None:
    """A few untimed requests, then SAMPLES timed ones (fewer if the case is very slow)."""
    started = time.monotonic()
    for _ in range(5):
        case.request(browser, {})
        if time.monotonic() - started > 5:
            break
    tag, started = secrets.token_hex(4), time.monotonic()
    while len(case.samples) < SAMPLES:
        begin = time.perf_counter()
        response = case.request(browser, {"X-Bench-Case": tag})
        elapsed = (time.perf_counter() - begin) * 1000
        if isinstance(case.request, Poll) and response.status_code == 200:
            continue
        case.samples.append(elapsed)
        if response.status_code != case.expect:
            raise RuntimeError(
                f"{case.name}: {response.status_code} (expected {case.expect})\n{response.text[:2000]}"
            )
        if time.monotonic() - started > CASE_SECONDS and len(case.samples) >= 3:
            break
    case.server = server.timings(tag, case.expect)


def report(title: str, all_cases: list[Case]) -> None:
    print(f"\n{title}")
    print(f"  {'':40} {'':>4} {'server (gunicorn)':>19}  {'client (loopback)':>19}")
    print(
        f"  {'case':40} {'n':>4} {'p50 ms':>9} {'p95 ms':>9}  {'p50 ms':>9} {'p95 ms':>9}  {'target':>6}  verdict"
    )
    for case in all_cases:
        target = f"≤{case.target:g}" if case.target else "—"
        verdict = "" if case.target is None else ("SLOW" if case.slow else "OK")
        p = case.percentile
        print(
            f"  {case.name:40} {len(case.server):4} {p(case.server, 0.5):9.2f} {p(case.server, 0.95):9.2f}"
            f"  {p(case.samples, 0.5):9.2f} {p(case.samples, 0.95):9.2f}  {target:>6}  {verdict}"
        )


# --- Query plans of slow cases ----------------------------------------------------


def in_process(
    app: Any, admin_token: str, case: Case, *, profile: bool = False
) -> tuple[float, list[tuple[str, Any]], pstats.Stats | None]:
    """The case's request through the test client: its time, its SQL, and maybe a profile."""
    from sqlalchemy import event

    from webapp.extensions import db

    assert case.explain is not None  # noqa: S101
    method, path, extra = case.explain
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = admin_token
    if isinstance(path, Poll):  # the marker of this very minute
        path = poll_url(client.get(path.page).get_data(as_text=True), path.block_id)
    data = {"text": "Checking the plan.", "kind": "standard"} if method == "POST" else None
    captured: list[tuple[str, Any]] = []

    def remember(*args: Any) -> None:
        captured.append((args[2], args[3]))  # statement, parameters

    def call() -> int:
        keyed = {**data, "client_key": secrets.token_urlsafe(24)} if data else None
        return client.open(path, method=method, data=keyed, **extra).status_code

    with app.app_context():
        engine = db.engine
    call()  # templates compiled, caches warm: not what we look at
    profiler = cProfile.Profile() if profile else None
    event.listen(engine, "before_cursor_execute", remember)
    try:
        begin = time.perf_counter()
        if profiler:
            profiler.enable()
        status = call()
        if profiler:
            profiler.disable()
        elapsed = (time.perf_counter() - begin) * 1000
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert status in (200, 204), status  # noqa: S101
    return elapsed, captured, pstats.Stats(profiler) if profiler else None


def timed(connection: Any, statement: str, parameters: Any) -> float:
    runs = []
    for _ in range(3):
        begin = time.perf_counter()
        connection.exec_driver_sql(statement, parameters).fetchall()
        runs.append((time.perf_counter() - begin) * 1000)
    return statistics.median(runs)


def plan_of(connection: Any, statement: str, parameters: Any) -> list[str]:
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        return [row[0] for row in rows]
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in connection.exec_driver_sql(
        "EXPLAIN QUERY PLAN " + statement, parameters
    ):
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return lines


def hot_spots(stats: pstats.Stats, limit: int = 12) -> list[str]:
    """Pagedesk's own functions by cumulative time (under the profiler, so slower)."""
    rows = [
        (cumulative, calls, f"{Path(file).relative_to(ROOT)}:{line} {name}")
        for (file, line, name), (_cc, calls, _tt, cumulative, _callers) in stats.stats.items()  # type: ignore[attr-defined]
        if file.startswith(str(ROOT / "webapp"))
    ]
    rows.sort(reverse=True)
    return [f"{cum * 1000:8.1f} ms {calls:5}x  {where}" for cum, calls, where in rows[:limit]]


def explain(app: Any, case: Case, admin_token: str) -> None:
    """The request's SELECTs grouped and timed alone, the plans of the costliest, a profile."""
    from webapp.extensions import db

    elapsed, captured, _ = in_process(app, admin_token, case)
    groups: dict[str, list[Any]] = {}
    for statement, parameters in captured:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            groups.setdefault(statement, []).append(parameters)
    with app.app_context(), db.engine.connect() as connection:
        costs = sorted(
            (
                (timed(connection, sql, runs[0]) * len(runs), sql, runs)
                for sql, runs in groups.items()
            ),
            key=lambda cost: -cost[0],
        )
        sql_ms = sum(cost[0] for cost in costs)
        print(f"\n### {case.name}: {elapsed:.1f} ms in-process; {len(captured)} statements,"
              f" their SELECTs {sql_ms:.1f} ms when re-run alone")  # fmt: skip
        for cost, statement, runs in costs[:3]:
            if cost < 1.0:
                break
            times = f" ({len(runs)} times, {cost / len(runs):.1f} ms each)" if len(runs) > 1 else ""
            print(f"\n-- {cost:.1f} ms{times}:\n{statement}\n-- parameters: {runs[0]}")
            print("\n".join("   " + line for line in plan_of(connection, statement, runs[0])))
    if elapsed < 3000 and sql_ms < elapsed / 2:
        _, _, stats = in_process(app, admin_token, case, profile=True)
        assert stats is not None  # noqa: S101
        print("\n-- where the rest goes (cProfile, cumulative):")
        print("\n".join("   " + line for line in hot_spots(stats)))


# --- One engine -------------------------------------------------------------------


def run(engine: Engine) -> bool:
    from sqlalchemy import func, select

    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Message, User

    migrate(engine)
    app = create_app(
        {**engine.settings(), "WEBHOOK_WORKER": False, "WTF_CSRF_ENABLED": False},
        instance_path=str(engine.instance),
    )
    world = prepare(app, engine)
    with app.app_context():
        messages = db.session.scalar(select(func.count()).select_from(Message))
        admin_token = db.session.scalar(select(User.session_token).where(User.id == world.admin_id))
        db.session.remove()
        if engine.name == "postgresql":
            # Again, with nothing else open: the first pass, right after the load, can
            # leave the visibility map empty, and then no index-only scan is possible.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
                visible = connection.exec_driver_sql(
                    "SELECT relallvisible::float / greatest(relpages, 1) FROM pg_class"
                    " WHERE relname = 'conversations'"
                ).scalar()
            print(f"   (PostgreSQL: {visible:.0%} of the conversations' pages all-visible)")
    label = "SQLite" if engine.name == "sqlite" else "PostgreSQL"
    title = (f"== {label}: {CONVERSATIONS:,} conversations, {messages:,} messages, 3 pages"
             f" (seeded in {world.seconds:.0f} s); gunicorn 2 workers x 4 threads, one keep-alive client")  # fmt: skip
    with Server(engine) as server:
        browser = Browser(engine.base)
        browser.sign_in()
        all_cases = cases(world, browser)
        load = os.getloadavg()[0]
        for case in all_cases:
            measure(case, browser, server)
        title += f"\n   (load average of this 2-core machine: {load:.1f} before, {os.getloadavg()[0]:.1f} after)"
        report(title, all_cases)
        delivered = check_replies(app, world, all_cases[-1])
        for case in all_cases:
            if case.slow:
                explain(app, case, admin_token)
    with app.app_context():
        db.engine.dispose()
    return delivered


def check_replies(app: Any, world: World, case: Case) -> bool:
    """Every reply sent reached the sandbox (sent, delivered or read), none stuck or failed."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import Message

    time.sleep(2)
    with app.app_context():
        query = select(Message.status, func.count()).where(
            Message.conversation_id == world.cora_conversation, Message.direction == "out"
        ).group_by(Message.status)  # fmt: skip
        statuses = {str(status): n for status, n in db.session.execute(query)}
    print(f"  replies to Cora by status: {statuses} ({len(case.samples)} timed + warm-up)")
    reached = sum(n for status, n in statuses.items() if status in ("sent", "delivered", "read"))
    return reached == sum(statuses.values()) >= len(case.samples)


def main() -> int:
    from tests.pgserver import throwaway_postgres

    scratch = Path(tempfile.mkdtemp(prefix="pagedesk-bench-inbox-"))
    ok = True
    try:
        for name in ENGINES:
            instance = scratch / name
            instance.mkdir()
            if name == "sqlite":
                ok &= run(Engine(name, f"sqlite:///{instance / 'bench.db'}", instance))
                continue
            with throwaway_postgres() as url:
                ok &= run(Engine(name, url, instance))
    finally:
        if KEEP:
            print(f"\nKept the SQLite database and logs in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
