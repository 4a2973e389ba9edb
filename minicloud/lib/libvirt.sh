# Helpers of minicloud/compute-libvirt: packages, libvirt's private file
# tree and configs. Sourced after lib/common.sh and lib/configs.sh, never run.
#
# libvirtd runs privileged ("qemu:///system"), whose paths are compiled in
# (/etc/libvirt, /run/libvirt, /var/lib/libvirt, ...). So that nothing of it
# lands in the host's /etc or outlives `down --purge`, virtlogd and libvirtd
# run in a private mount namespace where those directories are bind mounts of
# $STATE/libvirt/*. Only the client socket is named in the config (unix_sock_dir)
# and lives outside the namespace, for nova-compute and virsh.

LIBVIRT_DIR=$STATE/libvirt
LIBVIRT_SOCK=$LIBVIRT_DIR/sock/libvirt-sock
LIBVIRT_URI="qemu+unix:///system?socket=$LIBVIRT_SOCK"
NOVA_LIBVIRT_DIR=$STATE/nova-libvirt
COMPUTE_HOST=minicloud-libvirt

# Never libvirt-daemon-system: it brings the "default" NAT network
# (192.168.122.0/24, autostarted) and init scripts. No network driver either.
LIBVIRT_PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
                  python3-libvirt qemu-system-x86 qemu-utils debootstrap)

# host path -> directory under $LIBVIRT_DIR, bound over it in the namespace
declare -A LIBVIRT_BINDS=(
    [/etc/libvirt]=etc [/run/libvirt]=run [/var/lib/libvirt]=lib
    [/var/log/libvirt]=log [/var/cache/libvirt]=cache
)

virsh_mc() { virsh -q -c "$LIBVIRT_URI" "$@"; }
libvirtd_answers() { virsh_mc version >/dev/null 2>&1; }

missing_libvirt_packages() {
    local pkg status
    for pkg in "${LIBVIRT_PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
        [ "${status:0:2}" = ii ] || echo "$pkg"
    done
}

# A fast no-op when present. Refuses to go on if apt would pull in
# libvirt-daemon-system (its default network must never come up here).
install_libvirt_packages() {
    local -a missing
    mapfile -t missing < <(missing_libvirt_packages)
    if [ ${#missing[@]} -eq 0 ]; then
        STEP_NOTE="all ${#LIBVIRT_PACKAGES[@]} present"
    else
        local -a apt=(apt-get install -y -q --no-install-recommends "${LIBVIRT_PACKAGES[@]}")
        if DEBIAN_FRONTEND=noninteractive "${apt[@]}" -s | grep -q '^Inst libvirt-daemon-system '; then
            die "apt would install libvirt-daemon-system (default network): not installing"
        fi
        local own_policy=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            # as in install-deps: no service may start during the installation
            printf '#!/bin/sh\n# temporary, from minicloud/compute-libvirt\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            own_policy=1
        fi
        DEBIAN_FRONTEND=noninteractive "${apt[@]}" || { [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
        [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
        STEP_NOTE="installed ${missing[*]}"
    fi
    # qemu's default user; libvirt-daemon-system would have made it
    getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
    getent passwd libvirt-qemu >/dev/null ||
        useradd --system --gid libvirt-qemu --home-dir /nonexistent --shell /usr/sbin/nologin libvirt-qemu
}

write_libvirt_configs() {
    local dir
    for dir in "${LIBVIRT_BINDS[@]}" sock; do mkdir -p "$LIBVIRT_DIR/$dir"; done
    mkdir -p "$NOVA_LIBVIRT_DIR"/{instances,lock}
    # unix sockets only (libvirtd is never given --listen), root only
    write_if_changed "$LIBVIRT_DIR/etc/libvirtd.conf" 644 <<CONF
# written by minicloud/compute-libvirt
unix_sock_dir = "$LIBVIRT_DIR/sock"
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
listen_tls = 0
listen_tcp = 0
log_outputs = "3:stderr"
CONF
    write_if_changed "$LIBVIRT_DIR/etc/virtlogd.conf" 644 <<CONF
# written by minicloud/compute-libvirt
log_outputs = "3:stderr"
CONF
    # TCG only (KVM fails here); qemu as root, no AppArmor/SELinux labels, no
    # cgroups (no systemd), no private /dev per guest.
    write_if_changed "$LIBVIRT_DIR/etc/qemu.conf" 644 <<CONF
# written by minicloud/compute-libvirt
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "logd"
vnc_listen = "127.0.0.1"
spice_listen = "127.0.0.1"
CONF
}

# The command prefix that runs a daemon (exec, same pid) with libvirt's
# system directories bound to $LIBVIRT_DIR in a private mount namespace.
libvirt_ns_prefix() {
    local path
    LIBVIRT_NS=(unshare --mount --propagation private -- /bin/sh -ec '
        while [ "$1" != -- ]; do mount --bind "$1" "$2"; shift 2; done
        shift
        exec "$@"' libvirt-ns)
    for path in "${!LIBVIRT_BINDS[@]}"; do
        mkdir -p "$path"   # empty mount points on the host
        LIBVIRT_NS+=("$LIBVIRT_DIR/${LIBVIRT_BINDS[$path]}" "$path")
    done
    LIBVIRT_NS+=(--)
}

# wait_socket NAME PATH TIMEOUT: the daemon NAME made its socket PATH.
wait_socket() {
    wait_ready "$1" "$3" "no socket $2" test -S "$2"
}

# virtlogd first: libvirtd's qemu driver hands it each guest's console.
start_libvirt_daemons() {
    local started=()
    libvirt_ns_prefix
    start_service virtlogd - "${LIBVIRT_NS[@]}" /usr/sbin/virtlogd \
        -f "$LIBVIRT_DIR/etc/virtlogd.conf" -p "$LIBVIRT_DIR/run/virtlogd.pid"
    [ $STARTED_NEW = 1 ] && started+=(virtlogd)
    wait_socket virtlogd "$LIBVIRT_DIR/run/virtlogd-sock" 20
    start_service libvirtd - "${LIBVIRT_NS[@]}" /usr/sbin/libvirtd \
        -f "$LIBVIRT_DIR/etc/libvirtd.conf" -p "$LIBVIRT_DIR/run/libvirtd.pid"
    [ $STARTED_NEW = 1 ] && started+=(libvirtd)
    # The socket appears before libvirtd accepts on it (refused for a moment after a reboot,
    # while its drivers start): wait for an answer, not for the file.
    wait_ready libvirtd 30 "no answer on $LIBVIRT_SOCK" libvirtd_answers
    STEP_NOTE=${started[*]:-already running}
}
