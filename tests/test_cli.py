"""The `deskmate` command: settings from DESKMATE_* variables, flags winning."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from app.cli import main
from indexer.snapshot import current_version
from tests.conftest import Deployment, serve_process


def test_index_build_reads_the_environment_and_flags_win(kb_dir: Path, tmp_path: Path) -> None:
    env = {"DESKMATE_KB_DIR": str(kb_dir), "DESKMATE_DATA_DIR": str(tmp_path / "var"),
           "DESKMATE_INDEX_DIR": str(tmp_path / "from-env"), "DESKMATE_DENSE_EXACT_MAX": "0"}
    runner = CliRunner()
    result = runner.invoke(main, ["index", "build", "--index", str(tmp_path / "from-flag"),
                                  "--no-progress"], env=env)
    assert result.exit_code == 0, result.output
    assert "published" in result.output and "7 articles" in result.output
    assert "skipped broken.md: front matter is not valid YAML" in result.output
    version = current_version(tmp_path / "from-flag")
    assert version is not None
    manifest = json.loads((tmp_path / "from-flag" / "snapshots" / version / "manifest.json")
                          .read_text("utf-8"))
    assert manifest["dense"]["type"] == "ivf-fp16"  # as the service's rebuilds would make it
    assert not (tmp_path / "from-env").exists()
    assert (tmp_path / "var" / "cache" / "embeddings.sqlite").is_file()

    status = runner.invoke(main, ["index", "status"], env={**env, "DESKMATE_INDEX_DIR":
                                                          str(tmp_path / "from-flag")})
    assert status.exit_code == 0, status.output
    assert "sentence-transformers/all-MiniLM-L6-v2" in status.output
    assert "broken.md" in status.output


def test_search_prints_ranked_results(deployment: Deployment) -> None:
    env = {"DESKMATE_DATA_DIR": str(deployment.data_dir)}
    result = CliRunner().invoke(main, ["search", "zwrot pieniedzy", "-k", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert "1. Jak poprosić o zwrot pieniędzy" in result.output
    assert "/v1/articles/refunds-pl#" in result.output

    as_json = CliRunner().invoke(main, ["search", "wifi E21", "--json", "--lang", "en"], env=env)
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["results"][0]["article_id"] == "wifi"


def test_search_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["search", "refund"],
                                env={"DESKMATE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "run `deskmate index build`" in result.output


def test_invalid_settings_name_the_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["index", "status"], env={"DESKMATE_PORT": "eighty"})
    assert result.exit_code == 1
    assert "DESKMATE_PORT" in result.output


def test_build_of_a_missing_kb_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["index", "build", "--kb", str(tmp_path / "nope"),
                                       "--index", str(tmp_path / "i")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_serve_answers_search_over_http(deployment: Deployment, tmp_path: Path) -> None:
    with serve_process(deployment.settings, tmp_path / "serve.log") as (_, url):
        body = httpx.get(f"{url}/v1/search", params={"q": "how do I get a refund"}).json()
        assert body["results"][0]["article_id"] == "refunds"
