from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from indexer import snapshot
from indexer.analyze import Analyzer
from indexer.dense import DenseIndex
from indexer.errors import SnapshotError
from indexer.lexical import LexicalIndex
from indexer.parse import parse_article
from indexer.records import Chunk


def stage(index_dir: Path, title: str) -> Path:
    version = snapshot.new_version()
    staged = snapshot.staging_dir(index_dir, version)
    article = parse_article(f"# {title}\n\nbody text\n", default_id=title.lower(),
                            default_lang="en", path="a.md")
    chunk = Chunk(f"{article.id}#x:0", article.id, "x", (title,), "body text", 0)
    DenseIndex.build(np.eye(1, 4, dtype=np.float32)).save(staged)
    LexicalIndex.from_texts([chunk.embed_text], ["en"], Analyzer()).save(staged)
    snapshot.write_records(staged, [article], [chunk])
    snapshot.write_manifest(staged, {"version": version})
    return staged


def test_publish_swaps_the_pointer_and_load_mirrors_save(tmp_path: Path) -> None:
    staged = stage(tmp_path, "First")
    published = snapshot.publish(tmp_path, staged, keep=3)
    loaded = snapshot.load_snapshot(tmp_path)
    assert loaded.version == published.name == snapshot.current_version(tmp_path)
    assert list(loaded.articles) == ["first"]
    assert loaded.chunks[0].heading_path == ("First",)
    assert loaded.dense.size == loaded.lexical.size == 1
    assert not staged.exists()


def test_only_the_newest_snapshots_are_kept(tmp_path: Path) -> None:
    versions = [snapshot.publish(tmp_path, stage(tmp_path, f"A{i}"), keep=2).name for i in range(4)]
    assert snapshot.list_versions(tmp_path) == versions[-2:]
    assert snapshot.current_version(tmp_path) == versions[-1]


def test_the_current_snapshot_survives_pruning_after_a_rollback(tmp_path: Path) -> None:
    first = snapshot.publish(tmp_path, stage(tmp_path, "A"), keep=3).name
    for name in "BCD":
        snapshot.publish(tmp_path, stage(tmp_path, name), keep=5)
    snapshot.point_to(tmp_path, first)
    snapshot.prune(tmp_path, keep=1)
    assert first in snapshot.list_versions(tmp_path)
    assert snapshot.load_snapshot(tmp_path).version == first


def test_staging_leftovers_are_never_loaded_and_are_pruned(tmp_path: Path) -> None:
    good = snapshot.publish(tmp_path, stage(tmp_path, "Good"), keep=3).name
    leftover = stage(tmp_path, "Interrupted")
    assert snapshot.list_versions(tmp_path) == [good]
    snapshot.prune(tmp_path, keep=3)
    assert not leftover.exists()


def test_loading_with_nothing_published_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="run `deskmate index build`"):
        snapshot.load_snapshot(tmp_path)


def test_pointing_at_an_incomplete_snapshot_is_refused(tmp_path: Path) -> None:
    stage(tmp_path, "Unpublished")
    with pytest.raises(SnapshotError, match="missing or incomplete"):
        snapshot.point_to(tmp_path, "nope")


def test_a_snapshot_of_another_format_is_refused(tmp_path: Path) -> None:
    published = snapshot.publish(tmp_path, stage(tmp_path, "Old"), keep=3)
    (published / "manifest.json").write_text('{"format_version": 0}')
    with pytest.raises(SnapshotError, match="rebuild with"):
        snapshot.load_snapshot(tmp_path)


def test_records_are_decoded_when_first_read_and_then_kept(tmp_path: Path) -> None:
    decoded: list[int] = []

    def decode(record: dict[str, int]) -> int:
        decoded.append(record["n"])
        return record["n"]

    data = b'{"n": 0}\n{"n": 1}\n{"n": 2}\n'
    (tmp_path / "n.jsonl").write_bytes(data)
    records = snapshot.open_records(tmp_path / "n.jsonl", hashlib.sha256(data).hexdigest(), decode)
    assert len(records) == 3 and decoded == []
    assert records[1] == records[1] == 1 and records[-1] == 2 and records[:2] == [0, 1]
    assert decoded == [1, 2, 0]
    assert list(records) == [0, 1, 2]
    with pytest.raises(IndexError):
        records[3]


def test_records_are_found_across_the_blocks_a_store_is_read_in(tmp_path: Path) -> None:
    data = "".join(json.dumps({"n": n, "text": "ż" * (n % 997)}) + "\n" for n in range(5000))
    (tmp_path / "n.jsonl").write_text(data, "utf-8")
    digest = hashlib.sha256(data.encode()).hexdigest()
    records = snapshot.open_records(tmp_path / "n.jsonl", digest, lambda r: r)
    assert len(data.encode()) > 3 * 2**20 and len(records) == 5000
    assert all(records[n] == {"n": n, "text": "ż" * (n % 997)} for n in range(0, 5000, 7))


def test_records_keep_any_script_and_line_breaks_in_text(tmp_path: Path) -> None:
    staged = stage(tmp_path, "First")
    article = parse_article(
        "---\nid: fa\nlang: fa\ntags: [billing]\nproduct: app\naudience: internal\n"
        "owner: team\nupdated: 2026-11-01\nverified: 2026-11-02\nreview_every_days: 90\n"
        "translation_of: refunds\ninternal_sections: [notes]\n---\n"
        "# بازپرداخت\n\nвозврат\nzwrot\n\n## Notes\n\nsecret\n", default_id="x", default_lang="en",
        path="fa.md")
    assert article.verified and article.internal_sections and len(article.sections) == 2
    chunks = [Chunk("fa#x:0", "fa", "x", ("بازپرداخت",), "возврат\nzwrot\u2028", 0)]
    snapshot.write_records(staged, [article], chunks)
    snapshot.publish(tmp_path, staged, keep=3)
    loaded = snapshot.load_snapshot(tmp_path)
    assert loaded.articles["fa"] == article and list(loaded.articles) == ["fa"]
    assert list(loaded.chunks) == chunks and loaded.chunk_articles.tolist() == [0]
    assert loaded.articles.columns["lang"] == ["fa"]


@pytest.mark.parametrize("store", ["chunks.jsonl", "articles.jsonl"])
def test_a_store_that_does_not_match_its_digest_is_refused_at_load(tmp_path: Path,
                                                                    store: str) -> None:
    published = snapshot.publish(tmp_path, stage(tmp_path, "Old"), keep=3)
    path = published / store
    path.write_bytes(path.read_bytes().replace(b"body", b"bodY"))
    with pytest.raises(SnapshotError, match=f"{store} does not match its digest"):
        snapshot.load_snapshot(tmp_path)


def review_kb(index_dir: Path) -> Path:
    """A snapshot of four articles: updated only, verified, no interval, no date."""
    staged = stage(index_dir, "Plain")
    fronts = {"updated": "updated: 2026-01-10\nreview_every_days: 30\n",
              "verified": "verified: 2026-01-01\nupdated: 2025-01-01\nreview_every_days: 30\n",
              "no-interval": "verified: 2020-01-01\n", "no-date": "review_every_days: 1\n"}
    articles = [parse_article(f"---\nid: {name}\n{front}---\n# {name}\n\ntext\n", default_id=name,
                              default_lang="en", path=f"{name}.md") for name, front in fronts.items()]
    chunk = Chunk("verified#x:0", "verified", "x", ("verified",), "body text", 0)  # as staged
    snapshot.write_records(staged, articles, [chunk])
    return snapshot.publish(index_dir, staged, keep=3)


@pytest.mark.parametrize("column", [True, False], ids=["review_due column", "older snapshot"])
def test_stale_articles_are_found_from_the_review_dates_alone(tmp_path: Path, column: bool) -> None:
    published = review_kb(tmp_path)
    if not column:  # as written before the column existed: computed from the records
        index = json.loads((published / "records.json").read_text("utf-8"))
        del index["articles"]["review_due"]
        (published / "records.json").write_text(json.dumps(index), "utf-8")
    store = snapshot.load_snapshot(tmp_path).articles
    # Due on 2026-01-31 and 2026-02-09: stale from the day after.
    days = [date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 9), date(2026, 2, 10)]
    found = [store.stale_ids(day) for day in days]
    assert store.records._cached.cache_info().currsize == (0 if column else 4)
    assert found == [[], ["verified"], ["verified"], ["verified", "updated"]]  # longest overdue first
    assert found == [sorted((a for a in store if store[a].is_stale(day)),
                            key=lambda a, day=day: -(store[a].overdue_days(day) or 0)) for day in days]
