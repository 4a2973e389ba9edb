"""paths.py: every default path once, and NOVA_SNAPSHOT_HOOK_ROOT moving all of the state."""

import inspect
import subprocess
from pathlib import Path

from nova_snapshot_hook import paths
from nova_snapshot_hook.cloud.credentials import load_credentials
from nova_snapshot_hook.config import Settings

REPO = Path(__file__).resolve().parents[2]


def test_without_a_root_the_paths_are_the_packages(monkeypatch):
    monkeypatch.delenv(paths.ROOT_ENVIRONMENT, raising=False)
    assert paths.run_dir() == "/run/nova-snapshot-hook"
    assert paths.lib_dir() == "/var/lib/nova-snapshot-hook"
    assert paths.attempts() == "/var/lib/nova-snapshot-hook/attempts"
    assert paths.schedule_state() == "/var/lib/nova-snapshot-hook/schedule"
    assert paths.lock() == paths.lock(Settings().lock_path) == "/run/nova-snapshot-hook/lock"


def test_an_empty_root_is_no_root(monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENVIRONMENT, "")
    assert paths.run_dir() == paths.RUN_DIR and paths.attempts() == paths.ATTEMPTS


def test_the_root_stands_for_slash_for_all_of_the_state(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ROOT_ENVIRONMENT, str(tmp_path))
    assert paths.run_dir() == f"{tmp_path}/run/nova-snapshot-hook"
    assert paths.lib_dir() == f"{tmp_path}/var/lib/nova-snapshot-hook"
    assert paths.attempts() == f"{tmp_path}/var/lib/nova-snapshot-hook/attempts"
    assert paths.schedule_state() == f"{tmp_path}/var/lib/nova-snapshot-hook/schedule"
    assert paths.lock(Settings().lock_path) == f"{tmp_path}/run/nova-snapshot-hook/lock"


def test_a_lock_the_settings_name_is_not_moved(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ROOT_ENVIRONMENT, str(tmp_path))
    assert paths.lock("/srv/locks/nsh.lock") == "/srv/locks/nsh.lock"


def test_the_settings_and_credentials_do_not_follow_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ROOT_ENVIRONMENT, str(tmp_path))
    settings = Settings()
    assert settings.path == paths.SETTINGS == "/etc/nova-snapshot-hook/nova-snapshot-hook.conf"
    assert settings.credentials == paths.CREDENTIALS == "/etc/nova-snapshot-hook/credentials"
    assert inspect.signature(load_credentials).parameters["path"].default == paths.CREDENTIALS


def test_the_settings_tables_lock_default_is_paths_lock():
    assert Settings().lock_path == paths.LOCK


def test_paths_imports_only_os():
    code = ("import sys; before = set(sys.modules); import nova_snapshot_hook.paths; "
            "print(sorted(set(sys.modules) - before))")
    done = subprocess.run(["/usr/bin/python3", "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "['nova_snapshot_hook', 'nova_snapshot_hook.paths']"
