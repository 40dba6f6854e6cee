# shellcheck shell=bash
# scripts/lib.sh: the set-up that scripts/test and scripts/bench share. Sourced, not run.
#
# The caller sets SCRIPT (its name, for messages) and runs under `set -euo pipefail`.
# Functions that start a process leave its pid in a global (moto_pid, gk_pid) for the
# caller's cleanup trap, which is the caller's: only it knows what else to stop.

step() { printf '\n=== %s: %s\n' "$SCRIPT" "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\n%s: error: %s\n' "$SCRIPT" "$*" >&2; exit 1; }

# Nothing from the machine's AWS or smcache setup may reach what runs next: no profile,
# region, endpoint or credentials, no config file. AWS_CONFIG_FILE and
# AWS_SHARED_CREDENTIALS_FILE point at /dev/null (an empty file): an empty value would
# make the SDK warn that it cannot read the path ""; an unset one would read ~/.aws.
# IMDS is off so a credential lookup never waits on 169.254.169.254.
isolate_environment() {
    local var
    for var in $(compgen -e); do
        case "$var" in
        AWS_* | SMCACHE_* | _SMCACHE_*) unset "$var" ;;
        esac
    done
    unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL
    export AWS_EC2_METADATA_DISABLED=true
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

# Adds to the caller's `missing` array the Debian packages that both scripts need and
# this machine lacks: the keyrings (gnome-keyring, D-Bus, keyutils) and a Python that can
# make venvs. Each package is checked by what is used from it, so a machine that has the
# tools from elsewhere is left alone and a re-run costs a few command lookups. Stops
# when there is no python3 at all (`why` says what it is needed for).
missing_common_packages() {
    local why=$1
    command -v gnome-keyring-daemon >/dev/null || missing+=(gnome-keyring)
    { command -v dbus-run-session && command -v dbus-daemon && command -v dbus-send; } >/dev/null || missing+=(dbus)
    command -v keyctl >/dev/null || missing+=(keyutils)
    command -v python3 >/dev/null || die "python3 is needed ($why)"
    # Debian's own python3 needs python3-venv for `python3 -m venv` (pyenv builds have it).
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
}

# Installs the Debian packages named, if any (as root, or through sudo).
install_packages() {
    if (($# == 0)); then
        note "all present"
        return
    fi
    note "installing: $*"
    command -v apt-get >/dev/null || die "missing $* and no apt-get to install them"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "missing $*: run as root or install them"
        sudo=(sudo)
    fi
    # Non-interactive (CI has no stdin); wait for a dpkg lock held by another apt rather
    # than failing. No recommends: gnome-keyring's (the PAM module and the PKCS#11
    # module) are not used here.
    local apt_opts=(-y -q -o DPkg::Lock::Timeout=300)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" \
        install --no-install-recommends "$@"
}

# ensure_venv VENV REQUIREMENTS STAMP_SOURCE... -- BIN...
# Makes VENV with the pinned REQUIREMENTS unless it is up to date: its stamp records the
# STAMP_SOURCE files it was built from and the Python it was made with, and each BIN
# (a name under VENV/bin) must exist. Anything else, or a venv whose python no longer
# runs (the base interpreter moved), means a rebuild.
ensure_venv() {
    local venv=$1 requirements=$2 sources=() bins=() bin want_stamp up_to_date=1
    shift 2
    while (($#)) && [[ "$1" != -- ]]; do sources+=("$1"); shift; done
    shift
    bins=("$@")
    step "checking the venv ($venv)"
    # Two runs at once (a developer and an editor's test task) must not both pip into
    # the same venv: a lock around the check-and-install.
    exec 9>"$venv.lock"
    flock 9
    want_stamp="$(cat "${sources[@]}" | sha256sum | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version.split()[0], sys.base_prefix)')"
    [[ -f "$venv/.smcache-stamp" && "$(cat "$venv/.smcache-stamp")" == "$want_stamp" ]] || up_to_date=
    "$venv/bin/python" -c '' 2>/dev/null || up_to_date=
    for bin in "${bins[@]}"; do
        [[ -x "$venv/bin/$bin" ]] || up_to_date=
    done
    if [[ -n "$up_to_date" ]]; then
        note "up to date"
    else
        note "installing (a minute or two the first time)"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
        printf '%s\n' "$want_stamp" >"$venv/.smcache-stamp"
    fi
    flock -u 9
    exec 9>&-
}

# start_moto VENV LOG: starts moto_server on a free loopback port; sets moto_pid and
# moto_url. Port 0 lets the kernel pick the port at bind time (no race with another
# run); werkzeug then logs " * Running on http://127.0.0.1:PORT", which is read back.
start_moto() {
    local venv=$1 log=$2 i
    PYTHONUNBUFFERED=1 "$venv/bin/moto_server" -H 127.0.0.1 -p 0 </dev/null >"$log" 2>&1 &
    moto_pid=$!
    moto_url=
    for ((i = 0; i < 300; i++)); do
        moto_url=$(grep -oE 'Running on http://127\.0\.0\.1:[0-9]+' "$log" | head -n1 | sed 's/^Running on //') || true
        [[ -n "$moto_url" ]] && return
        kill -0 "$moto_pid" 2>/dev/null || { cat "$log" >&2; die "moto_server exited"; }
        sleep 0.1
    done
    cat "$log" >&2
    die "moto_server did not report its port within 30 s"
}

# Whether a Secret Service owns org.freedesktop.secrets on the session bus. (The reply
# is captured before matching: `| grep -q` under pipefail can fail when grep exits
# before the writer is done.)
secrets_on_bus() {
    local reply
    reply=$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
        string:org.freedesktop.secrets 2>/dev/null) || return 1
    [[ "$reply" == *"boolean true"* ]]
}

# start_gnome_keyring RUN_DIR PASSWORD: on the current (private) D-Bus session, starts
# gnome-keyring-daemon with an unlocked throw-away login keyring; sets gk_pid.
start_gnome_keyring() {
    local run_dir=$1 password=$2 i
    # XDG_DATA_HOME decides where gnome-keyring keeps its keyring files
    # ($XDG_DATA_HOME/keyrings), XDG_RUNTIME_DIR its control socket. Both point into
    # this run's temporary directory, so the user's own login keyring is never opened,
    # unlocked or written, and each run starts with no items at all. XDG_CACHE_HOME and
    # XDG_CONFIG_HOME also go there, so a command that is not given --cache-dir does not
    # write into ~/.cache/smcache.
    export XDG_DATA_HOME="$run_dir/xdg-data" XDG_CONFIG_HOME="$run_dir/xdg-config"
    export XDG_CACHE_HOME="$run_dir/xdg-cache" XDG_RUNTIME_DIR="$run_dir/xdg-runtime"
    mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
    chmod 700 "$XDG_RUNTIME_DIR"
    unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK
    # --unlock reads a password on stdin and creates the "login" keyring with it when
    # there is none (there never is: XDG_DATA_HOME is new), unlocked, and makes it the
    # "default" alias, which is where the keyring crates store items.
    # --foreground keeps it our child so that we know its pid and can kill it; without
    # it the daemon double-forks and lingers until the bus goes away.
    # --components=secrets: no ssh/pkcs11 agents, only the Secret Service.
    printf '%s' "$password" |
        gnome-keyring-daemon --foreground --unlock --components=secrets \
            >"$run_dir/gnome-keyring.log" 2>&1 &
    gk_pid=$!
    for ((i = 0; i < 100; i++)); do
        secrets_on_bus && return
        kill -0 "$gk_pid" 2>/dev/null || { cat "$run_dir/gnome-keyring.log" >&2; die "gnome-keyring-daemon exited"; }
        sleep 0.1
    done
    cat "$run_dir/gnome-keyring.log" >&2
    die "gnome-keyring-daemon did not appear on D-Bus within 10 s"
}

# Stops a process started here, if there is one, and reaps it.
stop_process() {
    local pid
    for pid in "$@"; do
        [[ -n "$pid" ]] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
