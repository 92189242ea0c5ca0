#!/usr/bin/env bash
# Makes the TLS files of a run across hosts with openssl: a certificate authority (CA) for the run, a
# certificate for the coordinator, and one for each engine named. Every certificate is signed by the
# CA, so that with mutual TLS (`[zenoh] tls` in the experiment file, README "Runs across hosts") only
# processes holding one of them can connect to the run.
#
#   scripts/make_certs.sh DIR [--host HOST]... [--days N] [ENGINE]...
#
#   DIR/ca.pem, DIR/ca.key          the CA (made once; a later call with the same DIR reuses it, to add
#                                   engines). Keep ca.key secret: whoever has it can make certificates.
#   DIR/coordinator.pem, .key       the coordinator's: common name "coordinator", valid as a TLS server
#                                   for localhost, 127.0.0.1, ::1 and every --host (a name or an IP
#                                   address: the one engines on other hosts connect to). Made the first
#                                   time, and made again by a call with --host.
#   DIR/ENGINE.pem, DIR/ENGINE.key  one per ENGINE: common name ENGINE. Copy it with ca.pem to the
#                                   engine's host and point NEUROLOOP_TLS_CERT / NEUROLOOP_TLS_KEY at it.
#
# Keys are ECDSA P-256 (PKCS#8 PEM, mode 600); certificates are valid for --days (default 365) and may
# serve and authenticate TLS clients (extended key usage serverAuth and clientAuth).
set -euo pipefail

usage() {
    sed -n '6,7p' "$0" | sed 's/^# *//' >&2
    exit 2
}

[ $# -ge 1 ] || usage
dir="$1"
shift
hosts=(localhost 127.0.0.1 ::1)
days=365
engines=()
while [ $# -gt 0 ]; do
    case "$1" in
        --host)
            [ $# -ge 2 ] || usage
            hosts+=("$2")
            shift 2
            ;;
        --days)
            [ $# -ge 2 ] || usage
            days="$2"
            shift 2
            ;;
        -h | --help) usage ;;
        -*)
            echo "make_certs.sh: unknown option $1" >&2
            usage
            ;;
        *)
            if ! [[ "$1" =~ ^[A-Za-z0-9_]+$ ]]; then
                echo "make_certs.sh: engine name '$1' must match [A-Za-z0-9_]+ (as in the experiment file)" >&2
                exit 2
            fi
            engines+=("$1")
            shift
            ;;
    esac
done
if ! [[ "$days" =~ ^[0-9]+$ ]] || [ "$days" -eq 0 ]; then
    echo "make_certs.sh: --days '$days' must be a whole number > 0" >&2
    exit 2
fi
command -v openssl > /dev/null || {
    echo "make_certs.sh: openssl is not installed (Debian: apt-get install openssl)" >&2
    exit 1
}

mkdir -p "$dir"
umask 077

# subjectAltName entries: IP addresses as IP:, everything else as DNS:.
san=""
for h in "${hosts[@]}"; do
    if [[ "$h" =~ ^[0-9.]+$ ]] || [[ "$h" == *:* ]]; then
        san+="${san:+,}IP:$h"
    else
        san+="${san:+,}DNS:$h"
    fi
done

if [ ! -f "$dir/ca.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" -days "$days" -subj "/CN=neuroloop run CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2> /dev/null
    echo "made $dir/ca.pem (CA; keep $dir/ca.key secret)"
elif [ ! -f "$dir/ca.key" ]; then
    echo "make_certs.sh: $dir/ca.pem exists but $dir/ca.key does not: cannot sign new certificates" >&2
    exit 1
fi

# make_cert NAME: DIR/NAME.key and DIR/NAME.pem, common name NAME, signed by the CA.
make_cert() {
    local name="$1"
    local ext
    ext="$(mktemp)"
    printf '%s\n' \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth,clientAuth" \
        "subjectAltName=$san" > "$ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2> /dev/null
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days "$days" -extfile "$ext" -out "$dir/$name.pem" 2> /dev/null
    rm -f "$dir/$name.csr" "$ext"
    echo "made $dir/$name.pem and $dir/$name.key (CN=$name; $san)"
}

# The coordinator's certificate: made the first time, and again whenever hosts are given.
if [ ! -f "$dir/coordinator.pem" ] || [ ${#hosts[@]} -gt 3 ]; then
    make_cert coordinator
fi
for e in "${engines[@]}"; do
    make_cert "$e"
done
# The certificates may be read by anyone; the keys stay private to their owner.
chmod 644 "$dir"/*.pem
