#!/usr/bin/env bash
# Installs the Debian package built by scripts/package.sh and checks it end to end: Depends, the
# system user, file modes, the conffile, the man page, the systemd unit (systemd-analyze verify and
# security), the server started the way the unit starts it (user gatehouse, the unit's ExecStart,
# no capabilities, no new privileges) answering /readyz and /healthz, an admin made with the CLI as
# user gatehouse signing in over HTTP, a reinstall keeping an edited conffile and the data, then
# remove (configuration and data kept) and purge (both gone).
#
# Meant for a throw-away Debian 12 root, as root:
#   ../shared/tools/fresh/fresh.sh . 'scripts/deps.sh && scripts/package.sh && scripts/package-test.sh'
# It works without systemd as PID 1 (a chroot) and uses only bash's /dev/tcp for HTTP. On a
# machine you keep: it refuses to run when gatehouse is already installed, and it purges the
# package whatever happens (PACKAGE_TEST_KEEP=1 keeps it after a failure); the system user
# gatehouse stays after a purge, as Debian does (`deluser --system gatehouse` removes it).
# It installs systemd and man-db with apt when they are missing, for systemd-analyze and man.
# Exit 0 and a last line "package-test: OK" when every check passed; else a line saying which
# check failed, and exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "package-test: $*"; }
ok() { echo "package-test: ok: $*"; }
fail() {
  echo "package-test: FAIL: $*" >&2
  exit 1
}

[[ $(id -u) == 0 ]] || fail "run as root (it installs a package)"
debs=(build/release/gatehouse_*.deb)
[[ -f "${debs[0]}" ]] || fail "no build/release/gatehouse_*.deb: run scripts/package.sh first"
((${#debs[@]} == 1)) || fail "more than one package in build/release: ${debs[*]}"
deb=${debs[0]}
if dpkg-query -W -f='${Status}' gatehouse 2>/dev/null | grep -q "ok installed"; then
  fail "gatehouse is already installed here; run this on a throw-away machine (fresh.sh)"
fi

export DEBIAN_FRONTEND=noninteractive
unit=/lib/systemd/system/gatehouse.service
conf=/etc/gatehouse/gatehouse.conf
data=/var/lib/gatehouse
work=$(mktemp -d /tmp/gatehouse-package-test.XXXXXX)
server_pid=
installed=
cleanup() {
  local rc=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$installed" && $rc != 0 ]]; then
    if [[ "${PACKAGE_TEST_KEEP:-}" == 1 ]]; then
      say "PACKAGE_TEST_KEEP=1: gatehouse left installed; the server's log is in $work"
      return
    fi
    say "purging gatehouse after the failure"
    apt-get purge -y -qq gatehouse >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# mode owner:group of a path
perms() { stat -c '%a %U:%G' "$1"; }
expect_perms() {  # PATH "MODE USER:GROUP"
  local got
  got=$(perms "$1") || fail "$1 is missing"
  [[ "$got" == "$2" ]] || fail "$1 is $got, expected $2"
  ok "$1 $2"
}

echo "== the package file"
dpkg-deb --info "$deb" >"$work/info"
dpkg-deb --contents "$deb" >"$work/contents"
version=$(dpkg-deb --field "$deb" Version)
depends=$(dpkg-deb --field "$deb" Depends)
say "$(basename "$deb"): version $version"
say "Depends: $depends"
for f in ./usr/bin/gatehouse ./usr/share/man/man1/gatehouse.1.gz ./lib/systemd/system/gatehouse.service \
  ./etc/gatehouse/gatehouse.conf ./usr/share/doc/gatehouse/copyright; do
  grep -q " $f\$" "$work/contents" || fail "the package has no $f"
done
ok "the package holds the binary, the man page, the unit, the configuration and the copyright"
# Depends as one package name a line (versions and alternatives dropped).
tr ',|' '\n\n' <<<"$depends" | sed 's/(.*//; s/[[:space:]]//g' | sed '/^$/d' >"$work/depends"
for p in libc6 libssl3 adduser libpq5 libcurl4 libhiredis0.14 libcbor0.8 libqrencode4; do
  grep -qx "$p" "$work/depends" || fail "Depends lacks $p: $depends"
done
ok "Depends computed (dpkg-shlibdeps) and names adduser and the libraries loaded when used"
for s in postinst prerm postrm conffiles; do
  grep -q "^ *[0-9]* bytes, *[0-9]* lines *\*\? *$s" "$work/info" || fail "no $s in the control area"
done
ok "maintainer scripts and conffiles in the control area"

echo "== install with apt (Depends resolved from the archive)"
had_account=$(getent passwd gatehouse || getent group gatehouse || true)
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then apt-get update -qq; fi
installed=1
apt-get install -y -qq "./$deb" >"$work/apt-install.log" 2>&1 || {
  cat "$work/apt-install.log" >&2
  fail "apt-get install ./$deb failed"
}
dpkg-query -W -f='${Status}' gatehouse | grep -q "install ok installed" || fail "not installed"
ok "installed: $(dpkg-query -W -f='${Package} ${Version}' gatehouse)"

echo "== the user, the files and their modes"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd gatehouse) || fail "no user gatehouse"
getent group gatehouse >/dev/null || fail "no group gatehouse"
((uid < 1000)) || fail "gatehouse is not a system user (uid $uid)"
[[ "$home" == "$data" ]] || fail "gatehouse's home is $home, expected $data"
[[ "$shell" == /usr/sbin/nologin || "$shell" == /bin/false ]] || fail "gatehouse's shell is $shell"
ok "system user gatehouse (uid $uid), home $home, shell $shell"
expect_perms "$data" "750 gatehouse:gatehouse"
expect_perms "$conf" "640 root:gatehouse"
expect_perms /usr/bin/gatehouse "755 root:root"
expect_perms "$unit" "644 root:root"
dpkg-query -W -f='${Conffiles}\n' gatehouse | grep -q "^ $conf " || fail "$conf is not a conffile"
ok "$conf is a conffile"
grep -q "^DATABASE_URL=sqlite:////var/lib/gatehouse/gatehouse.db$" "$conf" || fail "$conf: DATABASE_URL"
grep -q "^GATEHOUSE_DATA_DIR=/var/lib/gatehouse$" "$conf" || fail "$conf: GATEHOUSE_DATA_DIR"
grep -q "^GATEHOUSE_LISTEN=127.0.0.1:8000$" "$conf" || fail "$conf: GATEHOUSE_LISTEN"
ok "$conf: absolute paths, 127.0.0.1:8000"
dpkg --verify gatehouse || fail "dpkg --verify: files differ from the package's md5sums"
ok "dpkg --verify"
/usr/bin/gatehouse --version | grep -qx "gatehouse ${version%-*}" ||
  fail "gatehouse --version says '$(/usr/bin/gatehouse --version)', the package is $version"
ok "gatehouse --version matches the package ($version)"
if ldd /usr/bin/gatehouse | grep "not found"; then fail "libraries missing"; fi
# Every library the binary names directly comes from a package listed in Depends.
if command -v readelf >/dev/null; then
  while read -r lib; do
    # ldd prints "libx.so.1 => /path (addr)", but the loader itself as "/path/ld-linux... (addr)"
    # (the release binary names it: its static libstdc++ calls into it).
    path=$(ldd /usr/bin/gatehouse | awk -v l="$lib" '$1 == l {print $3}
      substr($1, length($1) - length(l)) == "/" l {print $1}' | head -1)
    [[ -n "$path" ]] || fail "$lib: ldd does not show where it is loaded from"
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) ||
      pkg=$(dpkg -S "$path" | head -1 | cut -d: -f1)
    # The package itself or a name it provides (libspdlog1.10 provides libspdlog1.10-fmt9).
    provides=$(dpkg-query -W -f='${Provides}' "$pkg" | tr ',' '\n' | sed 's/(.*//; s/[[:space:]]//g')
    found=
    for name in "$pkg" $provides; do grep -qx "$name" "$work/depends" && found=1; done
    [[ -n "$found" ]] || fail "$lib comes from $pkg, which Depends does not name"
  done < <(readelf -d /usr/bin/gatehouse | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  ok "every library the binary needs comes from a package in Depends"
fi
grep -q "Apache License" /usr/share/doc/gatehouse/copyright &&
  grep -q "^License: Apache-2.0" /usr/share/doc/gatehouse/copyright ||
  fail "/usr/share/doc/gatehouse/copyright does not carry the licence"
ok "/usr/share/doc/gatehouse/copyright"
if command -v deb-systemd-helper >/dev/null; then
  [[ -L /etc/systemd/system/multi-user.target.wants/gatehouse.service ]] ||
    fail "the unit was not enabled (no multi-user.target.wants link)"
  ok "the unit is enabled (multi-user.target.wants)"
fi

echo "== tools for the next checks: systemd (systemd-analyze), man-db (man), strace"
need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v man >/dev/null || need+=(man-db)
command -v strace >/dev/null || need+=(strace)
if ((${#need[@]})); then
  apt-get install -y -qq --no-install-recommends "${need[@]}" >"$work/apt-tools.log" 2>&1 || {
    cat "$work/apt-tools.log" >&2
    fail "apt-get install ${need[*]} failed"
  }
fi

echo "== the man page"
zcat /usr/share/man/man1/gatehouse.1.gz >"$work/gatehouse.1"
grep -q '^\.TH GATEHOUSE "1"' "$work/gatehouse.1" || fail "the man page has no .TH GATEHOUSE 1"
MANWIDTH=100 man -l /usr/share/man/man1/gatehouse.1.gz 2>/dev/null | col -b >"$work/man.txt"
for want in "gatehouse - self-hosted authentication" SYNOPSIS serve DATABASE_URL \
  /etc/gatehouse/gatehouse.conf; do
  grep -qF -- "$want" "$work/man.txt" || fail "man gatehouse does not show '$want'"
done
ok "man -l gatehouse.1.gz: $(wc -l <"$work/man.txt") lines, name, synopsis, commands, settings, files"

echo "== the systemd unit"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[[ "$exec_start" == "/usr/bin/gatehouse serve --config $conf" ]] ||
  fail "ExecStart is '$exec_start'"
for want in User=gatehouse ProtectSystem=strict ReadWritePaths=/var/lib/gatehouse \
  NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes CapabilityBoundingSet= \
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" SystemCallFilter=@system-service \
  MemoryDenyWriteExecute=yes LockPersonality=yes RestrictNamespaces=yes; do
  grep -qx -- "$want" "$unit" || fail "the unit lacks $want"
done
ok "the unit: ExecStart and the hardening settings"
systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || {
  cat "$work/verify.log" >&2
  fail "systemd-analyze verify $unit"
}
# Only our unit's lines count: a chroot may have other units systemd complains about.
if grep -i gatehouse "$work/verify.log" >&2; then
  fail "systemd-analyze verify $unit printed warnings about it"
fi
ok "systemd-analyze verify: no warning"
# Offline: no running systemd needed. --threshold fails above 2.0 of 10 ("OK" is below 4.9).
if systemd-analyze security --help 2>/dev/null | grep -- --offline >/dev/null; then
  systemd-analyze security --offline=true --threshold=20 "$unit" >"$work/security.log" 2>&1 || {
    grep -v '^✓' "$work/security.log" >&2
    fail "systemd-analyze security: exposure above 2.0"
  }
  ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$work/security.log")"
fi

echo "== the server, started the way the unit starts it"
in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }
port=8000
env_listen=()
if in_use "$port"; then
  # The configuration's port is taken on this host (fresh.sh shares the host's network): the
  # same setting from the environment, which wins over the file as the documentation says.
  for port in $(shuf -i 20000-40000 -n 20); do in_use "$port" || break; done
  env_listen=("GATEHOUSE_LISTEN=127.0.0.1:$port")
  say "127.0.0.1:8000 is in use here; GATEHOUSE_LISTEN=127.0.0.1:$port from the environment"
fi
clean_env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
# As the unit: user and group gatehouse with its supplementary groups, no capabilities at all,
# no new privileges, umask 0077, in the data directory, an empty environment.
read -ra exec_argv <<<"$exec_start"
(
  cd "$data"
  umask 0077
  exec setpriv --reuid=gatehouse --regid=gatehouse --init-groups --no-new-privs \
    --bounding-set=-all --inh-caps=-all -- "${clean_env[@]}" "${env_listen[@]}" "${exec_argv[@]}"
) >"$work/server.log" 2>&1 &
server_pid=$!

# HTTP over bash's /dev/tcp. Sets status and body.
http() {  # METHOD PATH [BODY CONTENT-TYPE] [BEARER]
  local req response payload=${3:-}
  req="$1 $2 HTTP/1.1"$'\r\n'"Host: 127.0.0.1:$port"$'\r\n'"Connection: close"$'\r\n'
  [[ -n "${5:-}" ]] && req+="Authorization: Bearer $5"$'\r\n'
  [[ -n "${4:-}" ]] && req+="Content-Type: $4"$'\r\n'
  req+="Content-Length: ${#payload}"$'\r\n\r\n'"$payload"
  response=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' \
    _ "$port" "$req" 2>/dev/null) || true
  status=$(head -1 <<<"$response" | cut -d' ' -f2)
  body=${response#*$'\r\n\r\n'}
}

status=
for _ in $(seq 1 60); do
  kill -0 "$server_pid" 2>/dev/null || {
    cat "$work/server.log" >&2
    fail "the server exited at start (its log above)"
  }
  http GET /readyz
  [[ "$status" == 200 ]] && break
  sleep 0.5
done
[[ "$status" == 200 ]] || {
  cat "$work/server.log" >&2
  fail "GET /readyz: no 200 within 30 s (got '${status:-nothing}')"
}
ok "GET /readyz 200 $body"
http GET /healthz
[[ "$status" == 200 && "$body" == *'"ok"'* ]] || fail "GET /healthz: $status $body"
ok "GET /healthz 200 $body"
ps_user=$(stat -c %U "/proc/$server_pid")
[[ "$ps_user" == gatehouse ]] || fail "the server runs as $ps_user"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$server_pid/status" || fail "the server has capabilities"
grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$server_pid/status" || fail "NoNewPrivs is not set"
ok "the server runs as gatehouse, no capabilities, no new privileges"

echo "== the admin, made with the CLI as user gatehouse, signs in over HTTP"
password='Chang3-Me-Now!'
runas() { (cd "$data" && runuser -u gatehouse -- "${clean_env[@]}" "$@"); }
if gatehouse config --help 2>/dev/null | grep -- --check >/dev/null; then
  runas gatehouse config --check --config "$conf" >"$work/check.log" 2>&1 || {
    cat "$work/check.log" >&2
    fail "gatehouse config --check --config $conf"
  }
  ok "gatehouse config --check: $(tail -1 "$work/check.log")"
fi
printf '%s\n' "$password" | runas gatehouse user create --email admin@example.com \
  --username admin --role admin --password-stdin --config "$conf" >"$work/create.log" 2>&1 || {
  cat "$work/create.log" >&2
  fail "gatehouse user create as user gatehouse"
}
ok "gatehouse user create: $(tail -1 "$work/create.log")"
# Root's CLI on the data directory, which gatehouse can write (a link it put there would be
# followed by root), is refused and creates nothing.
before=$(cd "$data" && ls -A)
if (cd "$data" && "${clean_env[@]}" gatehouse user list --config "$conf") >"$work/root-cli.log" 2>&1; then
  fail "root's gatehouse user list ran on $data: $(cat "$work/root-cli.log")"
fi
grep -q "not run as root on $data/gatehouse.db: $data is writable by user gatehouse" \
  "$work/root-cli.log" || fail "root's CLI said: $(cat "$work/root-cli.log")"
grep -q "runuser -u gatehouse" "$work/root-cli.log" || fail "root's CLI did not say runuser"
[[ "$(cd "$data" && ls -A)" == "$before" ]] || fail "root's refused CLI changed $data"
ok "root's CLI refuses the data directory, naming runuser -u gatehouse"
form="username=admin%40example.com&password=Chang3-Me-Now%21"
for _ in $(seq 1 10); do
  http POST /api/v1/auth/login "$form" application/x-www-form-urlencoded
  [[ "$status" == 200 ]] && break
  sleep 0.5
done
[[ "$status" == 200 ]] || fail "POST /api/v1/auth/login: $status $body"
token=$(grep -o '"access_token": *"[^"]*"' <<<"$body" | sed 's/.*"\([^"]*\)"$/\1/')
[[ -n "$token" && "$body" == *'"token_type":'*'"bearer"'* ]] || fail "login answered $body"
ok "POST /api/v1/auth/login 200, a bearer token"
http GET /api/v1/auth/me "" "" "$token"
[[ "$status" == 200 && "$body" == *'"admin@example.com"'* && "$body" == *'"role":'*'"admin"'* ]] ||
  fail "GET /api/v1/auth/me: $status $body"
ok "GET /api/v1/auth/me 200: the admin"
# The login's hash ran on a thread at idle priority, as docs/security.md says: what the unit's
# system call filter once took away without a word (an outside attack).
idle_hashers=0
for task in /proc/"$server_pid"/task/*; do
  [[ "$(cat "$task/comm" 2>/dev/null)" == gh-hash ]] || continue
  # Field 41 of stat is the policy (SCHED_IDLE is 5); the fields after the name in parentheses
  # start at field 3.
  read -ra fields <<<"$(sed 's/^.*) //' "$task/stat")"
  [[ "${fields[38]}" == 5 ]] || fail "a password-hashing thread runs at policy ${fields[38]}, not SCHED_IDLE"
  idle_hashers=$((idle_hashers + 1))
done
((idle_hashers > 0)) || fail "no password-hashing thread (gh-hash) after a login"
grep -q "may not lower its threads' priority" "$work/server.log" &&
  fail "the server warned that it may not lower its threads' priority"
ok "the password-hashing threads run at SCHED_IDLE ($idle_hashers)"

http POST /api/v1/auth/register '{"email":"someone@example.com","username":"someone","password":"Passw0rd!x-long"}' application/json
[[ "$status" == 403 && "$body" == *"Registration is disabled"* ]] ||
  fail "POST /api/v1/auth/register with the packaged configuration: $status $body"
ok "self-registration is off in the packaged configuration: 403 $body"

echo "== it writes only in its data directory"
expect_perms "$data/gatehouse.db" "600 gatehouse:gatehouse"
elsewhere=$(find / -xdev \( -user gatehouse -o -group gatehouse \) -not -path "$data" \
  -not -path "$data/*" -not -path "$conf" 2>/dev/null || true)
[[ -z "$elsewhere" ]] || fail "files of user gatehouse outside $data: $elsewhere"
ok "every file of user gatehouse is under $data: $(cd "$data" && echo *)"

echo "== stop by PID (SIGTERM, as systemd does)"
kill -TERM "$server_pid"
server_rc=0
wait "$server_pid" || server_rc=$?
server_pid=
((server_rc == 0)) || {
  tail -20 "$work/server.log" >&2
  fail "the server exited with $server_rc on SIGTERM"
}
in_use "$port" && fail "127.0.0.1:$port still answers after the server stopped"
ok "SIGTERM: exit 0, the port is closed"

echo "== every system call the server makes is one the unit's filter allows"
# The filter as systemd builds it: the first SystemCallFilter= line is the allow list, each later
# one takes away (~) or gives back; @groups are expanded, nested ones too.
expand_calls() {  # NAME or @GROUP ...: system call names, one per line
  local item
  for item in "$@"; do
    if [[ "$item" == @* ]]; then
      # shellcheck disable=SC2046
      expand_calls $(systemd-analyze syscall-filter "$item" | awk 'NR > 1 && $1 !~ /^#/ {print $1}')
    else
      echo "$item"
    fi
  done
}
declare -A allowed=()
while read -r value; do
  if [[ "$value" == "~"* ]]; then
    for call in $(expand_calls ${value#\~}); do unset "allowed[$call]"; done
  else
    for call in $(expand_calls $value); do allowed[$call]=1; done
  fi
done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
((${#allowed[@]} > 100)) || fail "the unit's system call filter expanded to ${#allowed[@]} calls"
# The same start as above, under strace: ready, a login (a hash), a token check, SIGTERM.
trace_dir=$(mktemp -d /tmp/gatehouse-trace.XXXXXX)
chown gatehouse: "$trace_dir"
(
  cd "$data"
  umask 0077
  exec setpriv --reuid=gatehouse --regid=gatehouse --init-groups --no-new-privs \
    --bounding-set=-all --inh-caps=-all -- "${clean_env[@]}" "${env_listen[@]}" \
    strace -f -qq -o "$trace_dir/calls" "${exec_argv[@]}"
) >"$work/server-traced.log" 2>&1 &
server_pid=$!
status=
for _ in $(seq 1 60); do
  http GET /readyz
  [[ "$status" == 200 ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
[[ "$status" == 200 ]] || {
  cat "$work/server-traced.log" >&2
  fail "under strace: GET /readyz answered '${status:-nothing}'"
}
http POST /api/v1/auth/login "$form" application/x-www-form-urlencoded
[[ "$status" == 200 ]] || fail "under strace: POST /api/v1/auth/login: $status $body"
token=$(grep -o '"access_token": *"[^"]*"' <<<"$body" | sed 's/.*"\([^"]*\)"$/\1/')
http GET /api/v1/auth/verify "" "" "$token"
[[ "$status" == 200 ]] || fail "under strace: GET /api/v1/auth/verify: $status"
# The server is strace's child (strace itself, told to stop, would leave it running detached).
read -r traced _ <"/proc/$server_pid/task/$server_pid/children" || true
[[ -n "${traced:-}" && "$(cat "/proc/$traced/comm")" == gatehouse ]] ||
  fail "under strace: no gatehouse process under strace ($server_pid)"
kill -TERM "$traced"
wait "$server_pid" || fail "under strace: the server did not exit 0 on SIGTERM"
server_pid=
denied=()
for call in $(grep -oE '^[0-9]+ +[a-z0-9_]+\(' "$trace_dir/calls" | sed -E 's/^[0-9]+ +//; s/\($//' |
  sort -u); do
  [[ -n "${allowed[$call]:-}" ]] || denied+=("$call")
done
made=$(grep -oE '^[0-9]+ +[a-z0-9_]+\(' "$trace_dir/calls" | sed -E 's/^[0-9]+ +//' | sort -u | wc -l)
rm -rf "$trace_dir"
((made > 20)) || fail "strace saw only $made distinct system calls"
((${#denied[@]} == 0)) || fail "the unit's filter denies system calls the server makes: ${denied[*]}"
ok "the unit's filter (${#allowed[@]} calls) allows all $made the server made"

echo "== reinstall: an edited conffile and the data are kept"
echo "# edited by package-test" >>"$conf"
apt-get install -y -qq --reinstall "./$deb" >"$work/apt-reinstall.log" 2>&1 || {
  cat "$work/apt-reinstall.log" >&2
  fail "apt-get install --reinstall"
}
grep -q "^# edited by package-test$" "$conf" || fail "the reinstall replaced the edited $conf"
expect_perms "$conf" "640 root:gatehouse"
[[ -f "$data/gatehouse.db" ]] || fail "the reinstall lost $data/gatehouse.db"
runas gatehouse user list --config "$conf" | grep "admin@example.com" >/dev/null ||
  fail "the admin is gone after the reinstall"
ok "the edited configuration, the database and the admin are kept"

echo "== apt-get remove: the configuration and the data stay"
apt-get remove -y -qq gatehouse >"$work/apt-remove.log" 2>&1 || {
  cat "$work/apt-remove.log" >&2
  fail "apt-get remove gatehouse"
}
[[ ! -e /usr/bin/gatehouse && ! -e "$unit" ]] || fail "the binary or the unit is still there"
[[ -f "$conf" && -f "$data/gatehouse.db" ]] || fail "remove deleted the configuration or the data"
dpkg-query -W -f='${Status}' gatehouse | grep -q "deinstall ok config-files" ||
  fail "after remove: $(dpkg-query -W -f='${Status}' gatehouse)"
ok "removed: binary and unit gone; $conf and $data/gatehouse.db kept"

echo "== apt-get purge: the configuration and the data go"
apt-get purge -y -qq gatehouse >"$work/apt-purge.log" 2>&1 || {
  cat "$work/apt-purge.log" >&2
  fail "apt-get purge gatehouse"
}
installed=
[[ ! -e /etc/gatehouse && ! -e "$data" ]] || fail "purge left /etc/gatehouse or $data"
status_after=$(dpkg-query -W -f='${Status}' gatehouse 2>/dev/null || true)
[[ -z "$status_after" || "$status_after" == *" not-installed" ]] || fail "after purge: $status_after"
for link in /etc/systemd/system/multi-user.target.wants/gatehouse.service \
  /etc/systemd/system/gatehouse.service; do
  [[ ! -e "$link" && ! -L "$link" ]] || fail "purge left $link"
done
getent passwd gatehouse >/dev/null && say "the system user gatehouse stays (Debian's practice)"
ok "purged: /etc/gatehouse, $data and the unit's links are gone"

if [[ -z "$had_account" ]]; then
  echo "== an ordinary user or group named gatehouse is refused, not made the service's"
  deluser --system --quiet gatehouse >/dev/null 2>&1 || true
  delgroup --system --quiet gatehouse >/dev/null 2>&1 || true
  for kind in user group; do
    if [[ $kind == user ]]; then
      # A person's account without a group of its name (adduser refuses it).
      useradd --create-home --shell /bin/bash --no-user-group --gid users gatehouse
      says="a user or group named gatehouse exists and is not a system account"
    else
      # adduser would take this group as the service user's, and its members would read the
      # configuration (a review).
      useradd --create-home --shell /bin/bash gh-person
      groupadd --gid 1500 --users gh-person gatehouse
      says="a group named gatehouse (gid 1500) exists and is not a system group"
    fi
    installed=1
    if apt-get install -y -qq "./$deb" >"$work/apt-takeover.log" 2>&1; then
      fail "the package installed over an ordinary $kind gatehouse"
    fi
    grep -qF "$says" "$work/apt-takeover.log" ||
      fail "the refused install ($kind) said: $(tail -5 "$work/apt-takeover.log")"
    owner=$(stat -c %U:%G "$data" 2>/dev/null || echo none)
    [[ "$owner" != *gatehouse* ]] || fail "$data belongs to the ordinary $kind gatehouse ($owner)"
    if [[ $kind == group ]]; then
      ! getent passwd gatehouse >/dev/null || fail "a user gatehouse was made in the ordinary group"
    fi
    apt-get purge -y -qq gatehouse >"$work/apt-purge2.log" 2>&1 || {
      cat "$work/apt-purge2.log" >&2
      fail "apt-get purge after the refused install ($kind)"
    }
    installed=
    userdel --remove gatehouse 2>/dev/null || true
    userdel --remove gh-person 2>/dev/null || true
    groupdel gatehouse 2>/dev/null || true
    ok "an install over an ordinary $kind gatehouse fails, naming it; nothing is made theirs"
  done
fi

say "OK"
