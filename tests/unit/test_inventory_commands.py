"""The command modules' own small parts: arguments, refusals before any request, file output."""

import os
from pathlib import Path
import stat

import pytest

from nova_snapshot_hook import cli
from nova_snapshot_hook.rules import inventory
from nova_snapshot_hook.errors import ConfigError
from nova_snapshot_hook.commands.status import write_atomically
from runners import call_cli


@pytest.fixture
def settings_file(tmp_path):
    path = tmp_path / "nsh.conf"
    path.write_text(f"[server]\nid = 11111111-2222-3333-4444-555555555555\nidentity_root = "
                    f"{tmp_path}\nmetadata_url =\n[log]\nsyslog = no\n")
    return str(path)


def test_restore_needs_rebuild_or_new_but_not_both(capsys, settings_file):
    result = call_cli("-c", settings_file, "restore", "img", capsys=capsys)
    assert result.returncode == 2
    assert "one of the arguments --rebuild --new is required" in result.stderr
    result = call_cli("-c", settings_file, "restore", "img", "--rebuild", "--new", "x",
                      capsys=capsys)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_restore_refuses_new_server_options_with_rebuild_before_any_request(capsys,
                                                                              settings_file):
    result = call_cli("-c", settings_file, "restore", "img", "--rebuild", "--flavor", "big",
                      capsys=capsys)
    assert result.returncode == 2 and "go only with --new" in result.stderr
    assert result.stderr.count("ERROR:") == 1


def test_restore_refuses_network_and_no_network_together(capsys, settings_file):
    result = call_cli("-c", settings_file, "restore", "img", "--new", "x", "--network", "n",
                      "--no-network", capsys=capsys)
    assert result.returncode == 2 and "exclude each other" in result.stderr


def test_prune_keep_must_be_one_or_more(capsys, settings_file):
    result = call_cli("-c", settings_file, "prune", "--keep", "0", capsys=capsys)
    assert result.returncode == 2 and "must be a whole number of 1 or more" in result.stderr


def test_prune_refuses_a_malformed_series_name(capsys, settings_file, tmp_path):
    result = call_cli("-c", settings_file, "--credentials", str(tmp_path / "none"), "prune",
                      "--series", "Daily!", capsys=capsys)
    assert result.returncode == 2 and "bad --series 'Daily!'" in result.stderr


def test_status_at_takes_a_utc_time_and_refuses_anything_else(capsys, settings_file):
    args = cli.build_parser().parse_args(["status", "--at", "2026-11-28T12:00"])
    assert args.at == inventory.parse_time("2026-11-28T12:00:00Z")
    result = call_cli("-c", settings_file, "status", "--at", "tomorrow", capsys=capsys)
    assert result.returncode == 3 and "not a UTC time" in result.stderr     # UNKNOWN


def test_status_without_credentials_cannot_be_read_and_exits_3_with_a_metrics_file(
        capsys, settings_file, tmp_path, monkeypatch):
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(tmp_path / "host"))
    metrics = tmp_path / "nsh.prom"
    result = call_cli("-c", settings_file, "--credentials", str(tmp_path / "missing"), "status",
                      "--prometheus", str(metrics), capsys=capsys)
    assert result.returncode == 3 and "cannot read the backups" in result.stderr
    assert "nova_snapshot_hook_cloud_up 0" in metrics.read_text()
    assert "nova_snapshot_hook_status 3" in metrics.read_text()


def test_check_without_credentials_fails_that_line_and_skips_the_rest(capsys, settings_file,
                                                                       tmp_path, monkeypatch):
    shipped = Path(__file__).resolve().parents[2] / "etc/apt/apt.conf.d/80nova-snapshot-hook"
    monkeypatch.setenv("APT_CONFIG", str(shipped))      # the hook as the package registers it
    result = call_cli("-c", settings_file, "--credentials", str(tmp_path / "missing"), "check",
                      capsys=capsys)
    lines = result.stdout.splitlines()
    assert result.returncode == 2       # the credentials are the user's to fix
    assert lines[0].startswith("OK: settings: ") and lines[1].startswith("OK: apt hook: ")
    assert lines[2].startswith("FAIL: credentials: ")
    assert all(line.startswith("SKIP: ") for line in lines[3:]) and len(lines) == 14


def test_the_metrics_file_is_replaced_whole_and_readable_by_the_collector(tmp_path):
    target = tmp_path / "nsh.prom"
    target.write_text("old\n")
    write_atomically(str(target), "new 1\n")
    assert target.read_text() == "new 1\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert os.listdir(tmp_path) == ["nsh.prom"]


def test_an_unwritable_metrics_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot write the metrics file"):
        write_atomically(str(tmp_path / "missing-dir" / "nsh.prom"), "x\n")
