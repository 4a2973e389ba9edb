"""Where the files are: every default path, and the one override of where the state goes.

  /etc/nova-snapshot-hook/nova-snapshot-hook.conf  the settings (--config or
                                                   NOVA_SNAPSHOT_HOOK_CONFIG names another)
  /etc/nova-snapshot-hook/credentials              the credentials ([cloud] credentials or
                                                   --credentials names another)
  /run/nova-snapshot-hook/                         tmpfs, root-only (tmpfiles.d makes it 0700):
                                                   never inside a backup image. The host lock
                                                   ([snapshot] lock's default), the apt hook's
                                                   files between runs (apt/state.py), the token
                                                   cache, the hooks' pending mark
  /var/lib/nova-snapshot-hook/attempts             each series' last attempt, for `status`
  /var/lib/nova-snapshot-hook/schedule             "YYYY-MM-DD tier" of the last scheduled
                                                   backup; also that run's lock

NOVA_SNAPSHOT_HOOK_ROOT names a directory that stands for / for the state: with it set, the
files of /run/nova-snapshot-hook and /var/lib/nova-snapshot-hook, and the host lock while
[snapshot] lock is its default, are under that directory. The tests move every file a run
writes into their own directory with it. The settings and credentials do not follow it.

The standard library's os alone: on the apt hook's fast path (apt/state.py).
"""

import os

ROOT_ENVIRONMENT = "NOVA_SNAPSHOT_HOOK_ROOT"
SETTINGS = "/etc/nova-snapshot-hook/nova-snapshot-hook.conf"
CREDENTIALS = "/etc/nova-snapshot-hook/credentials"
RUN_DIR = "/run/nova-snapshot-hook"
LIB_DIR = "/var/lib/nova-snapshot-hook"
LOCK = RUN_DIR + "/lock"       # [snapshot] lock's default (config.py's TABLE)
ATTEMPTS = LIB_DIR + "/attempts"
SCHEDULE_STATE = LIB_DIR + "/schedule"


def under(root, path):
    """The absolute `path` in the tree whose / is the directory `root`."""
    return os.path.join(root, path.lstrip("/"))


def relocated(path):
    """The absolute `path` under NOVA_SNAPSHOT_HOOK_ROOT when that is set, else itself."""
    root = os.environ.get(ROOT_ENVIRONMENT)
    return under(root, path) if root else path


def run_dir():
    return relocated(RUN_DIR)


def lib_dir():
    return relocated(LIB_DIR)


def attempts():
    return relocated(ATTEMPTS)


def schedule_state():
    return relocated(SCHEDULE_STATE)


def lock(setting=LOCK):
    """The host lock for [snapshot] lock = `setting`: the default follows
    NOVA_SNAPSHOT_HOOK_ROOT, a path the settings name is taken as it is."""
    return relocated(LOCK) if setting == LOCK else setting
