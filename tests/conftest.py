"""Shared fixtures: a tiny real KB, the real model loaded once, a real server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.main import create_app, search_config
from app.search import Searcher
from app.settings import Settings
from app.store import Scope, Store
from indexer.build import BuildOptions, build_snapshot
from indexer.embed import Encoder, ModelSpec, load_encoder
from indexer.snapshot import load_snapshot

ARTICLES = {
    "en/refunds.md": """---
id: refunds
title: How to request a refund
lang: en
tags: [refunds, returns]
product: store
owner: returns@example.com
verified: 2026-10-01
review_every_days: 365
---
# How to request a refund

You can get your money back within 30 days of delivery.

## Steps

1. Open **Orders** and choose the order.
2. Click **Request refund** and pick a reason.

## Agent notes

Goodwill refunds above 50 EUR need a team lead.
""",
    "en/wifi.md": """---
id: wifi
title: Thermostat won't connect to Wi-Fi
lang: en
tags: [wifi, troubleshooting]
product: thermostat
verified: 2020-01-01
review_every_days: 90
---
# Thermostat won't connect to Wi-Fi

## Error E21

The thermostat cannot see your network. Move the router closer and use 2.4 GHz.
""",
    "en/escalation.md": """---
id: escalation
title: Escalating a chargeback
lang: en
audience: internal
tags: [billing]
product: store
---
# Escalating a chargeback

Forward the bank's dispute letter to the billing team within two days.
""",
    "pl/zwrot.md": """---
id: refunds-pl
title: Jak poprosić o zwrot pieniędzy
lang: pl
translation_of: refunds
tags: [refunds]
product: store
---
# Jak poprosić o zwrot pieniędzy

Zwrot pieniędzy jest możliwy w ciągu 30 dni od dostawy. Otwórz **Zamówienia** i kliknij **Zwrot**.
""",
    "ru/vozvrat.md": """---
id: refunds-ru
title: Как оформить возврат денег
lang: ru
translation_of: refunds
tags: [refunds]
product: store
---
# Как оформить возврат денег

Вернуть деньги можно в течение 30 дней после доставки. Откройте раздел «Заказы».
""",
    "fa/password.md": """---
id: password-fa
title: بازنشانی رمز عبور
lang: fa
tags: [account]
product: app
---
# بازنشانی رمز عبور

اگر رمز عبور را فراموش کرده‌اید، روی «فراموشی رمز» بزنید. پیوند بازنشانی به ایمیل شما می‌آید.
""",
    "en/unsafe.md": """---
id: unsafe
title: Article with hostile markup
lang: en
tags: [security-test]
product: app
---
# Article with hostile markup

<script>window.__pwned = true; alert("script")</script>

Click <img src=x onerror="window.__pwned = true; alert('img')"> here.

[Reset link](javascript:window.__pwned=true) and [the refund guide](refunds#steps).

## Hostile section

<a href="javascript:alert(1)">raw link</a> and <iframe src="https://example.com"></iframe>.
""",
    "broken.md": """---
id: broken
title: [unclosed
---
# Broken
""",
}


def write_kb(root: Path, articles: dict[str, str] = ARTICLES) -> Path:
    for relative, text in articles.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DESKMATE_* setting leaks in from the machine; nothing may reach a model hub."""
    for key in list(os.environ):
        if key.startswith("DESKMATE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real default model, loaded once per test session."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    return load_encoder(ModelSpec(threads=1))


@dataclass(frozen=True)
class Deployment:
    kb_dir: Path
    data_dir: Path

    @property
    def settings(self) -> Settings:
        return Settings(kb_dir=self.kb_dir, data_dir=self.data_dir)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Deployment:
    """The tiny KB built once into a published snapshot."""
    root = tmp_path_factory.mktemp("deployment")
    result = Deployment(write_kb(root / "kb"), root / "var")
    settings = result.settings
    build_snapshot(settings.kb_dir, settings.index_path, encoder, settings.cache_path,
                   BuildOptions())
    return result


@pytest.fixture(scope="session")
def searcher(deployment: Deployment, encoder: Encoder) -> Searcher:
    settings = deployment.settings
    return Searcher(load_snapshot(settings.index_path), encoder, search_config(settings))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def serve_in_thread(settings: Settings, encoder: Encoder) -> Iterator[LiveServer]:
    """A real uvicorn server on a free loopback port, stopped at teardown."""
    port = free_port()
    app = create_app(settings, encoder=encoder)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_process(settings: Settings, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`deskmate serve` as a real process on a free port, ready; terminated at exit."""
    port = free_port()
    env = {**os.environ, "DESKMATE_KB_DIR": str(settings.kb_dir),
           "DESKMATE_DATA_DIR": str(settings.data_dir)}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "deskmate serve did not become ready"
            time.sleep(0.2)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="session")
def live_server(deployment: Deployment, encoder: Encoder) -> Iterator[LiveServer]:
    yield from serve_in_thread(deployment.settings, encoder)


@dataclass(frozen=True)
class Keys:
    admin: str
    search: str
    public: str


@dataclass(frozen=True)
class SecuredServer(LiveServer):
    keys: Keys
    settings: Settings


def copy_deployment(deployment: Deployment, root: Path) -> Settings:
    """A private copy of the tiny KB and its index, to change without touching others."""
    shutil.copytree(deployment.kb_dir, root / "kb")
    shutil.copytree(deployment.settings.index_path, root / "var" / "index")
    shutil.copytree(deployment.settings.cache_path.parent, root / "var" / "cache")
    shared = deployment.data_dir / "models"  # ONNX exports: made once per session, not per copy
    shared.mkdir(exist_ok=True)
    (root / "var" / "models").symlink_to(shared, target_is_directory=True)
    return Settings(kb_dir=root / "kb", data_dir=root / "var")


@pytest.fixture(scope="module")
def secured_server(deployment: Deployment, encoder: Encoder,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredServer]:
    """A server of its own with API keys: admin, agent (search) and public widget."""
    settings = copy_deployment(deployment, tmp_path_factory.mktemp("secured"))
    store = Store(settings.store_url)
    store.migrate()
    keys = Keys(
        admin=store.create_key(name="ops", scopes=frozenset({Scope.ADMIN, Scope.SEARCH}),
                               internal=True)[1],
        search=store.create_key(name="agents", scopes=frozenset({Scope.SEARCH}),
                                internal=True)[1],
        public=store.create_key(name="help-center widget", scopes=frozenset({Scope.SEARCH}),
                                internal=False)[1],
    )
    store.close()
    for server in serve_in_thread(settings, encoder):
        yield SecuredServer(server.url, keys, settings)


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as http:
        yield http


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: `apt-get install postgresql` "
                    "(.ci/run installs them); the PostgreSQL tests never skip")
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private PostgreSQL server on 127.0.0.1 for this test session (Debian's binaries)."""
    bindir = _postgres_bin()
    # Not under pytest's tmp dir: the server runs as "postgres", which cannot enter it.
    root = Path(tempfile.mkdtemp(prefix="deskmate-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as "postgres"
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd="/")

    run(str(bindir / "initdb"), "-D", str(data), "-U", "deskmate", "--auth=trust", "-E", "UTF8",
        "--locale=C.UTF-8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "server.log"), "-o",
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "deskmate",
            "deskmate")
        yield f"postgresql+psycopg://deskmate@127.0.0.1:{port}/deskmate"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        base = request.getfixturevalue("postgres_url")
        url = _fresh_database(base)
    result = Store(url)
    result.migrate()
    yield result
    result.close()


def _fresh_database(base_url: str) -> str:
    """A new empty database on the session's server, one per test."""
    import sqlalchemy as sa

    name = f"t{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return base_url.rsplit("/", 1)[0] + f"/{name}"


SLOW_FIXTURES = {"encoder", "deployment", "searcher", "live_server", "client", "browser",
                 "playwright", "secured_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that load the real model or start a server are ``slow`` (skip with -m 'not slow')."""
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
