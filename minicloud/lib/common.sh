# Shared shell helpers for minicloud/up, down and install-deps. Sourced, never run.
#
# Everything the cloud needs is under ONE state directory, $STATE. Each service
# runs in its own process group (started with setsid) and has a pid file
# $STATE/run/<service>.pid holding "<pid> <start time>": the start time (field
# 22 of /proc/<pid>/stat) lets us tell our process from a recycled pid.

# The first python3 on PATH may be pyenv's, which lacks Debian's OpenStack
# libraries; and a proxy from the caller's environment would route our
# 127.0.0.1 traffic through a non-loopback host. Reset both.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY \
      PYTHONPATH PYTHONHOME VIRTUAL_ENV OS_CLOUD OS_AUTH_URL OS_AUTH_TYPE
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
export LANG=C.UTF-8 LC_ALL=C.UTF-8
PY=/usr/bin/python3

MINICLOUD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${MINICLOUD_STATE:-$MINICLOUD_DIR/../.state/minicloud}
mkdir -p "$(dirname "$STATE")"
STATE=$(cd "$(dirname "$STATE")" && pwd)/$(basename "$STATE")
export MINICLOUD_STATE=$STATE
RUN=$STATE/run
LOG=$STATE/log

# Fixed ports, all on 127.0.0.1.
PORT_MYSQL=3306 PORT_EPMD=4369 PORT_AMQP=5672 PORT_ERLDIST=25672
PORT_KEYSTONE=5000 PORT_GLANCE=9292 PORT_PLACEMENT=8778 PORT_NOVA=8774
PORT_NEUTRON=9696 PORT_CINDER=8776

# Services in start order; down stops them in tiers (see down).
ALL_SERVICES="mariadb epmd rabbitmq neutron-standin keystone glance-api
placement nova-api nova-conductor nova-scheduler nova-compute
cinder-api cinder-scheduler cinder-volume"

die() { echo "minicloud: error: $*" >&2; exit 1; }

# ---- processes -------------------------------------------------------------

# start time (clock ticks since boot) of a pid, or nothing if it is gone
proc_starttime() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # the command name (field 2) may hold spaces: cut after its last ')'
    local rest=${stat##*) }
    local fields
    read -r -a fields <<<"$rest"
    echo "${fields[19]}"
}

# Is any process of process group $1 alive? Zombies do not count: PID 1 here
# does not reap, so a killed service can linger as a zombie for a while.
group_alive() {
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { n++ } END { exit n ? 0 : 1 }'
}

# Print the pgid of a service if it is running and really ours, else fail.
# A pid whose start time no longer matches the pid file was recycled: not ours.
# (While any member of our group lives, the kernel does not hand out its
# number again, so a vanished leader with live members is still our group.)
service_pgid() {
    local pidfile=$RUN/$1.pid pid start now
    [ -s "$pidfile" ] || return 1
    read -r pid start <"$pidfile" || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    if now=$(proc_starttime "$pid"); then
        [ "$now" = "$start" ] || return 1
    fi
    group_alive "$pid" || return 1
    echo "$pid"
}

service_running() { service_pgid "$1" >/dev/null; }

# Something answers on 127.0.0.1:$1?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_service NAME PORT|- COMMAND...: run COMMAND in a new session (so its
# own process group) with a clean environment, output to $LOG/NAME.log.
# Does nothing if it already runs. Sets STARTED_NEW=1 when it started it.
start_service() {
    local name=$1 port=$2
    shift 2
    STARTED_NEW=0
    if service_running "$name"; then
        return 0
    fi
    if [ "$port" != - ] && port_open "$port"; then
        die "$name: port 127.0.0.1:$port is taken by a process that is not ours" \
            "(see: ss -tlnp 'sport = :$port'). Stop it, e.g. 'systemctl disable --now mariadb" \
            "rabbitmq-server epmd.socket' for the system services, then re-run."
    fi
    mkdir -p "$RUN" "$LOG"
    echo "---- $(date -Is) starting $name" >>"$LOG/$name.log"
    # In a non-interactive shell the background child is not a group leader,
    # so setsid does not fork again: $! is the service's pid and its pgid.
    setsid env -i PATH="$PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME="$STATE/home" \
        no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost \
        "$@" </dev/null >>"$LOG/$name.log" 2>&1 9>&- &
    local pid=$! start
    start=$(proc_starttime "$pid") || die "$name exited at once; see $LOG/$name.log"
    echo "$pid $start" >"$RUN/$name.pid"
    STARTED_NEW=1
}

# wait_port NAME PORT [TIMEOUT]: wait until the service answers on its port;
# fail early, with its log's tail, if it dies meanwhile.
wait_port() {
    local name=$1 port=$2 timeout=${3:-60}
    wait_ready "$name" "$timeout" "no answer on 127.0.0.1:$port" port_open "$port"
}

# wait_ready NAME TIMEOUT WHAT TEST...: until TEST succeeds; dies with the service's log when
# the service dies meanwhile, or with WHAT after TIMEOUT seconds.
wait_ready() {
    local name=$1 timeout=$2 what=$3 waited=0
    shift 3
    until "$@"; do
        if ! service_running "$name"; then
            tail -n 25 "$LOG/$name.log" >&2
            die "$name died while starting; log: $LOG/$name.log"
        fi
        sleep 0.2
        waited=$((waited + 1))
        [ $waited -lt $((timeout * 5)) ] || die "$name: $what after ${timeout}s; log: $LOG/$name.log"
    done
}

# stop_services TIMEOUT NAME...: TERM each service's process group, wait for
# all of them, KILL what is left after TIMEOUT seconds. Never kills by name.
stop_services() {
    local timeout=$1 name pgid
    shift
    local -a pending=()
    for name in "$@"; do
        if pgid=$(service_pgid "$name"); then
            kill -TERM -- "-$pgid" 2>/dev/null || true
            pending+=("$name:$pgid")
        fi
        [ -e "$RUN/$name.pid" ] && ! service_running "$name" && rm -f "$RUN/$name.pid"
    done
    local deadline=$((SECONDS + timeout)) entry left
    while [ ${#pending[@]} -gt 0 ]; do
        left=()
        for entry in "${pending[@]}"; do
            if group_alive "${entry#*:}"; then left+=("$entry"); else rm -f "$RUN/${entry%%:*}.pid"; fi
        done
        pending=("${left[@]+"${left[@]}"}")
        [ ${#pending[@]} -gt 0 ] || break
        if [ $SECONDS -ge $deadline ]; then
            for entry in "${pending[@]}"; do
                echo "minicloud: ${entry%%:*} did not stop within ${timeout}s: KILL" >&2
                kill -KILL -- "-${entry#*:}" 2>/dev/null || true
            done
            deadline=$((SECONDS + 30))
            timeout=30
        fi
        sleep 0.1
    done
}

# ---- step timing -----------------------------------------------------------

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# run_step LABEL FUNCTION: one line per step: "[ total] label ... step time  note".
# The function's own output goes to $LOG/up.log; it may set STEP_NOTE.
CURRENT_STEP=
run_step() {
    local label=$1 fn=$2 t1 t2
    CURRENT_STEP=$label
    STEP_NOTE=
    t1=$(date +%s.%N)
    printf '[%5ss] %-34s' "$(elapsed)" "$label"
    echo "==== $(date -Is) $label" >>"$LOG/up.log"
    "$fn" >>"$LOG/up.log" 2>&1
    t2=$(date +%s.%N)
    printf '%6.1fs  %s\n' "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')" "$STEP_NOTE"
    CURRENT_STEP=
}
