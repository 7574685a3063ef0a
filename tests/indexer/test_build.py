"""Builds on the real model: bad input is reported and skipped, the cache works, and a
failed or interrupted build never touches the published snapshot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer import snapshot
from indexer.build import BuildCache, BuildOptions, Phase, build_snapshot
from indexer.embed import Encoder
from indexer.errors import SnapshotError
from tests.conftest import write_kb


def build(kb: Path, index: Path, encoder: Encoder, **options: object):
    return build_snapshot(kb, index, encoder, index.parent / "cache.sqlite", BuildOptions(**options))


def test_bad_articles_are_reported_and_skipped(kb_dir: Path, tmp_path: Path,
                                               encoder: Encoder) -> None:
    (kb_dir / "latin1.md").write_bytes("# Café\n\nPrix: 5 €\n".encode("cp1252"))
    (kb_dir / "empty.md").write_text("", encoding="utf-8")
    (kb_dir / "big.md").write_text("# Big\n\n" + "word " * 400, encoding="utf-8")
    (kb_dir / "zz").mkdir()  # later in path order than en/refunds.md, so it is the duplicate
    (kb_dir / "zz" / "copy.md").write_text("---\nid: refunds\n---\n# Copy\n\nSame id.\n", encoding="utf-8")
    (kb_dir / ".drafts").mkdir()
    (kb_dir / ".drafts" / "wip.md").write_text("---\nbad: [\n", encoding="utf-8")

    report = build(kb_dir, tmp_path / "index", encoder, max_article_bytes=1500)

    reasons = {p.path: p.reason for p in report.problems}
    assert set(reasons) == {"broken.md", "latin1.md", "empty.md", "big.md", "zz/copy.md"}
    assert "not valid YAML" in reasons["broken.md"]
    assert "not UTF-8" in reasons["latin1.md"]
    assert "no text" in reasons["empty.md"]
    assert "over the 1,500-byte limit" in reasons["big.md"]
    assert "duplicate id 'refunds', already used by en/refunds.md" in reasons["zz/copy.md"]
    loaded = snapshot.load_snapshot(tmp_path / "index")
    assert set(loaded.articles) == {"refunds", "wifi", "escalation", "unsafe", "refunds-pl",
                                    "refunds-ru", "password-fa"}
    manifest = loaded.manifest
    assert manifest["model"]["id"] == encoder.model_id
    assert manifest["model"]["dimension"] == 384
    assert manifest["counts"]["languages"]["en"]["articles"] == 4
    assert {e["path"] for e in manifest["errors"]} == set(reasons)
    assert manifest["build_seconds"] > 0


def test_unchanged_chunks_are_never_embedded_twice(kb_dir: Path, tmp_path: Path,
                                                   encoder: Encoder) -> None:
    first = build(kb_dir, tmp_path / "index", encoder)
    second = build(kb_dir, tmp_path / "index", encoder)
    assert first.embedded == first.chunks > 0
    assert second.embedded == 0

    wifi = kb_dir / "en" / "wifi.md"
    wifi.write_text(wifi.read_text("utf-8").replace("2.4 GHz", "the 2.4 GHz band"), "utf-8")
    third = build(kb_dir, tmp_path / "index", encoder)
    assert third.embedded == 1
    assert snapshot.current_version(tmp_path / "index") == third.version


def test_a_build_with_nothing_to_index_keeps_the_published_snapshot(
        kb_dir: Path, tmp_path: Path, encoder: Encoder) -> None:
    good = build(kb_dir, tmp_path / "index", encoder)
    empty_kb = write_kb(tmp_path / "empty", {"only-broken.md": "---\ntitle: [\n---\n# x\n"})
    with pytest.raises(SnapshotError, match="no article .* could be indexed"):
        build(empty_kb, tmp_path / "index", encoder)
    assert snapshot.current_version(tmp_path / "index") == good.version
    assert snapshot.load_snapshot(tmp_path / "index").version == good.version


def test_an_interrupted_build_leaves_the_previous_snapshot_live(
        kb_dir: Path, tmp_path: Path, encoder: Encoder) -> None:
    index = tmp_path / "index"
    good = build(kb_dir, index, encoder)
    for n in range(150):  # enough new text that embedding takes seconds
        (kb_dir / "en" / f"generated-{n}.md").write_text(
            f"# Generated article {n}\n\nPart {n} of the thermostat manual covers step {n * 7}.\n",
            encoding="utf-8")
    env = {**os.environ, "DESKMATE_KB_DIR": str(kb_dir), "DESKMATE_INDEX_DIR": str(index),
           "DESKMATE_DATA_DIR": str(tmp_path / "other-cache")}
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "index", "build", "--no-progress"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        staging = index / snapshot.SNAPSHOTS
        deadline = time.monotonic() + 120
        while not list(staging.glob(f"{snapshot.STAGING_PREFIX}*")):
            assert process.poll() is None, "the build ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert snapshot.current_version(index) == good.version
    assert snapshot.list_versions(index) == [good.version]
    assert len(snapshot.load_snapshot(index).articles) == 7

    after = build(kb_dir, index, encoder)
    assert snapshot.current_version(index) == after.version
    assert not list((index / snapshot.SNAPSHOTS).glob(f"{snapshot.STAGING_PREFIX}*"))


def test_a_rebuild_adds_to_the_last_ivf_training_until_the_configuration_changes(
        kb_dir: Path, tmp_path: Path, encoder: Encoder) -> None:
    for n in range(40):  # enough chunks that one more is within the share kept for
        (kb_dir / f"note-{n}.md").write_text(f"# Note {n}\n\nStep {n} of the setup.\n",
                                             encoding="utf-8")
    cache, ivf = BuildCache(), BuildOptions(dense_exact_max=0)
    first = build_snapshot(kb_dir, tmp_path / "index", encoder, tmp_path / "c.sqlite", ivf,
                           cache=cache)
    trained = cache.centroids
    (kb_dir / "extra.md").write_text("# Printer jams\n\nOpen the tray and pull the sheet out.\n",
                                     encoding="utf-8")
    second = build_snapshot(kb_dir, tmp_path / "index", encoder, tmp_path / "c.sqlite", ivf,
                            cache=cache)
    after_edit = cache.centroids
    build_snapshot(kb_dir, tmp_path / "index", encoder, tmp_path / "c.sqlite",
                   BuildOptions(dense_exact_max=0, default_lang="pl"), cache=cache)

    assert trained is not None and after_edit is not None and cache.centroids is not None
    assert second.chunks == first.chunks + 1
    assert after_edit.index is trained.index and after_edit.new_since == 1
    assert cache.centroids.index is not trained.index  # every file read again: trained again
    assert snapshot.load_snapshot(tmp_path / "index").dense.describe()["type"] == "ivf-fp16"


def test_a_build_cache_reprocesses_only_changed_files(kb_dir: Path, tmp_path: Path,
                                                      encoder: Encoder) -> None:
    cache = BuildCache()
    phases: list[tuple[Phase, int, int]] = []
    first = build_snapshot(kb_dir, tmp_path / "index", encoder, tmp_path / "c.sqlite",
                           BuildOptions(), cache=cache,
                           progress=lambda *event: phases.append(event))
    before = dict(cache.files)
    wifi = kb_dir / "en" / "wifi.md"
    wifi.write_text(wifi.read_text("utf-8") + "\n## Reset\n\nHold the button for ten seconds.\n",
                    encoding="utf-8")
    (kb_dir / "ru" / "vozvrat.md").unlink()
    second = build_snapshot(kb_dir, tmp_path / "index", encoder, tmp_path / "c.sqlite",
                            BuildOptions(), cache=cache)
    assert second.embedded == 1  # only the new section
    assert second.articles == first.articles - 1
    assert cache.files["en/refunds.md"] is before["en/refunds.md"]
    assert cache.files["en/wifi.md"] is not before["en/wifi.md"]
    assert "ru/vozvrat.md" not in cache.files
    assert [p for p, _, _ in phases][0] is Phase.PARSE
    assert {p for p, _, _ in phases} == set(Phase)
    assert (Phase.EMBED, first.chunks, first.chunks) in phases
    loaded = snapshot.load_snapshot(tmp_path / "index")
    assert "refunds-ru" not in loaded.articles
    assert any(c.anchor == "reset" for c in loaded.chunks)
