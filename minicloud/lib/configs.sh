# Configuration files of the minicloud's services, written by minicloud/up.
# Sourced after lib/common.sh and $STATE/secrets. Every file is rewritten only
# when its content changes, so a re-run leaves running services' files alone.

# write_if_changed PATH [MODE] < content
write_if_changed() {
    local path=$1 mode=${2:-600} tmp
    mkdir -p "$(dirname "$path")"
    tmp=$(mktemp "$path.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if cmp -s "$tmp" "$path"; then rm -f "$tmp"; else mv -f "$tmp" "$path"; fi
}

db_url() { echo "mysql+pymysql://minicloud:$DB_PASSWORD@127.0.0.1:$PORT_MYSQL/$1?charset=utf8"; }

# [keystone_authtoken] for a service checking tokens as user $1 (password $2), whose catalog
# type is $3: keystonemiddleware needs it to enforce application credentials' access rules,
# and refuses every request of a restricted credential without it.
authtoken_section() {
    cat <<SECTION
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$PORT_KEYSTONE/v3
auth_url = http://127.0.0.1:$PORT_KEYSTONE/v3
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = service
username = $1
password = $2
region_name = RegionOne
interface = public
service_type = $3
SECTION
}

# A keystoneauth section ([placement], [neutron], ...) for a service user: SECTION [USER
# PASSWORD [INTERFACE_KEY]], by default nova's, with keystoneauth's valid_interfaces.
service_auth_section() {
    cat <<SECTION
[$1]
auth_type = password
auth_url = http://127.0.0.1:$PORT_KEYSTONE/v3
user_domain_name = Default
project_domain_name = Default
project_name = service
username = ${2:-nova}
password = ${3:-$NOVA_PASSWORD}
region_name = RegionOne
${4:-valid_interfaces} = public
SECTION
}

write_keystone_conf() {
    write_if_changed "$STATE/etc/keystone/keystone.conf" <<CONF
[DEFAULT]
use_stderr = true

[database]
connection = $(db_url keystone)

[token]
provider = fernet

[fernet_tokens]
key_repository = $STATE/keystone/fernet-keys

# receipts (MFA) would otherwise look in /etc/keystone
[fernet_receipts]
key_repository = $STATE/keystone/fernet-keys

[credential]
key_repository = $STATE/keystone/credential-keys

# A test cloud: cheap bcrypt (every password auth hashes), and no warning
# about bcrypt's 72-byte limit on each of them.
[identity]
password_hash_rounds = 4
max_password_length = 72
CONF
}

write_glance_conf() {
    write_if_changed "$STATE/etc/glance/glance-api.conf" <<CONF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $PORT_GLANCE
# 0: serve from the main process, no forked workers
workers = 0
enabled_backends = fs:file
use_stderr = true

[database]
connection = $(db_url glance)

$(authtoken_section glance "$GLANCE_PASSWORD" image)

[paste_deploy]
flavor = keystone
config_file = $STATE/share/glance-common/glance-api-paste.ini

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $STATE/glance/images

[os_glance_staging_store]
filesystem_store_datadir = $STATE/glance/staging

[os_glance_tasks_store]
filesystem_store_datadir = $STATE/glance/tasks

[oslo_concurrency]
lock_path = $STATE/glance/lock
CONF
}

write_placement_conf() {
    write_if_changed "$STATE/etc/placement/placement.conf" <<CONF
[DEFAULT]
use_stderr = true

[placement_database]
connection = $(db_url placement)

[api]
auth_strategy = keystone

$(authtoken_section placement "$PLACEMENT_PASSWORD" placement)
CONF
}

# Settings shared by nova.conf (api, conductor, scheduler, nova-manage) and
# nova-compute.conf.
nova_common_conf() {
    cat <<CONF
[DEFAULT]
host = minicloud
my_ip = 127.0.0.1
transport_url = rabbit://guest:guest@127.0.0.1:$PORT_AMQP/
state_path = $STATE/nova
use_stderr = true

$(service_auth_section placement)

$(service_auth_section neutron)

[glance]
region_name = RegionOne
valid_interfaces = public

# Cinder from the catalog; [cinder]'s credentials serve Nova's admin calls.
# Nova's option admits no '-' in the type: volumev3 is block-storage's alias
# (os-service-types), which keystoneauth matches.
$(service_auth_section cinder)
catalog_info = volumev3:cinderv3:publicURL
os_region_name = RegionOne

# Cinder deletes an in-use attachment only for a service token (bug 2004555)
$(service_auth_section service_user)
send_service_user_token = true

[oslo_concurrency]
lock_path = $STATE/nova/lock

[oslo_messaging_notifications]
driver = noop

[vnc]
enabled = false
CONF
}

write_nova_conf() {
    write_if_changed "$STATE/etc/nova/nova.conf" <<CONF
$(nova_common_conf)

[DEFAULT]
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = $PORT_NOVA
osapi_compute_workers = 1
metadata_listen = 127.0.0.1

[wsgi]
api_paste_config = $STATE/share/nova-common/api-paste.ini

[api_database]
connection = $(db_url nova_api)

[database]
connection = $(db_url nova)

$(authtoken_section nova "$NOVA_PASSWORD" compute)

[scheduler]
workers = 1
# the libvirt host (compute-libvirt) takes only images that require its trait, and the fake
# host never gets those: aggregates with trait:...=required isolate each other's servers
enable_isolated_aggregate_filtering = true

[conductor]
workers = 1

# The demo project's long-lived servers (minicloud/bootstrap.py, the guest), a test worker's own
# server each, and the servers tests boot side by side (fleet, restore --new) pass Nova's
# default of 10 instances.
[quota]
instances = 30
cores = 60
CONF

    # nova-compute gets no database credentials: with [database] or
    # [api_database] set it complains "No DB access allowed in nova-compute".
    write_if_changed "$STATE/etc/nova/nova-compute.conf" <<CONF
$(nova_common_conf)

[DEFAULT]
compute_driver = minicloud_fake.MinicloudFakeDriver
instances_path = $STATE/nova/instances
# healing the network info cache would only ask the Neutron stand-in
heal_instance_info_cache_interval = -1
# This one fake host stands for a cloud's many compute hosts, each of which would run 5
# snapshots at once (Nova's default): no limit here, so a fleet's backups are not queued by it.
max_concurrent_snapshots = 0
CONF
}

# cinder-api is cinder's own eventlet WSGI server; the one backend,
# "minicloud", is minicloud_volume.py (sparse files in $STATE/cinder/volumes).
write_cinder_conf() {
    write_if_changed "$STATE/etc/cinder/cinder.conf" <<CONF
[DEFAULT]
host = minicloud
my_ip = 127.0.0.1
transport_url = rabbit://guest:guest@127.0.0.1:$PORT_AMQP/
state_path = $STATE/cinder
use_stderr = true
auth_strategy = keystone
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $PORT_CINDER
osapi_volume_workers = 1
api_paste_config = $STATE/share/cinder-common/api-paste.ini
resource_query_filters_file = $STATE/share/cinder-common/resource_filters.json
enabled_backends = minicloud
storage_availability_zone = nova
glance_api_servers = http://127.0.0.1:$PORT_GLANCE
image_conversion_dir = $STATE/cinder/conversion

[database]
connection = $(db_url cinder)

$(authtoken_section cinder "$CINDER_PASSWORD" block-storage)

# for Nova's external events (extend of an attached volume); Cinder's own key: interface
$(service_auth_section nova cinder "$CINDER_PASSWORD" interface)

[minicloud]
volume_driver = cinder.volume.drivers.minicloud_volume.MinicloudVolumeDriver
volume_backend_name = minicloud

[oslo_concurrency]
lock_path = $STATE/cinder/lock

[oslo_messaging_notifications]
driver = noop
CONF
}

# cinder.cmd.* monkey-patch at import; cinder-volume's wrapper then lets
# cinder.volume.drivers find minicloud_volume.py in this directory.
write_cinder_wrappers() {
    local name
    for name in api scheduler manage; do
        write_if_changed "$STATE/bin/cinder-$name" 755 <<PY
#!/usr/bin/python3
# written by minicloud/up
import sys
from cinder.cmd.$name import main
sys.exit(main())
PY
    done
    write_if_changed "$STATE/bin/cinder-volume" 755 <<PY
#!/usr/bin/python3
# written by minicloud/up: cinder-volume with minicloud's volume driver
import sys
from cinder.cmd.volume import main  # noqa: eventlet monkey-patching first
import cinder.volume.drivers
cinder.volume.drivers.__path__.append("$MINICLOUD_DIR")
sys.exit(main())
PY
}

write_rabbitmq_conf() {
    write_if_changed "$STATE/etc/rabbitmq/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$PORT_AMQP
loopback_users.guest = true
log.console = true
log.file = false
CONF
    # no plugins (no management UI on another port)
    echo '[].' | write_if_changed "$STATE/etc/rabbitmq/enabled_plugins"
    # an empty env file, so /etc/rabbitmq/rabbitmq-env.conf is not read
    : | write_if_changed "$STATE/etc/rabbitmq/rabbitmq-env.conf"
}

# Small python wrappers named after the services, so ps and logs read well.
# nova-compute's first imports nova.cmd (eventlet monkey-patching must come
# first), then lets nova.virt find minicloud_fake.py in this directory.
write_wrappers() {
    local name module
    for name in api conductor scheduler manage; do
        write_if_changed "$STATE/bin/nova-$name" 755 <<PY
#!/usr/bin/python3
# written by minicloud/up
import sys
from nova.cmd.$name import main
sys.exit(main())
PY
    done
    write_if_changed "$STATE/bin/nova-compute" 755 <<PY
#!/usr/bin/python3
# written by minicloud/up: nova-compute with minicloud's fake virt driver
import sys
import nova.cmd  # noqa: eventlet monkey-patching, before anything else
import nova.virt
nova.virt.__path__.append("$MINICLOUD_DIR")
from nova.cmd.compute import main
sys.exit(main())
PY
    write_cinder_wrappers
    for module in api manage; do
        write_if_changed "$STATE/bin/glance-$module" 755 <<PY
#!/usr/bin/python3
# written by minicloud/up
import sys
from glance.cmd.$module import main
sys.exit(main())
PY
    done
}

write_all_configs() {
    write_keystone_conf
    write_glance_conf
    write_placement_conf
    write_nova_conf
    write_cinder_conf
    write_rabbitmq_conf
    write_wrappers
}
