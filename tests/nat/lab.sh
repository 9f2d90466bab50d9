# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# tests/nat/lab.sh: the NAT lab (issue 10), sourced by the tests/nat/*.sh
# cases.  It builds two hosts behind two NAT routers, an "internet" with
# coturn on it, and a signaling link between the hosts that bypasses the
# NATs; then runs our offer (in hosta) and answer (in hostb) across it and
# reads the candidate pair each one selected.
#
# Topology (lab_up without --one-link):
#
#   hosta 198.18.1.10/24 (ha-lan0) -- (lan-a0) 198.18.1.1 rta 198.18.0.11 (nat-a0) --+
#     | sig-a0 198.19.0.1/30                                                           |
#     |   signaling only: TCP to/from ports 8000-8099, and ICMP                        +-- pub: bridge pub-br0
#     | sig-b0 198.19.0.2/30                                                           |   198.18.0.1 coturn (listen + relay)
#   hostb 198.18.2.10/24 (hb-lan0) -- (lan-b0) 198.18.2.1 rtb 198.18.0.12 (nat-b0) --+   198.18.0.2 coturn (2nd listen IP)
#                                                                                          default route: a dead end
#
# With --one-link there are no routers: hosta 198.18.0.21 (ha-lan0) and
# hostb 198.18.0.22 (hb-lan0) sit on pub's bridge next to coturn, and the
# signaling link is the same.
#
# * Addresses only from 198.18.0.0/15.  No interface name starts with veth,
#   docker, virbr or vnet (libnice ignores those).  Every link is made inside
#   the lab's namespaces: nothing is configured in the caller's namespace.
# * Namespaces: p2psig-nat-CASE-PID-{pub,rta,rtb,ha,hb}.  IPv6 off, rp_filter
#   0 everywhere.
# * pub is the internet: ip_forward 0, default route into a dead end: a
#   veth whose far end has no address, via a fake permanent neighbour, so
#   that sendto() succeeds and the packet vanishes, as on the internet
#   (the kernel may have no dummy driver).  Not a blackhole route
#   (--dead-end=blackhole): there coturn's sendto() to a private peer
#   address (a host candidate) fails with EINVAL and coturn closes the
#   whole allocation ("closed ... reason: general"), so relayed pairs
#   fail.  The NAT outside addresses share its /24, so the LANs
#   cannot be reached from it.
# * rta/rtb: MASQUERADE on the outside interface (port-preserving: a
#   port-restricted cone NAT), or MASQUERADE --random-fully with
#   --symmetric (endpoint-dependent mapping).  FORWARD policy DROP: from
#   outside only ESTABLISHED,RELATED gets in, INVALID is dropped.  INPUT on
#   the outside interface takes only ESTABLISHED,RELATED.  Unsolicited
#   packets are dropped in the filter hooks, before conntrack confirms
#   them, so they leave no entry that would clash with a later mapping.
#   Routers drop rather than reject (no ICMP errors), like home NATs.
# * The signaling link carries only TCP with a port in 8000:8099 (and ICMP):
#   everything else on it is dropped in INPUT and OUTPUT of both hosts, so
#   the host candidates libnice gathers on 198.19.0.x never connect and the
#   media can only cross the NATs.  The offer serves on 198.19.0.1:8000, the
#   answer on 198.19.0.2:8001.
# * coturn is started by lab_up, never as a system service, from a config
#   file of its own in the lab's directory: listening on 198.18.0.1 and
#   198.18.0.2, UDP/TCP 3478 and TLS 5349, relaying from 198.18.0.1
#   (ports 49152-49999), long-term credentials (LAB_TURN_USER,
#   LAB_TURN_PASS, realm LAB_TURN_REALM), a certificate for
#   IP:198.18.0.1,IP:198.18.0.2 signed by a CA that lab_up makes with
#   openssl ($LAB_DIR/ca.pem).  coturn takes plaintext and TLS on every
#   TCP listener; --strict-tls starts it with no-tcp, so that its only TCP
#   listener (5349) speaks TLS and nothing else.
#
# lab_up options (=a, =b or =ab; without "=", both sides):
#   --symmetric[=S]      MASQUERADE --random-fully on S's router
#   --block-udp[=S]      S's router drops all UDP from its LAN
#   --turn-tcp-only[=S]  only TCP to coturn's 3478 and 5349 leaves S's LAN
#   --turn-tls-only[=S]  only TCP to coturn's 5349 leaves S's LAN
#   --one-link           no routers: both hosts on pub's bridge
#   --block-udp-between  (with --one-link) the hosts drop UDP to and from
#                        each other (UDP to coturn still works)
#   --strict-tls         coturn without plaintext TCP listeners
#   --dead-end=blackhole|veth
#
# Then lab_pair NAME FLAGS... runs answer and offer with the same FLAGS,
# each with -count 3 -interval 0.2 and the signaling addresses, and checks
# that both exit 0, both print "connected", 3 messages each, and exactly
# one "Selected candidate pair:" line, which it parses into
# PAIR_<side>_{LTYPE,LPROTO,LADDR,LRELAY,RTYPE,RPROTO,RADDR} (side: offer,
# answer).  lab_expect checks them.  Everything lab_up made is removed
# by the EXIT trap it sets (lab_down), also when the test fails.
#
# A case may run another peer on a side (with the same flags): the arrays
# LAB_OFFER_CMD and LAB_ANSWER_CMD, when set, are the commands lab_run runs
# instead of $P2PSIG_OFFER and $P2PSIG_ANSWER (tests/nat/pion-*.sh run
# pion's peer, tests/nat/pion.sh, this way).
#
# Environment: P2PSIG_OFFER, P2PSIG_ANSWER (the tools);
# P2PSIG_NAT_TIMEOUT (seconds one tool may run, default 30; a run that
# connects takes 1 to 3 s);
# P2PSIG_NAT_KEEP=1 keeps $LAB_DIR (certificates, coturn's config and log,
# the tools' output) instead of deleting it.

set -euo pipefail
export LC_ALL=C
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY \
  no_proxy NO_PROXY

readonly LAB_TURN_IP=198.18.0.1 LAB_TURN_IP2=198.18.0.2
readonly LAB_RTA_OUT=198.18.0.11 LAB_RTB_OUT=198.18.0.12
readonly LAB_SIG_A=198.19.0.1 LAB_SIG_B=198.19.0.2 LAB_SIG_PORTS=8000:8099
readonly LAB_OFFER_SIG=198.19.0.1:8000 LAB_ANSWER_SIG=198.19.0.2:8001
readonly LAB_TURN_USER=labuser LAB_TURN_PASS=labpass LAB_TURN_REALM=nat-lab.test
LAB_CASE="${LAB_CASE:-$(basename "$0" .sh)}"
LAB_NAME="p2psig-nat-$LAB_CASE-$$"
LAB_NS_PUB="$LAB_NAME-pub" LAB_NS_RTA="$LAB_NAME-rta" LAB_NS_RTB="$LAB_NAME-rtb"
LAB_NS_HA="$LAB_NAME-ha" LAB_NS_HB="$LAB_NAME-hb"
LAB_ALL_NS=()      # the namespaces this test created, for lab_down
LAB_DIR=""
LAB_TURN_PID=""
LAB_PIDS=()
LAB_HA_IP="" LAB_HB_IP=""
LAB_OFFER_CMD=() LAB_ANSWER_CMD=()
LAB_START=$SECONDS
LAB_TIMEOUT="${P2PSIG_NAT_TIMEOUT:-30}"

lab_say() { printf '%s: %s\n' "$LAB_CASE" "$*"; }
lab_skip() { lab_say "SKIP: $*"; exit 77; }
lab_fail() { lab_say "FAIL: $*"; exit 1; }
lab_nsx() { ip netns exec "$@"; }

# Exits 77 unless everything the lab needs is here.
lab_require() {
  [[ "$(id -u)" == 0 ]] || lab_skip "needs root for network namespaces"
  local c
  for c in ip iptables turnserver openssl ss timeout setsid; do
    command -v "$c" >/dev/null 2>&1 || lab_skip "$c is not installed"
  done
  ip netns list >/dev/null 2>&1 || lab_skip "ip netns does not work here"
  local t
  for t in P2PSIG_OFFER P2PSIG_ANSWER; do
    [[ -x "${!t:-}" ]] || lab_fail "$t is not set to an executable tool"
  done
}

has_side() { [[ "$1" == *"$2"* ]]; }

lab_ns_add() {
  local n="$1"
  if ip netns list | awk '{print $1}' | grep -qx -- "$n"; then
    lab_fail "namespace $n exists already"
  fi
  ip netns add "$n" 2>"$LAB_DIR/netns.err" ||
    lab_skip "ip netns add failed: $(tr '\n' ' ' <"$LAB_DIR/netns.err")"
  LAB_ALL_NS+=("$n")
  lab_nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1
  lab_nsx "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0
  ip -n "$n" link set lo up
}

# Removes everything lab_up made: our processes, coturn, the namespaces
# (with their links) and, unless P2PSIG_NAT_KEEP=1, the lab's directory.
lab_down() {
  local p n i
  set +e
  for p in "${LAB_PIDS[@]}" $LAB_TURN_PID; do
    kill -TERM "$p" 2>/dev/null
  done
  # Anything else still running inside our namespaces (only ours).
  for i in 1 2 3; do
    local left=0
    for n in "${LAB_ALL_NS[@]}"; do
      for p in $(ip netns pids "$n" 2>/dev/null); do
        left=1
        if ((i < 3)); then kill -TERM "$p" 2>/dev/null; else kill -KILL "$p" 2>/dev/null; fi
      done
    done
    ((left)) || break
    sleep 0.3
  done
  for p in "${LAB_PIDS[@]}" $LAB_TURN_PID; do
    wait "$p" 2>/dev/null
  done
  for n in "${LAB_ALL_NS[@]}"; do
    ip netns del "$n" 2>/dev/null || lab_say "could not delete namespace $n"
  done
  LAB_ALL_NS=()
  if [[ -n "$LAB_DIR" && -d "$LAB_DIR" ]]; then
    if [[ "${P2PSIG_NAT_KEEP:-0}" == 1 ]]; then
      lab_say "kept $LAB_DIR"
    else
      rm -rf "$LAB_DIR"
    fi
  fi
  LAB_DIR="" LAB_TURN_PID="" LAB_PIDS=()
}

lab_on_exit() {
  local status=$?
  if [[ "$status" != 0 && "$status" != 77 && -n "$LAB_DIR" && -f "$LAB_DIR/turnserver.log" ]]; then
    lab_say "--- coturn log (tail, without its start-up lines)"
    grep -v '^0: ' "$LAB_DIR/turnserver.log" | tail -n 30 | sed 's/^/  /'
  fi
  lab_down
  exit "$status"
}

lab_router() { # lab_router a|b SYM BLK TCPONLY TLSONLY
  local side="$1" sym="$2" blk="$3" tcponly="$4" tlsonly="$5"
  local r h outip lannet hip hif out="nat-${side}0" lan="lan-${side}0"
  if [[ "$side" == a ]]; then
    r=$LAB_NS_RTA h=$LAB_NS_HA outip=$LAB_RTA_OUT lannet=198.18.1 hif=ha-lan0
  else
    r=$LAB_NS_RTB h=$LAB_NS_HB outip=$LAB_RTB_OUT lannet=198.18.2 hif=hb-lan0
  fi
  hip=$lannet.10
  ip -n "$LAB_NS_PUB" link add "pub-${side}0" type veth peer name "$out" netns "$r"
  ip -n "$LAB_NS_PUB" link set "pub-${side}0" master pub-br0 up
  ip -n "$r" addr add "$outip/24" dev "$out"
  ip -n "$r" link set "$out" up
  ip -n "$r" route add default via "$LAB_TURN_IP" dev "$out"
  ip -n "$r" link add "$lan" type veth peer name "$hif" netns "$h"
  ip -n "$r" addr add "$lannet.1/24" dev "$lan"
  ip -n "$r" link set "$lan" up
  ip -n "$h" addr add "$hip/24" dev "$hif"
  ip -n "$h" link set "$hif" up
  ip -n "$h" route add default via "$lannet.1" dev "$hif"
  lab_nsx "$r" sysctl -qw net.ipv4.ip_forward=1 \
    net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.all.accept_redirects=0

  local ipt=(lab_nsx "$r" iptables -w)
  if has_side "$sym" "$side"; then
    "${ipt[@]}" -t nat -A POSTROUTING -o "$out" -j MASQUERADE --random-fully
  else
    "${ipt[@]}" -t nat -A POSTROUTING -o "$out" -j MASQUERADE
  fi
  "${ipt[@]}" -P FORWARD DROP
  "${ipt[@]}" -A FORWARD -m conntrack --ctstate INVALID -j DROP
  "${ipt[@]}" -A FORWARD -i "$out" -o "$lan" -m conntrack \
    --ctstate ESTABLISHED,RELATED -j ACCEPT
  if has_side "$tlsonly" "$side"; then
    "${ipt[@]}" -A FORWARD -i "$lan" -o "$out" -p tcp -d "$LAB_TURN_IP" --dport 5349 -j ACCEPT
  elif has_side "$tcponly" "$side"; then
    "${ipt[@]}" -A FORWARD -i "$lan" -o "$out" -p tcp -d "$LAB_TURN_IP" --dport 3478 -j ACCEPT
    "${ipt[@]}" -A FORWARD -i "$lan" -o "$out" -p tcp -d "$LAB_TURN_IP" --dport 5349 -j ACCEPT
  else
    if has_side "$blk" "$side"; then
      "${ipt[@]}" -A FORWARD -i "$lan" -o "$out" -p udp -j DROP
    fi
    "${ipt[@]}" -A FORWARD -i "$lan" -o "$out" -j ACCEPT
  fi
  "${ipt[@]}" -A INPUT -i lo -j ACCEPT
  "${ipt[@]}" -A INPUT -i "$out" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  "${ipt[@]}" -A INPUT -i "$out" -j DROP
  "${ipt[@]}" -A INPUT -i "$lan" -p icmp -j ACCEPT
  "${ipt[@]}" -A INPUT -i "$lan" -j DROP
  if [[ "$side" == a ]]; then LAB_HA_IP=$hip; else LAB_HB_IP=$hip; fi
}

lab_certs() {
  (
    cd "$LAB_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -days 2 -subj "/CN=p2psig nat-lab test CA" -keyout ca-key.pem -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=$LAB_TURN_IP" -keyout turn-key.pem -out turn.csr
    printf '%s\n' "subjectAltName=IP:$LAB_TURN_IP,IP:$LAB_TURN_IP2" \
      basicConstraints=CA:FALSE keyUsage=digitalSignature,keyEncipherment \
      extendedKeyUsage=serverAuth >turn.ext
    openssl x509 -req -in turn.csr -CA ca.pem -CAkey ca-key.pem \
      -CAcreateserial -days 2 -extfile turn.ext -out turn-cert.pem
    # Another CA, which did not sign coturn's certificate.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -days 2 -subj "/CN=p2psig nat-lab other CA" -keyout other-ca-key.pem \
      -out other-ca.pem -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign
  ) >"$LAB_DIR/openssl.log" 2>&1 || {
    cat "$LAB_DIR/openssl.log"
    lab_fail "openssl could not make the lab's certificates"
  }
}

lab_coturn() { # lab_coturn STRICT_TLS(0|1)
  cat >"$LAB_DIR/turnserver.conf" <<EOF
listening-ip=$LAB_TURN_IP
listening-ip=$LAB_TURN_IP2
relay-ip=$LAB_TURN_IP
listening-port=3478
tls-listening-port=5349
min-port=49152
max-port=49999
lt-cred-mech
realm=$LAB_TURN_REALM
user=$LAB_TURN_USER:$LAB_TURN_PASS
fingerprint
cert=$LAB_DIR/turn-cert.pem
pkey=$LAB_DIR/turn-key.pem
no-tlsv1
no-tlsv1_1
no-dtls
no-cli
no-multicast-peers
userdb=$LAB_DIR/turndb.sqlite
pidfile=$LAB_DIR/turnserver.pid
log-file=$LAB_DIR/turnserver.log
simple-log
no-stdout-log
verbose
EOF
  if [[ "$1" == 1 ]]; then
    echo no-tcp >>"$LAB_DIR/turnserver.conf"
  fi
  # setsid: a session of its own; "ip netns exec" execs turnserver, so $!
  # is coturn's pid, which lab_down ends.
  setsid ip netns exec "$LAB_NS_PUB" turnserver -c "$LAB_DIR/turnserver.conf" \
    >"$LAB_DIR/turnserver.stdout" 2>&1 </dev/null &
  LAB_TURN_PID=$!
  local i
  for i in $(seq 100); do
    if lab_nsx "$LAB_NS_PUB" ss -Hltn "sport = :5349" | grep -q . &&
      lab_nsx "$LAB_NS_PUB" ss -Hlun "sport = :3478" | grep -q .; then
      if [[ "$1" == 1 ]] || lab_nsx "$LAB_NS_PUB" ss -Hltn "sport = :3478" | grep -q .; then
        return 0
      fi
    fi
    kill -0 "$LAB_TURN_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$LAB_DIR/turnserver.stdout" "$LAB_DIR/turnserver.log" 2>/dev/null | tail -n 30
  lab_fail "coturn did not start"
}

lab_up() {
  local sym="" blk="" tcponly="" tlsonly="" onelink=0 between=0 strict=0
  local dead=veth a
  for a in "$@"; do
    case "$a" in
      --symmetric) sym=ab ;;         --symmetric=*) sym=${a#*=} ;;
      --block-udp) blk=ab ;;         --block-udp=*) blk=${a#*=} ;;
      --turn-tcp-only) tcponly=ab ;; --turn-tcp-only=*) tcponly=${a#*=} ;;
      --turn-tls-only) tlsonly=ab ;; --turn-tls-only=*) tlsonly=${a#*=} ;;
      --one-link) onelink=1 ;;
      --block-udp-between) between=1 ;;
      --strict-tls) strict=1 ;;
      --dead-end=blackhole | --dead-end=veth) dead=${a#*=} ;;
      *) lab_fail "lab_up: unknown option $a" ;;
    esac
  done
  [[ -z "$LAB_DIR" ]] || lab_fail "lab_up: the lab is up already"
  LAB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/p2psig-nat-$LAB_CASE.XXXXXX")"
  trap lab_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local t0=$SECONDS

  local n
  if ((onelink)); then
    for n in "$LAB_NS_PUB" "$LAB_NS_HA" "$LAB_NS_HB"; do lab_ns_add "$n"; done
  else
    for n in "$LAB_NS_PUB" "$LAB_NS_RTA" "$LAB_NS_RTB" "$LAB_NS_HA" "$LAB_NS_HB"; do
      lab_ns_add "$n"
    done
  fi
  lab_nsx "$LAB_NS_PUB" iptables -w -S >/dev/null 2>&1 ||
    lab_skip "iptables does not work in a network namespace here"

  # pub, the internet.
  ip -n "$LAB_NS_PUB" link add pub-br0 type bridge
  ip -n "$LAB_NS_PUB" link set pub-br0 up
  ip -n "$LAB_NS_PUB" addr add "$LAB_TURN_IP/24" dev pub-br0
  ip -n "$LAB_NS_PUB" addr add "$LAB_TURN_IP2/24" dev pub-br0
  lab_nsx "$LAB_NS_PUB" sysctl -qw net.ipv4.ip_forward=0
  if [[ "$dead" == blackhole ]]; then
    ip -n "$LAB_NS_PUB" route add blackhole default
  else
    ip -n "$LAB_NS_PUB" link add dead0 type veth peer name dead1
    ip -n "$LAB_NS_PUB" link set dead1 up
    ip -n "$LAB_NS_PUB" addr add 198.18.255.253/30 dev dead0
    ip -n "$LAB_NS_PUB" link set dead0 up
    ip -n "$LAB_NS_PUB" neigh add 198.18.255.254 lladdr 02:00:c6:12:ff:fe \
      dev dead0 nud permanent
    ip -n "$LAB_NS_PUB" route add default via 198.18.255.254 dev dead0
  fi

  if ((onelink)); then
    local side h hif hip
    for side in a b; do
      if [[ $side == a ]]; then h=$LAB_NS_HA hif=ha-lan0 hip=198.18.0.21
      else h=$LAB_NS_HB hif=hb-lan0 hip=198.18.0.22; fi
      ip -n "$LAB_NS_PUB" link add "pub-${side}0" type veth peer name "$hif" netns "$h"
      ip -n "$LAB_NS_PUB" link set "pub-${side}0" master pub-br0 up
      ip -n "$h" addr add "$hip/24" dev "$hif"
      ip -n "$h" link set "$hif" up
      if [[ $side == a ]]; then LAB_HA_IP=$hip; else LAB_HB_IP=$hip; fi
    done
    if ((between)); then
      for h in "$LAB_NS_HA:$LAB_HB_IP" "$LAB_NS_HB:$LAB_HA_IP"; do
        lab_nsx "${h%%:*}" iptables -w -A INPUT -p udp -s "${h##*:}" -j DROP
        lab_nsx "${h%%:*}" iptables -w -A OUTPUT -p udp -d "${h##*:}" -j DROP
      done
    fi
  else
    lab_router a "$sym" "$blk" "$tcponly" "$tlsonly"
    lab_router b "$sym" "$blk" "$tcponly" "$tlsonly"
  fi

  # The signaling link, hosta <-> hostb, bypassing the NATs.
  ip -n "$LAB_NS_HA" link add sig-a0 type veth peer name sig-b0 netns "$LAB_NS_HB"
  ip -n "$LAB_NS_HA" addr add "$LAB_SIG_A/30" dev sig-a0
  ip -n "$LAB_NS_HB" addr add "$LAB_SIG_B/30" dev sig-b0
  ip -n "$LAB_NS_HA" link set sig-a0 up
  ip -n "$LAB_NS_HB" link set sig-b0 up
  local hs
  for hs in "$LAB_NS_HA:sig-a0" "$LAB_NS_HB:sig-b0"; do
    local ipt=(lab_nsx "${hs%%:*}" iptables -w) sif=${hs##*:}
    "${ipt[@]}" -A INPUT -i "$sif" -p tcp --dport "$LAB_SIG_PORTS" -j ACCEPT
    "${ipt[@]}" -A INPUT -i "$sif" -p tcp --sport "$LAB_SIG_PORTS" -j ACCEPT
    "${ipt[@]}" -A INPUT -i "$sif" -p icmp -j ACCEPT
    "${ipt[@]}" -A INPUT -i "$sif" -j DROP
    "${ipt[@]}" -A OUTPUT -o "$sif" -p tcp --dport "$LAB_SIG_PORTS" -j ACCEPT
    "${ipt[@]}" -A OUTPUT -o "$sif" -p tcp --sport "$LAB_SIG_PORTS" -j ACCEPT
    "${ipt[@]}" -A OUTPUT -o "$sif" -p icmp -j ACCEPT
    "${ipt[@]}" -A OUTPUT -o "$sif" -j DROP
  done

  lab_certs
  lab_coturn "$strict"

  # libnice gathers only interfaces that are running: wait for carriers.
  local i
  for i in $(seq 100); do
    if ip -n "$LAB_NS_HA" -br link | grep -v '^lo' | grep -vq LOWER_UP ||
      ip -n "$LAB_NS_HB" -br link | grep -v '^lo' | grep -vq LOWER_UP; then
      sleep 0.05
    else
      break
    fi
  done
  lab_say "lab up in $((SECONDS - t0)) s: $* (hosta $LAB_HA_IP, hostb $LAB_HB_IP, coturn $LAB_TURN_IP)"
}

# The ICE server flags for the lab's coturn.
lab_stun() { echo "-ice-server stun:$LAB_TURN_IP:3478"; }
lab_creds() { echo "-ice-username $LAB_TURN_USER -ice-credential $LAB_TURN_PASS"; }

# Waits until $1 listens on TCP port $2 (at most 10 s), as long as pid $3
# runs.
lab_wait_listen() {
  local i
  for i in $(seq 200); do
    lab_nsx "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# lab_wait_output FILE REGEX SECONDS PID: waits until a line of FILE
# matches REGEX (grep -E), at most SECONDS, as long as PID runs.
lab_wait_output() {
  local file="$1" re="$2" end=$((SECONDS + $3)) pid="$4"
  while ((SECONDS < end)); do
    grep -Eq "$re" "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# lab_renumber a|b NEWIP: the router's outside address becomes NEWIP (a
# /24 on the same link), as when an ISP renumbers a home router.  The
# kernel forgets every MASQUERADE mapping of the old address, so each
# flow through that NAT breaks and the next packet gets a new mapping.
lab_renumber() {
  local r old
  if [[ "$1" == a ]]; then r=$LAB_NS_RTA old=$LAB_RTA_OUT; else r=$LAB_NS_RTB old=$LAB_RTB_OUT; fi
  ip -n "$r" addr del "$old/24" dev "nat-${1}0"
  ip -n "$r" addr add "$2/24" dev "nat-${1}0"
  ip -n "$r" route replace default via "$LAB_TURN_IP" dev "nat-${1}0"
}

# Parses side $1's "Selected candidate pair:" line from file $2.
lab_parse_pair() {
  local side="$1" file="$2" lines line
  local re='^Selected candidate pair: local (host|srflx|prflx|relay) (udp|tcp) ([0-9.]+:[0-9]+)( relay-protocol (udp|tcp|tls))? <-> remote (host|srflx|prflx|relay) (udp|tcp) ([0-9.]+:[0-9]+)$'
  lines=$(grep -c '^Selected candidate pair:' "$file" || true)
  if [[ "$lines" != 1 ]]; then
    lab_say "$side: $lines 'Selected candidate pair:' lines on stderr, not 1"
    return 1
  fi
  line=$(grep '^Selected candidate pair:' "$file")
  if ! [[ "$line" =~ $re ]]; then
    lab_say "$side: cannot parse: $line"
    return 1
  fi
  if [[ -n "${BASH_REMATCH[4]}" && "${BASH_REMATCH[1]}" != relay ]]; then
    lab_say "$side: relay-protocol on a local ${BASH_REMATCH[1]} candidate: $line"
    return 1
  fi
  if [[ -z "${BASH_REMATCH[4]}" && "${BASH_REMATCH[1]}" == relay ]]; then
    lab_say "$side: a local relay candidate without relay-protocol: $line"
    return 1
  fi
  printf -v "PAIR_${side}_LTYPE" %s "${BASH_REMATCH[1]}"
  printf -v "PAIR_${side}_LPROTO" %s "${BASH_REMATCH[2]}"
  printf -v "PAIR_${side}_LADDR" %s "${BASH_REMATCH[3]}"
  printf -v "PAIR_${side}_LRELAY" %s "${BASH_REMATCH[5]}"
  printf -v "PAIR_${side}_RTYPE" %s "${BASH_REMATCH[6]}"
  printf -v "PAIR_${side}_RPROTO" %s "${BASH_REMATCH[7]}"
  printf -v "PAIR_${side}_RADDR" %s "${BASH_REMATCH[8]}"
  lab_say "$side: ${line#Selected candidate pair: }"
}

lab_show_logs() {
  local f
  for f in "$LAB_DIR/$1".{answer,offer}.{out,err}; do
    [[ -f "$f" ]] || continue
    lab_say "--- $(basename "$f") (last 40 lines)"
    tail -n 40 "$f" | sed 's/^/  /'
  done
}

# lab_run NAME [FLAGS...]: runs the answer in hostb, then (once it
# listens) the offer in hosta (LAB_ANSWER_CMD and LAB_OFFER_CMD if set), with FLAGS and the lab's signaling
# addresses, -count 3 -interval 0.2, each for at most $LAB_TIMEOUT s.  Sets
# LAB_RC_offer, LAB_RC_answer and LAB_PAIR_SECONDS.  Output in
# $LAB_DIR/NAME.{offer,answer}.{out,err}.
lab_run() {
  local name="$1" t0=$SECONDS
  shift
  local offer_cmd=("${LAB_OFFER_CMD[@]:-$P2PSIG_OFFER}")
  local answer_cmd=("${LAB_ANSWER_CMD[@]:-$P2PSIG_ANSWER}")
  local common=(-offer-address "$LAB_OFFER_SIG" -answer-address "$LAB_ANSWER_SIG"
    -count 3 -interval 0.2 "$@")
  lab_say "$name: flags: $*"
  LAB_RC_offer=0 LAB_RC_answer=0
  lab_nsx "$LAB_NS_HB" timeout -k 5 "$LAB_TIMEOUT" "${answer_cmd[@]}" "${common[@]}" \
    >"$LAB_DIR/$name.answer.out" 2>"$LAB_DIR/$name.answer.err" </dev/null &
  local pa=$!
  LAB_PIDS+=("$pa")
  if lab_wait_listen "$LAB_NS_HB" "${LAB_ANSWER_SIG##*:}" "$pa"; then
    lab_nsx "$LAB_NS_HA" timeout -k 5 "$LAB_TIMEOUT" "${offer_cmd[@]}" "${common[@]}" \
      >"$LAB_DIR/$name.offer.out" 2>"$LAB_DIR/$name.offer.err" </dev/null &
    local po=$!
    LAB_PIDS+=("$po")
    wait "$po" || LAB_RC_offer=$?
  else
    lab_say "$name: the answer does not listen on $LAB_ANSWER_SIG: the offer is not run"
    : >"$LAB_DIR/$name.offer.out"
    : >"$LAB_DIR/$name.offer.err"
    LAB_RC_offer=255
  fi
  wait "$pa" || LAB_RC_answer=$?
  LAB_PAIR_SECONDS=$((SECONDS - t0))
  lab_say "$name: offer exited $LAB_RC_offer, answer exited $LAB_RC_answer after $LAB_PAIR_SECONDS s"
}

# lab_pair NAME [FLAGS...]: lab_run, then checks that both tools exited 0,
# printed "connected" and 3 messages, and one "Selected candidate pair:"
# line each, which it parses (lab_parse_pair).  Returns non-zero (after
# printing why and the tools' output) on failure.
lab_pair() {
  local name="$1" role rc out n ok=1
  lab_run "$@"
  for role in offer answer; do
    out="$LAB_DIR/$name.$role.out" rc=LAB_RC_$role
    if [[ "${!rc}" == 124 || "${!rc}" == 137 ]]; then
      lab_say "$name: $role timed out after $LAB_TIMEOUT s"; ok=0
    elif [[ "${!rc}" != 0 ]]; then
      lab_say "$name: $role exited ${!rc}"; ok=0
    fi
    grep -q '^Peer Connection State has changed: connected$' "$out" ||
      { lab_say "$name: $role never printed 'connected'"; ok=0; }
    n=$(grep -c "^Message from DataChannel 'data': '" "$out" || true)
    [[ "$n" == 3 ]] || { lab_say "$name: $role received $n messages, not 3"; ok=0; }
    lab_parse_pair "$role" "$LAB_DIR/$name.$role.err" || ok=0
  done
  if ((!ok)); then
    lab_show_logs "$name"
    return 1
  fi
}

# lab_pair_fails NAME [FLAGS...]: lab_run, expecting no connection:
# neither tool may print "connected" or a "Selected candidate pair:"
# line (counted as a failed expectation otherwise).
lab_pair_fails() {
  local name="$1" role ok=1
  lab_run "$@"
  for role in offer answer; do
    if grep -q '^Peer Connection State has changed: connected$' "$LAB_DIR/$name.$role.out" ||
      grep -q '^Selected candidate pair:' "$LAB_DIR/$name.$role.err"; then
      lab_say "$name: $role connected, which it must not"
      ok=0
    fi
  done
  lab_expect "$name: no connection" "$ok == 1"
  ((ok)) || lab_show_logs "$name"
}

# lab_expect DESCRIPTION CONDITION...: CONDITION is a bash [[ ]] test
# (evaluated), e.g. lab_expect "offer relays" '$PAIR_offer_LTYPE == relay'.
LAB_EXPECT_FAILS=0
lab_expect() {
  local desc="$1" cond="$2"
  if eval "[[ $cond ]]"; then
    lab_say "ok: $desc"
  else
    lab_say "NOT OK: $desc ($cond)"
    LAB_EXPECT_FAILS=$((LAB_EXPECT_FAILS + 1))
  fi
}

LAB_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stun-turn.py"

# lab_mapping NS: how many distinct mapped ports NS's NAT gives one local
# UDP port towards three server addresses (1: cone, 3: symmetric, 0: UDP
# blocked).  The lab's own check that the NAT is what a case needs.
lab_mapping() {
  command -v python3 >/dev/null 2>&1 || lab_skip "python3 is not installed"
  lab_nsx "$1" timeout 10 python3 "$LAB_PY" mapping 40000 "$LAB_TURN_IP:3478" \
    "$LAB_TURN_IP2:3478" "$LAB_TURN_IP:3479" >"$LAB_DIR/mapping.out" 2>&1 || true
  sed -n 's/.* mapped [0-9.]*:\([0-9]*\)$/\1/p' "$LAB_DIR/mapping.out" | sort -u | wc -l
}

# lab_allocate NS udp|tcp|tls PORT [CAFILE]: a TURN allocation from NS
# with the lab's credentials; prints the client's last line, returns its
# status.
lab_allocate() {
  command -v python3 >/dev/null 2>&1 || lab_skip "python3 is not installed"
  local out rc=0
  out=$(lab_nsx "$1" timeout 15 python3 "$LAB_PY" allocate "$2" "$LAB_TURN_IP" "$3" \
    "$LAB_TURN_USER" "$LAB_TURN_PASS" ${4:+"$4"} 2>&1) || rc=$?
  echo "${out##*$'\n'}"
  return "$rc"
}

# The IP part of an ADDR:PORT.
lab_ip() { echo "${1%:*}"; }

# Ends a case: fails if an expectation failed.
lab_done() {
  ((LAB_EXPECT_FAILS == 0)) || lab_fail "$LAB_EXPECT_FAILS expectation(s) not met"
  lab_say "PASS in $((SECONDS - LAB_START)) s"
}
